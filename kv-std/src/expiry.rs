//! Active expiry: a thread that removes expired keys nobody reads, as Redis's
//! `activeExpireCycle` does.
//!
//! Reads hide an expired key at once, and a command that finds one hidden removes it
//! ([`Db::reap`]); the keys nobody asks for again are this thread's. Ten times a second (Redis's
//! `hz` 10) it advances the table's clock and runs one turn: steps of [`STEP_BUCKETS`] index
//! buckets each, from where the last turn stopped, removing what has expired and logging a `DEL`
//! for each key, as Redis propagates an expiry. The steps are judged in rounds, as Redis judges
//! its samples: a round ends once its steps have looked at [`ROUND_KEYS`] keys with a deadline
//! (Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`), or after [`ROUND_STEPS`] steps in a sparse
//! index; the turn takes another round while more than [`ACCEPTABLE_STALE`] percent of those keys
//! had expired (Redis's threshold at `active-expire-effort` 1). A turn also stops when a cycle
//! over the whole index ends, and after [`TURN_BUDGET`]: 25 ms of every 100, Redis's
//! `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`. Redis also runs a short "fast" cycle before each sleep
//! of its event loop; kv's workers do not, so the thread is the whole of active expiry.
//!
//! After each turn the thread gives back what the table no longer needs
//! ([`kv_nostd::Table::shrink_step`]): index segments that deletes and expiry left sparse merge
//! back, and the empty page each size class keeps goes back to the system, so `used_memory`
//! returns to the empty server's once every key has gone.
//!
//! A step looks at every key in its buckets, with a deadline or not (the table cannot tell them
//! apart without reading the item), where Redis samples only keys with one. So the keys with a
//! deadline a step looked at are estimated from the table's counts (`expires / len` of the keys
//! it examined): with few keys that expire among many that do not, a turn still goes on while
//! the ones it finds are mostly expired.

use crate::db::{entry_key, Db};
use kv_nostd::ExpireCursor;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Turns a second (Redis's `hz`).
pub const HZ: u64 = 10;
/// The longest a turn runs: 25% of its period.
pub const TURN_BUDGET: Duration = Duration::from_millis(1000 / HZ * 25 / 100);
/// Index buckets one step looks at (each holds up to [`kv_nostd::table::BUCKET_SLOTS`] keys).
pub const STEP_BUCKETS: usize = 16;
/// The percentage of expired keys, among the keys with a deadline a round looked at, above which
/// a turn takes another round.
pub const ACCEPTABLE_STALE: usize = 10;
/// Keys with a deadline a round looks at before it is judged.
pub const ROUND_KEYS: usize = 20;
/// The most steps in a round, for an index where keys with a deadline are sparse.
pub const ROUND_STEPS: usize = 1024;

/// The most index segments merged after a turn (a few microseconds each): an index that grew
/// for a million keys (about 4,000 segments) is back to one within a second of their going.
pub const MERGES_PER_TURN: usize = 512;

/// Where active expiry stands between turns.
#[derive(Debug, Default)]
pub struct ActiveExpiry {
    cursor: ExpireCursor,
}

/// What one turn did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    /// Keys looked at.
    pub examined: usize,
    /// Expired keys removed.
    pub expired: usize,
    /// Whether the turn stopped at its time budget.
    pub capped: bool,
}

impl ActiveExpiry {
    /// Active expiry from the start of the index.
    pub fn new() -> Self {
        Self::default()
    }

    /// One turn, with at most `budget` of time: advances the clock, then removes expired keys
    /// step by step as the module describes, logging a `DEL` for each. Updates INFO's
    /// `expired_stale_perc` and `expired_time_cap_reached_count`.
    pub fn turn(&mut self, db: &Db, budget: Duration) -> Turn {
        db.tick();
        let mut turn = Turn::default();
        // A replica expires nothing itself: its primary's `DEL`s do (reads already hide what
        // has expired), so that both hold the same keys.
        if db.table.expires() == 0 || db.repl.is_replica() {
            return turn;
        }
        let started = Instant::now();
        let mut key = Vec::new();
        let mut volatile_seen = 0;
        // The round being judged: keys with a deadline looked at, expired ones removed, steps.
        let (mut round_volatile, mut round_expired, mut round_steps) = (0, 0, 0);
        loop {
            // Before the step removes anything: the share of keys that have a deadline.
            let (len, expires) = (db.table.len(), db.table.expires());
            let step = db.table.expire_step(self.cursor, STEP_BUCKETS, &mut |e| {
                db.log(&[b"DEL", entry_key(e, &mut key)]);
            });
            self.cursor = step.cursor;
            turn.examined += step.examined;
            turn.expired += step.expired;
            let volatile = (step.examined * expires).div_ceil(len.max(1));
            volatile_seen += volatile;
            round_volatile += volatile;
            round_expired += step.expired;
            round_steps += 1;
            if started.elapsed() >= budget {
                turn.capped = true;
                break;
            }
            if self.cursor.is_start() || db.table.expires() == 0 {
                break;
            }
            if round_volatile >= ROUND_KEYS || round_steps >= ROUND_STEPS {
                if round_expired * 100 <= round_volatile * ACCEPTABLE_STALE {
                    break;
                }
                (round_volatile, round_expired, round_steps) = (0, 0, 0);
            }
        }
        let stats = &db.stats;
        if turn.capped {
            crate::db::Stats::add(&stats.expired_time_cap_reached, 1);
        }
        // Redis's moving average: 5% of this turn's share, 95% of the average so far.
        let share = if volatile_seen > 0 {
            turn.expired as f64 / volatile_seen as f64 * 100.0
        } else {
            0.0
        };
        let before = f64::from_bits(stats.expired_stale_perc.load(Ordering::Relaxed));
        let after = share * 0.05 + before * 0.95;
        stats
            .expired_stale_perc
            .store(after.to_bits(), Ordering::Relaxed);
        turn
    }
}

/// Removes every expired key now, in one cycle over the whole index, logging nothing: for a
/// table just loaded, whose clock has only now been advanced. Returns how many it removed.
pub fn purge(db: &Db) -> usize {
    let mut cursor = ExpireCursor::START;
    let mut removed = 0;
    loop {
        let step = db.table.expire_step(cursor, 1024, &mut |_| {});
        removed += step.expired;
        cursor = step.cursor;
        if cursor.is_start() {
            return removed;
        }
    }
}

/// Starts the thread that runs a turn [`HZ`] times a second until `stop` is set.
pub fn spawn(db: Arc<Db>, stop: Arc<AtomicBool>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kv-expire".into())
        .spawn(move || {
            let mut active = ActiveExpiry::new();
            let period = Duration::from_millis(1000 / HZ);
            // Expiries are writes: none while an `EXEC` runs.
            db.gate.register();
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(period);
                let turn = db.gate.enter();
                active.turn(&db, TURN_BUDGET);
                db.table.shrink_step(MERGES_PER_TURN);
                drop(turn);
                // Its `DEL`s go to the replicas now.
                db.repl.backlog.wake_if_fed();
            }
        })
}
