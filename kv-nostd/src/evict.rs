//! Eviction: Redis's eight `maxmemory-policy` choices, approximated with eight bits of access
//! metadata in each slot word and a victim chosen from a small sample of keys.
//!
//! The eight bits (`slot.rs`) mean one of two things, as Redis's 24-bit `lru` field does:
//! - under every policy but the LFU ones, the time of the last access in LRU ticks (the table's
//!   clock divided by [`Table::set_lru_resolution`], 1000 ms by default) modulo 256; idle time is
//!   the difference from the current tick, modulo 256 too, so an idle time of 256 ticks or more
//!   reads as its remainder;
//! - under `allkeys-lfu` and `volatile-lfu`, Redis's logarithmic access counter: new keys start
//!   at [`LFU_INIT_VAL`], an access adds one with probability `1 / ((c - 5) * lfu-log-factor + 1)`.
//!   Redis also keeps 16 bits of minutes since the counter last decayed; there is no room for
//!   them, so the decay is per table: once a decay period (`lfu-decay-time` minutes on the
//!   table's clock) has passed, the keys the evictor samples lose one step each until as many
//!   steps as keys were taken, about one a key, and the pass ends until the next period.
//!
//! A reader sets the bits with a compare-and-swap that changes nothing else (see `slot.rs` for
//! why it cannot disturb writers or readers), and only when they change: under LRU once per tick
//! and key, under LFU when the coin says so.
//!
//! [`Table::evict`] samples random buckets (`maxmemory-samples` keys in all), keeps the best
//! candidates in a pool of [`POOL`] on the stack, as Redis's `evictionPoolPopulate` does, and
//! removes the best one under its bucket's lock if the bucket has not been written since it was
//! sampled. Expired keys met while sampling are removed first. A write that found the index full
//! around its key, with no memory to split the segment, has the next call look first at that
//! key's two buckets ([`Table::with_room`] is the loop a writer runs: evict, write again).

use crate::bucket::{self, Bucket, SLOTS};
use crate::error::Error;
use crate::item::Header;
use crate::memory::Memory;
use crate::scan::Entry;
use crate::segment::Place;
use crate::slot::Slot;
use crate::sync::{AtomicUsize, Ordering, Wait};
use crate::table::Table;

/// The counter a new key starts with under an LFU policy (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;

/// Candidates the evictor keeps between samples (Redis's `EVPOOL_SIZE`).
pub const POOL: usize = 16;

/// Pages [`Table::evict_page`] samples for the one to empty. Two under the model checker,
/// which has only a few pages to choose from and explores every read of each sample.
pub const PAGE_SAMPLES: usize = if cfg!(kv_loom) { 2 } else { 16 };
/// Words of the chunk bitmap of [`Table::evict_page`]: pages of up to 8,192 chunks (a 64 KiB
/// page of the smallest class).
const PAGE_CHUNK_WORDS: usize = 128;
/// The longest key [`Table::evict_page`] reads from a chunk; items with longer keys stay.
const PAGE_KEY_BYTES: usize = 1024;

/// The most keys one [`Table::evict`] call removes.
pub const MAX_VICTIMS: usize = 64;

/// The most times [`Table::with_room`] evicts and tries a write again: a call of
/// [`Table::evict`] frees whole items, but memory comes back in whole pages, so one round does
/// not always make room.
pub const EVICT_ROUNDS: usize = 3;

/// The most pages [`Table::with_room`] empties for one write, after [`EVICT_ROUNDS`] did not
/// make room ([`Table::evict_page`]).
pub const EVICT_PAGE_ROUNDS: usize = 16;

/// Rounds of random samples that found no victim before [`Table::evict`] looks at every
/// bucket instead.
const SWEEP_AFTER: usize = 4;

/// Redis's `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Writes that need memory answer [`Error::NoSpace`].
    #[default]
    NoEviction,
    /// The least recently used key, of all.
    AllKeysLru,
    /// The least frequently used key, of all.
    AllKeysLfu,
    /// A random key.
    AllKeysRandom,
    /// The least recently used key with a deadline.
    VolatileLru,
    /// The least frequently used key with a deadline.
    VolatileLfu,
    /// A random key with a deadline.
    VolatileRandom,
    /// The key with the nearest deadline.
    VolatileTtl,
}

impl Policy {
    const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// Every policy, in Redis's documentation order.
    pub fn all() -> [Policy; 8] {
        Self::ALL
    }

    /// Redis's name for it (`allkeys-lru`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy of a Redis name, in any case.
    pub fn from_name(name: &str) -> Option<Policy> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether the slot metadata is an LFU counter under this policy (else a time of access).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether only keys with a deadline may be evicted.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn of_code(c: usize) -> Policy {
        Self::ALL[c & 7]
    }
}

/// The eviction settings, as Redis's configuration names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`: keys sampled for each victim, 1 to 64 (default 5).
    pub samples: u8,
    /// `lfu-log-factor` (default 10).
    pub lfu_log_factor: u8,
    /// `lfu-decay-time` in minutes (default 1); 0 turns decay off. See the module docs for how
    /// decay is approximated.
    pub lfu_decay_time: u8,
}

