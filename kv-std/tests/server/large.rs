//! Values of megabytes: 1 MB and 100 MB through the `redis` crate (RESP2 and RESP3) and
//! through `redis-cli`; the memory limit set at run time; `MEMORY USAGE`.

use crate::TestServer;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const MB: usize = 1 << 20;

/// `len` bytes where every byte value occurs and neighbouring values differ, so a shifted,
/// truncated or torn copy shows.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8 ^ (i >> 16) as u8 ^ seed)
        .collect()
}

fn connect(s: &TestServer, protocol: &str) -> redis::Connection {
    let con = redis::Client::open(format!("redis://{}/?protocol={protocol}", s.addr))
        .expect("url")
        .get_connection()
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    con
}

fn get(con: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(con).unwrap()
}

#[test]
fn values_of_1_mb_and_100_mb_round_trip_through_the_redis_crate() {
    let s = TestServer::start();
    let one = pattern(1, MB);
    let hundred = pattern(2, 100 * MB);
    for protocol in ["resp3", "resp2"] {
        let mut con = connect(&s, protocol);
        let () = redis::cmd("SET")
            .arg("one")
            .arg(&one)
            .query(&mut con)
            .unwrap();
        let () = redis::cmd("SET")
            .arg("hundred")
            .arg(&hundred)
            .query(&mut con)
            .unwrap();
        assert!(
            get(&mut con, "one").as_deref() == Some(&one[..]),
            "{protocol}"
        );
        assert!(
            get(&mut con, "hundred").as_deref() == Some(&hundred[..]),
            "{protocol}"
        );
        let both: Vec<Vec<u8>> = redis::cmd("MGET")
            .arg("hundred")
            .arg("one")
            .query(&mut con)
            .unwrap();
        assert!(both[0] == hundred && both[1] == one);
        // Overwrites to a smaller and a larger size, then deletes.
        let () = redis::cmd("SET")
            .arg("hundred")
            .arg(&one)
            .query(&mut con)
            .unwrap();
        let () = redis::cmd("SET")
            .arg("one")
            .arg(&hundred)
            .query(&mut con)
            .unwrap();
        assert!(get(&mut con, "hundred").as_deref() == Some(&one[..]));
        assert!(get(&mut con, "one").as_deref() == Some(&hundred[..]));
        let deleted: i64 = redis::cmd("DEL")
            .arg("one")
            .arg("hundred")
            .query(&mut con)
            .unwrap();
        assert_eq!(deleted, 2);
        assert_eq!(get(&mut con, "one"), None);
    }
}

/// Runs `redis-cli` against the server with `args`, `stdin` as its input; its stdout.
fn redis_cli(s: &TestServer, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("redis-cli")
        .args([
            "-h",
            &s.addr.ip().to_string(),
            "-p",
            &s.addr.port().to_string(),
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed (the README's test command installs it)");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn values_of_1_mb_and_100_mb_round_trip_through_redis_cli() {
    let s = TestServer::start();
    for (key, value) in [("one", pattern(3, MB)), ("hundred", pattern(4, 100 * MB))] {
        // `-x` sends standard input as the last argument; a reply to a pipe is written raw,
        // followed by a newline.
        assert_eq!(redis_cli(&s, &["-x", "SET", key], &value), b"OK\n");
        let mut got = redis_cli(&s, &["GET", key], b"");
        assert_eq!(got.pop(), Some(b'\n'));
        assert!(got == value, "{key}: {} bytes back", got.len());
    }
}

#[test]
fn the_memory_limit_is_set_at_run_time_and_memory_usage_answers() {
    let s = TestServer::start();
    let mut con = connect(&s, "resp3");
    let value = pattern(5, 2 * MB);
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1mb")
        .query(&mut con)
        .unwrap();
    let refused = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query::<()>(&mut con)
        .unwrap_err();
    assert_eq!(refused.code(), Some("OOM"), "{refused}");
    assert_eq!(get(&mut con, "big"), None);
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query(&mut con)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut con)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("small")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let usage = |con: &mut redis::Connection, key: &str| -> Option<i64> {
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query(con)
            .unwrap()
    };
    let big = usage(&mut con, "big").unwrap() as usize;
    // Whole pages for the value: at least its bytes, at most one page more.
    assert!((2 * MB..2 * MB + 65536 + 64).contains(&big), "{big}");
    let small = usage(&mut con, "small").unwrap();
    assert!((8..=64).contains(&small), "{small}");
    assert_eq!(usage(&mut con, "nobody"), None);
}
