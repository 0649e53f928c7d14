//! Persistence: the backup file (snapshots) and the append-only log, and how they combine;
//! [`import`] loads an RDB file over them at start.
//!
//! Deadlines are Unix milliseconds in both files: the backup file carries each key's, and the log
//! records every deadline as an absolute time (`SET key value PXAT ms`, `PEXPIREAT key ms`), a
//! removed one as `PERSIST key`, and every expiry as `DEL key`. Both are loaded with the table's
//! clock stopped, so no key expires while they load: a record that changed a key's deadline
//! before it passed (a `PERSIST`, a later `PEXPIREAT`) finds the key, as Redis's log loading
//! does. Once everything is loaded the clock starts and one pass removes what has expired
//! meanwhile, before any client connects.
//!
//! Snapshot generation `n` is taken just after the log switches to segment `n`, so the state is
//! snapshot `n` plus segments `n, n+1, ...` replayed in order. A write that races the snapshot is
//! in the log segment either way, and replaying it over a snapshot that already holds it (or a
//! later value, which the log then also holds) ends in the same state. Segments are deleted only
//! once no kept snapshot needs them: the newest and the previous generation both stay loadable.

pub mod aof;
pub mod import;
pub mod snapshot;

use crate::db::{Db, Store};
use aof::{Fsync, Log, Tail};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where and how to persist.
#[derive(Clone, Debug)]
pub struct Options {
    /// The backup file.
    pub backup: PathBuf,
    /// The append-only log's base path; segments are `<aof>.<n>`.
    pub aof: PathBuf,
    /// When the log is fsynced.
    pub fsync: Fsync,
    /// Snapshot this often when there were writes (`None`: only on request and at shutdown).
    pub save_interval: Option<Duration>,
    /// Start empty even if the files on disk cannot be loaded.
    pub force_empty: bool,
}

/// Why the server refuses to start on the files it found.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The persistence of one running server.
pub struct Persistence {
    opts: Options,
    log: Arc<Log>,
    /// Held while a snapshot is written; the generations it writes and keeps.
    saving: Mutex<Generations>,
    /// A background save is running.
    bgsave: AtomicBool,
    /// Writes since the last snapshot began.
    dirty: AtomicU64,
    /// Unix time of the last successful snapshot (or of the start).
    lastsave: AtomicU64,
    /// The log rotates while no `EXEC` runs, so a transaction's records share a segment.
    gate: Arc<crate::txn::gate::Gate>,
    /// Makes the record a new log segment begins with (a replica's stream position), if any.
    first_record: Mutex<Option<FirstRecord>>,
}

/// Makes the record a new log segment begins with, if there is one to write.
pub type FirstRecord = Box<dyn Fn() -> Option<Vec<Vec<u8>>> + Send + Sync>;

