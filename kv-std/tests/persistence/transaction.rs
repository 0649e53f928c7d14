//! An EXEC's writes reach the log between MULTI and EXEC records: a restart replays all of them,
//! and a log cut before the EXEC record replays none.

use crate::{free_port, start};
use std::path::{Path, PathBuf};

/// The log segment holding the records (the only one: no snapshot was taken).
fn segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".aof"))
        .collect();
    segments.sort();
    segments.pop().expect("a log segment")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[test]
fn an_exec_replays_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(
        dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    let mut con = s.client();
    let () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut con)
        .unwrap();
    let ((), before, (), a): ((), String, (), String) = redis::pipe()
        .atomic()
        .set("a", "1")
        .get("before")
        .set("b", "2")
        .get("a")
        .query(&mut con)
        .unwrap();
    assert_eq!((before.as_str(), a.as_str()), ("1", "1"));
    // A read-only transaction logs nothing.
    let _: (Option<String>,) = redis::pipe().atomic().get("a").query(&mut con).unwrap();
    s.kill();
    let log = std::fs::read(segment(dir.path())).unwrap();
    let multi = find(&log, b"$5\r\nMULTI\r\n").expect("MULTI logged");
    let exec = find(&log, b"$4\r\nEXEC\r\n").expect("EXEC logged");
    assert!(multi < exec);
    assert_eq!(
        log.windows(11).filter(|w| *w == b"$5\r\nMULTI\r\n").count(),
        1,
        "the read-only transaction logged a MULTI"
    );

    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["before", "a", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(got, [Some("1".into()), Some("1".into()), Some("2".into())]);
    s.kill();

    // Cut the log just before the EXEC record (its 8-byte frame header and the `*1\r\n` of
    // the command): the transaction's writes must not come back.
    let path = segment(dir.path());
    let log = std::fs::read(&path).unwrap();
    let exec = find(&log, b"*1\r\n$4\r\nEXEC\r\n").expect("EXEC logged") - 8;
    std::fs::write(&path, &log[..exec]).unwrap();
    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["before", "a", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        got,
        [Some("1".into()), None, None],
        "half a transaction replayed"
    );
    // The unfinished transaction was cut off the log: a later transaction's EXEC does not
    // bring its writes back.
    let (_, _): ((), ()) = redis::pipe()
        .atomic()
        .set("later", "1")
        .set("after", "2")
        .query(&mut con)
        .unwrap();
    s.kill();
    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["before", "a", "b", "later", "after"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        got,
        [
            Some("1".into()),
            None,
            None,
            Some("1".into()),
            Some("2".into())
        ]
    );
}
