//! Crate internals the loom models need and the public API does not offer: a bucket's lock, and
//! read-only views of its version and slots for checking a model's final state.
//!
//! Built only under `--cfg kv_loom`; not part of the crate's API.

use crate::bucket::{is_occupied, Bucket};
use crate::sync::{LockGuard, Ordering};

/// Proof that a bucket's lock is held; dropping it releases the lock.
pub struct BucketGuard<'a>(#[allow(dead_code)] LockGuard<'a>);

/// Takes `bucket`'s lock, waiting as the table's writers do.
pub fn lock<const KW: usize, const VW: usize, const W: usize>(
    bucket: &Bucket<KW, VW, W>,
) -> BucketGuard<'_> {
    BucketGuard(bucket.lock.lock())
}

/// Takes `bucket`'s lock if it is free.
pub fn try_lock<const KW: usize, const VW: usize, const W: usize>(
    bucket: &Bucket<KW, VW, W>,
) -> Option<BucketGuard<'_>> {
    bucket.lock.try_lock().map(BucketGuard)
}

/// `bucket`'s version counter: even while no writer is inside.
pub fn version<const KW: usize, const VW: usize, const W: usize>(
    bucket: &Bucket<KW, VW, W>,
) -> u64 {
    bucket.version.load(Ordering::Acquire)
}

/// How many of `bucket`'s slots hold an entry.
pub fn occupied<const KW: usize, const VW: usize, const W: usize>(
    bucket: &Bucket<KW, VW, W>,
) -> usize {
    bucket
        .meta
        .iter()
        .filter(|m| is_occupied(m.load(Ordering::Acquire)))
        .count()
}
