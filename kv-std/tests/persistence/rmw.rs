//! The read-modify-write string commands, `BITOP` and `RESTORE` across a crash: each write is
//! logged as the value it left (`SET`, with `PXAT` when the key keeps a deadline) or as `DEL`,
//! and replays to the same keys.

use crate::{free_port, start, Server};
use std::time::Duration;

fn write_keys(s: &Server) {
    let mut con = s.client();
    let run = |con: &mut redis::Connection, args: &[&str]| -> redis::Value {
        redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap()
    };
    for _ in 0..5 {
        run(&mut con, &["INCR", "n"]);
    }
    run(&mut con, &["DECRBY", "n", "2"]);
    run(&mut con, &["SET", "timed", "10", "EX", "1000"]);
    run(&mut con, &["INCRBY", "timed", "5"]);
    run(&mut con, &["INCRBYFLOAT", "f", "1.5"]);
    run(&mut con, &["INCRBYFLOAT", "f", "0.25"]);
    run(&mut con, &["APPEND", "s", "Hello"]);
    run(&mut con, &["APPEND", "s", ", World"]);
    run(&mut con, &["SETRANGE", "s", "7", "there"]);
    run(&mut con, &["SETBIT", "b", "9", "1"]);
    run(&mut con, &["BITFIELD", "b", "SET", "u8", "16", "255"]);
    run(&mut con, &["SET", "gone", "v"]);
    run(&mut con, &["GETDEL", "gone"]);
    run(&mut con, &["SETNX", "nx", "first"]);
    run(&mut con, &["SETNX", "nx", "second"]);
    run(&mut con, &["GETSET", "timed2", "old"]);
    run(&mut con, &["EXPIRE", "timed2", "1000"]);
    run(&mut con, &["GETSET", "timed2", "new"]);
    run(&mut con, &["BITOP", "NOT", "bn", "b"]);
    run(&mut con, &["SET", "bo", "\x01"]);
    run(&mut con, &["BITOP", "OR", "bo", "bo", "b"]);
    run(&mut con, &["SET", "dumped", "restore me"]);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("dumped").query(&mut con).unwrap();
    let restore = |con: &mut redis::Connection, key: &str, ttl: &str| {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(ttl)
            .arg(&payload)
            .query(con)
            .unwrap();
    };
    restore(&mut con, "r", "0");
    restore(&mut con, "rt", "1000000");
    run(&mut con, &["SET", "u", "v"]);
    run(&mut con, &["UNLINK", "u"]);
}

fn check_keys(s: &Server) {
    let mut con = s.client();
    let get = |con: &mut redis::Connection, key: &str| -> Option<Vec<u8>> {
        redis::cmd("GET").arg(key).query(con).unwrap()
    };
    let ttl = |con: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("TTL").arg(key).query(con).unwrap()
    };
    assert_eq!(get(&mut con, "n").as_deref(), Some(&b"3"[..]));
    assert_eq!(get(&mut con, "timed").as_deref(), Some(&b"15"[..]));
    assert!(ttl(&mut con, "timed") > 990, "INCR keeps the deadline");
    assert_eq!(get(&mut con, "f").as_deref(), Some(&b"1.75"[..]));
    assert_eq!(get(&mut con, "s").as_deref(), Some(&b"Hello, there"[..]));
    assert_eq!(get(&mut con, "b").as_deref(), Some(&b"\x00\x40\xff"[..]));
    assert_eq!(get(&mut con, "gone"), None);
    assert_eq!(get(&mut con, "nx").as_deref(), Some(&b"first"[..]));
    assert_eq!(get(&mut con, "timed2").as_deref(), Some(&b"new"[..]));
    assert_eq!(ttl(&mut con, "timed2"), -1, "GETSET clears the deadline");
    assert_eq!(get(&mut con, "bn").as_deref(), Some(&b"\xff\xbf\x00"[..]));
    assert_eq!(get(&mut con, "bo").as_deref(), Some(&b"\x01\x40\xff"[..]));
    assert_eq!(get(&mut con, "r").as_deref(), Some(&b"restore me"[..]));
    assert_eq!(ttl(&mut con, "r"), -1);
    assert_eq!(get(&mut con, "rt").as_deref(), Some(&b"restore me"[..]));
    assert!(ttl(&mut con, "rt") > 990, "RESTORE's TTL");
    assert_eq!(get(&mut con, "u"), None);
}

#[test]
fn read_modify_writes_replay_from_the_log_as_the_values_they_left() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(
        dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    write_keys(&s);
    check_keys(&s);
    s.kill();
    let log = crate::expiry::log_bytes(dir.path());
    let has = |needle: &[u8]| log.windows(needle.len()).any(|w| w == needle);
    for command in [
        "INCR",
        "DECRBY",
        "INCRBY",
        "INCRBYFLOAT",
        "APPEND",
        "SETRANGE",
        "SETBIT",
        "BITFIELD",
        "GETDEL",
        "SETNX",
        "GETSET",
        "BITOP",
        "RESTORE",
    ] {
        let arg = format!("${}\r\n{command}\r\n", command.len());
        assert!(
            !has(arg.as_bytes()),
            "{command} is logged as the write it made"
        );
    }
    assert!(
        has(b"PXAT"),
        "a kept deadline is logged as an absolute time"
    );
    assert!(has(b"$3\r\nDEL\r\n$4\r\ngone\r\n"));
    std::thread::sleep(Duration::from_millis(50));
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
}
