//! import and export.

use crate::{large_value, library, ClientCommand, TestServer};
use kv_std::backup_format::{BackupReader, Trailer};
use predicates::prelude::*;

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kv-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("backup.txt")
}

#[test]
fn import_skips_bad_lines_by_number_and_applies_the_rest() {
    let s = TestServer::start();
    let path = temp("bad-lines");
    std::fs::write(
        &path,
        "version:1\ninstance:1\n---\nuser1,John Doe\nno comma here\nbad\\q,escape\n\
         list,a,b,c\nmulti,one\\ntwo\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    s.client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(4)
        .stdout(predicate::str::is_match(
            r"^imported 3 entries in [0-9.]+ s \([0-9]+ entries/s\), skipped 2 bad lines\n$",
        )
        .unwrap())
        .stderr(format!(
            "kv-client: {shown}:5: no comma between key and value; skipped\n\
             kv-client: {shown}:6: bad escape at column 4 (expected \\\\, \\, \\n, \\r or \\xHH); skipped\n\
             kv-client: {shown}: warning: no trailer, so truncation cannot be ruled out\n\
             kv-client: {shown}: 2 bad lines skipped\n"
        ));
    for (key, value) in [
        ("user1", "John Doe\n"),
        ("list", "a,b,c\n"),
        ("multi", "one\ntwo\n"),
    ] {
        s.client().args(["get", key]).assert().code(0).stdout(value);
    }
    s.client().args(["get", "no comma here"]).assert().code(1);
}

#[test]
fn plain_key_value_lines_import() {
    let s = TestServer::start();
    let path = temp("plain");
    std::fs::write(&path, "user1,John Doe\nuser2,Jane").unwrap();
    s.client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("imported 2 entries in "));
    s.client().args(["get", "user2"]).assert().stdout("Jane\n");
}

#[test]
fn export_then_import_round_trips_every_byte() {
    let s = TestServer::start();
    let mut expected = Vec::new();
    for i in 0..2000u32 {
        let key = format!("key,{i}");
        let value = format!("value {i}, ✓\nnext\\line\r");
        expected.push((key.into_bytes(), value.into_bytes()));
    }
    {
        let mut client = kv_std::client::Client::new(kv_std::client::ClientConfig::new(
            "127.0.0.1",
            s.addr.port(),
        ));
        let mut batch = kv_std::client::Batch::new();
        for (k, v) in &expected {
            batch.put(k, v).unwrap();
        }
        batch.put(b"bin\xff\x00", b"\x01\x02\xfe").unwrap();
        client.execute(&batch).unwrap();
    }
    expected.push((b"bin\xff\x00".to_vec(), b"\x01\x02\xfe".to_vec()));
    expected.sort();
    let path = temp("round-trip");
    s.client()
        .arg("export")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with(format!(
            "exported 2001 entries to {} in ",
            path.display()
        )));
    let file = std::fs::read(&path).unwrap();
    let mut reader = BackupReader::new(&file[..]);
    let read: Vec<_> = reader.by_ref().map(|(_, e)| e.unwrap()).collect();
    assert_eq!(read, expected);
    assert_eq!(reader.trailer(), Some(Trailer::Verified { entries: 2001 }));

    let other = TestServer::start();
    other
        .client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("imported 2001 entries in "));
    let copy = temp("round-trip-copy");
    other.client().arg("export").arg(&copy).assert().code(0);
    assert_eq!(std::fs::read(&copy).unwrap(), file);
}

#[test]
fn a_corrupt_backup_imports_nothing() {
    let s = TestServer::start();
    let path = temp("corrupt");
    let mut file = Vec::new();
    kv_std::backup_format::write_backup(&mut file, 1, [(b"k1", b"v1"), (b"k2", b"v2")]).unwrap();
    file[26] ^= 1;
    std::fs::write(&path, &file).unwrap();
    s.client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(4)
        .stdout("")
        .stderr(
            predicate::str::contains("checksum mismatch").and(predicate::str::ends_with(
                "the file is corrupt; nothing was imported\n",
            )),
        );
    s.client().args(["get", "k2"]).assert().code(1);
}

#[test]
fn large_values_and_keys_export_and_import_byte_for_byte() {
    let s = TestServer::start();
    let long_key = vec![b'#'; 70_000];
    let mut expected = vec![
        (b"big".to_vec(), large_value(3)),
        (b"big,too".to_vec(), large_value(4)),
        (long_key.clone(), b"v".to_vec()),
        (b"small".to_vec(), b"value, \n".to_vec()),
    ];
    {
        let mut client = library(&s);
        for (k, v) in &expected {
            client.put(k, v).unwrap();
        }
    }
    expected.sort();
    let path = temp("large");
    s.client()
        .arg("export")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("exported 4 entries to "));
    let file = std::fs::read(&path).unwrap();
    let mut reader = BackupReader::new(&file[..]);
    let read: Vec<_> = reader.by_ref().map(|(_, e)| e.unwrap()).collect();
    assert!(read == expected, "the exported entries differ");
    assert_eq!(reader.trailer(), Some(Trailer::Verified { entries: 4 }));

    let other = TestServer::start();
    other
        .client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("imported 4 entries in "));
    let mut client = library(&other);
    for (k, v) in &expected {
        assert!(client.get(k).unwrap().as_ref() == Some(v), "{k:?}");
    }
    let copy = temp("large-copy");
    other.client().arg("export").arg(&copy).assert().code(0);
    assert!(
        std::fs::read(&copy).unwrap() == file,
        "the second export differs"
    );
}

#[test]
fn import_leaves_out_expired_entries_and_says_it_drops_deadlines() {
    let s = TestServer::start();
    let path = temp("deadlines");
    std::fs::write(
        &path,
        "version:1\ninstance:1\n---\nplain,v\n#pxat 1 past,v\n#pxat 4102444800123 future,v\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    s.client()
        .arg("import")
        .arg(&path)
        .assert()
        .code(0)
        .stdout(
            predicate::str::is_match(
                r"^imported 2 entries in [0-9.]+ s \([0-9]+ entries/s\), left out 1 expired entries\n$",
            )
            .unwrap(),
        )
        .stderr(format!(
            "kv-client: {shown}: warning: 1 entries were imported without their deadlines \
             (the native protocol carries none)\n\
             kv-client: {shown}: warning: no trailer, so truncation cannot be ruled out\n"
        ));
    s.client()
        .args(["get", "future"])
        .assert()
        .code(0)
        .stdout("v\n");
    s.client().args(["get", "past"]).assert().code(1);
}
