//! Deadlines across restarts: from the log and from the backup file a key keeps its deadline, a
//! key that expired while the server was down does not come back, and a deadline changed before
//! it passed is replayed as changed.

use crate::{free_port, start, Server};
use redis::Commands;
use std::path::Path;
use std::time::Duration;

/// Writes keys whose deadlines are set, moved, kept and removed, some to pass within 300 ms.
fn write_keys(s: &Server) {
    let mut con = s.client();
    let set = |con: &mut redis::Connection, args: &[&str]| {
        let () = redis::cmd("SET").arg(args).query(con).unwrap();
    };
    set(&mut con, &["long", "v", "EX", "1000"]);
    set(&mut con, &["short", "v", "PX", "300"]);
    set(&mut con, &["gone", "v", "PX", "300"]);
    let () = con.set("plain", "v").unwrap();
    // Would have expired, but its deadline was removed first.
    set(&mut con, &["persisted", "v", "PX", "300"]);
    let removed: i64 = redis::cmd("PERSIST")
        .arg("persisted")
        .query(&mut con)
        .unwrap();
    assert_eq!(removed, 1);
    // Would have expired, but its deadline was moved first.
    set(&mut con, &["moved", "v", "PX", "300"]);
    let moved: i64 = redis::cmd("PEXPIRE")
        .arg("moved")
        .arg(1_000_000)
        .query(&mut con)
        .unwrap();
    assert_eq!(moved, 1);
    // A new value that keeps the old deadline.
    set(&mut con, &["kept", "v", "PX", "1000000"]);
    set(&mut con, &["kept", "v2", "KEEPTTL"]);
    // And one that expires with the value it was given last.
    set(&mut con, &["kept-short", "v", "PX", "300"]);
    set(&mut con, &["kept-short", "v2", "KEEPTTL"]);
    let got: String = redis::cmd("GETEX")
        .arg("gone")
        .arg("PXAT")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(got, "v");
}

/// After a restart at least 300 ms later: what should be there is, with its deadline.
fn check_keys(s: &Server) {
    let mut con = s.client();
    let ttl = |con: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("PTTL").arg(key).query(con).unwrap()
    };
    let long = ttl(&mut con, "long");
    assert!((990_000..=1_000_000).contains(&long), "{long}");
    assert_eq!(ttl(&mut con, "short"), -2);
    assert_eq!(ttl(&mut con, "gone"), -2);
    assert_eq!(ttl(&mut con, "kept-short"), -2);
    assert_eq!(ttl(&mut con, "plain"), -1);
    assert_eq!(ttl(&mut con, "persisted"), -1);
    assert!(ttl(&mut con, "moved") > 990_000);
    assert!(ttl(&mut con, "kept") > 990_000);
    let kept: String = con.get("kept").unwrap();
    assert_eq!(kept, "v2");
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(
        n, 5,
        "long, plain, persisted, moved, kept: the expired are not loaded"
    );
}

pub fn log_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains(".aof") {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn deadlines_survive_a_restart_from_the_log_and_expired_keys_stay_gone() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(
        dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    write_keys(&s);
    // A crash: no snapshot, the log is all there is.
    s.kill();
    let log = log_bytes(dir.path());
    assert!(
        contains(&log, b"PXAT"),
        "relative times are logged as absolute"
    );
    assert!(contains(&log, b"PEXPIREAT"));
    assert!(contains(&log, b"PERSIST"));
    for relative in [&b"$2\r\nEX\r\n"[..], b"$2\r\nPX\r\n", b"KEEPTTL", b"GETEX"] {
        assert!(
            !contains(&log, relative),
            "{}",
            String::from_utf8_lossy(relative)
        );
    }
    std::thread::sleep(Duration::from_millis(400));
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
    // And again, from the backup file the shutdown writes.
    assert_eq!(s.stop(), Some(0));
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
}

#[test]
fn deadlines_survive_a_restart_from_the_backup_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(dir.path(), port, &[]);
    write_keys(&s);
    assert_eq!(s.stop(), Some(0));
    let file = std::fs::read_to_string(dir.path().join("kv-backup.txt")).unwrap();
    assert!(file.contains("\n#pxat "), "{file}");
    assert!(
        file.contains("\nplain,v\n"),
        "a key without a deadline as before: {file}"
    );
    std::thread::sleep(Duration::from_millis(400));
    let s = start(dir.path(), port, &[]);
    check_keys(&s);
}

#[test]
fn a_backup_with_a_deadline_already_past_loads_without_that_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = Vec::new();
    let mut w = kv_std::backup_format::BackupWriter::new(&mut file, 1).unwrap();
    w.entry(b"plain", b"v").unwrap();
    w.expiring_entry(Some(1), b"past", b"v").unwrap();
    w.expiring_entry(Some(4_102_444_800_123), b"future", b"v")
        .unwrap();
    w.finish().unwrap();
    std::fs::write(dir.path().join("kv-backup.txt"), &file).unwrap();
    let s = start(dir.path(), free_port(), &[]);
    let mut con = s.client();
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg("future")
        .query(&mut con)
        .unwrap();
    assert_eq!(at, 4_102_444_800_123);
    let past: Option<String> = con.get("past").unwrap();
    assert_eq!(past, None);
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 2);
}
