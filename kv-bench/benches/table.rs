//! One thread: get (hit, miss), put (overwrite, insert) and delete on kv's table against
//! `hashbrown::HashMap<Vec<u8>, Vec<u8>>` (with its default hasher, foldhash, and with kv's keyed
//! SipHash-1-3: keys and values out of line, as in kv's arena) and `heapless::FnvIndexMap`
//! (inline), each pre-filled with [`SLOTS`] × 50% and 90% entries.
//!
//! Every map copies a value out on a get, as kv must. Insert and delete run in timed batches of
//! [`BATCH`] keys, each followed by an untimed batch that undoes it, so the fill level stays put.

mod common;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Throughput};
use kv_bench::{key, keys, kv_table, value, BytesKey, Key, KvTable, Rng, Value, STREAM};
use kv_nostd::hash::BuildSipHasher13;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Entries at 100%. `heapless::IndexMap` indexes its entries with 16 bits, so 32,768 is the
/// largest power of two all four maps can hold.
const SLOTS: usize = 32_768;
/// Inserts or deletes timed between two undo batches.
const BATCH: usize = 256;

/// The operations the benches ask of every map.
trait Map {
    fn get(&self, key: &Key, out: &mut Value) -> bool;
    fn put(&mut self, key: &Key, value: &Value);
    fn delete(&mut self, key: &Key) -> bool;
}

impl Map for KvTable {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        self.get_into(key, out).expect("a workload key").is_some()
    }
    #[inline]
    fn put(&mut self, key: &Key, value: &Value) {
        KvTable::put(self, key, value).expect("room in the table");
    }
    #[inline]
    fn delete(&mut self, key: &Key) -> bool {
        KvTable::delete(self, key).expect("a workload key")
    }
}

impl<S: std::hash::BuildHasher> Map for hashbrown::HashMap<Vec<u8>, Vec<u8>, S> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        match hashbrown::HashMap::get(self, &key[..]) {
            Some(v) => {
                out.copy_from_slice(v);
                true
            }
            None => false,
        }
    }
    #[inline]
    fn put(&mut self, key: &Key, value: &Value) {
        self.insert(key.to_vec(), value.to_vec());
    }
    #[inline]
    fn delete(&mut self, key: &Key) -> bool {
        self.remove(&key[..]).is_some()
    }
}

type Heapless = heapless::index_map::FnvIndexMap<BytesKey, Value, SLOTS>;

impl Map for Heapless {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        match heapless::IndexMap::get(self, &BytesKey(*key)) {
            Some(v) => {
                *out = *v;
                true
            }
            None => false,
        }
    }
    #[inline]
    fn put(&mut self, key: &Key, value: &Value) {
        assert!(
            self.insert(BytesKey(*key), *value).is_ok(),
            "room in the map"
        );
    }
    #[inline]
    fn delete(&mut self, key: &Key) -> bool {
        self.swap_remove(&BytesKey(*key)).is_some()
    }
}

/// The keys of one fill level: keys `0..n` are in every map, keys from `n` on in none.
///
/// Single lookups build their key from its index ([`key`] is a few multiplications), so no
/// map's time includes a cache miss on a key array; batches of inserts and deletes take runs of
/// the arrays.
struct Workload {
    n: usize,
    present: Vec<Key>,
    absent: Vec<Key>,
    /// Key indices in `0..n`, uniformly random.
    stream: Vec<u32>,
    /// The value every put writes.
    value: Value,
}

impl Workload {
    fn new(fill_percent: usize) -> Self {
        let n = SLOTS * fill_percent / 100;
        let mut rng = Rng::new(fill_percent as u64);
        Workload {
            n,
            present: keys(0..n as u64),
            absent: keys(n as u64..(n + SLOTS) as u64),
            stream: (0..STREAM).map(|_| rng.below(n as u64) as u32).collect(),
            value: value(u64::MAX),
        }
    }

    fn fill(&self, map: &mut impl Map) {
        for (i, k) in self.present.iter().enumerate() {
            map.put(k, &value(i as u64));
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    GetHit,
    GetMiss,
    PutOverwrite,
    PutInsert,
    Delete,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::GetHit,
        Op::GetMiss,
        Op::PutOverwrite,
        Op::PutInsert,
        Op::Delete,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::GetHit => "get_hit",
            Op::GetMiss => "get_miss",
            Op::PutOverwrite => "put_overwrite",
            Op::PutInsert => "put_insert",
            Op::Delete => "delete",
        }
    }
}

