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

/// A table of segments of 8 buckets holding 200 keys that the stress tests never change,
/// the keys, and the bytes the table used empty.
fn table_with_stable_keys(hash_key: [u8; 16]) -> (Arc<crate::TestTable>, Vec<Vec<u8>>, usize) {
    let config = Config {
        page_bytes: PAGE,
        segment_buckets: 8,
        ..Config::HOST
    };
    let t = Arc::new(table(256 << 20, 16 << 20, config, hash_key));
    let empty = t.used_bytes();
    let stable: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("stable-{i}").into_bytes())
        .collect();
    for k in &stable {
        t.put(k, &value(k, 0)).unwrap();
    }
    (t, stable, empty)
}

/// A thread that visits the table until `stop`, checking every pair and that each key of
/// `stable` (present throughout) is visited exactly once a visit; answers how many visits.
fn spawn_visitor(
    t: &Arc<crate::TestTable>,
    barrier: &Arc<Barrier>,
    stop: &Arc<AtomicBool>,
    stable: &[Vec<u8>],
) -> thread::JoinHandle<usize> {
    let (t, barrier, stop) = (Arc::clone(t), Arc::clone(barrier), Arc::clone(stop));
    let stable = stable.to_vec();
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
}

/// A thread that scans the table in small steps until `stop`, checking every pair and that
/// each key of `stable` is returned at least once a scan; answers how many scans.
fn spawn_scanner(
    t: &Arc<crate::TestTable>,
    barrier: &Arc<Barrier>,
    stop: &Arc<AtomicBool>,
    stable: &[Vec<u8>],
) -> thread::JoinHandle<usize> {
    let (t, barrier, stop) = (Arc::clone(t), Arc::clone(barrier), Arc::clone(stop));
    let stable = stable.to_vec();
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
}

