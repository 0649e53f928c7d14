//! The backup file: restarts keep every byte; damaged files fall back or refuse.

use crate::{free_port, start, try_start};
use redis::Commands;
use std::fs;

/// Keys and values that would break a naive `key,value` line.
fn awkward() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"a,b".to_vec(), b"x,y".to_vec()),
        (b"new\nline".to_vec(), b"back\\slash\r\n".to_vec()),
        (b"#end".to_vec(), b"#end entries=0 crc32c=00000000".to_vec()),
        (vec![0, 0xff, 0x80], vec![0xfe, 0, b',']),
        (
            "caf\u{e9} \u{2713}".as_bytes().to_vec(),
            "John Doe, \u{1f600}".as_bytes().to_vec(),
        ),
        (b"empty".to_vec(), Vec::new()),
    ]
}

#[test]
fn awkward_keys_and_values_survive_a_restart_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    for (k, v) in awkward() {
        let () = con.set(k, v).unwrap();
    }
    drop(con);
    assert_eq!(s.stop(), Some(0));
    // From the backup file alone: the shutdown snapshot retired the log it covered.
    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    for (k, v) in awkward() {
        let got: Vec<u8> = con.get(&k).unwrap();
        assert_eq!(got, v, "{:?}", String::from_utf8_lossy(&k));
    }
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, awkward().len());
}

#[test]
fn a_value_of_several_mib_holding_every_byte_survives_a_restart() {
    // Every byte value, runs of the escape and separator bytes, newlines, and UTF-8 characters
    // of each length at every alignment: 6 MiB, so the snapshot writes it in many pieces.
    let mut value = Vec::with_capacity(6 << 20);
    let mut i = 0usize;
    while value.len() < 6 << 20 {
        value.extend(0..=255u8);
        value.extend_from_slice(&"\\,\n\r#é✓😀".as_bytes()[..(i % 13) + 1]);
        i += 1;
    }
    let key = b"big\\,key\n".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    let () = con.set(&key, &value).unwrap();
    let () = con.set("small", "v").unwrap();
    drop(con);
    assert_eq!(s.stop(), Some(0));

    // The file holds it as the format says, line for line.
    let file = fs::read(dir.path().join("kv-backup.txt")).unwrap();
    let mut reader = kv_std::backup_format::BackupReader::new(&file[..]);
    let mut entries: Vec<_> = reader.by_ref().map(|(_, e)| e.unwrap()).collect();
    entries.sort();
    assert!(
        entries
            == [
                (key.clone(), value.clone()),
                (b"small".to_vec(), b"v".to_vec())
            ]
    );
    assert_eq!(
        reader.trailer(),
        Some(kv_std::backup_format::Trailer::Verified { entries: 2 })
    );
    let mut line = Vec::new();
    kv_std::backup_format::escape_key(&key, &mut line);
    line.push(b',');
    kv_std::backup_format::escape_value(&value, &mut line);
    line.push(b'\n');
    assert!(
        file.windows(line.len()).any(|w| w == &line[..]),
        "the value's line is not the whole value escaped"
    );

    let s = start(dir.path(), port, &[]);
    let mut con = s.client();
    let got: Vec<u8> = con.get(&key).unwrap();
    assert!(got == value, "the value read back differs");
}

#[test]
fn a_file_in_the_original_format_loads_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("kv-backup.txt"),
        "version:1\ninstance:1\n---\nkey1,value1\nkey2,value2\nuser1,John Doe\n",
    )
    .unwrap();
    let s = start(dir.path(), free_port(), &[]);
    let mut con = s.client();
    let v: String = con.get("user1").unwrap();
    assert_eq!(v, "John Doe");
    let v: String = con.get("key2").unwrap();
    assert_eq!(v, "value2");
    assert!(s.log().contains("no '#end' trailer"), "{}", s.log());
    assert!(
        s.log().contains("loaded 3 entries from kv-backup.txt"),
        "{}",
        s.log()
    );
}

/// Saves `keys` generations: the newest file holds all of them, the previous one all but the
/// last.
fn two_generations(dir: &std::path::Path, port: u16) {
    let s = start(dir, port, &[]);
    let mut con = s.client();
    let () = con.set("first", "1").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let () = con.set("second", "2").unwrap();
    drop(con);
    assert_eq!(s.stop(), Some(0));
    assert!(dir.join("kv-backup.txt.prev").exists());
}

#[test]
fn a_truncated_backup_falls_back_to_the_previous_generation() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    two_generations(dir.path(), port);
    let path = dir.path().join("kv-backup.txt");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let s = start(dir.path(), port, &[]);
    assert!(s.log().contains("is damaged"), "{}", s.log());
    assert!(s.log().contains("kv-backup.txt.prev"), "{}", s.log());
    // The previous generation plus the log segments kept for it: nothing is lost.
    let mut con = s.client();
    let first: String = con.get("first").unwrap();
    let second: String = con.get("second").unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("1", "2"));
}

#[test]
fn a_flipped_byte_is_caught_by_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    two_generations(dir.path(), port);
    let path = dir.path().join("kv-backup.txt");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.iter().position(|&b| b == b'2').unwrap();
    bytes[at] = b'3';
    fs::write(&path, &bytes).unwrap();
    let s = start(dir.path(), port, &[]);
    assert!(s.log().contains("checksum mismatch"), "{}", s.log());
    let mut con = s.client();
    let second: String = con.get("second").unwrap();
    assert_eq!(second, "2");
}

