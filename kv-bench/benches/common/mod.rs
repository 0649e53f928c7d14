//! What both benches share: the key type the other maps store, and criterion's settings.

use criterion::Criterion;
use kv_bench::Key;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// A workload key as the other maps store it. Its `Hash` writes the 16 bytes and nothing else
/// (an array's own `Hash` writes its length first), so a map with kv's hasher hashes exactly the
/// bytes kv's table hashes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BytesKey(pub Key);

impl Hash for BytesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// Short runs with small samples, so the whole `cargo bench -p kv-bench` takes minutes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// How many operations a precomputed stream holds before it wraps around: enough that the
/// pattern does not repeat within a cache's memory, few enough that reading it streams.
pub const STREAM: usize = 1 << 16;
