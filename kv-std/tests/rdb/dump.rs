//! DUMP/RESTORE payloads both ways between kv and redis-server.

use crate::support::TestServer;
use crate::{Client, RedisServer, Reply, Rng};
use kv_std::rdb::crc64::crc64;
use kv_std::rdb::dump::{self, RestoreError};
use kv_std::rdb::KeyType;

fn values() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(3);
    let mut v: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        b"".to_vec(),
        b"0".to_vec(),
        b"-1".to_vec(),
        b"12345".to_vec(),
        b"2147483647".to_vec(),
        b"2147483648".to_vec(),
        b"-2147483648".to_vec(),
        b"007".to_vec(),
        vec![b'a'; 20],
        vec![b'a'; 21],
        (0..=255).collect(),
        rng.text(100_000),
        rng.bytes(100_000),
        b"hello, dumping world!".to_vec(),
        rng.words(300, 50_000),
        rng.words(1000, 200_000),
        rng.words(50, 5_000),
    ];
    for _ in 0..100 {
        let len = [21, 22, 30, 100, 1000, 10_000][rng.below(6) as usize];
        v.push(if rng.below(2) == 0 {
            rng.text(len)
        } else {
            let len_of_word = 3 + rng.below(10) as usize;
            let word = rng.bytes(len_of_word);
            word.repeat(len / word.len() + 1)[..len].to_vec()
        });
    }
    v
}

fn encoded(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    dump::encode(value, &mut out);
    out
}

/// `body` with a footer of `version` and a right checksum.
fn sealed(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn payloads_go_both_ways_and_match_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    for (i, value) in values().iter().enumerate() {
        let key = format!("k{i}");
        c.call(&[b"SET", key.as_bytes(), value]).ok();
        let redis_dump = c.call(&[b"DUMP", key.as_bytes()]).bulk().unwrap();
        // Redis's payload, restored by kv.
        assert_eq!(&dump::decode(&redis_dump).unwrap(), value, "value {i}");
        // kv's payload, restored by Redis.
        let kv_dump = encoded(value);
        let restored = format!("r{i}");
        c.call(&[b"RESTORE", restored.as_bytes(), b"0", &kv_dump])
            .ok();
        assert_eq!(
            &c.call(&[b"GET", restored.as_bytes()]).bulk().unwrap(),
            value
        );
        // The same choices of encoding and compression give the same bytes.
        assert!(kv_dump == redis_dump, "payloads of value {i} differ");
    }
}

#[test]
fn bad_payloads_get_the_same_error_from_kv_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();
    let good = encoded(&b"compress me ".repeat(100));
    let n = good.len();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for at in [0, 1, 5, n - 10, n - 9, n - 1] {
        let mut flipped = good.clone();
        flipped[at] ^= 0x10;
        cases.push(("a flipped byte", flipped));
    }
    cases.push(("too short", b"\x00\x01a\x0a\x00\x00\x00".to_vec()));
    cases.push(("version 11", sealed(b"\x00\x05hello", 11)));
    cases.push(("no checksum", [&good[..n - 8], &[0; 8]].concat()));
    cases.push(("unknown type", sealed(b"\x63\x05hello", 10)));
    cases.push(("no type", sealed(b"", 10)));
    cases.push(("bad string encoding", sealed(b"\x00\xc4\x05", 10)));
    cases.push(("bad LZF", sealed(b"\x00\xc3\x03\x10\x01aa", 10)));
    cases.push((
        "LZF reference before start",
        sealed(b"\x00\xc3\x04\x10\x00a\x20\x05", 10),
    ));
    for (i, (what, payload)) in cases.iter().enumerate() {
        let kv = dump::decode(payload).expect_err(what);
        let redis = c
            .call(&[b"RESTORE", format!("bad{i}").as_bytes(), b"0", payload])
            .error();
        assert_eq!(kv.reply(), redis, "{what}: kv says {kv}");
    }
}

