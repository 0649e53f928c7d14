//! Files redis-server saves: kv reads back exactly its string keys, values and expiry times,
//! refuses other types naming the key, or skips and counts them.

use crate::{Client, RedisServer, Reply, Rng};
use kv_std::rdb::{Checksum, ErrorKind, KeyType, LoadOptions, Loader};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

/// Key → (value, expiry in unix ms).
type Strings = BTreeMap<Vec<u8>, (Vec<u8>, Option<i64>)>;

fn fill(c: &mut Client) {
    let mut rng = Rng::new(11);
    let text = rng.text(100_000);
    let random = rng.bytes(5_000);
    let commands: Vec<Vec<&[u8]>> = vec![
        vec![b"SET", b"plain", b"hello"],
        vec![b"SET", b"ttl", b"soon", b"PX", b"100000000"],
        vec![b"SET", b"ttl-seconds", b"later", b"EX", b"1000000"],
        vec![b"SET", b"int", b"12345"],
        vec![b"SET", b"negative", b"-42"],
        vec![b"SET", b"wide", b"9223372036854775807"],
        vec![b"SET", b"leading zero", b"007"],
        vec![b"SET", b"compressible", &text],
        vec![
            b"SET",
            b"compressible ttl",
            &text[..50_000],
            b"PX",
            b"200000000",
        ],
        vec![b"SET", b"random", &random],
        vec![b"SET", b"empty", b""],
        vec![b"SET", b"\x00bin\xff\r\n", b"\x00\x01\x02"],
        vec![b"RPUSH", b"small list", b"a", b"b", b"1"],
        vec![b"HSET", b"small hash", b"f", b"v", b"n", b"1"],
        vec![b"SADD", b"intset", b"1", b"2", b"300000"],
        vec![b"ZADD", b"small zset", b"1.5", b"a", b"-inf", b"b"],
        vec![b"XADD", b"stream", b"*", b"f", b"v"],
        vec![b"XADD", b"stream", b"*", b"g", b"w"],
        vec![b"XGROUP", b"CREATE", b"stream", b"group", b"0"],
        vec![
            b"XREADGROUP",
            b"GROUP",
            b"group",
            b"alice",
            b"COUNT",
            b"1",
            b"STREAMS",
            b"stream",
            b">",
        ],
        // Compressed quicklist nodes: a list's inner nodes are LZF strings.
        vec![b"CONFIG", b"SET", b"list-compress-depth", b"1"],
    ];
    for cmd in &commands {
        let reply = c.call(cmd);
        assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
    }
    let element = b"element ".repeat(12);
    for i in 0..2000u32 {
        let n = i.to_string();
        c.send(&[b"RPUSH", b"big list", &element, n.as_bytes()]);
        c.send(&[b"HSET", b"big hash", n.as_bytes(), &element]);
        c.send(&[b"SADD", b"big set", &[&element[..], n.as_bytes()].concat()]);
        c.send(&[b"ZADD", b"big zset", n.as_bytes(), n.as_bytes()]);
        c.send(&[
            b"SET",
            format!("string:{i}").as_bytes(),
            &element[..(i % 90) as usize],
        ]);
        if i % 3 == 0 {
            c.send(&[b"PEXPIRE", format!("string:{i}").as_bytes(), b"500000000"]);
        }
        for _ in 0..5 + usize::from(i % 3 == 0) {
            assert!(!matches!(c.reply(), Reply::Error(_)));
        }
    }
}

fn scan(c: &mut Client, key_type: &str) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = b"0".to_vec();
    loop {
        let reply = c
            .call(&[
                b"SCAN",
                &cursor,
                b"COUNT",
                b"1000",
                b"TYPE",
                key_type.as_bytes(),
            ])
            .array();
        let [next, batch] = <[Reply; 2]>::try_from(reply).unwrap();
        cursor = next.bulk().unwrap();
        keys.extend(batch.array().into_iter().map(|k| k.bulk().unwrap()));
        if cursor == b"0" {
            return keys;
        }
    }
}

