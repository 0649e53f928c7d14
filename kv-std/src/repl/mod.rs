//! Replication, over Redis's own protocol: a kv primary serves Redis replicas and kv replicas
//! alike, and a kv replica follows a Redis primary or a kv one (`docs/REPLICATION.md`).
//!
//! - [`backlog`]: the stream of writes, numbered by byte, and the backlog partial resyncs read.
//! - [`primary`]: a replica's connection on the primary: `PSYNC`, the full resync (an RDB of the
//!   table taken while writes go on), the stream, the replica's acknowledgements.
//! - [`replica`]: this server's link to its primary: the handshake, loading the RDB, applying
//!   the stream, acknowledging it, reconnecting with a partial resync.
//!
//! **What the stream holds.** Every write reaches the stream through [`crate::db::Db::log`],
//! the one call the append-only log is fed from too, under the lock of the keys it writes: so
//! the stream orders the writes of one key as the table applied them. The commands are effects
//! (`SET k v PXAT ms`, `DEL k`, `PEXPIREAT`), the same whether replayed once or twice, which is
//! what makes a full resync consistent without stopping writes: the primary notes the stream's
//! offset, then visits the table. Every write up to that offset is in the table before the visit
//! reaches its key; every write after it is in the stream sent after the RDB, replayed over a
//! key the RDB may already hold it in, to the same end. The offset is taken under the
//! transaction gate, so a stream never starts inside a `MULTI`/`EXEC`.
//!
//! A replica forwards its primary's stream byte for byte to its own replicas, so offsets agree
//! down a chain; its own writes (it takes none but its primary's) are never fed.

pub mod backlog;
pub mod primary;
pub mod replica;

use crate::db::Db;
use backlog::Backlog;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The replication settings given at start (flags, or the configuration file's Redis names).
#[derive(clap::Args, Debug, Clone)]
pub struct Flags {
    /// Replicate from the server at HOST PORT (Redis's replicaof; REPLICAOF changes it at run
    /// time). Accepts `--replicaof HOST PORT` or `--replicaof "HOST PORT"`.
    #[arg(long, num_args = 1..=2, value_name = "HOST PORT")]
    pub replicaof: Option<Vec<String>>,

    /// The password this server AUTHs with on its primary (Redis's masterauth).
    #[arg(long, value_name = "PASSWORD")]
    pub masterauth: Option<String>,

    /// The user this server AUTHs as on its primary, with --masterauth (Redis's masteruser).
    #[arg(long, value_name = "USER")]
    pub masteruser: Option<String>,

    /// Bytes of the replication stream kept for replicas that reconnect (partial resync).
    #[arg(long, default_value = "1mb", value_parser = parse_size, value_name = "BYTES")]
    pub repl_backlog_size: usize,

    /// Seconds without traffic after which a replication link is dropped, on either side.
    #[arg(long, default_value_t = 60, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub repl_timeout: u64,

    /// Seconds between the PINGs a primary sends its replicas.
    #[arg(long, default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub repl_ping_replica_period: u64,

    /// Send a full resync's RDB straight from the table (`$EOF:` framing) to replicas that
    /// accept it; `no` writes it to a file first and sends its length (`$<len>`).
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub repl_diskless_sync: bool,

    /// Refuse writes (`-NOREPLICAS`) unless this many replicas have acknowledged within
    /// --min-replicas-max-lag seconds (0: off).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub min_replicas_to_write: usize,

    /// The lag, in seconds, within which a replica counts for --min-replicas-to-write.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub min_replicas_max_lag: u64,

    /// Acknowledge a write only once this many replicas have it (0: off). A write is refused
    /// with `-NOREPLICAS` when fewer replicas are connected; a reply whose replicas do not
    /// acknowledge within --repl-timeout becomes that error (the write stays on the primary).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sync_replicas: usize,

    /// While the link to the primary is down or syncing, a replica answers reads with the data
    /// it has (`yes`), or `-MASTERDOWN` (`no`).
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub replica_serve_stale_data: bool,

    /// The priority Sentinel reads to choose a replica to promote (lower first; 0: never).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub replica_priority: u64,

    /// The address this replica tells its primary (Redis's replica-announce-ip).
    #[arg(long, value_name = "IP")]
    pub replica_announce_ip: Option<String>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    crate::config::parse_memory(s)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("expected a size in bytes (such as 1048576 or 1mb), got '{s}'"))
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("expected yes or no, got '{other}'")),
    }
}

