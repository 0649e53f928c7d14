//! How a table cuts its memory up, and its limits.

/// A table's page size, segment size and limits. [`Config::HOST`] suits a server;
/// [`Config::SMALL`] a microcontroller with tens of kilobytes of RAM.
///
/// ```
/// use kv_nostd::Config;
/// let c = Config { max_value: 1 << 20, ..Config::HOST };
/// assert_eq!(c.page_bytes, 64 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bytes in an arena page: a power of two from 64 bytes to 4 MiB. Pages are the unit the
    /// arena takes from its memory and gives back; items larger than half a page take whole
    /// pages, chained.
    pub page_bytes: usize,
    /// Buckets in an index segment: a power of two from 2 to 65,536. A segment is the unit the
    /// index grows by (a split) and the longest stretch a split stops its keys' writers for.
    pub segment_buckets: usize,
    /// The longest key, in bytes.
    pub max_key: usize,
    /// The longest value, in bytes (Redis's `proto-max-bulk-len`).
    pub max_value: usize,
    /// The most bytes of arena pages and index segments the table uses (Redis's `maxmemory`);
    /// 0 for no limit beyond the memory given. Can be changed later with
    /// [`Table::set_max_memory`](crate::Table::set_max_memory).
    pub max_memory: usize,
}

impl Config {
    /// For a server: 64 KiB pages, 64-bucket segments (4 KiB of index each), keys and values
    /// up to 512 MiB, no memory limit.
    pub const HOST: Config = Config {
        page_bytes: 64 * 1024,
        segment_buckets: 64,
        max_key: 512 << 20,
        max_value: 512 << 20,
        max_memory: 0,
    };

    /// For a microcontroller: 1 KiB pages, 8-bucket segments, keys and values up to 64 KiB.
    pub const SMALL: Config = Config {
        page_bytes: 1024,
        segment_buckets: 8,
        max_key: 64 * 1024,
        max_value: 64 * 1024,
        max_memory: 0,
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::HOST
    }
}
