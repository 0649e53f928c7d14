//! Integration tests of the table, one module per area. Not built under the model checker.
#![cfg(not(kv_loom))]

mod evict;
mod growth;
mod model;
mod multi;
mod occupancy;
mod stress;

use kv_nostd::{Config, HashKey, Memory, Table, Word};

/// Zeroed words on the heap, as a table's memory.
pub struct Heap(Box<[Word]>);

impl Heap {
    /// `bytes` bytes of zeroed memory (rounded down to whole words).
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

/// The table the tests use.
pub type TestTable = Table<Heap, Heap>;

/// A table over `arena` and `index` bytes of fresh memory.
pub fn table(arena: usize, index: usize, config: Config, key: [u8; 16]) -> TestTable {
    Table::new(Heap::new(arena), Heap::new(index), HashKey(key), config).expect("a valid layout")
}

/// A value of `len` bytes derived from `seed`, so a wrong or torn copy shows.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `key`'s value, read through a `Vec` sink.
pub fn get<A: Memory, I: Memory>(t: &Table<A, I>, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = VecSink(Vec::new());
    t.get_with(key, &mut out).expect("a valid key")?;
    Some(out.0)
}

/// A growable buffer as a read's destination.
pub struct VecSink(pub Vec<u8>);

impl kv_nostd::Sink for VecSink {
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.0.clear();
        self.0.resize(len, 0);
        Some(&mut self.0)
    }
}

/// An entry's key and value as vectors.
pub fn pair(e: &kv_nostd::Entry<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut k = vec![0; e.key_len()];
    e.key(&mut k).expect("the key fits");
    let mut v = vec![0; e.value_len()];
    assert_eq!(e.read_value(0, &mut v), v.len());
    (k, v)
}