impl Flags {
    /// The primary to follow, if `--replicaof` names one (`no one` names none).
    pub fn primary(&self) -> Result<Option<(String, u16)>, String> {
        let Some(words) = &self.replicaof else {
            return Ok(None);
        };
        let words: Vec<&str> = words.iter().flat_map(|w| w.split_whitespace()).collect();
        match words.as_slice() {
            [] => Ok(None),
            [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => {
                Ok(None)
            }
            [host, port] => port
                .parse()
                .map(|p| Some((host.to_string(), p)))
                .map_err(|_| format!("--replicaof: bad port '{port}'")),
            _ => Err("--replicaof takes HOST PORT".into()),
        }
    }
}

impl Default for Flags {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            flags: Flags,
        }
        Only::parse_from(["kv-server"]).flags
    }
}

/// What `CONFIG SET` may change.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `masterauth`.
    pub masterauth: Option<Vec<u8>>,
    /// `masteruser`.
    pub masteruser: Option<Vec<u8>>,
    /// `repl-timeout`.
    pub timeout: Duration,
    /// `repl-ping-replica-period`.
    pub ping_period: Duration,
    /// `repl-diskless-sync`.
    pub diskless: bool,
    /// `min-replicas-to-write`.
    pub min_replicas: usize,
    /// `min-replicas-max-lag`, seconds.
    pub min_replicas_max_lag: u64,
    /// `--sync-replicas`.
    pub sync_replicas: usize,
    /// `replica-serve-stale-data`.
    pub serve_stale: bool,
    /// `replica-priority`.
    pub priority: u64,
    /// `replica-announce-ip`.
    pub announce_ip: Option<String>,
}

impl Settings {
    /// The settings `flags` give.
    pub fn from_flags(flags: &Flags) -> Self {
        Self {
            masterauth: flags.masterauth.as_ref().map(|s| s.as_bytes().to_vec()),
            masteruser: flags.masteruser.as_ref().map(|s| s.as_bytes().to_vec()),
            timeout: Duration::from_secs(flags.repl_timeout),
            ping_period: Duration::from_secs(flags.repl_ping_replica_period),
            diskless: flags.repl_diskless_sync,
            min_replicas: flags.min_replicas_to_write,
            min_replicas_max_lag: flags.min_replicas_max_lag,
            sync_replicas: flags.sync_replicas,
            serve_stale: flags.replica_serve_stale_data,
            priority: flags.replica_priority,
            announce_ip: flags.replica_announce_ip.clone(),
        }
    }
}

/// The ids of this server's replication history (Redis's `replid`, `replid2`).
#[derive(Clone, Debug)]
pub struct Ids {
    /// The history this server's data follows (`master_replid`).
    pub replid: String,
    /// The history it followed before the last change (`master_replid2`; 40 zeros for none).
    pub replid2: String,
    /// The first offset that is not part of `replid2`'s history (`second_repl_offset`; -1).
    pub second_offset: i64,
}