impl Eviction {
    /// Redis's defaults.
    pub const DEFAULT: Eviction = Eviction {
        policy: Policy::NoEviction,
        samples: 5,
        lfu_log_factor: 10,
        lfu_decay_time: 1,
    };

    pub(crate) const fn pack(self) -> usize {
        self.policy as usize
            | (self.samples as usize) << 4
            | (self.lfu_log_factor as usize) << 12
            | (self.lfu_decay_time as usize) << 20
    }

    pub(crate) fn unpack(w: usize) -> Eviction {
        Eviction {
            policy: Policy::of_code(w),
            samples: (w >> 4) as u8,
            lfu_log_factor: (w >> 12) as u8,
            lfu_decay_time: (w >> 20) as u8,
        }
    }
}

/// What one [`Table::evict`] call removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvictStats {
    /// Live keys evicted.
    pub evicted: usize,
    /// Expired keys removed while sampling.
    pub reaped: usize,
    /// Bytes of the removed items (chunks or pages), as [`Table::item_bytes`] counts them.
    pub freed_bytes: usize,
}

/// A key the evictor sampled: where its slot was, what it held, and how good a victim it is.
#[derive(Clone, Copy)]
struct Candidate {
    score: u64,
    segment: usize,
    bucket: usize,
    slot: usize,
    seen: Slot,
    version: usize,
}

/// A 64-bit mix (splitmix64's finaliser).
#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Redis's `LFULogIncr`, with `r` a uniform random number.
#[inline]
pub(crate) fn lfu_incr(c: u8, factor: u8, r: u64) -> u8 {
    if c == u8::MAX {
        return c;
    }
    let base = u64::from(c.saturating_sub(LFU_INIT_VAL));
    // p = 1 / (base * factor + 1), compared in 32-bit fixed point.
    let den = base * u64::from(factor) + 1;
    if (r & 0xffff_ffff) * den < 1 << 32 {
        c + 1
    } else {
        c
    }
}

/// How good a victim the key in slot `s` (with `deadline`) is under `policy`, higher better:
/// the longest idle under LRU, the lowest counter under LFU, the nearest deadline under
/// `volatile-ttl`, and `random` under a random policy. `tick` is the current LRU tick.
fn victim_score(policy: Policy, s: Slot, deadline: Option<u64>, tick: u8, random: u64) -> u64 {
    match policy {
        Policy::AllKeysLfu | Policy::VolatileLfu => u64::from(u8::MAX - s.meta()),
        Policy::AllKeysRandom | Policy::VolatileRandom => random,
        Policy::VolatileTtl => u64::MAX - deadline.unwrap_or(u64::MAX),
        Policy::AllKeysLru | Policy::VolatileLru | Policy::NoEviction => {
            u64::from(idle_ticks(s.meta(), tick))
        }
    }
}

/// Ticks between an access at `stamp` and `now`, modulo 256.
#[inline]
pub(crate) fn idle_ticks(stamp: u8, now: u8) -> u8 {
    now.wrapping_sub(stamp)
}

/// The table state the eviction code keeps.
pub(crate) struct EvictState {
    /// [`Eviction::pack`].
    pub(crate) config: AtomicUsize,
    /// Milliseconds per LRU tick.
    pub(crate) lru_ms: AtomicUsize,
    /// Advanced once per [`Table::evict`] call, to seed its sampling.
    pub(crate) seed: AtomicUsize,
    /// Live keys evicted.
    pub(crate) evicted: AtomicUsize,
    /// Where a write last found the index full around its key and could not split the segment
    /// for want of memory: the segment + 1 (0 for nowhere), and the key's two buckets
    /// (`b1 << 16 | b2`; a segment has at most 65,536 buckets). A hint the next
    /// [`Table::evict`] takes: a torn pair only samples other buckets.
    pub(crate) room_segment: AtomicUsize,
    pub(crate) room_buckets: AtomicUsize,
    /// The last LFU decay period (the clock in `lfu-decay-time` units) whose decay pass ended.
    pub(crate) decayed_period: AtomicUsize,
    /// Counters decremented in the current decay pass.
    pub(crate) decayed: AtomicUsize,
    /// Read counts that give each LFU access a coin of its own, by key hash, each on a cache
    /// line of its own so readers of different keys share no line.
    pub(crate) coins: [Coin; COINS],
}

/// Shards of the LFU coin counter: one under the model checker and on 32-bit targets
/// (microcontrollers, where a kilobyte of RAM counts for more than contention).
const COINS: usize = if cfg!(any(kv_loom, target_pointer_width = "32")) {
    1
} else {
    16
};

const _: () = assert!(COINS.is_power_of_two());

/// One shard of the LFU coin counter.
#[cfg_attr(not(target_pointer_width = "32"), repr(align(64)))]
pub(crate) struct Coin(AtomicUsize);

