//! What the criterion benches share: criterion's settings.

use criterion::Criterion;
use std::time::Duration;

/// Short runs with small samples, so the whole `cargo bench -p kv-bench` takes minutes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}
