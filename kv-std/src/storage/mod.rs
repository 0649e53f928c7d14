//! Host memory for kv-nostd's table: address space reserved up front, made resident only as the
//! table touches it, and given back when the table frees an arena page.
//!
//! [`Region`] is an anonymous private mapping made with `MAP_NORESERVE`, so a large reservation
//! costs neither RAM nor swap accounting until pages are written; it implements
//! [`kv_nostd::Memory`], and its [`release`](kv_nostd::Memory::release) hook calls
//! `madvise(MADV_DONTNEED)` on whole system pages, after which they read as zeros and no longer
//! count in the process's resident set. [`open`] builds a table over two regions (arena and
//! index). The table owns its regions: they are unmapped when the table is dropped, and never
//! while a reference to it (or to anything it hands out) exists, which is what the table's
//! lock-free readers rely on.
//!
//! ```
//! use kv_std::storage::{self, StorageConfig};
//!
//! let table = storage::open(StorageConfig::default(), kv_nostd::HashKey([1; 16]))?;
//! table.put(b"user1", &vec![7u8; 300_000])?;
//! assert_eq!(table.value_len(b"user1")?, Some(300_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod region;

pub use region::Region;

use kv_nostd::{Config, HashKey, Table};
use std::io;

/// A table over host memory.
pub type Store = Table<Region, Region>;

/// How much address space to reserve, and the table's own configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// Bytes of address space for the arena (keys and values). Only what is used becomes
    /// resident; the table can never hold more than this.
    pub arena_bytes: usize,
    /// Bytes of address space for the index (slot words). Small items need about a seventh of
    /// their arena bytes here; only what is used becomes resident.
    pub index_bytes: usize,
    /// Page and segment sizes and limits (`max_memory` is the byte budget, 0 for none).
    pub table: Config,
}

impl Default for StorageConfig {
    /// 64 GiB of arena and 16 GiB of index reserved, [`Config::HOST`].
    fn default() -> Self {
        Self {
            arena_bytes: 64 << 30,
            index_bytes: 16 << 30,
            table: Config::HOST,
        }
    }
}

/// Reserves the regions `config` asks for and builds an empty table over them.
pub fn open(config: StorageConfig, hash_key: HashKey) -> io::Result<Store> {
    let arena = Region::new(config.arena_bytes)?;
    let index = Region::new(config.index_bytes)?;
    Table::new(arena, index, hash_key, config.table)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// The resident set size of this process, in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> io::Result<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("unexpected /proc/self/statm"))?;
    Ok(pages * region::system_page())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv_nostd::Put;

    fn small() -> StorageConfig {
        StorageConfig {
            arena_bytes: 64 << 20,
            index_bytes: 16 << 20,
            table: Config::HOST,
        }
    }

    #[test]
    fn a_table_over_regions_stores_values_of_any_size() {
        let t = open(small(), HashKey([3; 16])).unwrap();
        for (i, len) in [0usize, 1, 100, 40_000, 1 << 20].into_iter().enumerate() {
            let v = vec![i as u8 + 1; len];
            assert_eq!(t.put(&[i as u8], &v), Ok(Put::Inserted));
            let mut out = vec![0u8; len];
            assert_eq!(t.get_into(&[i as u8], &mut out), Ok(Some(len)));
            assert_eq!(out, v);
        }
    }

    #[test]
    fn a_memory_limit_refuses_writes_and_keeps_every_key() {
        let config = StorageConfig {
            arena_bytes: 1 << 30,
            index_bytes: 16 << 20,
            table: Config {
                max_memory: 8 << 20,
                ..Config::HOST
            },
        };
        let t = open(config, HashKey([5; 16])).unwrap();
        let mut n = 0u32;
        while t.put(&n.to_le_bytes(), &[7; 100]).is_ok() {
            n += 1;
        }
        assert!(t.used_bytes() <= 8 << 20);
        assert!(n > 50_000, "{n} keys under 8 MiB");
        let mut out = [0u8; 100];
        for i in 0..n {
            assert_eq!(t.get_into(&i.to_le_bytes(), &mut out), Ok(Some(100)));
        }
    }
}
