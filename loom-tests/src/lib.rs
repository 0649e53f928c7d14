//! loom model checks of kv-nostd's concurrency. The models live in `tests/` and run only with
//! `RUSTFLAGS="--cfg kv_loom"`, which also switches kv-nostd's atomics to loom's.
//!
//! This library holds what the models share: tiny tables (one-slot buckets, 64-byte pages), a
//! way to choose keys by where they hash before a model starts, and checks of a table's final
//! state. See `README.md` for how to run the models and which mutations each one catches.
#![cfg(kv_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kv_nostd::{Config, HashKey, Memory, Word};

/// A model's memory: loom atomics in a vector, all zero.
pub struct Mem(Vec<Word>);

impl Mem {
    /// `words` zeroed words.
    pub fn new(words: usize) -> Self {
        Mem((0..words).map(|_| Word::new(0)).collect())
    }
}

impl Memory for Mem {
    fn words(&self) -> &[Word] {
        &self.0
    }
}

/// A model's table.
pub type Table = kv_nostd::Table<Mem, Mem>;

/// The hash key every model uses, so key choice is reproducible.
pub const HASH_KEY: HashKey = HashKey([7; 16]);

/// Bytes in a model's arena page: classes of 8, 16, 24 and 32 bytes; items above 32 bytes take
/// pages, above 64 chained.
pub const PAGE: usize = 64;

/// The shape of a model's table.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Buckets per segment (one slot each under loom).
    pub buckets: usize,
    /// Segments the index may grow to.
    pub segments: usize,
    /// Arena pages.
    pub pages: usize,
}

impl Shape {
    /// One segment of `buckets` buckets that never splits: a full segment answers `NoSpace`.
    pub const fn fixed(buckets: usize) -> Self {
        Self {
            buckets,
            segments: 1,
            pages: 4,
        }
    }

    /// Segments of `buckets` buckets, growing to `segments`.
    pub const fn growing(buckets: usize, segments: usize) -> Self {
        Self {
            buckets,
            segments,
            pages: 4,
        }
    }

    /// The same with `pages` arena pages.
    pub const fn pages(self, pages: usize) -> Self {
        Self { pages, ..self }
    }
}

/// An empty table of this shape. Call inside a model: loom's atomics exist only there.
pub fn table(shape: Shape) -> Arc<Table> {
    let config = Config {
        page_bytes: PAGE,
        segment_buckets: shape.buckets,
        max_key: 64,
        max_value: 1024,
        max_memory: 0,
    };
    // Arena: 4 classes of 2 words, 6 words of metadata a page, pages aligned to a page.
    let meta = 8 + shape.pages * 6;
    let arena = meta.div_ceil(PAGE / 8) * (PAGE / 8) + shape.pages * PAGE / 8;
    // Index: a directory of twice the segments (rounded to a power of two) on a 64-byte line,
    // then the segments (a header of 2 words, 2 words a bucket).
    let dir = if shape.segments == 1 {
        2
    } else {
        2 * shape.segments.next_power_of_two()
    };
    let index = dir.div_ceil(8) * 8 + shape.segments * (2 + 2 * shape.buckets);
    let t = kv_nostd::Table::new(Mem::new(arena), Mem::new(index), HASH_KEY, config)
        .expect("a valid layout");
    let s = t.stats();
    assert_eq!(
        (s.pages, s.max_segments),
        (shape.pages, shape.segments),
        "the model's memory holds what it asked for"
    );
    Arc::new(t)
}

/// Runs `f` once inside a single-threaded model and returns its result: for choosing keys with
/// [`kv_nostd::Table::placement`] before the real model starts, so every execution of the
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

fn check(name: &str, mut builder: loom::model::Builder, f: impl Fn() + Send + Sync + 'static) {
    // A put that splits a segment takes many steps; the default bound (1,000) is too low.
    builder.max_branches = builder.max_branches.max(20_000);
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

/// The first candidate key, not in `taken`, whose hash `h` and buckets `(b1, b2)` satisfy
/// `want`.
pub fn find_key(
    table: &Table,
    taken: &[&[u8]],
    want: impl Fn(u64, usize, usize) -> bool,
) -> Vec<u8> {
    (0..100_000)
        .map(key)
        .find(|k| {
            let (h, b1, b2) = table.placement(k);
            !taken.contains(&k.as_slice()) && want(h, b1, b2)
        })
        .expect("some key hashes as the model needs")
}

/// `key`'s value, read the way clients read it.
pub fn get(table: &Table, key: &[u8]) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = table
        .get_into(key, &mut buf)
        .expect("a model's value fits")?;
    Some(buf[..n].to_vec())
}

/// Every entry, as `visit` reports them.
pub fn entries(table: &Table) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    table.visit(|e| out.push(pair(e)));
    out
}

/// An entry's key and value.
pub fn pair(e: &kv_nostd::Entry<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut k = vec![0; e.key_len()];
    e.key(&mut k).expect("the key fits");
    let mut v = vec![0; e.value_len()];
    e.read_value(0, &mut v);
    (k, v)
}

/// Checks that no writer left anything behind: every bucket lock free and no write open (a
/// bucket left mid-write would make every later reader of it spin forever), and no pin held.
pub fn assert_quiescent(table: &Table) {
    for &(seg, bucket, locked, writing, _) in table.loom_buckets().as_slice() {
        assert!(!locked, "segment {seg} bucket {bucket} is still locked");
        assert!(!writing, "segment {seg} bucket {bucket} left mid-write");
    }
    assert_eq!(table.loom_pins(), 0, "a pin was never dropped");
}

/// The number of occupied slots in the whole table, counted from the buckets themselves.
pub fn stored(table: &Table) -> usize {
    table
        .loom_buckets()
        .as_slice()
        .iter()
        .map(|&(.., occupied)| occupied)
        .sum()
}

/// How many slots of bucket `bucket` of segment `seg` are occupied.
pub fn occupied(table: &Table, seg: usize, bucket: usize) -> usize {
    table
        .loom_buckets()
        .as_slice()
        .iter()
        .find(|&&(s, b, ..)| s == seg && b == bucket)
        .map_or(0, |&(.., n)| n)
}
