//! INCR's atomicity at volume.

use crate::ServerProcess;
use std::time::Instant;

/// `INCR` reads and writes its key under the key's lock: 8 clients × 100,000 increments of one
/// key end at exactly 800,000, every reply a different number.
#[test]
#[ignore = "load test: the README's test command runs it in a release build"]
fn eight_hundred_thousand_increments_of_one_key_from_eight_clients() {
    let server = ServerProcess::start(&[]);
    let started = Instant::now();
    crate::counter::increment_together(server.addr, 8, 100_000);
    println!(
        "800,000 INCR of one key from 8 clients: {:?}",
        started.elapsed()
    );
}
