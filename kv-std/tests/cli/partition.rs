//! `--partition`: keys split between independent servers by hash or by key range, each key on
//! exactly the server the scheme names, as checked on every server directly.

use crate::process::{Process, KV};
use assert_cmd::Command;
use kv_std::backup_format::{BackupReader, Trailer};
use kv_std::client::resp::Value;
use predicates::prelude::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// FNV-1a 64 as the README gives it, written out again here so the test does not trust the
/// client's own.
fn fnv1a64(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn by_hash(key: &[u8]) -> usize {
    (fnv1a64(key) % 3) as usize
}

/// [`RANGES`] as the README reads it: by first byte, ASCII letters uppercase, the first range
/// down to 0x00 and the last up to 0xFF.
fn by_range(key: &[u8]) -> usize {
    match key.first().map_or(0, u8::to_ascii_uppercase) {
        0x00..=b'F' => 0,
        b'G'..=b'P' => 1,
        _ => 2,
    }
}

const RANGES: &str = "range:A-F,g-P,Q-Z";

struct Cluster {
    servers: Vec<Process>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    fn start() -> Self {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let servers = dirs
            .iter()
            .map(|d| Process::start(&KV, d.path(), None, &[]))
            .collect();
        Self {
            servers,
            _dirs: dirs,
        }
    }

    fn client(&self, scheme: &str) -> Command {
        let list: Vec<String> = self.servers.iter().map(Process::addr).collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv-client"));
        cmd.args([
            "--timeout",
            "2",
            "--retries",
            "1",
            "--servers",
            &list.join(","),
        ]);
        cmd.args(["--partition", scheme]);
        cmd.timeout(std::time::Duration::from_secs(30));
        cmd
    }

    /// Asserts `key` exists on server `on` and on no other (or on none, with `None`).
    fn assert_only_on(&self, key: &[u8], on: Option<usize>) {
        for (i, s) in self.servers.iter().enumerate() {
            let expected = Value::Int(i64::from(Some(i) == on));
            assert_eq!(
                s.call(&[b"EXISTS", key]),
                expected,
                "key '{}' on server {i}",
                key.escape_ascii()
            );
        }
    }
}

/// 200 keys whose first bytes span digits, both cases of letters either side of each range
/// bound, and punctuation before and after the letters.
fn keys() -> Vec<Vec<u8>> {
    let firsts = b"0aAfFgGpPqQzZ~_[!m";
    (0..200)
        .map(|i| format!("{}key{i}", firsts[i % firsts.len()] as char).into_bytes())
        .collect()
}

fn put_get_delete(scheme: &str, place: fn(&[u8]) -> usize) {
    let cluster = Cluster::start();
    let keys = keys();
    for key in &keys {
        let value = [b"value of ", &key[..]].concat();
        cluster
            .client(scheme)
            .arg("put")
            .arg(OsStr::from_bytes(key))
            .arg(OsStr::from_bytes(&value))
            .assert()
            .code(0);
    }
    let mut used = [0; 3];
    for key in &keys {
        cluster.assert_only_on(key, Some(place(key)));
        used[place(key)] += 1;
        let value = [b"value of ", &key[..], b"\n"].concat();
        cluster
            .client(scheme)
            .arg("get")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(0)
            .stdout(value);
    }
    assert!(
        used.iter().all(|&n| n > 0),
        "every server holds keys: {used:?}"
    );
    for key in keys.iter().step_by(2) {
        cluster
            .client(scheme)
            .arg("delete")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(0);
        cluster.assert_only_on(key, None);
        cluster
            .client(scheme)
            .arg("get")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(1);
    }
    for key in keys.iter().skip(1).step_by(2) {
        cluster.assert_only_on(key, Some(place(key)));
    }
    cluster
        .client(scheme)
        .arg("ping")
        .assert()
        .code(0)
        .stdout("PONG\n");
}

#[test]
fn hash_puts_gets_and_deletes_each_key_on_the_server_fnv1a_names() {
    put_get_delete("hash", by_hash);
}

#[test]
fn ranges_put_get_and_delete_each_key_on_the_server_its_first_byte_names() {
    put_get_delete(RANGES, by_range);
}

fn import_export(scheme: &str, place: fn(&[u8]) -> usize) {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("in.txt");
    // Plain key,value lines; `\xff` and `\x00` escape a key's first byte.
    let mut text = String::new();
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 0..300 {
        let (line_key, key) = match i % 5 {
            0 => (
                format!("\\xffk{i}"),
                [&b"\xff"[..], format!("k{i}").as_bytes()].concat(),
            ),
            1 => (
                format!("\\x00k{i}"),
                [&b"\x00"[..], format!("k{i}").as_bytes()].concat(),
            ),
            2 => (format!("user{i}"), format!("user{i}").into_bytes()),
            3 => (format!("Item{i}"), format!("Item{i}").into_bytes()),
            _ => (format!("{i}"), format!("{i}").into_bytes()),
        };
        text.push_str(&format!("{line_key},value {i}, ✓\n"));
        expected.push((key, format!("value {i}, ✓").into_bytes()));
    }
    std::fs::write(&backup, text).unwrap();
    cluster
        .client(scheme)
        .arg("import")
        .arg(&backup)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("imported 300 entries in "));
    for (key, _) in &expected {
        cluster.assert_only_on(key, Some(place(key)));
    }
    let exported = dir.path().join("out.txt");
    cluster
        .client(scheme)
        .arg("export")
        .arg(&exported)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("exported 300 entries to "));
    expected.sort();
    let file = std::fs::read(&exported).unwrap();
    let mut reader = BackupReader::new(&file[..]);
    let read: Vec<_> = reader.by_ref().map(|(_, e)| e.unwrap()).collect();
    assert!(read == expected, "the exported entries differ");
    assert!(matches!(reader.trailer(), Some(Trailer::Verified { .. })));
}

#[test]
fn hash_import_spreads_a_backup_and_export_gathers_it_back() {
    import_export("hash", by_hash);
}

#[test]
fn range_import_spreads_a_backup_and_export_gathers_it_back() {
    import_export(RANGES, by_range);
}

#[test]
fn ranges_with_a_gap_or_an_overlap_or_of_the_wrong_count_are_refused() {
    let servers = "127.0.0.1:1,127.0.0.1:2";
    for (scheme, why) in [
        (
            "range:A-L,N-Z",
            "gap: keys starting with 'M'..='M' are in no range",
        ),
        (
            "range:A-M,K-Z",
            "overlap: keys starting with 'K'..='M' are in two ranges",
        ),
    ] {
        Command::new(env!("CARGO_BIN_EXE_kv-client"))
            .args(["--servers", servers, "--partition", scheme, "ping"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "invalid value '{scheme}' for '--partition <SCHEME>': {why}"
            )));
    }
    Command::new(env!("CARGO_BIN_EXE_kv-client"))
        .args([
            "--servers",
            servers,
            "--partition",
            "range:A-F,G-P,Q-Z",
            "ping",
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "kv-client: --partition: 3 ranges for 2 servers (one range per server, in order)\n",
        );
    Command::new(env!("CARGO_BIN_EXE_kv-client"))
        .args(["--partition", "hash", "ping"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--servers"));
}