/// A primary this server follows, as `REPLICAOF` named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimaryAddr {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// The replication state of one server.
pub struct Replication {
    /// The stream and its backlog.
    pub backlog: Backlog,
    settings: Mutex<Settings>,
    ids: Mutex<Ids>,
    /// The primary followed, with the link that follows it, or none for a primary.
    following: Mutex<Option<(PrimaryAddr, Arc<replica::Link>)>>,
    /// Whether this server is a replica: it refuses writes and expires nothing itself.
    replica: AtomicBool,
    /// Whether writes are fed to the stream: a primary with a backlog.
    feeding: AtomicBool,
    /// The replicas attached, online or syncing.
    pub replicas: Mutex<Vec<Arc<primary::Attached>>>,
    /// Full resyncs served, partial resyncs accepted, partial resyncs refused.
    pub sync_full: AtomicU64,
    /// See `sync_full`.
    pub sync_partial_ok: AtomicU64,
    /// See `sync_full`.
    pub sync_partial_err: AtomicU64,
    /// Clients waiting on replicas' acknowledgements (`WAIT`, `--sync-replicas`).
    pub waiting: AtomicUsize,
    /// Workers to wake when an acknowledgement arrives that a client may wait for.
    waiters: Mutex<Vec<Arc<crate::server::waker::Waker>>>,
    /// A replica is loading a full resync's data: clients are answered `-LOADING`.
    pub loading: AtomicBool,
    /// A command of the running `EXEC` was fed: `EXEC` must follow.
    pub exec_fed: AtomicBool,
    /// Stops the link and the senders at shutdown.
    pub stopping: AtomicBool,
    /// When replicas were last pinged.
    last_ping: Mutex<Instant>,
    /// Writes are checked against `min-replicas-to-write` or `--sync-replicas`.
    check_writes: AtomicBool,
    /// `--sync-replicas`, readable on every write.
    sync_replicas: AtomicUsize,
    /// `replica-serve-stale-data`, readable on every command of a replica.
    serve_stale: AtomicBool,
}

