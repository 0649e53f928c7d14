//! The two-thread goal from `docs/BENCHMARKS.md`, measured by alternation: read-heavy (90% get,
//! 10% put) on kv's table against `dashmap`, the workload of `concurrent.rs`.
//!
//! The two maps take turns of about [`TURN`] each, [`ROUNDS`] times, the first turn going to
//! each map in alternate rounds; every round gives one ratio of operations per second, and the
//! median is printed with the lowest and the highest. A criterion group runs one map for
//! seconds and then the next, so on a shared machine a slow spell can land on one map only;
//! turns this short put both maps in the same spell.

use kv_bench::{keys, kv_table, run, stream, value, Keys, SharedMap};
use std::time::Duration;

/// Rounds per case; odd, so the median is one round's ratio.
const ROUNDS: usize = 21;
/// How long each map runs per round.
const TURN: Duration = Duration::from_millis(100);
/// Operations run to estimate how many fill a turn.
const PROBE: u64 = 200_000;
/// Entries at 100%, as in `concurrent.rs`.
const SLOTS: usize = 1 << 18;

fn main() {
    println!("| case | kv | dashmap | kv ÷ dashmap, median (lowest–highest) of {ROUNDS} rounds |");
    println!("|---|---|---|---|");
    for fill in [50, 90] {
        let n = SLOTS * fill / 100;
        let kv = kv_table(SLOTS);
        let dash = dashmap::DashMap::with_capacity(SLOTS);
        for (i, k) in keys(0..n as u64).iter().enumerate() {
            let v = value(i as u64);
            SharedMap::put(&kv, k, &v);
            SharedMap::put(&dash, k, &v);
        }
        for (dist, keys) in [("uniform", Keys::Uniform), ("zipf", Keys::Zipf)] {
            let streams: Vec<Vec<u32>> = (1..=2).map(|t| stream(n, 10, keys, t)).collect();
            let per_op = run(&kv, &streams, PROBE).as_secs_f64() / PROBE as f64;
            let iters = (TURN.as_secs_f64() / per_op).max(1.0) as u64;
            let mops = |elapsed: Duration| (2 * iters) as f64 / elapsed.as_secs_f64() / 1e6;
            let (mut kv_mops, mut dash_mops) = (Vec::new(), Vec::new());
            // One untimed turn each warms the caches.
            run(&kv, &streams, iters);
            run(&dash, &streams, iters);
            for round in 0..ROUNDS {
                for kv_turn in [round % 2 == 0, round % 2 != 0] {
                    if kv_turn {
                        kv_mops.push(mops(run(&kv, &streams, iters)));
                    } else {
                        dash_mops.push(mops(run(&dash, &streams, iters)));
                    }
                }
            }
            let mut ratios: Vec<f64> = kv_mops.iter().zip(&dash_mops).map(|(k, d)| k / d).collect();
            ratios.sort_by(f64::total_cmp);
            println!(
                "| read-heavy, {dist} keys, {fill}% full | {:.1} M/s | {:.1} M/s | {:.2} ({:.2}–{:.2}) |",
                median(kv_mops),
                median(dash_mops),
                ratios[ROUNDS / 2],
                ratios[0],
                ratios[ROUNDS - 1]
            );
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
