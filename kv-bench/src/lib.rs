//! Benchmarks of kv: criterion benches of the table against `hashbrown`, `dashmap` and
//! `heapless`, and the side-by-side server benchmark against `redis-server`.
//!
//! This library holds what the benches share, so every map under test sees the same keys in
//! the same order:
//! - [`key`] and [`value`]: the workload's 16-byte keys and 64-byte values, by index.
//! - [`Rng`]: a small, seeded generator (the benches must not measure a heavyweight RNG).
//! - [`Zipf`]: Zipf-skewed key indices, the YCSB way.
//! - [`KvTable`] and [`kv_table`]: a kv table sized for the workload.
//! - [`BytesKey`]: a workload key as `heapless`'s map stores it; `hashbrown` and `dashmap` keep
//!   keys and values out of line, as `Vec<u8>`s, as kv's table does.
//! - [`SharedMap`], [`stream`] and [`run`]: threads running a mix of gets and puts on one map.
//!
//! The benches themselves are in `benches/` (`table.rs`: one thread; `concurrent.rs`: two
//! threads; `goals.rs`: the two-thread goal, measured by alternation), the server benchmarks are
//! `server-bench.sh` (throughput) and `memory-bench.sh` (memory), and `src/bin/` has the drivers
//! for what `redis-benchmark` cannot do (`pubsub-bench`, `overwrite-bench`); `docs/BENCHMARKS.md`
//! has the commands and the results.
//!
//! # Example
//! ```
//! use kv_bench::{key, kv_table, value, Rng, Zipf};
//!
//! let table = kv_table(1024);
//! for i in 0..512 {
//!     table.put(&key(i), &value(i)).unwrap();
//! }
//! let mut rng = Rng::new(1);
//! let zipf = Zipf::new(512, 0.99);
//! let i = zipf.sample(&mut rng);
//! let mut out = [0u8; 64];
//! assert_eq!(table.get_into(&key(i), &mut out), Ok(Some(64)));
//! assert_eq!(out, value(i));
//! ```

use kv_nostd::{Config, HashKey, Memory, Table, Word};
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::sync::{Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Bytes in a workload key.
pub const KEY_LEN: usize = 16;
/// Bytes in a workload value.
pub const VALUE_LEN: usize = 64;

/// A workload key.
pub type Key = [u8; KEY_LEN];
/// A workload value.
pub type Value = [u8; VALUE_LEN];

/// The hash key every keyed map in the benches uses.
pub const HASH_KEY: HashKey = HashKey(*b"kv-bench-hashkey");

/// Zeroed words on the heap, as a kv table's memory.
pub struct Heap(Box<[Word]>);

impl Heap {
    /// `bytes` bytes of zeroed words.
    pub fn new(bytes: usize) -> Self {
        Heap(
            std::iter::repeat_with(|| Word::new(0))
                .take(bytes / kv_nostd::WORD)
                .collect(),
        )
    }
}

impl Memory for Heap {
    fn words(&self) -> &[Word] {
        &self.0
    }
}

/// A kv table over heap memory.
pub type KvTable = Table<Heap, Heap>;

/// An empty kv table with room for `entries` workload entries (88-byte items) and more, keyed
/// with [`HASH_KEY`]; its index grows as entries arrive.
pub fn kv_table(entries: usize) -> KvTable {
    let arena = Heap::new(entries * 96 + (1 << 20));
    let index = Heap::new(entries * 24 + (1 << 16));
    Table::new(arena, index, HASH_KEY, Config::HOST).expect("a valid layout")
}

/// SplitMix64's finaliser: a bijection on `u64` that scatters neighbouring inputs.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `i`th key: eight scattered bytes, then `i` itself, so keys with different indices differ.
pub fn key(i: u64) -> Key {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&mix(i).to_le_bytes());
    k[8..].copy_from_slice(&i.to_le_bytes());
    k
}

/// The `i`th value: 64 bytes that depend on `i`, so a wrong copy shows.
pub fn value(i: u64) -> Value {
    let mut v = [0u8; VALUE_LEN];
    for (n, chunk) in v.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(i ^ ((n as u64) << 56)).to_le_bytes());
    }
    v
}

/// Keys `0..n`, so the timed loops index an array rather than build keys.
pub fn keys(range: core::ops::Range<u64>) -> Vec<Key> {
    range.map(key).collect()
}

