//! loom model checks of kv-nostd's concurrency. The models live in `tests/` and run only with
//! `RUSTFLAGS="--cfg kv_loom"`, which also switches kv-nostd's atomics and locks to loom's.
//!
//! This library holds what the models share: tiny tables (one-word keys and values), a way to
//! choose keys by the buckets they hash to before a model starts, and checks of a table's final
//! state. See `README.md` for how to run the models and which mutations each one catches.
#![cfg(kv_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kv_nostd::{loom_hooks, Bucket, HashKey};

/// The buckets of a model's table, shared with the model so it can inspect them afterwards.
pub type Buckets<const W: usize> = Arc<[Bucket<1, 1, W>]>;

/// A model's table: one-word keys and values, `W` slots per bucket.
pub type Table<const W: usize> = kv_nostd::Table<Buckets<W>, 1, 1, W>;

/// The hash key every model uses, so key choice is reproducible.
pub const HASH_KEY: HashKey = HashKey([7; 16]);

/// An empty table of `n` buckets, and a handle on its buckets. Call inside a model: loom's
/// atomics exist only there.
pub fn table<const W: usize>(n: usize) -> (Arc<Table<W>>, Buckets<W>) {
    let buckets: Buckets<W> = (0..n).map(|_| Bucket::new()).collect();
    let table = Table::new(Arc::clone(&buckets), HASH_KEY).expect("power-of-two bucket count");
    (Arc::new(table), buckets)
}

/// Runs `f` once inside a single-threaded model and returns its result: for choosing keys with
/// [`kv_nostd::Table::buckets_of`] before the real model starts, so every execution of the
/// model uses the same keys.
pub fn plan<R: Send + 'static>(f: impl Fn() -> R + Send + Sync + 'static) -> R {
    let out = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&out);
    loom::model(move || {
        let r = f();
        slot.lock().unwrap().get_or_insert(r);
    });
    let r = out.lock().unwrap().take();
    r.expect("the planning model ran")
}

/// Runs `f` under loom in every interleaving loom explores (within `LOOM_MAX_PREEMPTIONS`), and
/// prints how many there were, so a model whose state space collapsed (and so tests little)
/// shows up in the test output.
pub fn model(name: &str, f: impl Fn() + Send + Sync + 'static) {
    check(name, loom::model::Builder::new(), f);
}

/// [`model`] for a model whose failure needs more than the usual number of preemptions: explores
/// at least `preemptions` of them (or every interleaving, when `LOOM_MAX_PREEMPTIONS` is unset).
pub fn deep_model(name: &str, preemptions: usize, f: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.map(|env| env.max(preemptions));
    check(name, builder, f);
}

fn check(name: &str, builder: loom::model::Builder, f: impl Fn() + Send + Sync + 'static) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!("{name}: {} executions", runs.load(Ordering::Relaxed));
}

/// The `i`th candidate key.
pub fn key(i: usize) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

/// The first candidate key, not in `taken`, whose buckets `(b1, b2)` satisfy `want`.
pub fn find_key<const W: usize>(
    table: &Table<W>,
    taken: &[&[u8]],
    want: impl Fn(usize, usize) -> bool,
) -> Vec<u8> {
    (0..100_000)
        .map(key)
        .find(|k| {
            let (b1, b2) = table.buckets_of(k);
            !taken.contains(&k.as_slice()) && want(b1, b2)
        })
        .expect("some key hashes as the model needs")
}

/// `key`'s value, read the way clients read it.
pub fn get<const W: usize>(table: &Table<W>, key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = [0u8; 8];
    let n = table
        .get_into(key, &mut buf)
        .expect("a model's value fits")?;
    Some(buf[..n].to_vec())
}

/// Every entry, as `visit` reports them.
pub fn entries<const W: usize>(table: &Table<W>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    table.visit(|k, v| out.push((k.to_vec(), v.to_vec())));
    out
}

/// Checks that no writer left a bucket behind: every lock free, every version even. A bucket
/// left odd would make every later reader of it spin forever.
pub fn assert_quiescent<const W: usize>(buckets: &[Bucket<1, 1, W>]) {
    for (i, b) in buckets.iter().enumerate() {
        assert!(
            loom_hooks::try_lock(b).is_some(),
            "bucket {i} is still locked"
        );
        let v = loom_hooks::version(b);
        assert!(v % 2 == 0, "bucket {i} left mid-write (version {v})");
    }
}

/// The number of occupied slots in the whole table, counted from the buckets themselves.
pub fn stored<const W: usize>(buckets: &[Bucket<1, 1, W>]) -> usize {
    buckets.iter().map(loom_hooks::occupied).sum()
}