thread_local! {
    /// The stream offset after the last write this thread fed (`--sync-replicas` holds the
    /// reply of a command that fed one: the command runs on this thread from start to end).
    static FED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The stream offset after the last write the calling thread fed.
pub fn fed_here() -> u64 {
    FED_HERE.with(std::cell::Cell::get)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// 40 random hex digits: a replication id.
pub fn new_replid() -> String {
    let mut bytes = [0u8; 20];
    if getrandom::fill(&mut bytes).is_err() {
        // The clock is as good an id as any when the OS cannot give random bytes.
        let t = crate::db::unix_us();
        bytes[..8].copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 40 zeros: no replication id.
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

impl Replication {
    /// A primary with no replicas, no backlog, and replication id `replid`.
    pub fn new(flags: &Flags, replid: String) -> Self {
        Self {
            backlog: Backlog::new(flags.repl_backlog_size),
            settings: Mutex::new(Settings::from_flags(flags)),
            ids: Mutex::new(Ids {
                replid,
                replid2: NO_ID.into(),
                second_offset: -1,
            }),
            following: Mutex::new(None),
            replica: AtomicBool::new(false),
            feeding: AtomicBool::new(false),
            replicas: Mutex::new(Vec::new()),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::new()),
            loading: AtomicBool::new(false),
            exec_fed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            last_ping: Mutex::new(Instant::now()),
            check_writes: AtomicBool::new(false),
            sync_replicas: AtomicUsize::new(0),
            serve_stale: AtomicBool::new(true),
        }
        .with_settings(Settings::from_flags(flags))
    }

    fn with_settings(self, settings: Settings) -> Self {
        self.set_settings(settings);
        self
    }

    /// Whether writes are checked for replicas (`min-replicas-to-write`, `--sync-replicas`).
    pub fn checks_writes(&self) -> bool {
        self.check_writes.load(Ordering::Relaxed)
    }

    /// `--sync-replicas`: how many replicas must have a write before it is acknowledged.
    pub fn sync_replicas(&self) -> usize {
        if self.is_replica() {
            0
        } else {
            self.sync_replicas.load(Ordering::Relaxed)
        }
    }

    /// Whether a replica answers `-MASTERDOWN`: its link is not streaming and
    /// `replica-serve-stale-data` is off.
    pub fn masterdown(&self) -> bool {
        !self.serve_stale.load(Ordering::Relaxed)
            && self.following().is_some_and(|(_, link)| !link.is_up())
    }

    /// Whether `period` has passed since replicas were last pinged; if so, counts from now.
    pub fn ping_due(&self, period: Duration) -> bool {
        let mut last = lock(&self.last_ping);
        let due = last.elapsed() >= period;
        if due {
            *last = Instant::now();
        }
        due
    }

    /// The settings now.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Changes the settings.
    pub fn set_settings(&self, settings: Settings) {
        self.check_writes.store(
            settings.min_replicas > 0 || settings.sync_replicas > 0,
            Ordering::Relaxed,
        );
        self.sync_replicas
            .store(settings.sync_replicas, Ordering::Relaxed);
        self.serve_stale
            .store(settings.serve_stale, Ordering::Relaxed);
        *lock(&self.settings) = settings;
    }

    /// The replication ids now.
    pub fn ids(&self) -> Ids {
        lock(&self.ids).clone()
    }

    pub(crate) fn set_ids(&self, ids: Ids) {
        *lock(&self.ids) = ids;
    }

    /// Makes this server a replica before it follows anything (it starts with `--replicaof`).
    pub fn mark_replica(&self) {
        self.replica.store(true, Ordering::Release);
    }

    /// Whether this server follows a primary.
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    /// Whether writes go to the stream (a primary with a backlog): checked on every write.
    pub fn is_feeding(&self) -> bool {
        self.feeding.load(Ordering::Relaxed)
    }

    /// The primary followed and its link.
    pub fn following(&self) -> Option<(PrimaryAddr, Arc<replica::Link>)> {
        lock(&self.following).clone()
    }

    /// Feeds a write to the stream (when it is fed at all): called from [`Db::log`], under
    /// the lock of the keys written.
    pub fn feed(&self, command: &[&[u8]]) -> u64 {
        let end = self.backlog.feed(command);
        FED_HERE.with(|f| f.set(end));
        end
    }

    /// Creates the backlog for the first replica, with a new replication id, as Redis does
    /// (its offset then starts counting).
    pub fn start_feeding(&self) {
        if self.is_replica() {
            return;
        }
        if self.backlog.activate() {
            let mut ids = lock(&self.ids);
            ids.replid = new_replid();
        }
        self.feeding.store(true, Ordering::Release);
    }

    /// Registers a worker to wake when acknowledgements arrive.
    pub fn add_waiter(&self, waker: Arc<crate::server::waker::Waker>) {
        lock(&self.waiters).push(waker);
    }

    /// Wakes the workers if any client waits on acknowledgements.
    pub fn wake_waiters(&self) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            for w in lock(&self.waiters).iter() {
                let _ = w.wake();
            }
        }
    }

    /// Replicas whose acknowledged offset is at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        lock(&self.replicas)
            .iter()
            .filter(|r| r.is_online() && r.ack() >= offset)
            .count()
    }

    /// Online replicas that acknowledged within `lag` seconds.
    pub fn good_replicas(&self, lag: u64) -> usize {
        lock(&self.replicas)
            .iter()
            .filter(|r| r.is_online() && r.ack_age().as_secs() <= lag)
            .count()
    }

    /// Online replicas.
    pub fn online_replicas(&self) -> usize {
        lock(&self.replicas)
            .iter()
            .filter(|r| r.is_online())
            .count()
    }

    /// Asks every replica to acknowledge now (`REPLCONF GETACK *` in the stream).
    pub fn request_acks(&self) {
        if self.is_feeding() && !lock(&self.replicas).is_empty() {
            // Not through `feed`: no reply waits for replicas to have it.
            self.backlog.feed(&[b"REPLCONF", b"GETACK", b"*"]);
        }
    }

    /// Whether writes are refused because too few replicas are good (`min-replicas-to-write`,
    /// `--sync-replicas`): the error to answer.
    pub fn refuses_writes(&self) -> Option<&'static str> {
        if self.is_replica() {
            return None;
        }
        let s = lock(&self.settings);
        let (min, lag, sync) = (s.min_replicas, s.min_replicas_max_lag, s.sync_replicas);
        drop(s);
        if min > 0 && self.good_replicas(lag) < min {
            return Some(NOREPLICAS);
        }
        if sync > 0 && self.online_replicas() < sync {
            return Some(NOREPLICAS);
        }
        None
    }

    /// Follows `primary` (none: becomes a primary), as `REPLICAOF` does. Returns false if
    /// nothing changed (already following it).
    pub fn follow(&self, db: &Arc<Db>, primary: Option<PrimaryAddr>) -> bool {
        let mut following = lock(&self.following);
        if following.as_ref().map(|(a, _)| a) == primary.as_ref() {
            return false;
        }
        if let Some((_, link)) = following.take() {
            link.stop();
        }
        match primary {
            None => {
                // Promotion: the history so far stays reachable under its id (replid2), from
                // the next offset on a new one starts, and replicas reconnect to learn it.
                let end = self.backlog.end();
                {
                    let mut ids = lock(&self.ids);
                    ids.replid2 = std::mem::replace(&mut ids.replid, new_replid());
                    ids.second_offset = i64::try_from(end + 1).unwrap_or(i64::MAX);
                }
                self.replica.store(false, Ordering::Release);
                self.loading.store(false, Ordering::Release);
                self.disconnect_replicas();
                if self.backlog.is_active() {
                    self.feeding.store(true, Ordering::Release);
                }
                log::info!("replication: this server is a primary now");
            }
            Some(addr) => {
                self.feeding.store(false, Ordering::Release);
                self.replica.store(true, Ordering::Release);
                // Replicas of this server follow the new history after their own resync.
                self.disconnect_replicas();
                let link = replica::Link::start(db, addr.clone());
                log::info!("replication: following {}:{}", addr.host, addr.port);
                *following = Some((addr, link));
            }
        }
        true
    }

    /// Closes every replica's connection (they reconnect and resync).
    pub fn disconnect_replicas(&self) {
        for r in lock(&self.replicas).iter() {
            r.stop();
        }
        self.backlog.wake_readers();
    }

    /// Stops every thread replication started (shutdown).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        if let Some((_, link)) = lock(&self.following).take() {
            link.stop();
        }
        self.disconnect_replicas();
    }
}