/// A seeded SplitMix64 generator: a few instructions a draw, good enough to pick keys.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`; different seeds give unrelated sequences.
    pub fn new(seed: u64) -> Self {
        Rng(mix(seed ^ 0x6a09_e667_f3bc_c909))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A uniform draw from `0..n` (multiply-shift; the bias is below 2^-32 for the sizes here).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform draw from `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Zipf-distributed indices in `0..n`: index `i` is drawn with probability proportional to
/// `1 / (i + 1)^theta`. Gray et al.'s constant-time method, as YCSB's `ZipfianGenerator` uses;
/// `theta = 0.99` is YCSB's default skew, under which the hottest 1% of keys draw about half of
/// all operations at the sizes benched here.
#[derive(Clone, Copy, Debug)]
pub struct Zipf {
    n: f64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    eta: f64,
}

impl Zipf {
    /// A sampler over `0..n` with skew `theta` (0 < theta < 1). Takes O(n) to build.
    pub fn new(n: u64, theta: f64) -> Self {
        assert!(n >= 2 && theta > 0.0 && theta < 1.0, "n {n}, theta {theta}");
        let zeta = |count: u64| {
            (1..=count)
                .map(|i| 1.0 / (i as f64).powf(theta))
                .sum::<f64>()
        };
        let zeta_n = zeta(n);
        let zeta_2 = zeta(2);
        let nf = n as f64;
        Zipf {
            n: nf,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_n,
            eta: (1.0 - (2.0 / nf).powf(1.0 - theta)) / (1.0 - zeta_2 / zeta_n),
        }
    }

    /// One index; 0 is the most frequent.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let i = (self.n * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        i.min(self.n as u64 - 1)
    }
}

/// A workload key as the other maps store it. Its `Hash` writes the 16 bytes and nothing else
/// (an array's own `Hash` writes its length first), so a map with kv's hasher hashes exactly the
/// bytes kv's table hashes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BytesKey(pub Key);

impl Hash for BytesKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// How many operations a precomputed stream holds before it wraps around: enough that the
/// pattern does not repeat within a cache's memory, few enough that reading it streams.
pub const STREAM: usize = 1 << 16;

/// Set in a stream entry when the operation is a put; the low bits are the key's index.
pub const PUT: u32 = 1 << 31;

/// A map that threads share: what the two-thread benches ask of every map.
pub trait SharedMap: Sync {
    /// Copies `key`'s value into `out`; whether the key was present.
    fn get(&self, key: &Key, out: &mut Value) -> bool;
    /// Inserts or overwrites `key`.
    fn put(&self, key: &Key, value: &Value);
}

impl SharedMap for KvTable {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        self.get_into(key, out).expect("a workload key").is_some()
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        Table::put(self, key, value).expect("room in the table");
    }
}

/// Copies a stored value out, as every map must on a get.
#[inline]
fn copy_out(v: &[u8], out: &mut Value) -> bool {
    out.copy_from_slice(v);
    true
}

impl SharedMap for dashmap::DashMap<Vec<u8>, Vec<u8>> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        dashmap::DashMap::get(self, &key[..]).is_some_and(|v| copy_out(&v, out))
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.insert(key.to_vec(), value.to_vec());
    }
}

impl SharedMap for RwLock<hashbrown::HashMap<Vec<u8>, Vec<u8>>> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        let map = self.read().expect("not poisoned");
        map.get(&key[..]).is_some_and(|v| copy_out(v, out))
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.write()
            .expect("not poisoned")
            .insert(key.to_vec(), value.to_vec());
    }
}

impl SharedMap for Mutex<std::collections::HashMap<Vec<u8>, Vec<u8>>> {
    #[inline]
    fn get(&self, key: &Key, out: &mut Value) -> bool {
        let map = self.lock().expect("not poisoned");
        map.get(&key[..]).is_some_and(|v| copy_out(v, out))
    }
    #[inline]
    fn put(&self, key: &Key, value: &Value) {
        self.lock()
            .expect("not poisoned")
            .insert(key.to_vec(), value.to_vec());
    }
}

/// Which keys a stream's operations pick.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    /// Every key in `0..n` equally often.
    Uniform,
    /// Zipf-skewed with θ = 0.99: key 0 most often.
    Zipf,
}

/// One thread's operations over keys `0..n`: key indices, [`PUT`] set on `put_percent`% of them.
pub fn stream(n: usize, put_percent: u64, keys: Keys, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let zipf = Zipf::new(n as u64, 0.99);
    (0..STREAM)
        .map(|_| {
            let i = match keys {
                Keys::Uniform => rng.below(n as u64),
                // Rank r is key r; keys are hashed, so hot keys land in unrelated buckets.
                Keys::Zipf => zipf.sample(&mut rng),
            } as u32;
            if rng.below(100) < put_percent {
                i | PUT
            } else {
                i
            }
        })
        .collect()
}

/// Runs `iters` operations of each stream on `map`, one thread a stream, all at once; returns
/// the time from the common start to the last thread's end.
pub fn run<M: SharedMap>(map: &M, streams: &[Vec<u32>], iters: u64) -> Duration {
    let put_value = value(u64::MAX);
    let start = Barrier::new(streams.len() + 1);
    std::thread::scope(|s| {
        for ops in streams {
            let (start, put_value) = (&start, &put_value);
            s.spawn(move || {
                let mut out = [0u8; VALUE_LEN];
                start.wait();
                for n in 0..iters as usize {
                    let op = ops[n & (STREAM - 1)];
                    let key = &key(u64::from(op & !PUT));
                    if op & PUT == 0 {
                        black_box(map.get(key, black_box(&mut out)));
                    } else {
                        map.put(key, black_box(put_value));
                    }
                }
            });
        }
        start.wait();
        let t = Instant::now();
        // Leaving the scope joins every thread.
        t
    })
    .elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct() {
        let mut all = keys(0..100_000);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 100_000);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let i = rng.below(10) as usize;
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn zipf_is_skewed_towards_low_indices() {
        let n = 10_000;
        let zipf = Zipf::new(n, 0.99);
        let mut rng = Rng::new(3);
        let draws = 200_000;
        let mut hot = 0;
        for _ in 0..draws {
            let i = zipf.sample(&mut rng);
            assert!(i < n);
            if i < n / 100 {
                hot += 1;
            }
        }
        // Under theta = 0.99 the first 1% of 10,000 keys carry about 53% of the mass.
        let share = f64::from(hot) / f64::from(draws);
        assert!((0.45..0.62).contains(&share), "hot share {share}");
    }

    #[test]
    fn the_table_holds_a_workload_entry_exactly() {
        let table = kv_table(64);
        table.put(&key(1), &value(1)).unwrap();
        let mut out = [0u8; VALUE_LEN];
        assert_eq!(table.get_into(&key(1), &mut out), Ok(Some(VALUE_LEN)));
        assert_eq!(out, value(1));
        assert_eq!(table.len(), 1);
    }
}