impl EvictState {
    #[cfg(not(kv_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            config: AtomicUsize::new(Eviction::DEFAULT.pack()),
            lru_ms: AtomicUsize::new(1000),
            seed: AtomicUsize::new(0),
            evicted: AtomicUsize::new(0),
            room_segment: AtomicUsize::new(0),
            room_buckets: AtomicUsize::new(0),
            decayed_period: AtomicUsize::new(0),
            decayed: AtomicUsize::new(0),
            coins: [const { Coin(AtomicUsize::new(0)) }; COINS],
        }
    }

    #[cfg(kv_loom)]
    pub(crate) fn new() -> Self {
        Self {
            config: AtomicUsize::new(Eviction::DEFAULT.pack()),
            lru_ms: AtomicUsize::new(1000),
            seed: AtomicUsize::new(0),
            evicted: AtomicUsize::new(0),
            room_segment: AtomicUsize::new(0),
            room_buckets: AtomicUsize::new(0),
            decayed_period: AtomicUsize::new(0),
            decayed: AtomicUsize::new(0),
            coins: core::array::from_fn(|_| Coin(AtomicUsize::new(0))),
        }
    }
}

impl<A: Memory, I: Memory> Table<A, I> {
    /// The eviction settings.
    pub fn eviction(&self) -> Eviction {
        Eviction::unpack(self.evict.config.load(Ordering::Relaxed))
    }

    /// Sets the policy and `maxmemory-samples` (clamped to 1..=64), keeping the LFU settings.
    pub fn set_eviction(&self, policy: Policy, samples: usize) {
        let mut e = self.eviction();
        e.policy = policy;
        // At most 64 after the clamp.
        e.samples = samples.clamp(1, 64) as u8;
        self.evict.config.store(e.pack(), Ordering::Relaxed);
    }

    /// Sets `lfu-log-factor` and `lfu-decay-time` (minutes; 0 for no decay).
    pub fn set_lfu(&self, log_factor: u8, decay_time: u8) {
        let mut e = self.eviction();
        e.lfu_log_factor = log_factor;
        e.lfu_decay_time = decay_time;
        self.evict.config.store(e.pack(), Ordering::Relaxed);
    }