/// Runs `timed` on batches of keys from `pick` (round number, length), `iters` keys in all,
/// each batch followed by an untimed `undo`; returns the time spent in `timed`.
fn batched<'w, M>(
    map: &mut M,
    iters: u64,
    mut pick: impl FnMut(usize, usize) -> &'w [Key],
    timed: impl Fn(&mut M, &[Key]),
    undo: impl Fn(&mut M, &[Key]),
) -> Duration {
    let mut spent = Duration::ZERO;
    let mut left = iters as usize;
    let mut round = 0;
    while left > 0 {
        let batch = pick(round, left.min(BATCH));
        let start = Instant::now();
        timed(map, batch);
        spent += start.elapsed();
        undo(map, batch);
        left -= batch.len();
        round += 1;
    }
    spent
}

fn bench<M: Map>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    map: &mut M,
    w: &Workload,
    op: Op,
) {
    let stream = &w.stream;
    let mut at = 0usize;
    let mut next = move || {
        at = (at + 1) & (STREAM - 1);
        stream[at] as usize
    };
    let mut out = [0u8; 64];
    match op {
        Op::GetHit => g.bench_function(name, |b| {
            b.iter(|| black_box(map.get(&key(next() as u64), black_box(&mut out))))
        }),
        Op::GetMiss => g.bench_function(name, |b| {
            b.iter(|| black_box(map.get(&key((w.n + next()) as u64), black_box(&mut out))))
        }),
        Op::PutOverwrite => g.bench_function(name, |b| {
            b.iter(|| map.put(&key(next() as u64), black_box(&w.value)))
        }),
        Op::PutInsert => g.bench_function(name, |b| {
            // Each batch inserts the next keys of `absent`, then deletes them again.
            let rounds = w.absent.len() / BATCH;
            b.iter_custom(|iters| {
                batched(
                    map,
                    iters,
                    |round, len| {
                        let start = (round % rounds) * BATCH;
                        &w.absent[start..start + len]
                    },
                    |m, keys| keys.iter().for_each(|k| m.put(k, black_box(&w.value))),
                    |m, keys| keys.iter().for_each(|k| assert!(m.delete(k))),
                )
            })
        }),
        Op::Delete => g.bench_function(name, |b| {
            // Each batch deletes a run of present keys at a random place, then puts them back.
            let mut starts = Rng::new(0x5eed);
            let n = w.present.len();
            b.iter_custom(|iters| {
                batched(
                    map,
                    iters,
                    |_, len| {
                        let start = starts.below((n - BATCH) as u64) as usize;
                        &w.present[start..start + len]
                    },
                    |m, keys| keys.iter().for_each(|k| assert!(black_box(m.delete(k)))),
                    |m, keys| keys.iter().for_each(|k| m.put(k, &w.value)),
                )
            })
        }),
    };
}

fn main() {
    // heapless's map is built in place on the stack before it is boxed: give it room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .expect("a bench thread")
        .join()
        .expect("the benches finish");
}

fn run() {
    let mut c = common::criterion();
    for fill in [50, 90] {
        let w = Workload::new(fill);
        let mut kv = kv_table(SLOTS);
        let mut foldhash = hashbrown::HashMap::with_capacity(SLOTS);
        let mut sip13 = hashbrown::HashMap::with_capacity_and_hasher(
            SLOTS,
            BuildSipHasher13(kv_bench::HASH_KEY),
        );
        let mut fnv = Box::new(Heapless::new());
        w.fill(&mut kv);
        w.fill(&mut foldhash);
        w.fill(&mut sip13);
        w.fill(&mut *fnv);
        for op in Op::ALL {
            let mut g = c.benchmark_group(format!("{}/fill{fill}", op.name()));
            g.throughput(Throughput::Elements(1));
            bench(&mut g, "kv", &mut kv, &w, op);
            bench(&mut g, "hashbrown_foldhash", &mut foldhash, &w, op);
            bench(&mut g, "hashbrown_sip13", &mut sip13, &w, op);
            bench(&mut g, "heapless_fnv", &mut *fnv, &w, op);
            g.finish();
        }
    }
    c.final_summary();
}
