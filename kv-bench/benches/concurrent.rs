//! Two threads on one map: read-heavy (90% get, 10% put) and write-heavy (50/50) mixes over
//! uniform and Zipf-skewed keys, on kv's table against `dashmap`, `RwLock<hashbrown::HashMap>`
//! and `Mutex<std::collections::HashMap>`, each pre-filled to 50% and 90% of kv's capacity.
//!
//! Puts overwrite keys already present, so the fill level stays put. Each thread walks its own
//! precomputed stream of operations (key indices; the key is built from its index, so no map's
//! time includes a cache miss on a key array); one criterion iteration is one operation on each thread,
//! and the throughput reported counts both.

mod common;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Throughput};
use kv_bench::{keys, kv_table, run, stream, value, Keys, SharedMap};
use std::sync::{Mutex, RwLock};

/// Entries at 100%: kv's table, and the other maps, are filled to 50% and 90% of this.
const SLOTS: usize = 1 << 18;
/// Threads running operations at once (the machine's cores).
const THREADS: usize = 2;

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
