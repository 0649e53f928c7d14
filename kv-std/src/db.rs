//! The state every worker shares: the table, and the counters INFO reports.

use kv_nostd::{Config, Entry, HashKey, Memory, Sink, Table, Word};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

/// The longest key the server stores, in bytes.
pub const MAX_KEY: usize = 64;
/// The longest value the server stores, in bytes.
pub const MAX_VALUE: usize = 256;

/// Buckets in one index segment of the server's table (7 slots each).
pub const SEGMENT_BUCKETS: usize = 64;

/// The server's table: keys up to [`MAX_KEY`] and values up to [`MAX_VALUE`] bytes, over heap
/// memory sized at start.
pub type Store = Table<Heap, Heap>;

/// Bytes of arena reserved per slot asked for: the largest item's chunk.
pub const SLOT_BYTES: usize = 336;

/// Zeroed words on the heap, all touched at start: the table's memory until the server moves
/// to `crate::storage`.
pub struct Heap(Box<[Word]>);

impl Heap {
    fn new(bytes: usize) -> Self {
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

/// A value copied out of the table into a vector.
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.0.clear();
        self.0.resize(len, 0);
        Some(&mut self.0)
    }
}

/// `key`'s value, copied into a vector.
pub fn read_value(table: &Store, key: &[u8]) -> Result<Option<Vec<u8>>, kv_nostd::Error> {
    let mut v = VecSink::default();
    Ok(table.get_with(key, &mut v)?.map(|_| v.0))
}

/// A visited entry's key and value, copied into vectors.
pub fn entry_pair(e: &Entry<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut v = vec![0; e.value_len()];
    e.read_value(0, &mut v);
    (entry_key(e), v)
}

/// A visited entry's key, copied into a vector.
pub fn entry_key(e: &Entry<'_>) -> Vec<u8> {
    let mut k = vec![0; e.key_len()];
    e.key(&mut k);
    k
}

/// The shared state of one server.
pub struct Db {
    /// The entries.
    pub table: Store,
    /// Bytes the table's buckets occupy.
    pub table_bytes: usize,
    /// Server statistics.
    pub stats: Stats,
    /// When the server started.
    pub started: Instant,
    /// Wall-clock start, for INFO.
    pub started_at: SystemTime,
    /// The port the server listens on, for INFO.
    pub port: u16,
    /// The backup file and log, unless the server keeps nothing on disk.
    pub persist: Option<std::sync::Arc<crate::persist::Persistence>>,
    /// This database's own shared handle, for work handed to other threads (BGSAVE).
    pub me: std::sync::Weak<Db>,
    /// The password clients must AUTH with, if any.
    pub password: Option<Vec<u8>>,
    /// Stops the server (`SHUTDOWN`); set once the server is built.
    pub shutdown: std::sync::OnceLock<crate::server::Shutdown>,
    /// `SHUTDOWN NOSAVE` was asked: skip the final snapshot (the log already holds every write).
    pub skip_final_save: std::sync::atomic::AtomicBool,
}

/// Counters for INFO; all `Relaxed`, they order nothing.
#[derive(Default)]
pub struct Stats {
    /// Connections open now.
    pub connected_clients: AtomicUsize,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections refused because `--max-clients` were open.
    pub rejected_connections: AtomicU64,
    /// Commands executed since start.
    pub total_commands: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Db {
    /// Logs that `key` now holds `value` (call under the key's bucket lock, from a table
    /// `then` hook); returns the log position a reply must wait for, 0 for none.
    pub fn log_set(&self, key: &[u8], value: &[u8]) -> u64 {
        self.persist.as_ref().map_or(0, |p| p.log_set(key, value))
    }

    /// A shared handle to this database, once it is shared.
    pub fn shared(&self) -> Option<std::sync::Arc<Db>> {
        self.me.upgrade()
    }

    /// Logs that `key` was removed; see [`Db::log_set`].
    pub fn log_del(&self, key: &[u8]) -> u64 {
        self.persist.as_ref().map_or(0, |p| p.log_del(key))
    }

    /// A database with room for `buckets` times 8 keys of the longest size (more keys if they
    /// are shorter), keyed with `hash_key`.
    pub fn new(buckets: usize, hash_key: HashKey) -> Result<Self, kv_nostd::LayoutError> {
        let slots = buckets * 8;
        // The items, and four pages for metadata and partly filled size classes; the index at
        // its lowest load, and a directory.
        let arena = Heap::new(slots * SLOT_BYTES + 4 * Config::HOST.page_bytes);
        let index = Heap::new(2 * slots * 10 + 8192);
        let table_bytes = (arena.0.len() + index.0.len()) * kv_nostd::WORD;
        let config = Config {
            segment_buckets: SEGMENT_BUCKETS,
            max_key: MAX_KEY,
            max_value: MAX_VALUE,
            ..Config::HOST
        };
        Ok(Self {
            table: Table::new(arena, index, hash_key, config)?,
            table_bytes,
            stats: Stats::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            port: 0,
            persist: None,
            me: std::sync::Weak::new(),
            password: None,
            shutdown: std::sync::OnceLock::new(),
            skip_final_save: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// A hash key from the operating system's random source.
pub fn random_hash_key() -> std::io::Result<HashKey> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(std::io::Error::other)?;
    Ok(HashKey(key))
}
