//! `kv-client export --rdb` and `import --rdb`: a kv server's keys, values and expiry times
//! written as an RDB file that redis-check-rdb accepts and redis-server loads exactly, and read
//! back into another kv server.

use crate::process::{bulk, call, Process, REDIS};
use crate::{client_on, TestServer};
use kv_std::client::resp::Value;
use predicates::prelude::*;

/// Key, value, and whether it has an expiry.
fn entries() -> Vec<(Vec<u8>, Vec<u8>, bool)> {
    let mut e = vec![
        (b"plain".to_vec(), b"hello".to_vec(), false),
        (b"\x00bin\xff\r\n".to_vec(), (0..=255).collect(), true),
        (b"empty".to_vec(), Vec::new(), false),
        (b"number".to_vec(), b"12345".to_vec(), true),
        (b"long".to_vec(), b"abcde".repeat(20_000), true),
    ];
    for i in 0..2500u32 {
        e.push((
            format!("key:{i}").into_bytes(),
            format!("value {i}").into_bytes(),
            i % 3 == 0,
        ));
    }
    e
}

/// Every key of `entries` with its value and PEXPIRETIME, as the server on `port` holds them.
fn held(port: u16, entries: &[(Vec<u8>, Vec<u8>, bool)]) -> Vec<(Value, Value)> {
    entries
        .iter()
        .map(|(k, ..)| (call(port, &[b"GET", k]), call(port, &[b"PEXPIRETIME", k])))
        .collect()
}

#[test]
fn an_rdb_export_is_loaded_by_redis_server_and_imported_by_kv_exactly() {
    let kv = TestServer::start();
    let port = kv.addr.port();
    let entries = entries();
    let at = kv_std::db::unix_ms() + 3_600_000;
    for (i, (k, v, expires)) in entries.iter().enumerate() {
        let at = (at + i as u64).to_string();
        let set: Vec<&[u8]> = if *expires {
            vec![b"SET", k, v, b"PXAT", at.as_bytes()]
        } else {
            vec![b"SET", k, v]
        };
        assert_eq!(call(port, &set), Value::Simple(b"OK".to_vec()));
    }
    let expected = held(port, &entries);
    assert_eq!(expected[0].0, bulk(b"hello"));
    assert_eq!(expected[0].1, Value::Int(-1));
    assert_eq!(expected[3].1, Value::Int(at as i64 + 3));

    let dir = tempfile::tempdir().unwrap();
    let rdb = dir.path().join("dump.rdb");
    client_on(port)
        .arg("export")
        .arg("--rdb")
        .arg(&rdb)
        .assert()
        .code(0)
        .stderr("")
        .stdout(
            predicate::str::is_match(format!(
                r"^exported {} keys to {} in [0-9.]+ s\n$",
                entries.len(),
                regex_escape(&rdb.display().to_string())
            ))
            .unwrap(),
        );
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&rdb)
        .output()
        .expect("redis-check-rdb must be installed");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("RDB looks OK!"), "{report}");
    assert!(
        report.contains(&format!("{} keys read", entries.len())),
        "{report}"
    );

    let redis = Process::start(&REDIS, dir.path(), None, &["--dbfilename", "dump.rdb"]);
    assert_eq!(redis.call(&[b"DBSIZE"]), Value::Int(entries.len() as i64));
    assert_eq!(held(redis.port, &entries), expected);

    let again = TestServer::start();
    client_on(again.addr.port())
        .arg("import")
        .arg("--rdb")
        .arg(&rdb)
        .assert()
        .code(0)
        .stderr("")
        .stdout(
            predicate::str::is_match(format!(r"^imported {} keys in [0-9.]+ s\n$", entries.len()))
                .unwrap(),
        );
    assert_eq!(held(again.addr.port(), &entries), expected);
}

#[test]
fn an_rdb_export_stops_at_a_key_of_another_type_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Process::start(&REDIS, dir.path(), None, &[]);
    redis.call(&[b"SET", b"a", b"1"]);
    redis.call(&[b"RPUSH", b"queue", b"x"]);
    client_on(redis.port)
        .arg("export")
        .arg("--rdb")
        .arg(dir.path().join("out.rdb"))
        .assert()
        .code(3)
        .stdout("")
        .stderr(
            "kv-client: key 'queue': WRONGTYPE Operation against a key holding the wrong kind \
             of value; an RDB export holds only string keys\n",
        );
}

#[test]
fn an_rdb_import_refuses_a_key_of_another_type_or_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Process::start(&REDIS, dir.path(), None, &["--dbfilename", "src.rdb"]);
    redis.call(&[b"SET", b"a", b"1"]);
    redis.call(&[b"RPUSH", b"queue", b"x"]);
    redis.call(&[b"SAVE"]);
    let rdb = dir.path().join("src.rdb");
    let kv = TestServer::start();
    client_on(kv.addr.port())
        .arg("import")
        .arg("--rdb")
        .arg(&rdb)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("key \"queue\" is a list"));
    client_on(kv.addr.port())
        .args(["import", "--skip-unsupported", "--rdb"])
        .arg(&rdb)
        .assert()
        .code(0)
        .stdout(
            predicate::str::is_match(
                r"^imported 1 keys in [0-9.]+ s, skipped 1 keys of types kv does not store\n$",
            )
            .unwrap(),
        );
    assert_eq!(call(kv.addr.port(), &[b"GET", b"a"]), bulk(b"1"));
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
