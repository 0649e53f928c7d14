//! The state every worker shares: the table, the clients and their subscriptions, the settings
//! `CONFIG SET` changes, and the counters INFO reports.
//!
//! The table's clock is Unix time in milliseconds, advanced by [`Db::tick`]: by each worker once
//! per turn of its loop (so the commands of one turn see one time, as Redis's cached `mstime`
//! gives them) and by the active expiry cycle. It stands still while the files are loaded.

use crate::config::OutputLimits;
use crate::storage::Region;
use crate::storage::StorageConfig;
use kv_nostd::{Error, HashKey, Held, Locked, Sink};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

pub use crate::storage::Store;

/// The longest key or value the table can hold, in bytes: lengths travel as 32 bits in the
/// native protocol. Clients are held to `proto-max-bulk-len` (512 MB by default) below it.
pub const MAX_LENGTH: usize = u32::MAX as usize;

/// The shared state of one server.
pub struct Db {
    /// The entries.
    pub table: Store,
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
    /// Every connected client.
    pub clients: crate::server::clients::Registry,
    /// Every pub/sub subscription.
    pub pubsub: crate::pubsub::Hub,
    /// What `CONFIG SET` may change while the server runs.
    pub settings: Settings,
    /// Calls of each command (INFO `commandstats`).
    pub commands: crate::cmd::stats::CommandStats,
    /// Error replies by code (INFO `errorstats`).
    pub errors: crate::cmd::stats::ErrorStats,
    /// The slow log.
    pub slowlog: crate::cmd::slowlog::Slowlog,
    /// The clients in `MONITOR` mode.
    pub monitors: crate::cmd::monitor::Monitors,
    /// What the server was started with (for `CONFIG GET` of what cannot change, and `CONFIG
    /// REWRITE`); set once the server is built.
    pub launch: std::sync::OnceLock<crate::config::Config>,
    /// The workers' I/O loop, `io_uring` or `epoll` (INFO's `multiplexing_api`); set when they
    /// start.
    pub io_loop: std::sync::OnceLock<&'static str>,
    /// This run's random id: INFO's `run_id` and `master_replid`, 40 hex digits each.
    pub run_ids: [String; 2],
    /// Lets `EXEC` run while nothing else touches the table (and the log rotate between
    /// transactions).
    pub gate: std::sync::Arc<crate::txn::gate::Gate>,
    /// Who `WATCH`es which keys.
    pub watches: std::sync::Arc<crate::txn::watch::Watches>,
    /// Whether an `EXEC` under way has logged its `MULTI` yet: [`EXEC_CLOSED`],
    /// [`EXEC_OPEN`] or [`EXEC_WRITTEN`].
    exec_log: std::sync::atomic::AtomicU8,
    /// Replication: the stream of writes, the replicas, the primary followed.
    pub repl: crate::repl::Replication,
    /// Cluster mode's view and slot gates, when it is on.
    pub cluster: Option<crate::cluster::Cluster>,
}

/// No `EXEC` under way.
const EXEC_CLOSED: u8 = 0;
/// An `EXEC` under way that has logged nothing yet.
const EXEC_OPEN: u8 = 1;
/// An `EXEC` under way whose `MULTI` is logged.
const EXEC_WRITTEN: u8 = 2;

/// The settings `CONFIG SET` changes at run time.
pub struct Settings {
    output_limits: std::sync::Mutex<OutputLimits>,
    proto_max_bulk_len: AtomicUsize,
    client_query_buffer_limit: AtomicUsize,
    eviction: std::sync::Mutex<EvictionSettings>,
    max_clients: AtomicUsize,
    idle_timeout_secs: AtomicU64,
}