#[test]
fn with_no_usable_backup_the_server_refuses_to_start_empty() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    fs::write(dir.path().join("kv-backup.txt"), "version:9\ngarbage\n").unwrap();
    let (code, log) = try_start(dir.path(), port, &[]).err().expect("must refuse");
    assert_eq!(code, Some(1));
    assert!(log.contains("refusing to start empty"), "{log}");
    assert!(log.contains("--force-empty"), "{log}");
    let s = start(dir.path(), port, &["--force-empty"]);
    let mut con = s.client();
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_torn_log_tail_is_cut_and_damage_in_the_middle_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    let mut con = s.client();
    for i in 0..10 {
        let () = con.set(format!("k{i}"), i).unwrap();
    }
    drop(con);
    s.kill();
    let seg = dir.path().join("kv-backup.aof.0");
    let whole = fs::read(&seg).unwrap();
    // Cut the last record short: a write interrupted by the crash.
    fs::write(&seg, &whole[..whole.len() - 3]).unwrap();
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    assert!(s.log().contains("cutting it off"), "{}", s.log());
    let mut con = s.client();
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 9);
    drop(con);
    s.kill();
    // Damage a record in the middle: the server names the offset and does not start.
    let mut bytes = fs::read(&seg).unwrap();
    bytes[8 + 9] ^= 0xff;
    fs::write(&seg, &bytes).unwrap();
    let (code, log) = try_start(dir.path(), port, &["--save-interval", "0"])
        .err()
        .expect("must refuse");
    assert_eq!(code, Some(1));
    assert!(log.contains("is damaged at byte 8"), "{log}");
}

#[test]
fn save_bgsave_and_lastsave_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), free_port(), &[]);
    let mut con = s.client();
    let before: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    let () = con.set("k", "v").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let ok: String = redis::cmd("SAVE").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(after > before, "{before} -> {after}");
    let started: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(started, "Background saving started");
    let text = fs::read_to_string(dir.path().join("kv-backup.txt")).unwrap();
    assert!(text.contains("\nk,v\n"), "{text}");
}

#[test]
fn shutdown_saves_and_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path(), free_port(), &["--save-interval", "0"]);
    let mut c = s.raw();
    assert_eq!(
        crate::raw_roundtrip(&mut c, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nkept!\r\n", 5),
        b"+OK\r\n"
    );
    use std::io::{Read, Write};
    c.write_all(b"*1\r\n$8\r\nSHUTDOWN\r\n").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "SHUTDOWN answers by closing: {rest:?}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let text = fs::read_to_string(dir.path().join("kv-backup.txt")).unwrap();
    assert!(text.contains("\nk,kept!\n"), "{text}");
}

#[test]
fn a_log_segment_of_the_first_format_still_loads() {
    // `KVAOF 1\n`, then records `len u32 | crc32c u32 | op u8 | key_len u16 | key | value`, as the
    // previous release wrote them: SET a 1, SET b 2, DEL a.
    let mut segment = b"KVAOF 1\n".to_vec();
    for body in [&b"\x01\x01\x00a1"[..], b"\x01\x01\x00b2", b"\x02\x01\x00a"] {
        segment.extend_from_slice(&(body.len() as u32).to_le_bytes());
        segment.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
        segment.extend_from_slice(body);
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("kv-backup.aof.0"), &segment).unwrap();
    let port = free_port();
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    let mut con = s.client();
    let b: String = con.get("b").unwrap();
    assert_eq!(b, "2");
    let a: Option<String> = con.get("a").unwrap();
    assert_eq!(a, None);
    // New writes go on in the new format after the old records, and both replay.
    let () = con.set("c", "3").unwrap();
    drop(con);
    s.kill();
    assert_eq!(
        fs::read(dir.path().join("kv-backup.aof.0")).unwrap(),
        segment
    );
    let next = fs::read(dir.path().join("kv-backup.aof.1")).unwrap();
    assert!(
        next.starts_with(b"KVAOF 2\n"),
        "new records go to a segment of the new format"
    );
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    let mut con = s.client();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["a", "b", "c"])
        .query(&mut con)
        .unwrap();
    assert_eq!(values, [None, Some("2".into()), Some("3".into())]);
}

/// Values of megabytes, every byte value among them (separators, escapes, newlines): a restart
/// from the backup file keeps them, and so does a replay of the log after a crash.
#[test]
fn large_values_survive_a_restart_from_the_backup_and_from_the_log() {
    let large = |seed: u8, len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(29) ^ (i >> 9) as u8 ^ seed)
            .collect()
    };
    let values = [
        (b"sixteen".to_vec(), large(1, 16 << 20)),
        (b"one".to_vec(), large(2, 1 << 20)),
        (vec![b'k'; 100_000], large(3, 70_000)),
        (b"small".to_vec(), b"s".to_vec()),
    ];
    let check = |con: &mut redis::Connection| {
        for (key, value) in &values {
            let got: Vec<u8> = con.get(key).unwrap();
            assert!(&got == value, "{} bytes back of {}", got.len(), value.len());
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // From the backup: written on SAVE, the log emptied by it.
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    let mut con = s.client();
    for (key, value) in &values {
        let () = con.set(key, value).unwrap();
    }
    let () = redis::cmd("SAVE").query(&mut con).unwrap();
    drop(con);
    s.kill();
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    check(&mut s.client());
    // From the log: overwrites after the snapshot, then a crash.
    let mut con = s.client();
    let () = con.set("one", &values[0].1).unwrap();
    let () = con.set("sixteen", &values[1].1).unwrap();
    drop(con);
    s.kill();
    let s = start(dir.path(), port, &["--save-interval", "0"]);
    let mut con = s.client();
    let sixteen: Vec<u8> = con.get("sixteen").unwrap();
    let one: Vec<u8> = con.get("one").unwrap();
    assert!(sixteen == values[1].1 && one == values[0].1);
}
