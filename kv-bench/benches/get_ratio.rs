//! The single-thread get goal, measured by alternation: a get hit and a get miss on kv's table
//! against `hashbrown::HashMap<Vec<u8>, Vec<u8>>` with kv's SipHash-1-3, both filled with the
//! same [`ENTRIES`] 16-byte keys and 64-byte values.
//!
//! The two maps take turns of [`TURN_OPS`] gets each, [`ROUNDS`] times, the first turn going to
//! each map in alternate rounds, so a slow spell of this shared machine lands on both; every
//! round gives one ratio, and the median is printed with the lowest and the highest.

use kv_bench::{key, kv_table, value, Key, Rng, Value, HASH_KEY, STREAM};
use kv_nostd::hash::BuildSipHasher13;
use std::hint::black_box;
use std::time::Instant;

/// Rounds per case; odd, so the median is one round's ratio.
const ROUNDS: usize = 31;
/// Gets per turn.
const TURN_OPS: usize = 200_000;
/// Entries: half of the 32,768 the `table` bench calls full, and 90% of them.
const ENTRIES: [usize; 2] = [16_384, 29_491];

type Brown = hashbrown::HashMap<Vec<u8>, Vec<u8>, BuildSipHasher13>;

fn turn(get: &mut dyn FnMut(&Key, &mut Value) -> bool, stream: &[u64]) -> f64 {
    let mut out = [0u8; 64];
    let start = Instant::now();
    for n in 0..TURN_OPS {
        black_box(get(&key(stream[n & (STREAM - 1)]), black_box(&mut out)));
    }
    start.elapsed().as_nanos() as f64 / TURN_OPS as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    println!("| case | kv | hashbrown (SipHash-1-3) | kv ÷ hashbrown, median (lowest–highest) of {ROUNDS} rounds |");
    println!("|---|---|---|---|");
    for n in ENTRIES {
        let kv = kv_table(n);
        let mut brown = Brown::with_capacity_and_hasher(n, BuildSipHasher13(HASH_KEY));
        for i in 0..n as u64 {
            kv.put(&key(i), &value(i)).expect("room");
            brown.insert(key(i).to_vec(), value(i).to_vec());
        }
        let mut rng = Rng::new(n as u64);
        let hits: Vec<u64> = (0..STREAM).map(|_| rng.below(n as u64)).collect();
        let misses: Vec<u64> = hits.iter().map(|i| i + n as u64).collect();
        for (case, stream) in [("hit", &hits), ("miss", &misses)] {
            let mut kv_get =
                |k: &Key, out: &mut Value| kv.get_into(k, out).expect("fits").is_some();
            let mut brown_get = |k: &Key, out: &mut Value| match brown.get(&k[..]) {
                Some(v) => {
                    out.copy_from_slice(v);
                    true
                }
                None => false,
            };
            turn(&mut kv_get, stream);
            turn(&mut brown_get, stream);
            let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                let (x, y) = if round % 2 == 0 {
                    let x = turn(&mut kv_get, stream);
                    (x, turn(&mut brown_get, stream))
                } else {
                    let y = turn(&mut brown_get, stream);
                    (turn(&mut kv_get, stream), y)
                };
                a.push(x);
                b.push(y);
                ratios.push(x / y);
            }
            ratios.sort_by(f64::total_cmp);
            println!(
                "| get {case}, {n} entries | {:.1} ns | {:.1} ns | {:.2} ({:.2}–{:.2}) |",
                median(a),
                median(b),
                ratios[ROUNDS / 2],
                ratios[0],
                ratios[ROUNDS - 1]
            );
        }
    }
}