    /// Sets the length of an LRU tick in milliseconds of the table's clock (at least 1; 1000 by
    /// default, Redis's `LRU_CLOCK_RESOLUTION`). Idle times are kept modulo 256 ticks: a longer
    /// tick tells longer idle times apart, a shorter one finer ones.
    pub fn set_lru_resolution(&self, ms: usize) {
        self.evict.lru_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Live keys evicted since the table was built (Redis's `evicted_keys`).
    pub fn evicted(&self) -> usize {
        self.evict.evicted.load(Ordering::Relaxed)
    }

    /// The current LRU tick, modulo 256.
    fn lru_tick(&self) -> u8 {
        (self.clock.now() / self.evict.lru_ms.load(Ordering::Relaxed) as u64) as u8
    }

    /// The metadata a newly linked key starts with; `old`, the metadata of the item it
    /// replaces, if any.
    pub(crate) fn fresh_meta(&self, old: Option<Slot>) -> u8 {
        let e = self.eviction();
        if e.policy.is_lfu() {
            // An overwrite keeps the key's counter, as Redis's `dbSetValue` does.
            old.map_or(LFU_INIT_VAL, Slot::meta)
        } else {
            self.lru_tick()
        }
    }

    /// Records an access of the key of hash `h` in slot `j` of bucket `b`, seen as `s`.
    #[inline]
    pub(crate) fn touch(&self, b: bucket::Bucket<'_>, j: usize, s: Slot, h: u64) {
        let e = self.eviction();
        let m = if e.policy.is_lfu() {
            if s.meta() == u8::MAX {
                return;
            }
            // A fresh number for each access (Redis calls `rand()`): the key's hash and a count
            // of accesses of keys that share its shard.
            // COINS is a power of two (1 under the model checker).
            let coin = &self.evict.coins[h as usize & (COINS - 1)].0;
            let n = coin.fetch_add(1, Ordering::Relaxed) as u64;
            lfu_incr(s.meta(), e.lfu_log_factor, mix(h ^ n.rotate_left(29)))
        } else {
            self.lru_tick()
        };
        if m != s.meta() {
            // A failure means the slot changed: a writer's store, or another reader's touch.
            let _ = b.touch(j, s, m);
        }
    }

    /// The raw access metadata of `key` (a time of access in LRU ticks, or an LFU counter, as
    /// the policy says), or `None` if the key is absent or expired.
    pub fn access_info(&self, key: &[u8]) -> Result<Option<u8>, Error> {
        self.check_key(key)?;
        let h = self.hash(key);
        let view = self.arena.view();
        let Some((_guards, _, _, s)) = self.find_for_write(view, h, key, Wait::Block)? else {
            return Ok(None);
        };
        let e = Self::entry(view, s.loc());
        Ok((!self.is_expired(e.deadline)).then_some(s.meta()))
    }

    /// What `OBJECT IDLETIME` answers for metadata `meta` read as a time of access: seconds
    /// since that access (modulo 256 LRU ticks).
    pub fn idle_seconds(&self, meta: u8) -> u64 {
        let ticks = u64::from(idle_ticks(meta, self.lru_tick()));
        ticks * self.evict.lru_ms.load(Ordering::Relaxed) as u64 / 1000
    }

    /// What `OBJECT FREQ` answers for metadata `meta` read as an LFU counter.
    pub fn lfu_frequency(&self, meta: u8) -> u8 {
        meta
    }

    /// Runs `write`, a table write that needs about `needed` bytes (as [`Table::item_bytes`]
    /// counts them). If it answers [`Error::NoSpace`] and the policy evicts, removes keys as the
    /// policy says ([`Table::evict`], asking for twice the room each round) and tries the write
    /// again, up to [`EVICT_ROUNDS`] times, then empties whole pages ([`Table::evict_page`]) up
    /// to [`EVICT_PAGE_ROUNDS`] times, then evicts again until the write fits. `then` is called
    /// with every key removed, as by [`Table::evict`]. So a write answers `NoSpace` only when
    /// no key is left that the policy may evict (or the policy is `noeviction`), or when it
    /// needs more than the whole limit, and then nothing is evicted for it.
    pub fn with_room<T>(
        &self,
        needed: usize,
        mut write: impl FnMut() -> Result<T, Error>,
        then: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<T, Error> {
        let mut result = write();
        // A write larger than the whole limit never fits: nothing is evicted for it.
        if needed > self.budget.limit() {
            return result;
        }
        for round in 0..EVICT_ROUNDS {
            if !matches!(result, Err(Error::NoSpace)) {
                return result;
            }
            // Twice as much each round: freed chunks of another size class, or pages still
            // holding other items, do not make room; emptying a page takes more victims.
            if self.evict(needed.saturating_mul(1 << round), then).is_err() {
                break;
            }
            result = write();
        }
        // Still no room: the sizes written changed class, and the keys the policy chose freed
        // chunks this write cannot use. Empty whole pages, which any class can take.
        for _ in 0..EVICT_PAGE_ROUNDS {
            if !matches!(result, Err(Error::NoSpace)) {
                return result;
            }
            if self.evict_page(then).is_err() {
                break;
            }
            result = write();
        }
        // Still none (a value that needs several whole pages, pages that keep items a volatile
        // policy may not evict): evict as the policy says until the write fits or nothing is
        // left to evict. Each round removes a key at least, so at most as many rounds as keys.
        let mut left = self.len();
        let ask = needed.saturating_mul(1 << EVICT_ROUNDS);
        while matches!(result, Err(Error::NoSpace)) && left > 0 {
            match self.evict(ask, then) {
                Ok(stats) => left = left.saturating_sub(stats.evicted + stats.reaped),
                Err(_) => break,
            }
            result = write();
        }
        result
    }

    /// Makes room for a write of `needed_bytes` (as [`Table::item_bytes`] counts them) by
    /// removing keys as the policy says; the caller calls it when a write answered
    /// [`Error::NoSpace`] and then retries the write (and may call it again if the write still
    /// does not fit). `then` is called with every removed key, evicted or expired, while its
    /// bucket is locked (a log records a delete there).
    ///
    /// Memory is counted in whole arena pages, and a page comes back only when its last item
    /// goes, so removing `needed_bytes` of items does not always make room for the write. A call
    /// stops when the budget has `needed_bytes` to spare, when the items it removed add up to
    /// `needed_bytes` (a chunk the write can use is then likely free), or after
    /// [`MAX_VICTIMS`] keys. [`Error::NoSpace`] when it removed nothing: the policy is
    /// `noeviction`, or no key may be evicted (a volatile policy and no key with a deadline).
    pub fn evict(
        &self,
        needed_bytes: usize,
        then: &mut dyn FnMut(&Entry<'_>),
    ) -> Result<EvictStats, Error> {
        let e = self.eviction();
        if e.policy == Policy::NoEviction {
            return Err(Error::NoSpace);
        }
        self.arena.drain_deferred(&self.budget);
        let seed = self.evict.seed.fetch_add(1, Ordering::Relaxed) as u64;
        let mut rng = mix(seed ^ self.clock.now().rotate_left(32) ^ self.len() as u64);
        let mut next = move || {
            rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(rng)
        };
        let mut pool: [Option<Candidate>; POOL] = [None; POOL];
        let mut stats = EvictStats::default();
        let mut fruitless = 0;
        // A write that needs a slot where the index is full takes the first round: the policy's
        // best victim of the key's two buckets, so the key finds a slot without the index
        // growing by a segment, which only emptying a page could pay for at the limit.
        if let Some((id, b1, b2)) = self.take_room_wanted() {
            let mut buckets = [(id, b1), (id, b2)].into_iter();
            let both = Eviction {
                samples: (2 * SLOTS) as u8,
                ..e
            };
            self.sample(
                both,
                (2, next()),
                &mut || buckets.next(),
                &mut pool,
                &mut stats,
                then,
            );
            self.evict_best(&mut pool, &mut stats, then);
        }
        while stats.evicted < MAX_VICTIMS {
            if stats.evicted + stats.reaped > 0
                && (self.budget.used().saturating_add(needed_bytes) <= self.budget.limit()
                    || stats.freed_bytes >= needed_bytes)
            {
                break;
            }
            // Random buckets, or, after rounds that found no victim, every bucket from a random
            // one on: a policy whose keys are rare among the sampled still finds one, and
            // `NoSpace` then means none was left.
            let sweep = fruitless >= SWEEP_AFTER;
            let (per_segment, segments) = (self.index.lay.mask + 1, self.index.segments());
            let total = per_segment * segments;
            let mut at = next() as usize % total;
            let salt = next();
            let mut swept = 0;
            let mut pick = || {
                if !sweep {
                    let r = next();
                    let id = (r % segments as u64) as usize;
                    return Some((id, ((r >> 32) % per_segment as u64) as usize));
                }
                if swept == total {
                    return None;
                }
                swept += 1;
                at = (at + 1) % total;
                Some((at / per_segment, at % per_segment))
            };
            let looks = if sweep {
                total
            } else {
                usize::from(e.samples) * 4
            };
            self.sample(e, (looks, salt), &mut pick, &mut pool, &mut stats, then);
            if !self.evict_best(&mut pool, &mut stats, then) {
                let some_left = if e.policy.is_volatile() {
                    self.expires() > 0
                } else {
                    !self.is_empty()
                };
                if sweep || !some_left {
                    break;
                }
                fruitless += 1;
            }
        }
        if stats.evicted + stats.reaped == 0 {
            return Err(Error::NoSpace);
        }
        Ok(stats)
    }

    /// Notes that a write found segment `id` full around a key of place `place` and could not
    /// split it for want of memory ([`EvictState::room_segment`]).
    pub(crate) fn want_room(&self, id: usize, place: Place) {
        self.evict
            .room_buckets
            .store(place.b1 << 16 | place.b2, Ordering::Relaxed);
        self.evict.room_segment.store(id + 1, Ordering::Relaxed);
    }

    /// The place [`Table::want_room`] noted last, if any since the last call, and if it names
    /// buckets of a segment in use.
    fn take_room_wanted(&self) -> Option<(usize, usize, usize)> {
        let id = self
            .evict
            .room_segment
            .swap(0, Ordering::Relaxed)
            .checked_sub(1)?;
        let buckets = self.evict.room_buckets.load(Ordering::Relaxed);
        let (b1, b2) = (buckets >> 16, buckets & 0xffff);
        let per_segment = self.index.lay.mask + 1;
        (id < self.index.segments() && b1 < per_segment && b2 < per_segment).then_some((id, b1, b2))
    }

    /// The bytes an entry's item takes.
    fn bytes_of(&self, e: &Entry<'_>) -> usize {
        self.item_bytes(e.key_len(), e.value_len())
    }

    /// Looks at the buckets `pick` names (up to `looks` of them) until `e.samples` keys the
    /// policy may evict were seen (random scores drawn with `salt`), removing expired keys and adding the others to `pool`.
    fn sample(
        &self,
        e: Eviction,
        (looks, salt): (usize, u64),
        pick: &mut dyn FnMut() -> Option<(usize, usize)>,
        pool: &mut [Option<Candidate>; POOL],
        stats: &mut EvictStats,
        then: &mut dyn FnMut(&Entry<'_>),
    ) {
        let view = self.arena.view();
        let samples = usize::from(e.samples.max(1));
        let (mut seen, mut looked) = (0, 0);
        while seen < samples && looked < looks {
            looked += 1;
            let Some((id, bi)) = pick() else {
                return;
            };
            if id >= self.index.segments() {
                continue;
            }
            let seg = self.index.segment(id);
            let b = seg.bucket(bi);
            // Blocking mode never answers Busy.
            let Ok(guard) = b.lock(Wait::Block) else {
                return;
            };
            let tick = self.lru_tick();
            let mut gone: [Option<Entry<'_>>; SLOTS] = core::array::from_fn(|_| None);
            // With no key that has a deadline (read under the lock: one that gains one now
            // waits for it), neither the reaping nor the scores need the items: the slot words
            // say all, and the items' headers, a cache miss each, are left unread.
            let deadlines = self.expires() > 0;
            if deadlines {
                let (_, n) = self.unlink_expired(view, &b, &mut gone);
                stats.reaped += n;
            }
            // After the reaping write: what a victim's bucket must still show.
            let version = b.version();
            for j in 0..SLOTS {
                let mut s = b.slot(j);
                if !s.is_occupied() {
                    continue;
                }
                let deadline = if deadlines {
                    view.deadline(s.loc(), &view.header(s.loc()))
                } else {
                    None
                };
                if e.policy.is_volatile() && deadline.is_none() {
                    continue;
                }
                seen += 1;
                if e.policy.is_lfu() && s.meta() > 0 && self.decay_due(e) {
                    let m = s.meta() - 1;
                    if b.touch(j, s, m) {
                        s = s.with_meta(m);
                    }
                }
                let score = victim_score(e.policy, s, deadline, tick, mix(salt ^ s.loc() as u64));
                Self::offer(
                    pool,
                    Candidate {
                        score,
                        segment: id,
                        bucket: bi,
                        slot: j,
                        seen: s,
                        version,
                    },
                );
            }
            for entry in gone.iter().flatten() {
                then(entry);
            }
            drop(guard);
            for entry in gone.iter().flatten() {
                stats.freed_bytes += self.bytes_of(entry);
                self.retire(view, entry.loc, Wait::Block);
            }
        }
    }

    /// Whether a key the evictor sampled should lose one step of its LFU counter: while the
    /// current decay period's pass has not yet decremented as many counters as there are keys
    /// (so each key about once a period, as Redis decays by one a period). Counts the step.
    fn decay_due(&self, e: Eviction) -> bool {
        if e.lfu_decay_time == 0 {
            return false;
        }
        let period = (self.clock.now() / (u64::from(e.lfu_decay_time) * 60_000)) as usize;
        let done = &self.evict.decayed_period;
        if done.load(Ordering::Relaxed) >= period {
            return false;
        }
        if self.evict.decayed.fetch_add(1, Ordering::Relaxed) + 1 >= self.len() {
            done.fetch_max(period, Ordering::Relaxed);
            self.evict.decayed.store(0, Ordering::Relaxed);
        }
        true
    }

    /// Puts `c` in the pool in place of a free entry, or of the worst if `c` is better.
    fn offer(pool: &mut [Option<Candidate>; POOL], c: Candidate) {
        // The same slot sampled again: keep the newer sighting.
        if let Some(p) = pool.iter_mut().find(|p| {
            p.is_some_and(|p| (p.segment, p.bucket, p.slot) == (c.segment, c.bucket, c.slot))
        }) {
            *p = Some(c);
            return;
        }
        let worst = pool
            .iter_mut()
            .min_by_key(|p| p.map_or(None, |p| Some(p.score)));
        if let Some(w) = worst {
            if w.is_none_or(|w| w.score < c.score) {
                *w = Some(c);
            }
        }
    }

    /// Removes the pool's best candidate whose bucket was not written since it was sampled;
    /// whether one was.
    fn evict_best(
        &self,
        pool: &mut [Option<Candidate>; POOL],
        stats: &mut EvictStats,
        then: &mut dyn FnMut(&Entry<'_>),
    ) -> bool {
        let view = self.arena.view();
        while let Some(best) = pool.iter_mut().filter(|p| p.is_some()).max_by_key(|p| {
            // Filtered to `Some`.
            p.map_or(0, |p| p.score)
        }) {
            let Some(c) = best.take() else {
                return false;
            };
            if c.segment >= self.index.segments() {
                continue;
            }
            let b = self.index.segment(c.segment).bucket(c.bucket);
            // Blocking mode never answers Busy.
            let Ok(guard) = b.lock(Wait::Block) else {
                return false;
            };
            // Unwritten since the sample (a touch is no write): the slot still links the
            // sampled item, so a key overwritten, moved or deleted meanwhile is left alone.
            if !bucket::unchanged(c.version, b.version()) {
                continue;
            }
            let s = b.slot(c.slot);
            if !s.same_item(c.seen) {
                continue;
            }
            self.remove_victim(b, c.slot, Self::entry(view, s.loc()), guard, stats, then);
            return true;
        }
        false
    }

    /// Removes slot `j` of bucket `b`, which links `entry` and is locked by `guard`: counted as
    /// evicted, or as expired if it is. `then` is called before the unlock, the item freed after.
    fn remove_victim<G>(
        &self,
        b: Bucket<'_>,
        j: usize,
        entry: Entry<'_>,
        guard: G,
        stats: &mut EvictStats,
        then: &mut dyn FnMut(&Entry<'_>),
    ) {
        if self.is_expired(entry.deadline) {
            stats.reaped += 1;
            self.expired.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.evicted += 1;
            self.evict.evicted.fetch_add(1, Ordering::Relaxed);
        }
        b.begin_write();
        b.set(j, Slot::EMPTY);
        b.end_write();
        self.len.fetch_sub(1, Ordering::Relaxed);
        if entry.deadline.is_some() {
            self.expires.fetch_sub(1, Ordering::Relaxed);
        }
        then(&entry);
        drop(guard);
        stats.freed_bytes += self.bytes_of(&entry);
        self.retire(self.arena.view(), entry.loc, Wait::Block);
    }

    /// Empties one arena page of small items, evicting every key on it that the policy allows.
    /// For when [`Table::evict`] does not make room: the keys it removes free chunks of their
    /// own size class, but a write of another class, or the index growing by a segment, needs a
    /// whole page, which comes back only when its last item goes (memcached's slab rebalancer
    /// moves pages between classes for the same reason). [`Error::NoSpace`] when it removed
    /// nothing.
    ///
    /// Of [`PAGE_SAMPLES`] pages sampled it takes the one whose most valuable item the policy
    /// values least (under an LRU policy, the page whose most recently used item is the least
    /// recent), and of those the one with the fewest items: a page that holds a few keys read
    /// all the time is not emptied for them being few. Each item is scored from its slot read
    /// without a lock, a hint.
    ///
    /// The keys are read from the chunks without a lock; each is then looked up and removed
    /// only if its slot still links that very chunk, so a chunk freed and reused meanwhile (or
    /// the tail of a large value, which has no header) removes nothing it should not.
    pub fn evict_page(&self, then: &mut dyn FnMut(&Entry<'_>)) -> Result<EvictStats, Error> {
        let e = self.eviction();
        let touched = self.arena.pages_touched();
        if e.policy == Policy::NoEviction || touched == 0 {
            return Err(Error::NoSpace);
        }
        let mut rng = mix(self.clock.now() ^ self.len() as u64 ^ touched as u64);
        let mut used = [0u64; PAGE_CHUNK_WORDS];
        let mut key = [0u8; PAGE_KEY_BYTES];
        let tick = self.lru_tick();
        // (the score of the page's most valuable item, its items, the page)
        let mut best: Option<(u64, usize, usize)> = None;
        for _ in 0..PAGE_SAMPLES {
            rng = mix(rng.wrapping_add(0x9e37_79b9_7f4a_7c15));
            let p = (rng % touched as u64) as usize;
            if self.arena.slab_items(p).unwrap_or(0) == 0 {
                continue;
            }
            let (mut keep, mut items) = (u64::MAX, 0);
            self.page_items(p, &mut used, &mut key, &mut |key, loc, hdr| {
                items += 1;
                keep = keep.min(self.page_item_score(key, loc, hdr, e, tick));
            });
            let better = best.is_none_or(|(k, n, _)| keep > k || (keep == k && items < n));
            if items > 0 && better {
                best = Some((keep, items, p));
            }
        }
        let (_, _, p) = best.ok_or(Error::NoSpace)?;
        let mut stats = EvictStats::default();
        self.page_items(p, &mut used, &mut key, &mut |key, loc, _| {
            self.evict_at(key, loc, e, &mut stats, then);
        });
        if stats.evicted + stats.reaped == 0 {
            return Err(Error::NoSpace);
        }
        Ok(stats)
    }

    /// Calls `f` with the key, location and header of every item on page `p` (none if it is
    /// not a page of small items), reading the keys into `key`; `used` is scratch for the page's
    /// chunk bitmap. Keys longer than `key`, and headers that do not fit their chunk (a chunk
    /// being reused as it is read), are passed over.
    fn page_items(
        &self,
        p: usize,
        used: &mut [u64; PAGE_CHUNK_WORDS],
        key: &mut [u8; PAGE_KEY_BYTES],
        f: &mut dyn FnMut(&[u8], usize, &Header),
    ) {
        let Some(size) = self.arena.chunks_in_use(p, used) else {
            return;
        };
        let view = self.arena.view();
        let base = view.page_loc(p) * 8;
        for (w, bits) in used.iter().enumerate() {
            let mut bits = *bits;
            while bits != 0 {
                let k = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let loc = (base + k * size) / 8;
                let hdr = view.header(loc);
                if hdr.key_at + hdr.klen > size || hdr.klen > key.len() {
                    continue;
                }
                let key = &mut key[..hdr.klen];
                view.read(loc, &hdr, hdr.key_at, key);
                f(key, loc, &hdr);
            }
        }
    }

    /// How good a victim the small item at `loc` (of header `hdr`, which fits its chunk) is, as
    /// [`Table::sample`] scores keys (higher is better); 0, the worst, for a key the policy may
    /// not evict or whose slot no longer links the item. Read without a lock.
    fn page_item_score(&self, key: &[u8], loc: usize, hdr: &Header, e: Eviction, tick: u8) -> u64 {
        let h = self.hash(key);
        let (seg, _, _) = self.index.lookup_segment(h);
        let place = Place::of(h, seg.mask);
        let found = [seg.bucket(place.b1), seg.bucket(place.b2)]
            .into_iter()
            .flat_map(|b| (0..SLOTS).map(move |j| b.slot(j)))
            .find(|s| s.is_occupied() && !s.is_large() && s.loc() == loc);
        let Some(s) = found else {
            return 0;
        };
        let deadline = self.arena.view().deadline(loc, hdr);
        // Keys without a deadline stay under a volatile policy, and keep the page from emptying.
        if e.policy.is_volatile() && deadline.is_none() {
            return 0;
        }
        // Random: every key alike, so the page with the fewest items goes.
        victim_score(e.policy, s, deadline, tick, 1)
    }

    /// Evicts `key` if its slot links the small item at `loc` and the policy allows it.
    fn evict_at(
        &self,
        key: &[u8],
        loc: usize,
        e: Eviction,
        stats: &mut EvictStats,
        then: &mut dyn FnMut(&Entry<'_>),
    ) {
        let h = self.hash(key);
        loop {
            // Blocking mode never answers Busy.
            let Ok((seg, _, sw)) = self.index.locate(h, Wait::Block) else {
                return;
            };
            let place = Place::of(h, seg.mask);
            let Ok(guards) = Self::lock_pair(seg, place.b1, place.b2, Wait::Block) else {
                return;
            };
            if seg.split().load(Ordering::Relaxed) != sw {
                drop(guards);
                continue;
            }
            for b in [seg.bucket(place.b1), seg.bucket(place.b2)] {
                for j in 0..SLOTS {
                    let s = b.slot(j);
                    if !s.is_occupied() || s.is_large() || s.loc() != loc {
                        continue;
                    }
                    let entry = Self::entry(self.arena.view(), loc);
                    if e.policy.is_volatile() && entry.deadline.is_none() {
                        return;
                    }
                    self.remove_victim(b, j, entry, guards, stats, then);
                    return;
                }
            }
            return;
        }
    }
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    extern crate std;

    use super::*;
    use crate::{Config, Deadline, HashKey, When, Word, WORD};
    use std::vec::Vec;

    fn table() -> Table<&'static [Word], &'static [Word]> {
        let words = |bytes: usize| -> &'static [Word] {
            Vec::leak((0..bytes / WORD).map(|_| Word::new(0)).collect())
        };
        Table::new(
            words(1 << 16),
            words(1 << 14),
            HashKey([7; 16]),
            Config::SMALL,
        )
        .unwrap()
    }

    #[test]
    fn policies_round_trip_through_their_names_and_settings() {
        for p in Policy::all() {
            assert_eq!(Policy::from_name(&p.name().to_uppercase()), Some(p));
            let e = Eviction {
                policy: p,
                samples: 64,
                lfu_log_factor: 255,
                lfu_decay_time: 255,
            };
            assert_eq!(Eviction::unpack(e.pack()), e);
        }
        assert_eq!(Policy::from_name("lru"), None);
    }

    #[test]
    fn the_lfu_counter_grows_logarithmically() {
        // Redis's table for factor 10: about 100 hits reach 10, about 1000 reach 18.
        let mut c = LFU_INIT_VAL;
        for i in 0..1000u64 {
            c = lfu_incr(c, 10, mix(i));
        }
        assert!((14..=24).contains(&c), "1000 hits gave {c}");
        assert_eq!(lfu_incr(255, 10, 0), 255);
        // Below the initial value every access counts.
        assert_eq!(lfu_incr(2, 10, u64::MAX), 3);
    }

    #[test]
    fn reads_stamp_the_access_time_under_lru() {
        let t = table();
        t.set_eviction(Policy::AllKeysLru, 5);
        t.put(b"k", b"v").unwrap();
        assert_eq!(t.access_info(b"k"), Ok(Some(0)));
        t.advance_clock(7_000);
        assert_eq!(t.idle_seconds(t.access_info(b"k").unwrap().unwrap()), 7);
        t.get_vec::<4>(b"k").unwrap();
        assert_eq!(t.access_info(b"k"), Ok(Some(7)));
        assert_eq!(t.idle_seconds(7), 0);
        assert_eq!(t.access_info(b"nope"), Ok(None));
    }

    #[test]
    fn reads_count_under_lfu_and_overwrites_keep_the_count() {
        let t = table();
        t.set_eviction(Policy::AllKeysLfu, 5);
        t.put(b"k", b"v").unwrap();
        assert_eq!(t.access_info(b"k"), Ok(Some(LFU_INIT_VAL)));
        for ms in 0..200 {
            t.advance_clock(ms);
            t.get_vec::<4>(b"k").unwrap();
        }
        let c = t.access_info(b"k").unwrap().unwrap();
        assert!(c > LFU_INIT_VAL, "200 reads left the counter at {c}");
        t.put(b"k", b"w").unwrap();
        assert_eq!(t.access_info(b"k"), Ok(Some(c)));
    }

    #[test]
    fn counters_decay_once_a_period_as_the_evictor_samples() {
        let t = table();
        t.set_eviction(Policy::AllKeysLfu, 64);
        t.set_lfu(0, 1);
        for k in [&b"a"[..], b"b", b"c", b"d"] {
            t.put(k, b"v").unwrap();
        }
        for _ in 0..10 {
            t.get_vec::<4>(b"a").unwrap();
        }
        assert_eq!(t.access_info(b"a"), Ok(Some(LFU_INIT_VAL + 10)));
        // Within the first period nothing decays.
        t.evict(1, &mut |_| {}).unwrap();
        assert_eq!(t.access_info(b"a"), Ok(Some(LFU_INIT_VAL + 10)));
        t.advance_clock(60_000);
        t.evict(1, &mut |_| {}).unwrap();
        let a = t.access_info(b"a").unwrap().unwrap();
        // A pass takes as many steps as there are keys, however they fall.
        assert!((LFU_INIT_VAL + 6..LFU_INIT_VAL + 10).contains(&a), "{a}");
        // The pass ended: no more decay in this period.
        t.evict(1, &mut |_| {}).unwrap();
        assert_eq!(t.access_info(b"a"), Ok(Some(a)));
    }

    #[test]
    fn noeviction_and_an_empty_table_evict_nothing() {
        let t = table();
        assert_eq!(t.evict(100, &mut |_| {}), Err(Error::NoSpace));
        t.set_eviction(Policy::AllKeysRandom, 5);
        assert_eq!(t.evict(100, &mut |_| {}), Err(Error::NoSpace));
        t.set_eviction(Policy::VolatileTtl, 5);
        t.put(b"k", b"v").unwrap();
        assert_eq!(t.evict(100, &mut |_| {}), Err(Error::NoSpace));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn eviction_reaps_expired_keys_and_reports_every_removal() {
        let t = table();
        t.set_eviction(Policy::AllKeysLru, 64);
        for i in 0..40u32 {
            let d = if i % 2 == 0 {
                Deadline::At(10)
            } else {
                Deadline::None
            };
            t.put_with(
                &i.to_be_bytes(),
                b"value",
                When::Always,
                d,
                None,
                &mut |_| {},
            )
            .unwrap();
        }
        t.advance_clock(10);
        let mut seen = 0;
        let stats = t.evict(usize::MAX, &mut |_| seen += 1).unwrap();
        assert!(stats.reaped > 0);
        assert_eq!(seen, stats.evicted + stats.reaped);
        assert_eq!(t.len(), 40 - seen);
        assert_eq!(t.evicted(), stats.evicted);
    }
}
