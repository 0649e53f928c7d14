//! Two threads on one map: read-heavy (90% get, 10% put) and write-heavy (50/50) mixes over
//! uniform and Zipf-skewed keys, on kv's table against `dashmap`, `RwLock<hashbrown::HashMap>`
//! and `Mutex<std::collections::HashMap>`, each pre-filled to 50% and 90% of kv's capacity.
//!
//! Puts overwrite keys already present, so the fill level stays put. Each thread walks its own
//! precomputed stream of operations (key indices; the key is built from its index, so no map's
//! time includes a cache miss on a key array); one criterion iteration is one operation on each thread,
//! and the throughput reported counts both.

mod common;

use common::{BytesKey, STREAM};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Throughput};
use kv_bench::{key, keys, kv_table, value, Key, KvTable, Rng, Value, Zipf};
use std::hint::black_box;
use std::sync::{Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Slots in kv's table: 24.5 MiB of buckets, most of the L3 cache.
const SLOTS: usize = 1 << 18;
/// Threads running operations at once (the machine's cores).
const THREADS: usize = 2;
/// Set in a stream entry when the operation is a put; the low bits are the key's index.
const PUT: u32 = 1 << 31;

/// The operations the benches ask of every shared map.
trait SharedMap: Sync {
    fn get(&self, key: &Key, out: &mut Value) -> bool;
    fn put(&self, key: &Key, value: &Value);
}

impl SharedMap for KvTable {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        self.get_into(key, out).expect("a workload key").is_some()
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        KvTable::put(self, key, value).expect("room in the table");
    }
}

impl SharedMap for dashmap::DashMap<BytesKey, Value> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        match dashmap::DashMap::get(self, &BytesKey(*key)) {
            Some(v) => {
                *out = *v;
                true
            }
            None => false,
        }
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.insert(BytesKey(*key), *value);
    }
}

impl SharedMap for RwLock<hashbrown::HashMap<BytesKey, Value>> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        match self.read().expect("not poisoned").get(&BytesKey(*key)) {
            Some(v) => {
                *out = *v;
                true
            }
            None => false,
        }
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.write()
            .expect("not poisoned")
            .insert(BytesKey(*key), *value);
    }
}

impl SharedMap for Mutex<std::collections::HashMap<BytesKey, Value>> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        match self.lock().expect("not poisoned").get(&BytesKey(*key)) {
            Some(v) => {
                *out = *v;
                true
            }
            None => false,
        }
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.lock()
            .expect("not poisoned")
            .insert(BytesKey(*key), *value);
    }
}

/// Which keys the operations pick.
#[derive(Clone, Copy)]
enum Keys {
    Uniform,
    Zipf,
}

/// One thread's operations: key indices, `PUT` set on the puts.
fn stream(n: usize, put_percent: u64, keys: Keys, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let zipf = Zipf::new(n as u64, 0.99);
    (0..STREAM)
        .map(|_| {
            let i = match keys {
                Keys::Uniform => rng.below(n as u64),
                // Rank r is key r; keys are hashed, so hot keys land in unrelated buckets.
                Keys::Zipf => zipf.sample(&mut rng),
            } as u32;
            if rng.below(100) < put_percent {
                i | PUT
            } else {
                i
            }
        })
        .collect()
}

/// Runs `iters` operations of each thread's stream on `map`, all threads at once; returns the
/// time from the common start to the last thread's end.
fn run<M: SharedMap>(map: &M, streams: &[Vec<u32>], iters: u64) -> Duration {
    let put_value = value(u64::MAX);
    let start = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for ops in streams {
            let (start, put_value) = (&start, &put_value);
            s.spawn(move || {
                let mut out = [0u8; 64];
                start.wait();
                for n in 0..iters as usize {
                    let op = ops[n & (STREAM - 1)];
                    let key = &key(u64::from(op & !PUT));
                    if op & PUT == 0 {
                        black_box(map.get(key, &mut out));
                    } else {
                        map.put(key, black_box(put_value));
                    }
                }
            });
        }
        start.wait();
        let t = Instant::now();
        // Leaving the scope joins every thread.
        t
    })
    .elapsed()
}

fn bench<M: SharedMap>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    map: &M,
    streams: &[Vec<u32>],
) {
    g.bench_function(name, |b| b.iter_custom(|iters| run(map, streams, iters)));
}

fn main() {
    let mut c = common::criterion();
    for fill in [50, 90] {
        let n = SLOTS * fill / 100;
        let present = keys(0..n as u64);
        let kv = kv_table(SLOTS);
        let dash = dashmap::DashMap::with_capacity(SLOTS);
        let rwlock = RwLock::new(hashbrown::HashMap::with_capacity(SLOTS));
        let mutex = Mutex::new(std::collections::HashMap::with_capacity(SLOTS));
        for (i, k) in present.iter().enumerate() {
            let v = value(i as u64);
            SharedMap::put(&kv, k, &v);
            SharedMap::put(&dash, k, &v);
            SharedMap::put(&rwlock, k, &v);
            SharedMap::put(&mutex, k, &v);
        }
        for (mix, put_percent) in [("read_heavy", 10), ("write_heavy", 50)] {
            for (dist, keys) in [("uniform", Keys::Uniform), ("zipf", Keys::Zipf)] {
                let streams: Vec<Vec<u32>> = (0..THREADS as u64)
                    .map(|t| stream(n, put_percent, keys, t + 1))
                    .collect();
                let mut g = c.benchmark_group(format!("{mix}/{dist}/fill{fill}"));
                g.throughput(Throughput::Elements(THREADS as u64));
                bench(&mut g, "kv", &kv, &streams);
                bench(&mut g, "dashmap", &dash, &streams);
                bench(&mut g, "rwlock_hashbrown", &rwlock, &streams);
                bench(&mut g, "mutex_std", &mutex, &streams);
                g.finish();
            }
        }
    }
    c.final_summary();
}