#[test]
fn concurrent_writers_readers_and_a_visitor_lose_nothing_while_the_index_grows() {
    let (t, stable, _) = table_with_stable_keys([0x42; 16]);
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

    let visitor = spawn_visitor(&t, &barrier, &stop, &stable);
    let scanner = spawn_scanner(&t, &barrier, &stop, &stable);

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

/// Writers give their own keys deadlines a few ticks ahead (or none, or change them), while one
/// thread advances the clock and another runs expiry steps without pause. Each writer knows its
/// keys' deadlines, and checks every read against the clock read before and after it: a key whose
/// deadline the clock had reached before the read is absent; one whose deadline it had not
/// reached after the read has exactly the writer's last value. The steps remove only expired
/// keys, and at the end, the clock past every deadline, one cycle leaves exactly the keys without
/// one.
#[test]
fn expiry_steps_and_a_moving_clock_never_show_an_expired_value_nor_lose_a_live_one() {
    use kv_nostd::{Deadline, DeadlineChange, ExpireCursor, ExpireIf, Put, When};
    const WRITERS: usize = 3;
    const KEYS: usize = 300;
    let config = Config {
        page_bytes: PAGE,
        segment_buckets: 8,
        ..Config::HOST
    };
    let t = Arc::new(table(64 << 20, 8 << 20, config, [0x24; 16]));
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(WRITERS + 2));
    let until = Instant::now() + Duration::from_secs(2);

    let writers: Vec<_> = (0..WRITERS)
        .map(|me| {
            let (t, barrier) = (Arc::clone(&t), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut state = 0x2545_f491_4f6c_dd1du64 ^ (me as u64 + 1);
                // Each key's last value and deadline, as this writer (its only writer) set them.
                let mut mine: HashMap<usize, (u32, Option<u64>)> = HashMap::new();
                let mut version = 0u32;
                let mut buf = VecSink(Vec::new());
                barrier.wait();
                while Instant::now() < until {
                    let r = next(&mut state);
                    let i = (r >> 8) as usize % KEYS;
                    let k = key(me, i);
                    let before = t.now();
                    // Whether the key was surely live, surely gone, or either, over an operation
                    // that began at `before` and ended at `after`.
                    let state_of = |d: Option<u64>, before: u64, after: u64| match d {
                        Some(d) if d <= before => Some(false),
                        Some(d) if d <= after => None,
                        _ => Some(true),
                    };
                    let known = mine.get(&i).copied();
                    match r % 8 {
                        0..=2 => {
                            version += 1;
                            let deadline = match (r >> 40) % 4 {
                                0 => None,
                                n => Some(before + n * 3),
                            };
                            let at = deadline.map_or(Deadline::None, Deadline::At);
                            let put = t.put_with(
                                &k,
                                &value(&k, version),
                                When::Always,
                                at,
                                None,
                                &mut |_| {},
                            );
                            let after = t.now();
                            let ok = matches!(
                                (put, known.map(|(_, d)| state_of(d, before, after))),
                                (Ok(Some(Put::Inserted)), None)
                                    | (Ok(Some(Put::Replaced)), Some(Some(true) | None))
                                    | (Ok(Some(Put::Inserted)), Some(Some(false) | None))
                            );
                            assert!(ok, "put over {known:?} answered {put:?}");
                            mine.insert(i, (version, deadline));
                        }
                        3 => {
                            let target = Some(before + (r >> 40) % 10);
                            let r = t.set_deadline(&k, target, ExpireIf::Always, &mut |_| {});
                            match (r, known) {
                                (Ok(DeadlineChange::Absent), None) => {}
                                // Expired (perhaps removed by a step): gone until written again.
                                (Ok(DeadlineChange::Absent), Some((v, _))) => {
                                    mine.insert(i, (v, Some(0)));
                                }
                                (
                                    Ok(DeadlineChange::Changed | DeadlineChange::Deleted),
                                    Some((v, _)),
                                ) => {
                                    mine.insert(i, (v, target));
                                }
                                other => panic!("set_deadline over {known:?}: {other:?}"),
                            }
                        }
                        _ => {
                            let got = t.get_with(&k, &mut buf).unwrap();
                            let got = got.map(|n| check(&k, &buf.0[..n]));
                            let after = t.now();
                            match known.map(|(v, d)| (v, state_of(d, before, after))) {
                                None => assert_eq!(got, None),
                                Some((_, Some(false))) => {
                                    assert_eq!(got, None, "an expired value was returned")
                                }
                                Some((v, Some(true))) => {
                                    assert_eq!(got, Some(v), "a live value was lost")
                                }
                                Some((v, None)) => assert!(got.is_none() || got == Some(v)),
                            }
                        }
                    }
                }
                mine
            })
        })
        .collect();

    let clock = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        thread::spawn(move || {
            barrier.wait();
            let mut now = 0;
            while !stop.load(Ordering::Relaxed) {
                now += 1;
                assert_eq!(t.advance_clock(now), now);
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let expirer = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        thread::spawn(move || {
            barrier.wait();
            let (mut cursor, mut expired) = (ExpireCursor::START, 0);
            while !stop.load(Ordering::Relaxed) {
                let step = t.expire_step(cursor, 4, &mut |e| {
                    assert!(
                        e.deadline().is_some_and(|d| d <= t.now()),
                        "a live key removed"
                    );
                });
                expired += step.expired;
                cursor = step.cursor;
            }
            expired
        })
    };

    let models: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    clock.join().unwrap();
    let expired = expirer.join().unwrap();
    let stopped_at = t.now();
    t.advance_clock(u64::MAX - 1);
    let mut cursor = t.expire_step(ExpireCursor::START, 64, &mut |_| {}).cursor;
    while !cursor.is_start() {
        cursor = t.expire_step(cursor, 64, &mut |_| {}).cursor;
    }
    let without: usize = models
        .iter()
        .map(|m| m.values().filter(|(_, d)| d.is_none()).count())
        .sum();
    assert_eq!((t.len(), t.expires()), (without, 0));
    println!(
        "expiry stress: clock at {stopped_at} when the writers stopped, {expired} keys removed by \
         steps meanwhile, {} expired in all, {without} keys left",
        t.stats().expired
    );
}

/// Writers fill the table with their keys and delete them all, over and over, while another
/// thread merges the index back as fast as it empties: segments split and merge under readers,
/// visits and scans. Keys present throughout are always found, visited exactly once a visit and
/// scanned at least once; a writer's own keys read back exactly as written, and absent once
/// deleted. At the end the index is back near its smallest size.
#[test]
fn the_index_splits_and_merges_under_readers_and_writers_without_losing_a_key() {
    const WAVE: usize = 3000;
    let (t, stable, empty) = table_with_stable_keys([0x24; 16]);
    let barrier = Arc::new(Barrier::new(THREADS + 4));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + TIME_LIMIT;

    let workers: Vec<_> = (0..THREADS)
        .map(|me| {
            let (t, barrier) = (Arc::clone(&t), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut buf = VecSink(Vec::new());
                let mut waves = 0u32;
                barrier.wait();
                while Instant::now() < deadline {
                    waves += 1;
                    for i in 0..WAVE {
                        let k = key(me, i);
                        assert!(t.put(&k, &value(&k, waves)).is_ok());
                    }
                    for i in 0..WAVE {
                        let k = key(me, i);
                        let n = t.get_with(&k, &mut buf).unwrap().expect("own key lost");
                        assert_eq!(check(&k, &buf.0[..n]), waves);
                    }
                    for i in 0..WAVE {
                        assert_eq!(t.delete(&key(me, i)), Ok(true));
                    }
                    for i in (0..WAVE).step_by(7) {
                        assert_eq!(t.get_with(&key(me, i), &mut buf), Ok(None));
                    }
                }
                waves
            })
        })
        .collect();

    let shrinker = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        thread::spawn(move || {
            barrier.wait();
            let (mut merges, mut most) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                most = most.max(t.stats().segments);
                merges += t.shrink_step(8);
                thread::yield_now();
            }
            (merges, most)
        })
    };

    let reader = {
        let (t, barrier, stop) = (Arc::clone(&t), Arc::clone(&barrier), Arc::clone(&stop));
        let stable = stable.clone();
        thread::spawn(move || {
            barrier.wait();
            let mut buf = VecSink(Vec::new());
            let mut reads = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let k = &stable[reads % stable.len()];
                let n = t.get_with(k, &mut buf).unwrap().expect("stable key missed");
                assert_eq!(check(k, &buf.0[..n]), 0);
                reads += 1;
            }
            reads
        })
    };

    let visitor = spawn_visitor(&t, &barrier, &stop, &stable);
    let scanner = spawn_scanner(&t, &barrier, &stop, &stable);

    let waves: Vec<u32> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let (merges, most) = shrinker.join().expect("shrinker");
    let reads = reader.join().expect("reader");
    let visits = visitor.join().expect("visitor");
    let scans = scanner.join().expect("scanner");
    println!(
        "split and merge: waves {waves:?}, {merges} merges, at most {most} segments, \
         {reads} reads, {visits} visits, {scans} scans"
    );
    assert!(most > 64, "the index grew to {most} segments only");
    assert!(merges > 0, "no segment merged during the run");
    assert!(reads > 0 && visits > 0 && scans > 0);

    // Only the stable keys are left: the index merges down to a few segments, and with them
    // deleted too, to one.
    while t.shrink_step(usize::MAX) > 0 {}
    assert_eq!(t.len(), stable.len());
    assert!(t.stats().segments <= 16, "{:?}", t.stats());
    let mut buf = VecSink(Vec::new());
    for k in &stable {
        let n = t.get_with(k, &mut buf).unwrap().expect("stable key lost");
        assert_eq!(check(k, &buf.0[..n]), 0);
    }
    t.clear();
    t.shrink_step(usize::MAX);
    let s = t.stats();
    assert_eq!((s.segments, s.global_depth), (1, 0), "{s:?}");
    assert_eq!(t.used_bytes(), empty, "memory left in use: {s:?}");
}
