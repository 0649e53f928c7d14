//! Operations on several keys at once (`Table::locked`): all of them or none, whatever runs
//! beside them.

use crate::{get, pattern, table, TestTable};
use kv_nostd::{Config, Error, Held, Put, Removed};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn config(max_memory: usize) -> Config {
    Config {
        page_bytes: 4096,
        segment_buckets: 4,
        max_key: 256,
        max_value: 1 << 20,
        max_memory,
    }
}

fn scratch(n: usize) -> Vec<Held> {
    vec![Held::EMPTY; 3 * n]
}

/// Puts every pair at once: every item prepared first, then all linked.
fn mset(t: &TestTable, pairs: &[(&[u8], &[u8])]) -> Result<Vec<Put>, Error> {
    let keys: Vec<&[u8]> = pairs.iter().map(|p| p.0).collect();
    t.locked(&keys, &mut scratch(keys.len()), true, |l| {
        let items = pairs
            .iter()
            .enumerate()
            .map(|(i, p)| l.prepare(i, p.1, None))
            .collect::<Result<Vec<_>, _>>()?;
        items.into_iter().map(|p| l.link(p)).collect()
    })?
}

#[test]
fn many_keys_are_put_at_once_through_splits_and_cuckoo_moves() {
    let t = table(64 << 20, 8 << 20, config(0), [1; 16]);
    t.put(b"k5", b"old").unwrap();
    let keys: Vec<Vec<u8>> = (0..5000).map(|i| format!("k{i}").into_bytes()).collect();
    let values: Vec<Vec<u8>> = (0..5000)
        .map(|i| pattern(i, 10 + i as usize % 300))
        .collect();
    let pairs: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (&k[..], &v[..]))
        .collect();
    let puts = mset(&t, &pairs).unwrap();
    assert_eq!(puts.iter().filter(|p| **p == Put::Replaced).count(), 1);
    assert_eq!(puts[5], Put::Replaced);
    assert_eq!(t.len(), 5000);
    assert!(t.stats().segments > 100, "the index split to make room");
    for (k, v) in &pairs {
        assert_eq!(get(&t, k).as_deref(), Some(*v));
    }
}

#[test]
fn a_key_given_twice_takes_the_last_value_and_one_slot() {
    let t = table(1 << 20, 1 << 16, config(0), [2; 16]);
    let puts = mset(&t, &[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]).unwrap();
    assert_eq!(puts, [Put::Inserted, Put::Inserted, Put::Replaced]);
    assert_eq!(get(&t, b"a").as_deref(), Some(&b"3"[..]));
    assert_eq!(t.len(), 2);
}

#[test]
fn a_rename_moves_the_value_and_the_deadline() {
    let t = table(1 << 20, 1 << 16, config(0), [3; 16]);
    t.advance_clock(1_000);
    t.put_with(
        b"src",
        &pattern(7, 5000),
        kv_nostd::When::Always,
        kv_nostd::Deadline::At(9_000),
        None,
        &mut |_| {},
    )
    .unwrap();
    t.put(b"dst", b"old").unwrap();
    let keys: [&[u8]; 2] = [b"src", b"dst"];
    let put = t
        .locked(&keys, &mut scratch(2), true, |l| {
            let e = l.entry(0).expect("src is live");
            let mut value = vec![0; e.value_len()];
            e.read_value(0, &mut value);
            let deadline = e.deadline();
            let item = l.prepare(1, &value, deadline)?;
            assert_eq!(l.delete(0), Removed::Live);
            l.link(item)
        })
        .unwrap();
    assert_eq!(put, Ok(Put::Replaced));
    assert_eq!(get(&t, b"src"), None);
    assert_eq!(get(&t, b"dst"), Some(pattern(7, 5000)));
    assert_eq!(t.deadline(b"dst"), Ok(Some(Some(9_000))));
    assert_eq!((t.len(), t.expires()), (1, 1));
}

#[test]
fn out_of_memory_while_preparing_changes_nothing() {
    let t = table(1 << 20, 1 << 16, config(64 << 10), [4; 16]);
    t.put(b"a", b"before").unwrap();
    let big = vec![7u8; 200 << 10];
    let got = mset(&t, &[(b"a", b"after"), (b"b", &big)]);
    assert_eq!(got, Err(Error::NoSpace));
    assert_eq!(get(&t, b"a").as_deref(), Some(&b"before"[..]));
    assert_eq!(get(&t, b"b"), None);
    assert_eq!(t.len(), 1);
}

#[test]
fn without_inserts_an_absent_key_cannot_be_linked_and_expired_keys_count_as_absent() {
    let t = table(1 << 20, 1 << 16, config(0), [5; 16]);
    t.put(b"live", b"v").unwrap();
    t.put_with(
        b"gone",
        b"v",
        kv_nostd::When::Always,
        kv_nostd::Deadline::At(10),
        None,
        &mut |_| {},
    )
    .unwrap();
    t.advance_clock(10);
    let keys: [&[u8]; 3] = [b"live", b"gone", b"absent"];
    let (live, gone, absent) = t
        .locked(&keys, &mut scratch(3), false, |l| {
            assert!(l.entry(1).is_none(), "an expired key is absent");
            let item = l.prepare(2, b"x", None).unwrap();
            assert_eq!(l.link(item), Err(Error::NoSpace));
            (l.delete(0), l.delete(1), l.delete(2))
        })
        .unwrap();
    assert_eq!(
        (live, gone, absent),
        (Removed::Live, Removed::Expired, Removed::Nothing)
    );
    assert_eq!((t.len(), t.stats().expired), (0, 1));
    assert_eq!(
        t.locked(&keys, &mut scratch(2), false, |_| ()),
        Err(Error::BufferTooSmall { needed: 9, len: 6 })
    );
}

