//! Many threads at once, while the index grows: no lost update, no torn value, no key hidden
//! from a visit or a scan.
//!
//! Each value encodes its key and a version, so any read can be checked on its own: a torn or
//! misplaced value does not decode to the key it was read under. Value sizes are mixed: mostly
//! small, some spanning several pages (read under pins), some in between.

use crate::{pair, table, VecSink};
use kv_nostd::{Config, Error, ScanCursor};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const KEYS_PER_THREAD: usize = 1000;
const OPS_PER_THREAD: usize = 200_000;
const TIME_LIMIT: Duration = Duration::from_secs(5);
const PAGE: usize = 4096;

fn key(thread: usize, i: usize) -> Vec<u8> {
    format!("t{thread}-k{i}").into_bytes()
}

/// The value of `key` at `version`: the version, then bytes derived from both, of a length that
/// varies with the version: 8 to 64 bytes mostly, up to 2 KiB often, up to 5 pages sometimes.
fn value(key: &[u8], version: u32) -> Vec<u8> {
    let spread = (version as usize * 7 + key.len()) as u64;
    let len = match version % 10 {
        0 => PAGE / 2 + (spread as usize * 977) % (5 * PAGE),
        1..=3 => 64 + (spread as usize * 131) % 2000,
        _ => 8 + spread as usize % 56,
    };
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&version.to_le_bytes());
    let seed = key.iter().fold(version, |h, &b| {
        h.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    v.extend((0..len - 4).map(|i| (seed.wrapping_add(i as u32 * 131) >> 3) as u8));
    v
}

/// The version a value claims, if the value is exactly what `value(key, version)` gives.
fn check(key: &[u8], v: &[u8]) -> u32 {
    assert!(
        v.len() >= 4,
        "torn value for {:?}: {} bytes",
        String::from_utf8_lossy(key),
        v.len()
    );
    let version = u32::from_le_bytes(v[..4].try_into().unwrap());
    assert!(
        v == value(key, version).as_slice(),
        "value of {} bytes does not belong to {:?} (claims version {version})",
        v.len(),
        String::from_utf8_lossy(key),
    );
    version
}

/// xorshift, seeded per thread.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn concurrent_writers_readers_and_a_visitor_lose_nothing_while_the_index_grows() {
    let config = Config {
        page_bytes: PAGE,
        segment_buckets: 8,
        ..Config::HOST
    };
    let t = Arc::new(table(256 << 20, 16 << 20, config, [0x42; 16]));
    let stable: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("stable-{i}").into_bytes())
        .collect();
    for k in &stable {
        t.put(k, &value(k, 0)).unwrap();
    }
    let barrier = Arc::new(Barrier::new(THREADS + 2));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + TIME_LIMIT;

    let workers: Vec<_> = (0..THREADS)
        .map(|me| {
            let (t, barrier) = (Arc::clone(&t), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (me as u64 + 1);
                let mut mine: HashMap<usize, u32> = HashMap::new();
                let mut versions = vec![0u32; KEYS_PER_THREAD];
                let mut buf = VecSink(Vec::new());
                barrier.wait();
                for op in 0..OPS_PER_THREAD {
                    if op % 1024 == 0 && Instant::now() > deadline {
                        break;
                    }
                    let r = next(&mut state);
                    let i = (r >> 8) as usize % KEYS_PER_THREAD;
                    let k = key(me, i);
                    match r % 10 {
                        0..=3 => {
                            versions[i] += 1;
                            match t.put(&k, &value(&k, versions[i])) {
                                Ok(_) => {
                                    mine.insert(i, versions[i]);
                                }
                                Err(Error::NoSpace) => panic!("memory is ample"),
                                Err(e) => panic!("{e}"),
                            }
                        }
                        4 => assert_eq!(t.delete(&k), Ok(mine.remove(&i).is_some())),
                        5..=7 => {
                            // Read-your-writes on our own keys: never an older version.
                            let got = t.get_with(&k, &mut buf).unwrap();
                            let got = got.map(|n| check(&k, &buf.0[..n]));
                            assert_eq!(got, mine.get(&i).copied());
                        }
                        _ => {
                            // Other threads' keys: any version, but never torn.
                            let other = (me + 1 + (r as usize >> 3) % (THREADS - 1)) % THREADS;
                            let k = key(other, i);
                            if let Some(n) = t.get_with(&k, &mut buf).unwrap() {
                                check(&k, &buf.0[..n]);
                            }
                        }
                    }
                }
                mine
            })
        })
        .collect();

    let visitor = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        let stable = stable.clone();
        thread::spawn(move || {
            barrier.wait();
            let mut visits = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
                t.visit(|e| {
                    let (k, v) = pair(e);
                    check(&k, &v);
                    *seen.entry(k).or_default() += 1;
                });
                // Keys present for the whole visit are visited exactly once.
                for k in &stable {
                    assert_eq!(seen.get(k), Some(&1), "{:?}", String::from_utf8_lossy(k));
                }
                assert!(seen.values().all(|&n| n == 1), "a key visited twice");
                visits += 1;
            }
            visits
        })
    };

    let scanner = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        let stable = stable.clone();
        thread::spawn(move || {
            barrier.wait();
            let mut scans = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
                let mut cursor = ScanCursor::START;
                loop {
                    // Small steps, through the u64 form a client would send back.
                    cursor = t.scan(cursor, 5, |e| {
                        let (k, v) = pair(e);
                        check(&k, &v);
                        *seen.entry(k).or_default() += 1;
                    });
                    cursor = ScanCursor::from_u64(cursor.to_u64());
                    if cursor.is_start() {
                        break;
                    }
                }
                // Keys present for the whole scan are returned at least once.
                for k in &stable {
                    assert!(
                        seen.contains_key(k),
                        "{:?} missed",
                        String::from_utf8_lossy(k)
                    );
                }
                scans += 1;
            }
            scans
        })
    };

    let mut expected: HashMap<Vec<u8>, u32> = HashMap::new();
    for (me, w) in workers.into_iter().enumerate() {
        for (i, version) in w.join().expect("worker") {
            expected.insert(key(me, i), version);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let visits = visitor.join().expect("visitor");
    let scans = scanner.join().expect("scanner");
    assert!(visits > 0 && scans > 0);
    let s = t.stats();
    println!(
        "stress: {visits} visits, {scans} scans; index grew to {} segments (depth {}), {} pages in use",
        s.segments, s.global_depth, s.pages_in_use
    );
    assert!(s.segments > 16, "the index grew during the run");

    // No lost update: every key holds exactly the last version its owner wrote.
    let mut buf = VecSink(Vec::new());
    for (k, version) in &expected {
        let n = t
            .get_with(k, &mut buf)
            .unwrap()
            .expect("acknowledged write lost");
        assert_eq!(check(k, &buf.0[..n]), *version);
    }
    for k in &stable {
        let n = t.get_with(k, &mut buf).unwrap().expect("stable key lost");
        assert_eq!(check(k, &buf.0[..n]), 0);
    }
    assert_eq!(t.len(), expected.len() + stable.len());
    let mut count = 0;
    t.visit(|_| count += 1);
    assert_eq!(count, t.len());
    assert_eq!(t.stats().pages_in_use, t.stats().pages_in_use);
    // Every pin was dropped and every unlinked large item freed: delete everything, and only
    // one page per class may stay.
    t.clear();
    assert!(t.stats().pages_in_use <= 60, "{:?}", t.stats());
}
