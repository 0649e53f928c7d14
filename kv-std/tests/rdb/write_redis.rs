//! Files kv writes: `redis-check-rdb` finds them OK and `redis-server` loads exactly their
//! content.

use crate::{now_ms, run_with_timeout, RedisServer, Rng};
use kv_std::rdb::{Compression, DbSizes, WriteOptions, Writer};
use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

type Entry = (Vec<u8>, Vec<u8>, Option<i64>);

/// Keys and values of every kind: binary, empty, integers and near-integers, long compressible
/// and incompressible values, with and without expiry, and many small ones.
fn entries() -> Vec<Entry> {
    let mut rng = Rng::new(7);
    let hour = now_ms() + 3_600_000;
    let mut e: Vec<Entry> = vec![
        (b"".to_vec(), b"empty key".to_vec(), None),
        (b"empty value".to_vec(), b"".to_vec(), None),
        ((0..=255).collect(), (0..=255).rev().collect(), None),
        (b"\x00\r\n\xff".to_vec(), b"\r\n$3\r\n".to_vec(), Some(hour)),
        (b"compressible 100k".to_vec(), rng.text(100_000), None),
        (
            b"compressible 300k ttl".to_vec(),
            rng.text(300_000),
            Some(hour + 1),
        ),
        (b"random 100k".to_vec(), rng.bytes(100_000), None),
        (
            b"repeated".to_vec(),
            b"abc".repeat(10_000),
            Some(hour + 86_400_000),
        ),
        (b"21 bytes".to_vec(), vec![b'q'; 21], None),
        (b"20 bytes".to_vec(), vec![b'q'; 20], None),
    ];
    for (i, n) in [
        "0",
        "-1",
        "127",
        "-128",
        "128",
        "12345",
        "-32768",
        "32768",
        "2147483647",
        "-2147483648",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "007",
        "-0",
        "+5",
        "1.5",
    ]
    .iter()
    .enumerate()
    {
        e.push((format!("int {i}").into_bytes(), n.as_bytes().to_vec(), None));
        e.push((
            n.as_bytes().to_vec(),
            format!("key is {n}").into_bytes(),
            None,
        ));
    }
    for i in 0..3000u64 {
        let key = format!("key:{i}").into_bytes();
        let len = rng.below(200) as usize;
        let value = match i % 4 {
            0 => i.to_string().into_bytes(),
            1 => rng.bytes(len / 3),
            2 => rng.text(len),
            _ => format!("value {i} {}", "x".repeat(i as usize % 50)).into_bytes(),
        };
        let expiry = (i % 5 == 0).then(|| hour + i as i64);
        e.push((key, value, expiry));
    }
    e
}

fn write_file(path: &Path, entries: &[Entry], options: WriteOptions, sizes: bool) {
    let file = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = Writer::new(file, options).unwrap();
    let expires = entries.iter().filter(|e| e.2.is_some()).count() as u64;
    let sizes = sizes.then_some(DbSizes {
        keys: entries.len() as u64,
        expires,
    });
    w.select_db(0, sizes).unwrap();
    for (k, v, t) in entries {
        w.write_entry(k, v, *t).unwrap();
    }
    w.finish().unwrap();
}

fn check_rdb(path: &Path, keys: usize) {
    let out = run_with_timeout(
        "redis-check-rdb",
        &[path.as_os_str()],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-rdb failed:\n{stdout}");
    assert!(stdout.contains("RDB looks OK"), "{stdout}");
    assert!(stdout.contains(&format!("{keys} keys read")), "{stdout}");
}

/// Starts redis-server on the file and compares everything it holds with `entries`.
fn redis_loads_exactly(dir: &Path, entries: &[Entry]) {
    let server = RedisServer::start(dir, &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    assert_eq!(c.call(&[b"DBSIZE"]).int(), entries.len() as i64);
    for (key, value, expiry) in entries {
        // Pipelined: GET and PEXPIRETIME (absolute ms, -1 without expiry).
        c.send(&[b"GET", key]);
        c.send(&[b"PEXPIRETIME", key]);
        let got = c.reply().bulk();
        assert_eq!(
            got.as_deref(),
            Some(&value[..]),
            "value of {:?}",
            key.escape_ascii().to_string()
        );
        assert_eq!(
            c.reply().int(),
            expiry.unwrap_or(-1),
            "expiry of {:?}",
            key.escape_ascii().to_string()
        );
    }
}

#[test]
fn a_file_kv_writes_passes_redis_check_rdb_and_redis_server_loads_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.rdb");
    let entries = entries();
    write_file(&path, &entries, WriteOptions::default(), true);
    check_rdb(&path, entries.len());
    redis_loads_exactly(dir.path(), &entries);
}

#[test]
fn without_size_hints_compression_or_checksum_redis_loads_it_too() {
    let entries: Vec<Entry> = entries().into_iter().step_by(7).collect();
    let variants = [
        ("no RESIZEDB", WriteOptions::default(), false),
        (
            "no compression",
            WriteOptions {
                compression: Compression::Off,
                ..WriteOptions::default()
            },
            true,
        ),
        (
            "no checksum",
            WriteOptions {
                checksum: false,
                ..WriteOptions::default()
            },
            false,
        ),
    ];
    for (name, options, sizes) in variants {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.rdb");
        write_file(&path, &entries, options, sizes);
        eprintln!("variant: {name}");
        check_rdb(&path, entries.len());
        redis_loads_exactly(dir.path(), &entries);
    }
}

#[test]
fn an_empty_file_and_several_databases_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.rdb");
    Writer::new(
        std::fs::File::create(&path).unwrap(),
        WriteOptions::default(),
    )
    .unwrap()
    .finish()
    .unwrap();
    check_rdb(&path, 0);
    drop(RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}")));

    let mut w = Writer::new(
        std::fs::File::create(&path).unwrap(),
        WriteOptions::default(),
    )
    .unwrap();
    w.select_db(0, None).unwrap();
    w.write_entry(b"a", b"in 0", None).unwrap();
    w.select_db(
        5,
        Some(DbSizes {
            keys: 1,
            expires: 0,
        }),
    )
    .unwrap();
    w.write_entry(b"a", b"in 5", None).unwrap();
    w.finish().unwrap();
    check_rdb(&path, 2);
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    assert_eq!(c.call(&[b"GET", b"a"]).bulk().unwrap(), b"in 0");
    c.call(&[b"SELECT", b"5"]).ok();
    assert_eq!(c.call(&[b"GET", b"a"]).bulk().unwrap(), b"in 5");
}
