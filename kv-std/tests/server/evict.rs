//! Eviction at the memory limit: writes under `allkeys-lru` make room instead of failing and
//! keep the keys read often; under `volatile-ttl` with no key that expires, they are refused.

use crate::TestServer;
use kv_nostd::Policy;
use std::time::{Duration, Instant};

const LIMIT: usize = 4 << 20;

fn server(policy: Policy) -> TestServer {
    let mut config = kv_std::config::Config::local();
    config.storage.table.max_memory = LIMIT;
    config.eviction.policy = policy;
    TestServer::with(config)
}

fn connect(s: &TestServer) -> redis::Connection {
    let con = redis::Client::open(format!("redis://{}", s.addr))
        .expect("url")
        .get_connection()
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    con
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .to_string()
}

fn dbsize(con: &mut redis::Connection) -> usize {
    redis::cmd("DBSIZE").query(con).unwrap()
}

#[test]
fn allkeys_lru_makes_room_for_every_write_and_keeps_the_keys_read() {
    let s = server(Policy::AllKeysLru);
    let mut con = connect(&s);
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "allkeys-lru"
    );
    let value = vec![b'v'; 1024];
    let hot: Vec<String> = (0..20).map(|i| format!("hot{i}")).collect();
    for k in &hot {
        let () = redis::cmd("SET")
            .arg(k)
            .arg(&value)
            .query(&mut con)
            .unwrap();
    }
    // 20 MiB in batches of 100 values, about 1000 a second: LRU times are kept in seconds, so
    // the keys written in the last second are as recent as the hot ones, and must be a minority
    // of what fits for the hot keys to be told apart.
    let (batches, per_batch) = (20 * 1024 / 100, 100);
    let mut most = 0;
    for b in 0..batches {
        // Each batch takes at least 100 ms, so a batch late on a busy machine is not followed by
        // a burst that catches up: that would write more than a second's worth of keys within
        // one LRU second, as recent as the hot ones.
        let batch_started = Instant::now();
        for i in 0..per_batch {
            let reply: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("cold{:06}", b * per_batch + i))
                .arg(&value)
                .query(&mut con);
            if let Err(e) = reply {
                panic!("write {b}:{i} refused: {e}");
            }
        }
        for k in &hot {
            let _: Option<Vec<u8>> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        }
        most = most.max(dbsize(&mut con));
        let due = batch_started + Duration::from_millis(100);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    assert!(
        most <= LIMIT / 1024,
        "{most} keys of 1 KiB in {LIMIT} bytes"
    );
    let evicted: usize = info_field(&mut con, "stats", "evicted_keys")
        .parse()
        .unwrap();
    assert!(evicted > 0, "nothing evicted");
    assert!(
        evicted + most >= batches * per_batch,
        "{evicted} evicted, {most} kept"
    );
    let kept = hot
        .iter()
        .filter(|k| {
            redis::cmd("EXISTS")
                .arg(k)
                .query::<usize>(&mut con)
                .unwrap()
                == 1
        })
        .count();
    assert!(
        kept * 100 >= hot.len() * 80,
        "{kept} of {} hot keys kept",
        hot.len()
    );
}

#[test]
fn volatile_ttl_with_no_key_that_expires_refuses_writes_and_evicts_nothing() {
    let s = server(Policy::VolatileTtl);
    let mut con = connect(&s);
    let value = vec![b'v'; 1024];
    let mut stored = 0;
    let refused = loop {
        let reply: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k{stored}"))
            .arg(&value)
            .query(&mut con);
        match reply {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 100_000, "4 MiB never filled");
    };
    assert_eq!(refused.code(), Some("OOM"), "{refused}");
    // The same item size again (another key length may fit a chunk of another size class).
    let again: redis::RedisResult<()> = redis::cmd("SET")
        .arg(format!("k{stored}"))
        .arg(&value)
        .query(&mut con);
    assert_eq!(again.unwrap_err().code(), Some("OOM"));
    assert_eq!(dbsize(&mut con), stored);
    assert_eq!(info_field(&mut con, "stats", "evicted_keys"), "0");
}

#[test]
fn a_policy_set_at_run_time_evicts_and_object_reads_what_it_keeps() {
    let s = server(Policy::NoEviction);
    let mut con = connect(&s);
    let value = vec![b'v'; 1024];
    let () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert!((0..=2).contains(&idle), "idle {idle}");
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-random")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "allkeys-random"
    );
    for i in 0..(2 * LIMIT / 1024) {
        let () = redis::cmd("SET")
            .arg(format!("key{i:06}"))
            .arg(&value)
            .query(&mut con)
            .unwrap();
    }
    assert!(dbsize(&mut con) < LIMIT / 1024);
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lfu")
        .query(&mut con)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("key000000")
        .arg(&value)
        .query(&mut con)
        .unwrap();
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("key000000")
        .query(&mut con)
        .unwrap();
    assert!((0..=255).contains(&freq), "freq {freq}");
}

/// When the sizes written change size class, the keys the policy evicts free chunks the new
/// writes cannot use; whole pages are emptied instead, and no write answers OOM (as Redis,
/// whose allocator has no classes to run out of, never does under an `allkeys-` policy).
#[test]
fn writes_whose_sizes_change_class_never_answer_oom_under_allkeys_policies() {
    for policy in [
        Policy::AllKeysRandom,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
    ] {
        let s = server(policy);
        let mut con = connect(&s);
        for (round, (size, count)) in [(100, 40_000), (2_000, 3_000), (30_000, 300), (500, 10_000)]
            .into_iter()
            .enumerate()
        {
            let mut pipe = redis::pipe();
            for i in 0..count {
                pipe.set(format!("r{round}:{i}"), vec![b'v'; size]);
            }
            // A refused SET fails the whole pipeline's query.
            let replies: Vec<redis::Value> = pipe
                .query(&mut con)
                .unwrap_or_else(|e| panic!("{}: {size}-byte values: {e}", policy.name()));
            let refused = replies
                .iter()
                .filter(|r| matches!(r, redis::Value::ServerError(_)))
                .count();
            assert_eq!(refused, 0, "{}: {size}-byte values refused", policy.name());
        }
        let evicted: usize = info_field(&mut con, "stats", "evicted_keys")
            .parse()
            .unwrap();
        assert!(evicted > 0, "{}", policy.name());
        let used: usize = info_field(&mut con, "memory", "used_memory")
            .parse()
            .unwrap();
        assert!(used <= LIMIT, "{used}");
    }
}