/// The eviction parameters as `CONFIG SET` was given them: Redis accepts values the table
/// holds clamped (`maxmemory-samples` above 64, LFU settings above 255), and `CONFIG GET`
/// answers what was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvictionSettings {
    /// `maxmemory-policy`.
    pub policy: kv_nostd::Policy,
    /// `maxmemory-samples`, at least 1.
    pub samples: u32,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`, in minutes.
    pub lfu_decay_time: u32,
}

impl Default for EvictionSettings {
    fn default() -> Self {
        let e = kv_nostd::Eviction::DEFAULT;
        Self {
            policy: e.policy,
            samples: u32::from(e.samples),
            lfu_log_factor: u32::from(e.lfu_log_factor),
            lfu_decay_time: u32::from(e.lfu_decay_time),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            output_limits: Default::default(),
            proto_max_bulk_len: AtomicUsize::new(crate::config::PROTO_MAX_BULK_LEN),
            client_query_buffer_limit: AtomicUsize::new(crate::config::CLIENT_QUERY_BUFFER_LIMIT),
            eviction: Default::default(),
            max_clients: AtomicUsize::new(10_000),
            idle_timeout_secs: AtomicU64::new(0),
        }
    }
}

impl Settings {
    /// The longest bulk string a client may send (Redis's `proto-max-bulk-len`).
    pub fn proto_max_bulk_len(&self) -> usize {
        self.proto_max_bulk_len.load(Ordering::Relaxed)
    }

    /// Sets `proto-max-bulk-len`.
    pub fn set_proto_max_bulk_len(&self, bytes: usize) {
        self.proto_max_bulk_len.store(bytes, Ordering::Relaxed);
    }

    /// The most input one client may have buffered (Redis's `client-query-buffer-limit`).
    pub fn client_query_buffer_limit(&self) -> usize {
        self.client_query_buffer_limit.load(Ordering::Relaxed)
    }

    /// Sets `client-query-buffer-limit`.
    pub fn set_client_query_buffer_limit(&self, bytes: usize) {
        self.client_query_buffer_limit
            .store(bytes, Ordering::Relaxed);
    }

    /// The most clients connected at once (Redis's `maxclients`).
    pub fn max_clients(&self) -> usize {
        self.max_clients.load(Ordering::Relaxed)
    }

    /// Sets `maxclients`.
    pub fn set_max_clients(&self, n: usize) {
        self.max_clients.store(n, Ordering::Relaxed);
    }

    /// Seconds after which an idle client is closed, 0 for never (Redis's `timeout`).
    pub fn idle_timeout_secs(&self) -> u64 {
        self.idle_timeout_secs.load(Ordering::Relaxed)
    }

    /// Sets `timeout`.
    pub fn set_idle_timeout_secs(&self, secs: u64) {
        self.idle_timeout_secs.store(secs, Ordering::Relaxed);
    }

    /// The idle timeout, if there is one.
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        let secs = self.idle_timeout_secs();
        (secs > 0).then(|| std::time::Duration::from_secs(secs))
    }

    /// The eviction parameters now.
    pub fn eviction(&self) -> EvictionSettings {
        *self.eviction.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the eviction parameters, here and in `table` (clamped to what it holds).
    pub fn set_eviction(&self, e: EvictionSettings, table: &Store) {
        let mut held = self.eviction.lock().unwrap_or_else(|e| e.into_inner());
        *held = e;
        table.set_eviction(e.policy, e.samples as usize);
        let byte = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
        table.set_lfu(byte(e.lfu_log_factor), byte(e.lfu_decay_time));
    }

    /// The output buffer limits now.
    pub fn output_limits(&self) -> OutputLimits {
        *self.output_limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the output buffer limits.
    pub fn set_output_limits(&self, limits: OutputLimits) {
        *self.output_limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }
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
    /// Reads that found their key (Redis's `keyspace_hits`).
    pub keyspace_hits: AtomicU64,
    /// Reads that did not (`keyspace_misses`).
    pub keyspace_misses: AtomicU64,
    /// Active expiry turns that stopped at their time limit (`expired_time_cap_reached_count`).
    pub expired_time_cap_reached: AtomicU64,
    /// The share of expired keys among those the active cycle looked at, in percent, as a
    /// moving average (`expired_stale_perc`), stored as `f64` bits.
    pub expired_stale_perc: AtomicU64,
    /// The table's count of expired keys removed when the counters were last reset: INFO's
    /// `expired_keys` counts from there.
    pub expired_base: AtomicUsize,
    /// The table's count of evicted keys when the counters were last reset: INFO's
    /// `evicted_keys` counts from there.
    pub evicted_base: AtomicUsize,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Normal clients dropped at their output buffer limit (subscribers and monitors are
    /// counted by theirs); INFO's `client_output_buffer_limit_disconnections` adds them up.
    pub output_limit_disconnections: AtomicU64,
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Microseconds since the Unix epoch, by the system clock.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Milliseconds since the Unix epoch, by the system clock.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Db {
    /// Advances the table's clock to the system clock's time (never backwards); returns it.
    pub fn tick(&self) -> u64 {
        let now = unix_ms();
        // A read first: within one millisecond the workers' ticks leave the shared clock's
        // cache line alone.
        match self.table.now() {
            clock if clock >= now => clock,
            _ => self.table.advance_clock(now),
        }
    }

    /// Lazy expiry: removes `key` if the table hides it as expired, logging its removal as a
    /// `DEL`, as Redis propagates an expiry. Call after a read that found the key absent. Costs
    /// nothing when no key has a deadline.
    pub fn reap(&self, key: &[u8]) {
        // A replica removes nothing itself: its primary's `DEL` does.
        if self.table.expires() > 0 && !self.repl.is_replica() {
            let _ = self.table.reap(key, &mut |_| {
                self.log(&[b"DEL", key]);
            });
        }
    }

    /// Runs `write`, a table write that needs about `needed` bytes, making room by eviction
    /// as the `maxmemory-policy` says ([`kv_nostd::Table::with_room`]) and logging each key it
    /// removes as a `DEL`, as an expiry is. Every write that may need memory goes through here.
    pub fn with_room<T>(
        &self,
        needed: usize,
        write: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut key = Vec::new();
        self.table.with_room(needed, write, &mut |e| {
            self.log(&[b"DEL", entry_key(e, &mut key)]);
        })
    }

    /// Keys evicted since the counters were last reset (INFO's `evicted_keys`).
    pub fn evicted_keys(&self) -> usize {
        let base = self.stats.evicted_base.load(Ordering::Relaxed);
        self.table.evicted().saturating_sub(base)
    }

    /// Sets INFO's counters back to zero, as `CONFIG RESETSTAT` does: the statistics, the
    /// command and error counts; not the slow log.
    pub fn reset_stats(&self) {
        let s = &self.stats;
        for counter in [
            &s.total_connections,
            &s.rejected_connections,
            &s.total_commands,
            &s.net_input_bytes,
            &s.net_output_bytes,
            &s.keyspace_hits,
            &s.keyspace_misses,
            &s.expired_time_cap_reached,
            &s.output_limit_disconnections,
            &self.pubsub.limit_disconnections,
            &self.monitors.limit_disconnections,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        s.expired_stale_perc
            .store(0f64.to_bits(), Ordering::Relaxed);
        s.expired_base
            .store(self.table.stats().expired, Ordering::Relaxed);
        s.evicted_base
            .store(self.table.evicted(), Ordering::Relaxed);
        self.commands.reset();
        self.errors.reset();
    }

    /// Runs `f` over `keys` with their buckets locked together
    /// ([`kv_nostd::Table::locked`]): no other client sees part of what it does. With
    /// `inserts`, any of the keys may be created.
    pub fn locked<R>(
        &self,
        keys: &[&[u8]],
        inserts: bool,
        f: impl FnOnce(&mut Locked<'_, Region, Region>) -> R,
    ) -> Result<R, Error> {
        with_scratch(keys.len(), |scratch| {
            self.table.locked(keys, scratch, inserts, f)
        })
    }

    /// Runs `f` over `keys` read at one instant ([`kv_nostd::Table::read_locked`]).
    pub fn read_locked<R>(
        &self,
        keys: &[&[u8]],
        f: impl FnOnce(&Locked<'_, Region, Region>) -> R,
    ) -> Result<R, Error> {
        with_scratch(keys.len(), |scratch| {
            self.table.read_locked(keys, scratch, f)
        })
    }

    /// Expired keys removed since the counters were last reset (INFO's `expired_keys`).
    pub fn expired_keys(&self) -> usize {
        let base = self.stats.expired_base.load(Ordering::Relaxed);
        self.table.stats().expired.saturating_sub(base)
    }

    /// Logs `command`, a write as the command that makes it (call under the lock of the keys it
    /// writes, from a table `then` hook): to the append-only log and to the replication
    /// stream, the one place both are fed from. Returns the log position a reply must wait
    /// for, 0 for none.
    pub fn log(&self, command: &[&[u8]]) -> u64 {
        for key in crate::txn::watch::logged_keys(command) {
            self.watches.touch(key);
            if let Some(cluster) = &self.cluster {
                cluster.written(key);
            }
        }
        let feeding = self.repl.is_feeding();
        if self.persist.is_none() && !feeding {
            return 0;
        }
        // The writes of an `EXEC` go between `MULTI` and `EXEC`, in the log (a log cut inside
        // replays none of them) and in the stream (a replica applies all or none). Written only
        // if the transaction writes; while it runs nothing else writes (the gate), so nothing
        // else logs either.
        if self.exec_log.load(Ordering::Relaxed) == EXEC_OPEN {
            self.exec_log.store(EXEC_WRITTEN, Ordering::Relaxed);
            if let Some(p) = &self.persist {
                p.append(&[b"MULTI"]);
            }
            if feeding {
                self.repl.exec_fed.store(true, Ordering::Relaxed);
                self.repl.feed(&[b"MULTI"]);
            }
        }
        if feeding {
            self.repl.feed(command);
        }
        match &self.persist {
            Some(p) => p.append(command),
            None => 0,
        }
    }

    /// Sends `command` to replicas only, not to the log: `PUBLISH`, which Redis propagates so
    /// that a replica's subscribers hear its primary's messages.
    pub fn propagate(&self, command: &[&[u8]]) {
        if self.repl.is_feeding() {
            // Not through `Replication::feed`: a message is no write a reply waits for.
            self.repl.backlog.feed(command);
        }
    }

    /// Runs `f`, the commands of an `EXEC`, under the gate (nothing else touches the table
    /// meanwhile) with their writes framed in the log by `MULTI` and `EXEC`; returns what `f`
    /// returned and the log position the reply must wait for (0 for none).
    pub fn exec<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        self.gate.exclusive(|| {
            self.exec_log.store(EXEC_OPEN, Ordering::Relaxed);
            let result = f();
            let written = self.exec_log.swap(EXEC_CLOSED, Ordering::Relaxed) == EXEC_WRITTEN;
            if self.repl.exec_fed.swap(false, Ordering::Relaxed) {
                self.repl.feed(&[b"EXEC"]);
            }
            let lsn = match (&self.persist, written) {
                (Some(p), true) => p.append(&[b"EXEC"]),
                _ => 0,
            };
            (result, lsn)
        })
    }

    /// A shared handle to this database, once it is shared.
    pub fn shared(&self) -> Option<std::sync::Arc<Db>> {
        self.me.upgrade()
    }

    /// A database over memory reserved as `storage` says, keyed with `hash_key`.
    pub fn new(storage: StorageConfig, hash_key: HashKey) -> std::io::Result<Self> {
        Ok(Self {
            table: crate::storage::open(storage, hash_key)?,
            stats: Stats::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            port: 0,
            persist: None,
            me: std::sync::Weak::new(),
            password: None,
            shutdown: std::sync::OnceLock::new(),
            skip_final_save: std::sync::atomic::AtomicBool::new(false),
            clients: Default::default(),
            pubsub: Default::default(),
            settings: Settings::default(),
            commands: Default::default(),
            errors: Default::default(),
            slowlog: Default::default(),
            monitors: Default::default(),
            launch: std::sync::OnceLock::new(),
            io_loop: std::sync::OnceLock::new(),
            run_ids: [random_hex()?, random_hex()?],
            gate: Default::default(),
            watches: Default::default(),
            exec_log: std::sync::atomic::AtomicU8::new(EXEC_CLOSED),
            repl: crate::repl::Replication::new(&Default::default(), random_hex()?),
            cluster: None,
        })
    }
}

/// Runs `f` with scratch space for a multi-key call over `keys` keys: on the stack for a few
/// (the usual `MGET`, `MSET`, `RENAME`), so they allocate none for it.
fn with_scratch<R>(keys: usize, f: impl FnOnce(&mut [Held]) -> R) -> R {
    const ON_STACK: usize = 16;
    if keys <= ON_STACK {
        let mut scratch = [Held::EMPTY; 3 * ON_STACK];
        f(&mut scratch[..3 * keys])
    } else {
        f(&mut vec![Held::EMPTY; 3 * keys])
    }
}

/// A value read out of the table into a vector, for a command that needs it apart from its reply
/// (`SET ... GET`'s old value). Replies read straight into their buffer
/// ([`crate::reply::BulkSink`], the native protocol's own sink), and snapshots a piece at a time.
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.0.clear();
        self.0.resize(len, 0);
        Some(&mut self.0)
    }

    fn room(&self) -> usize {
        MAX_LENGTH
    }
}

/// A visited entry's key, copied into `buf` (which grows as needed).
pub fn entry_key<'b>(entry: &kv_nostd::Entry<'_>, buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    buf.resize(entry.key_len(), 0);
    // `buf` is exactly the key's length, so the copy fits.
    entry.key(buf).unwrap_or_default()
}

/// A visited entry's value, copied into `buf` (which grows as needed).
pub fn entry_value<'b>(entry: &kv_nostd::Entry<'_>, buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    buf.resize(entry.value_len(), 0);
    let n = entry.read_value(0, buf);
    &buf[..n]
}

/// 40 random hex digits, as Redis's run and replication ids are.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A hash key from the operating system's random source.
pub fn random_hash_key() -> std::io::Result<HashKey> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(std::io::Error::other)?;
    Ok(HashKey(key))
}