/// The string keys redis-server holds, as it reports them.
fn strings_in(c: &mut Client) -> Strings {
    let mut strings = Strings::new();
    for key in scan(c, "string") {
        let value = c.call(&[b"GET", &key]).bulk().unwrap();
        let expiry = c.call(&[b"PEXPIRETIME", &key]).int();
        strings.insert(key, (value, (expiry != -1).then_some(expiry)));
    }
    strings
}

fn loader(path: &Path, skip_unsupported: bool) -> Loader<BufReader<std::fs::File>> {
    let options = LoadOptions {
        skip_unsupported,
        ..LoadOptions::default()
    };
    Loader::new(BufReader::new(std::fs::File::open(path).unwrap()), options).unwrap()
}

/// Loads in skip mode and checks the strings and the counts of skipped keys against Redis.
fn skip_mode_matches(c: &mut Client, path: &Path, functions: u64) {
    let expected = strings_in(c);
    let mut loader = loader(path, true);
    let mut loaded = Strings::new();
    for entry in loader.by_ref() {
        let e = entry.unwrap();
        assert_eq!(e.db, 0);
        loaded.insert(e.key, (e.value, e.expire_ms));
    }
    assert_eq!(loaded.len(), expected.len());
    assert!(
        loaded == expected,
        "the strings differ from what redis-server holds"
    );
    for t in KeyType::ALL.into_iter().filter(|t| *t != KeyType::String) {
        let in_redis = if t == KeyType::Module {
            0
        } else {
            scan(c, t.name()).len()
        };
        assert_eq!(
            loader.skipped().keys(t),
            in_redis as u64,
            "{t} keys skipped"
        );
    }
    assert!(loader.skipped().total_keys() >= 9);
    assert_eq!(loader.skipped().function_libraries(), functions);
    assert!(matches!(loader.checksum(), Some(Checksum::Verified(_))));
}

#[test]
fn kv_reads_back_the_strings_of_a_file_redis_saved_and_refuses_or_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    fill(&mut c);
    c.call(&[b"SAVE"]).ok();
    let path = dir.path().join("dump.rdb");

    // Header and aux fields.
    let mut strict = loader(&path, false);
    assert_eq!(strict.version(), 10);
    let info = String::from_utf8(c.call(&[b"INFO", b"server"]).bulk().unwrap()).unwrap();
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap();
    assert_eq!(strict.aux_value(b"redis-ver"), Some(version.as_bytes()));
    assert_eq!(strict.aux_value(b"redis-bits"), Some(&b"64"[..]));

    // Strict: strings until the first key of another type, which the error names.
    let expected = strings_in(&mut c);
    let error = loop {
        match strict.next_entry() {
            Ok(Some(e)) => assert_eq!(expected.get(&e.key), Some(&(e.value, e.expire_ms))),
            Ok(None) => panic!("a file with lists and hashes loaded in strict mode"),
            Err(e) => break e,
        }
    };
    let ErrorKind::UnsupportedType { key, key_type, .. } = error.kind() else {
        panic!("expected an unsupported type, got {error}");
    };
    let redis_type = c.call(&[b"TYPE", key]);
    assert_eq!(
        redis_type,
        Reply::Simple(key_type.name().as_bytes().to_vec())
    );
    assert!(error
        .to_string()
        .contains(&format!("\"{}\"", key.escape_ascii())));

    skip_mode_matches(&mut c, &path, 0);
}

#[test]
fn functions_and_lru_lfu_hints_in_a_file_redis_saved() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    fill(&mut c);
    let library = b"#!lua name=kvtest\nredis.register_function('f', function() return 1 end)";
    assert_eq!(
        c.call(&[b"FUNCTION", b"LOAD", library]),
        Reply::Bulk(Some(b"kvtest".to_vec()))
    );
    let path = dir.path().join("dump.rdb");

    for policy in [&b"allkeys-lfu"[..], b"allkeys-lru"] {
        c.call(&[b"CONFIG", b"SET", b"maxmemory-policy", policy])
            .ok();
        c.call(&[b"SAVE"]).ok();
        skip_mode_matches(&mut c, &path, 1);
        // Redis writes function libraries before the keys.
        let mut strict = loader(&path, false);
        let e = strict.next_entry().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::FunctionLibrary), "{e}");
    }
}
