//! Commands that change several keys at once replay from the log, and survive in the backup
//! file, with the same result: MSET, MSETNX, a DEL of several keys, RENAME and COPY, deadlines
//! moved with the values.

use crate::{free_port, start, Server};

fn write_keys(s: &Server) {
    let mut con = s.client();
    let mut run = |args: &[&str]| -> redis::Value {
        redis::cmd(args[0]).arg(&args[1..]).query(&mut con).unwrap()
    };
    run(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(run(&["MSETNX", "a", "x", "e", "5"]), redis::Value::Int(0));
    assert_eq!(run(&["MSETNX", "e", "5", "f", "6"]), redis::Value::Int(1));
    assert_eq!(run(&["DEL", "b", "c", "nothere"]), redis::Value::Int(2));
    run(&["SET", "src", "moving", "EXAT", "4102444800"]);
    run(&["SET", "dst", "old"]);
    run(&["RENAME", "src", "dst"]);
    assert_eq!(run(&["RENAMENX", "d", "a"]), redis::Value::Int(0));
    assert_eq!(run(&["COPY", "dst", "a", "REPLACE"]), redis::Value::Int(1));
    assert_eq!(run(&["COPY", "e", "f"]), redis::Value::Int(0));
}

fn check_keys(s: &Server) {
    let mut con = s.client();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["a", "b", "c", "d", "e", "f", "src", "dst"])
        .query(&mut con)
        .unwrap();
    let want = [
        Some("moving"),
        None,
        None,
        Some("4"),
        Some("5"),
        Some("6"),
        None,
        Some("moving"),
    ];
    assert_eq!(values, want.map(|v| v.map(String::from)));
    for key in ["a", "dst"] {
        let at: i64 = redis::cmd("EXPIRETIME").arg(key).query(&mut con).unwrap();
        assert_eq!(at, 4_102_444_800, "{key}'s deadline");
    }
    let at: i64 = redis::cmd("EXPIRETIME").arg("d").query(&mut con).unwrap();
    assert_eq!(at, -1);
}

#[test]
fn multi_key_commands_replay_from_the_log_and_survive_in_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(
        dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    write_keys(&s);
    check_keys(&s);
    // A crash: the log is all there is.
    s.kill();
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
    assert_eq!(s.stop(), Some(0));
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
}