/// Transfers between accounts, each a `locked` call over two keys in random order, while
/// other threads sum all accounts in one `locked` call and read single accounts without locks:
/// the sum never changes, no call deadlocks, and every lock-free read is a whole value.
#[test]
fn transfers_keep_the_total_under_concurrent_sums_and_reads() {
    const ACCOUNTS: usize = 64;
    const THREADS: usize = 4;
    let t = Arc::new(table(16 << 20, 1 << 20, config(0), [6; 16]));
    let keys: Vec<Vec<u8>> = (0..ACCOUNTS)
        .map(|i| format!("acct:{i}").into_bytes())
        .collect();
    for k in &keys {
        t.put(k, &1000u64.to_le_bytes()).unwrap();
    }
    let keys = Arc::new(keys);
    let stop = Arc::new(AtomicBool::new(false));
    // The movers, the summer, the reader and this thread.
    let barrier = Arc::new(Barrier::new(THREADS + 3));
    let deadline = Instant::now() + Duration::from_secs(3);
    let read = |e: kv_nostd::Entry<'_>| {
        let mut v = [0u8; 8];
        assert_eq!(e.read_value(0, &mut v), 8);
        u64::from_le_bytes(v)
    };
    let movers: Vec<_> = (0..THREADS)
        .map(|me| {
            let (t, keys, barrier) = (Arc::clone(&t), Arc::clone(&keys), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut x = me as u64 * 7919 + 1;
                let mut moves = 0;
                let mut scratch = scratch(2);
                barrier.wait();
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (from, to) = (x as usize % ACCOUNTS, (x >> 20) as usize % ACCOUNTS);
                    if from == to {
                        continue;
                    }
                    let pair: [&[u8]; 2] = [&keys[from], &keys[to]];
                    t.locked(&pair, &mut scratch, false, |l| {
                        let (a, b) = (read(l.entry(0).unwrap()), read(l.entry(1).unwrap()));
                        if a == 0 {
                            return;
                        }
                        // Values of different lengths now and then, so items change class.
                        let pa = l.prepare(0, &(a - 1).to_le_bytes(), None).unwrap();
                        let pb = l.prepare(1, &(b + 1).to_le_bytes(), None).unwrap();
                        assert_eq!(l.link(pa), Ok(Put::Replaced));
                        assert_eq!(l.link(pb), Ok(Put::Replaced));
                    })
                    .unwrap();
                    moves += 1;
                }
                moves
            })
        })
        .collect();
    let summer = {
        let (t, keys, barrier, stop) = (
            Arc::clone(&t),
            Arc::clone(&keys),
            Arc::clone(&barrier),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            let all: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            let mut scratch = scratch(ACCOUNTS);
            let mut sums = 0;
            barrier.wait();
            while !stop.load(Ordering::Relaxed) {
                let total: u64 = t
                    .locked(&all, &mut scratch, false, |l| {
                        (0..ACCOUNTS).map(|i| read(l.entry(i).unwrap())).sum()
                    })
                    .unwrap();
                assert_eq!(
                    total,
                    1000 * ACCOUNTS as u64,
                    "a transfer was seen half done"
                );
                sums += 1;
            }
            sums
        })
    };
    let reader = {
        let (t, keys, barrier, stop) = (
            Arc::clone(&t),
            Arc::clone(&keys),
            Arc::clone(&barrier),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            let mut reads = 0;
            barrier.wait();
            while !stop.load(Ordering::Relaxed) {
                let v = get(&t, &keys[reads % ACCOUNTS]).expect("an account vanished");
                assert_eq!(v.len(), 8);
                reads += 1;
            }
            reads
        })
    };
    barrier.wait();
    let moves: usize = movers.into_iter().map(|m| m.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    let sums = summer.join().unwrap();
    let reads = reader.join().unwrap();
    println!("multi-key: {moves} transfers, {sums} sums, {reads} lock-free reads");
    assert!(moves > 1000 && sums > 0 && reads > 0);
    let total: u64 = keys
        .iter()
        .map(|k| u64::from_le_bytes(get(&t, k).unwrap().try_into().unwrap()))
        .sum();
    assert_eq!(total, 1000 * ACCOUNTS as u64);
}

#[test]
fn pairs_put_together_in_a_crowded_neighbourhood_always_finish() {
    // Two keys short of room near each other once took turns: the cuckoo moves for one filled
    // the slot set aside for the other, and back, forever. Many tables (hash keys) and many
    // pairs make the crowded case certain; a worker thread and a deadline turn a livelock into
    // a failure.
    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for seed in 0..8u8 {
            let t = table(64 << 20, 8 << 20, config(0), [seed; 16]);
            for i in 0..20_000u32 {
                let a = format!("{{user{i}}}:a").into_bytes();
                let b = format!("{{user{i}}}:b").into_bytes();
                let value = pattern(u64::from(i), 24);
                mset(&t, &[(&a[..], &value[..]), (&b[..], &value[..])]).unwrap();
            }
            assert_eq!(t.len(), 40_000);
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(120))
        .expect("every pair was put within the deadline");
}