#[derive(Clone, Copy, Debug)]
struct Generations {
    /// The log segment being written; the next snapshot is one more.
    segment: u64,
    /// The generation of the backup file on disk (0 before the first).
    on_disk: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Persistence {
    /// Loads the newest usable snapshot into `db`, replays the log after it, and opens the log
    /// for appending. `db` has no persistence attached yet, so replaying logs nothing again.
    pub fn open(opts: Options, db: &Db) -> Result<Self, StartError> {
        let table = &db.table;
        let mut replayer =
            crate::cmd::Client::new(Arc::new(crate::server::clients::Handle::detached(0)), true);
        let started = Instant::now();
        let prev_path = snapshot::previous(&opts.backup);
        let mut loaded: Option<(u64, String)> = None;
        let mut damaged = Vec::new();
        for path in [&opts.backup, &prev_path] {
            if !path.exists() {
                continue;
            }
            match snapshot::load(path, table) {
                Ok(summary) => {
                    if !summary.checked {
                        log::warn!(
                            "{}: no '#end' trailer, so truncation cannot be ruled out (a file in the original format?)",
                            path.display()
                        );
                    }
                    loaded = Some((
                        summary.instance,
                        format!("{} entries from {}", summary.entries, path.display()),
                    ));
                    break;
                }
                Err(e) => {
                    log::error!(
                        "backup {} is damaged ({e}); trying the previous generation",
                        path.display()
                    );
                    damaged.push(format!("{}: {e}", path.display()));
                }
            }
        }
        let segments = aof::segments(&opts.aof).map_err(|e| {
            StartError(format!(
                "cannot list log segments of {}: {e}",
                opts.aof.display()
            ))
        })?;
        let (generation, source) = match loaded {
            Some(found) => found,
            None if !damaged.is_empty() && !opts.force_empty => {
                return Err(StartError(format!(
                    "no usable backup ({}); refusing to start empty over existing data (use --force-empty to override)",
                    damaged.join("; ")
                )));
            }
            None if segments.first().is_some_and(|&s| s > 0) && !opts.force_empty => {
                return Err(StartError(format!(
                    "log segments start at {} but no backup covers what came before; refusing to start (use --force-empty to override)",
                    segments[0]
                )));
            }
            None => (0, "no backup file".to_string()),
        };
        let mut replayed = 0u64;
        // Where the transaction still open after the last record began (segment, offset).
        let mut open_multi: Option<(u64, u64)> = None;
        let mut last = generation;
        let needed: Vec<u64> = segments
            .iter()
            .copied()
            .filter(|&s| s >= generation)
            .collect();
        for (i, &n) in needed.iter().enumerate() {
            if n != generation + i as u64 {
                return Err(StartError(format!(
                    "log segment {} is missing (found {n}); refusing to start with a gap in the log",
                    generation + i as u64
                )));
            }
            let path = aof::segment_path(&opts.aof, n);
            let cannot_read =
                |e: io::Error| StartError(format!("cannot read {}: {e}", path.display()));
            let file = std::fs::File::open(&path).map_err(cannot_read)?;
            let len = file.metadata().map_err(cannot_read)?.len();
            let tail = aof::replay(file, len, |command, at| {
                replayed += 1;
                match command.command() {
                    Some(c) if c.eq_ignore_ascii_case(b"multi") => open_multi = Some((n, at)),
                    Some(c) if c.eq_ignore_ascii_case(b"exec") => open_multi = None,
                    _ => {}
                }
                crate::cmd::replay(command, &mut replayer, db)
            })
            .map_err(cannot_read)?;
            match tail {
                Ok(Tail::Clean) => {}
                Ok(Tail::Torn(at)) if i + 1 == needed.len() => {
                    log::warn!(
                        "{}: the last record is incomplete from byte {at} (a write cut short by a crash); cutting it off",
                        path.display()
                    );
                    let f = std::fs::OpenOptions::new().write(true).open(&path);
                    f.and_then(|f| f.set_len(at).and_then(|()| f.sync_all()))
                        .map_err(|e| StartError(format!("cannot cut {}: {e}", path.display())))?;
                }
                Ok(Tail::Torn(at)) => {
                    return Err(StartError(format!(
                        "{} is damaged at byte {at} and later segments follow it; refusing to start",
                        path.display()
                    )));
                }
                Err(c) => {
                    return Err(StartError(format!(
                        "{} is damaged at byte {}: {}; refusing to start",
                        path.display(),
                        c.offset,
                        c.why
                    )));
                }
            }
            last = n;
        }
        if let Some((n, at)) = open_multi {
            // A crash before `EXEC` was logged: none of it was applied (its commands stayed
            // queued), and none of it may be applied later when new records follow. The log
            // rotates only between transactions, so it began in the last segment.
            let path = aof::segment_path(&opts.aof, n);
            log::warn!(
                "{}: a transaction without its EXEC at the end of the log (from byte {at}, a \
                 crash before it was acknowledged); cutting it off",
                path.display()
            );
            let f = std::fs::OpenOptions::new().write(true).open(&path);
            f.and_then(|f| f.set_len(at).and_then(|()| f.sync_all()))
                .map_err(|e| StartError(format!("cannot cut {}: {e}", path.display())))?;
            replayer.transaction = None;
        }
        if needed.last().is_some_and(|&n| {
            aof::is_first_format(&aof::segment_path(&opts.aof, n)).unwrap_or(false)
        }) {
            // Records of this format go to a segment of their own after it.
            last += 1;
        }
        let log = Log::open(&opts.aof, last, opts.fsync)
            .map_err(|e| StartError(format!("cannot open the log {}: {e}", opts.aof.display())))?;
        // Only now does the clock start, and what expired meanwhile goes; a replica keeps
        // it for its primary to delete (or to change its deadline, in a write the log missed).
        db.tick();
        let expired = if db.repl.is_replica() {
            0
        } else {
            crate::expiry::purge(db)
        };
        db.stats
            .expired_base
            .store(table.stats().expired, Ordering::Relaxed);
        log::info!(
            "loaded {source} and {replayed} log records from {} segment(s) in {:.3}s: {} entries \
             ({expired} expired since they were written left out)",
            needed.len(),
            started.elapsed().as_secs_f64(),
            table.len()
        );
        Ok(Self {
            opts,
            log,
            saving: Mutex::new(Generations {
                segment: last,
                on_disk: generation,
            }),
            bgsave: AtomicBool::new(false),
            dirty: AtomicU64::new(0),
            lastsave: AtomicU64::new(unix_now()),
            gate: Arc::clone(&db.gate),
            first_record: Mutex::new(None),
        })
    }

    /// Sets what makes the record each new log segment begins with.
    pub fn set_first_record(&self, make: FirstRecord) {
        *self.first_record.lock().unwrap_or_else(|e| e.into_inner()) = Some(make);
    }

    /// The log, for the writer thread and for workers waiting on it.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// Logs `command`, a write as the command that makes it; call under the lock of the keys it
    /// writes, so the log's order is the order the writes took effect. Returns the sequence
    /// number the reply must wait for (0 when the policy does not wait).
    pub fn append(&self, command: &[&[u8]]) -> u64 {
        self.logged(self.log.append(command))
    }

    fn logged(&self, lsn: u64) -> u64 {
        self.dirty.fetch_add(1, Ordering::Relaxed);
        if self.log.policy() == Fsync::Always {
            lsn
        } else {
            0
        }
    }

    /// Writes a snapshot now (waiting for one already running). Returns the entries written.
    pub fn save(&self, table: &Store) -> io::Result<u64> {
        let mut gens = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let next = gens.segment + 1;
        let dirty = self.dirty.swap(0, Ordering::Relaxed);
        // Without a backup file now, there will be no previous generation to keep segments for.
        let had_backup = self.opts.backup.exists();
        let rotated = self.gate.exclusive(|| {
            self.log.rotate(next)?;
            // While nothing writes: the record holds for everything the segment follows.
            let first = self.first_record.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(record) = first.as_ref().and_then(|make| make()) {
                let args: Vec<&[u8]> = record.iter().map(Vec::as_slice).collect();
                self.log.append(&args);
            }
            Ok::<(), io::Error>(())
        });
        if rotated.is_ok() {
            gens.segment = next;
        }
        match rotated.and_then(|()| snapshot::write(&self.opts.backup, next, table)) {
            Ok(entries) => {
                // The file just replaced is the previous generation now; its segments stay.
                let previous = if had_backup { gens.on_disk } else { next };
                gens.on_disk = next;
                self.lastsave.store(unix_now(), Ordering::Relaxed);
                self.retire(previous);
                log::info!(
                    "saved {entries} entries to {} (generation {next}) in {:.3}s",
                    self.opts.backup.display(),
                    started.elapsed().as_secs_f64()
                );
                Ok(entries)
            }
            Err(e) => {
                self.dirty.fetch_add(dirty, Ordering::Relaxed);
                log::error!(
                    "saving {} failed: {e}; the last good backup is untouched",
                    self.opts.backup.display()
                );
                Err(e)
            }
        }
    }

    /// Deletes log segments older than `keep_from`, which no kept snapshot needs.
    fn retire(&self, keep_from: u64) {
        let Ok(found) = aof::segments(&self.opts.aof) else {
            return;
        };
        for n in found.into_iter().filter(|&n| n < keep_from) {
            let path = aof::segment_path(&self.opts.aof, n);
            if let Err(e) = std::fs::remove_file(&path) {
                log::warn!("cannot delete old log segment {}: {e}", path.display());
            }
        }
        let _ = aof::sync_dir(&self.opts.aof);
    }

    /// Starts a snapshot on its own thread unless one is running; false if one was.
    pub fn bgsave(self: &Arc<Self>, db: &Arc<crate::db::Db>) -> bool {
        if self.bgsave.swap(true, Ordering::AcqRel) {
            return false;
        }
        let (me, db) = (Arc::clone(self), Arc::clone(db));
        std::thread::spawn(move || {
            let _ = me.save(&db.table);
            me.bgsave.store(false, Ordering::Release);
        });
        true
    }

    /// Unix time of the last successful snapshot.
    pub fn lastsave(&self) -> u64 {
        self.lastsave.load(Ordering::Relaxed)
    }

    /// Writes since the last snapshot.
    pub fn dirty(&self) -> u64 {
        self.dirty.load(Ordering::Relaxed)
    }

    /// Whether a background snapshot is running.
    pub fn bgsave_running(&self) -> bool {
        self.bgsave.load(Ordering::Relaxed)
    }

    /// The save interval.
    pub fn save_interval(&self) -> Option<Duration> {
        self.opts.save_interval
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }
}

/// The default log path: the backup file's, with the extension `.aof`.
pub fn default_aof(backup: &Path) -> PathBuf {
    backup.with_extension("aof")
}
