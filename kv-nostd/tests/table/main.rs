//! Integration tests of the table, one module per area.

mod model;
mod occupancy;
mod stress;

use kv_nostd::{Bucket, HashKey, Table};

/// The table the tests use: keys up to 16 bytes, values up to 64 bytes, on any word size.
pub type TestTable<const W: usize> = Table<
    Box<[Bucket<{ kv_nostd::words(16) }, { kv_nostd::words(64) }, W>]>,
    { kv_nostd::words(16) },
    { kv_nostd::words(64) },
    W,
>;

/// A table of `buckets` buckets of `W` slots each.
pub fn table<const W: usize>(buckets: usize, key: [u8; 16]) -> TestTable<W> {
    let storage: Box<[_]> = (0..buckets).map(|_| Bucket::new()).collect();
    Table::new(storage, HashKey(key)).expect("power-of-two bucket count")
}