/// The error for a write refused for want of replicas.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
/// The error for a write on a replica.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
/// The error while a replica loads its primary's data.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
/// The error for a command on a replica whose link is down, with stale data not served.
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Starts following the primary `--replicaof` named, if any, and the thread that pings
/// replicas and drops silent ones.
pub fn start(db: &Arc<Db>, primary: Option<(String, u16)>) -> std::io::Result<()> {
    match primary {
        Some((host, port)) => {
            db.repl.follow(db, Some(PrimaryAddr { host, port }));
        }
        None => {
            // A server that starts as a primary keeps no history from its log: writes it made
            // after the last stream position there are not part of that history, so no
            // replica may continue it; each resyncs in full.
            let mut ids = lock(&db.repl.ids);
            ids.replid = new_replid();
            ids.replid2 = NO_ID.into();
            ids.second_offset = -1;
        }
    }
    if let Some(p) = &db.persist {
        // A snapshot retires the log segments that held a replica's stream position: the
        // segment after it begins with the position again, so a replica restarted from its
        // files (after a clean shutdown too) continues its primary's stream.
        let weak = Arc::downgrade(db);
        p.set_first_record(Box::new(move || {
            let db = weak.upgrade()?;
            if !db.repl.is_replica() || db.repl.backlog.end() == 0 {
                return None;
            }
            Some(replica::position(
                &db.repl.ids().replid,
                db.repl.backlog.end(),
            ))
        }));
    }
    let weak = Arc::downgrade(db);
    std::thread::Builder::new()
        .name("kv-repl-cron".into())
        .spawn(move || primary::cron(weak))?;
    Ok(())
}
