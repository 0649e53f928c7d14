//! The table's goals from `docs/BENCHMARKS.md`, measured by alternation.
//!
//! kv's table and the map a goal names take turns of about [`TURN`] each, [`ROUNDS`] times, the
//! first turn going to each map in alternate rounds; every round gives one ratio, and the median
//! is printed with the lowest and the highest. A criterion group runs one map for seconds and
//! then the next, so on a shared machine a slow spell can land on one map only; turns this short
//! put both maps in the same spell.
//!
//! - single-thread get, hit and miss: kv's time per get ÷ `hashbrown::HashMap`'s with kv's
//!   SipHash-1-3 (goal: at most 1.5), the workload of `table.rs`;
//! - read-heavy, two threads: kv's operations per second ÷ `dashmap`'s (goal: at least 1.5), the
//!   workload of `concurrent.rs`.

use kv_bench::{
    key, keys, kv_table, run, stream, value, BytesKey, Key, Keys, Rng, SharedMap, Value, HASH_KEY,
    STREAM,
};
use kv_nostd::hash::BuildSipHasher13;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds per case; odd, so the median is one round's ratio.
const ROUNDS: usize = 21;
/// How long each map runs per round.
const TURN: Duration = Duration::from_millis(100);
/// Operations run to estimate how many fill a turn.
const PROBE: u64 = 200_000;
/// Slots in the single-thread table, as in `table.rs`.
const SMALL: usize = 32_768;
/// Slots in the two-thread table, as in `concurrent.rs`.
const LARGE: usize = 1 << 18;

fn main() {
    println!("| goal | case | kv | other | kv ÷ other, median (lowest–highest) of {ROUNDS} |");
    println!("|---|---|---|---|---|");
    for fill in [50, 90] {
        single_thread(fill);
    }
    for fill in [50, 90] {
        two_threads(fill);
    }
}

/// Runs `turn` on kv (`true`) and on the other map (`false`) in alternating order, returning
/// each map's per-round figures.
fn alternate(mut turn: impl FnMut(bool) -> f64) -> (Vec<f64>, Vec<f64>) {
    let (mut kv, mut other) = (Vec::new(), Vec::new());
    // One untimed turn each warms the caches and the branch predictors.
    turn(true);
    turn(false);
    for round in 0..ROUNDS {
        for is_kv in [round % 2 == 0, round % 2 != 0] {
            let x = turn(is_kv);
            if is_kv { &mut kv } else { &mut other }.push(x);
        }
    }
    (kv, other)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Prints one row: each map's median figure and the per-round ratios' median and range.
fn report(goal: &str, case: &str, unit: &str, kv: Vec<f64>, other: Vec<f64>) {
    let mut ratios: Vec<f64> = kv.iter().zip(&other).map(|(k, o)| k / o).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "| {goal} | {case} | {:.1} {unit} | {:.1} {unit} | {:.2} ({:.2}–{:.2}) |",
        median(kv),
        median(other),
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

/// Nanoseconds per get over `iters` gets of the keys `key(0)`, `key(1)`, ...; each map gets a
/// loop compiled for it alone.
fn gets(iters: u64, key: impl Fn(usize) -> Key, get: impl Fn(&Key, &mut Value) -> bool) -> f64 {
    let mut out: Value = [0; 64];
    let start = Instant::now();
    for at in 0..iters as usize {
        black_box(get(&key(at), black_box(&mut out)));
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// How many operations of `ns` nanoseconds take about [`TURN`].
fn turn_iters(ns: f64) -> u64 {
    (TURN.as_nanos() as f64 / ns).max(1.0) as u64
}

fn single_thread(fill: usize) {
    let n = SMALL * fill / 100;
    let kv = kv_table(SMALL);
    let mut hb = hashbrown::HashMap::with_capacity_and_hasher(SMALL, BuildSipHasher13(HASH_KEY));
    for i in 0..n as u64 {
        kv.put(&key(i), &value(i)).expect("room in the table");
        hb.insert(BytesKey(key(i)), value(i));
    }
    let mut rng = Rng::new(fill as u64);
    let picks: Vec<u64> = (0..STREAM).map(|_| rng.below(n as u64)).collect();
    for (case, offset) in [("hit", 0), ("miss", n as u64)] {
        let kv_get =
            |k: &Key, out: &mut Value| kv.get_into(k, out).expect("a workload key").is_some();
        let hb_get = |k: &Key, out: &mut Value| match hb.get(&BytesKey(*k)) {
            Some(v) => {
                *out = *v;
                true
            }
            None => false,
        };
        let keys = |at: usize| key(picks[at & (STREAM - 1)] + offset);
        let iters = turn_iters(gets(PROBE, keys, kv_get));
        let (kv_ns, hb_ns) = alternate(|is_kv| {
            if is_kv {
                gets(iters, keys, kv_get)
            } else {
                gets(iters, keys, hb_get)
            }
        });
        report(
            "single-thread get ≤ 1.5",
            &format!("get {case}, {fill}% full"),
            "ns",
            kv_ns,
            hb_ns,
        );
    }
}

fn two_threads(fill: usize) {
    let n = LARGE * fill / 100;
    let kv = kv_table(LARGE);
    let dash = dashmap::DashMap::with_capacity(LARGE);
    for (i, k) in keys(0..n as u64).iter().enumerate() {
        let v = value(i as u64);
        SharedMap::put(&kv, k, &v);
        SharedMap::put(&dash, k, &v);
    }
    for (dist, keys) in [("uniform", Keys::Uniform), ("zipf", Keys::Zipf)] {
        let streams: Vec<Vec<u32>> = (1..=2).map(|t| stream(n, 10, keys, t)).collect();
        let iters = turn_iters(run(&kv, &streams, PROBE).as_nanos() as f64 / PROBE as f64);
        let mops = |elapsed: Duration| (2 * iters) as f64 / elapsed.as_secs_f64() / 1e6;
        let (kv_mops, dash_mops) = alternate(|is_kv| {
            mops(if is_kv {
                run(&kv, &streams, iters)
            } else {
                run(&dash, &streams, iters)
            })
        });
        report(
            "read-heavy, 2 threads ≥ 1.5",
            &format!("{dist} keys, {fill}% full"),
            "M/s",
            kv_mops,
            dash_mops,
        );
    }
}