/// What docs/RDB.md says kv does differently from Redis 7.0, checked against Redis.
#[test]
fn where_kv_differs_from_redis_restore() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let mut c = server.client();

    // Bytes between the value and the footer: Redis ignores them, kv refuses.
    let trailing = sealed(b"\x00\x05hello!!", 10);
    c.call(&[b"RESTORE", b"t1", b"0", &trailing]).ok();
    assert!(matches!(
        dump::decode(&trailing),
        Err(RestoreError::BadData(_))
    ));

    // A value cut short: Redis reads on into the footer, kv refuses.
    let short = sealed(b"\x00\x05hell", 10);
    c.call(&[b"RESTORE", b"t2", b"0", &short]).ok();
    assert!(matches!(
        dump::decode(&short),
        Err(RestoreError::BadData(_))
    ));

    // An LZF string of length 0: Redis takes it as empty whatever the data, kv refuses.
    let empty_lzf = sealed(b"\x00\xc3\x02\x00\x00a", 10);
    c.call(&[b"RESTORE", b"t4", b"0", &empty_lzf]).ok();
    assert_eq!(c.call(&[b"GET", b"t4"]).bulk().unwrap(), b"");
    assert!(matches!(
        dump::decode(&empty_lzf),
        Err(RestoreError::BadData(_))
    ));

    // Another type: Redis restores it, kv stores only strings.
    c.call(&[b"RPUSH", b"list", b"a", b"b"]).int();
    let list = c.call(&[b"DUMP", b"list"]).bulk().unwrap();
    c.call(&[b"RESTORE", b"t3", b"0", &list]).ok();
    let e = dump::decode(&list).unwrap_err();
    assert!(matches!(
        e,
        RestoreError::UnsupportedType {
            key_type: KeyType::List,
            ..
        }
    ));
    assert_eq!(e.reply(), "ERR Bad data format");
    assert_eq!(c.call(&[b"TYPE", b"t3"]), Reply::Simple(b"list".to_vec()));
}

/// Dumps `value` from `from` and restores it into `to`, without a deadline, with an absolute
/// one and with a relative one, checking what `to` then holds.
fn restored_alike(from: &mut Client, to: &mut Client, key: &[u8], value: &[u8]) {
    let at = b"4102444800123";
    from.call(&[b"SET", key, value, b"PXAT", at]).ok();
    let payload = from.call(&[b"DUMP", key]).bulk().unwrap();
    to.call(&[b"RESTORE", key, b"0", &payload, b"REPLACE", b"ABSTTL"])
        .ok();
    assert_eq!(to.call(&[b"GET", key]).bulk().unwrap(), value);
    assert_eq!(to.call(&[b"PEXPIRETIME", key]), Reply::Int(-1));
    to.call(&[b"RESTORE", key, at, &payload, b"REPLACE", b"ABSTTL"])
        .ok();
    assert_eq!(
        to.call(&[b"PEXPIRETIME", key]),
        Reply::Int(4_102_444_800_123)
    );
    to.call(&[b"RESTORE", key, b"100000", &payload, b"REPLACE"])
        .ok();
    let ttl = to.call(&[b"PTTL", key]).int();
    assert!((99_000..=100_000).contains(&ttl), "PTTL {ttl}");
    // Both servers make the same payload of the value.
    assert_eq!(to.call(&[b"DUMP", key]).bulk().unwrap(), payload);
}

/// A kv server and a redis-server restore each other's `DUMP`: the same value, the same
/// deadline to the millisecond (`ABSTTL`), and a relative TTL counted from the `RESTORE`.
#[test]
fn kv_and_redis_server_restore_each_other_s_dump() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path(), &[]).unwrap_or_else(|log| panic!("{log}"));
    let kv = TestServer::start();
    let mut r = redis.client();
    let mut k = Client::connect(kv.addr).expect("connect to kv");
    for (i, value) in values().iter().enumerate() {
        let key = format!("k{i}");
        restored_alike(&mut k, &mut r, key.as_bytes(), value);
        restored_alike(&mut r, &mut k, key.as_bytes(), value);
    }
    // Redis's errors for a key that exists and for a payload refused, from both.
    for c in [&mut k, &mut r] {
        c.call(&[b"SET", b"busy", b"v"]).ok();
        let payload = c.call(&[b"DUMP", b"busy"]).bulk().unwrap();
        assert_eq!(
            c.call(&[b"RESTORE", b"busy", b"0", &payload]).error(),
            "BUSYKEY Target key name already exists."
        );
        let mut bad = payload.clone();
        bad[1] ^= 1;
        assert_eq!(
            c.call(&[b"RESTORE", b"other", b"0", &bad]).error(),
            "ERR DUMP payload version or checksum are wrong"
        );
    }
}
