//! kv-nostd on a Cortex-M4: a `static` table over `static` arrays, written from the main loop
//! (values from 0 bytes to four pages) while the SysTick handler reads and writes it with the
//! non-blocking `try_` calls and advances the table's clock, plus native-protocol requests
//! decoded, applied and answered, and keys that expire by SysTick time. Every result is checked;
//! the summary and the exit status travel over semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use panic_semihosting as _;

use kv_firmware::checks::Checks;
use kv_firmware::data::{
    churn_key, fill_key, fill_value, hundredths_percent, is_mixed_value, is_shared_value,
    mixed_value, numbered, shared_key, shared_value, CHURN_KEYS, KEY_MAX, LARGE_VALUE_MAX,
    MIXED_SIZES, SHARED_KEYS, VALUE_MAX,
};
#[cfg(feature = "native")]
use kv_firmware::protocol;
use kv_firmware::stack;
use kv_firmware::tick::{self, Counters, Outcome};
use kv_nostd::{
    Config, Deadline, DeadlineChange, Error, ExpireCursor, ExpireIf, HashKey, Put, Table, When,
    Word, WORD,
};

/// 24 KiB of arena (1 KiB pages) and 16 KiB of index (segments of 8 buckets of 7 slots): all
/// zero, so both live in `.bss`.
const ARENA_WORDS: usize = 24 * 1024 / WORD;
const INDEX_WORDS: usize = 16 * 1024 / WORD;
static ARENA: [Word; ARENA_WORDS] = [const { Word::new(0) }; ARENA_WORDS];
static INDEX: [Word; INDEX_WORDS] = [const { Word::new(0) }; INDEX_WORDS];

type Store = Table<&'static [Word], &'static [Word]>;
const CONFIG: Config = Config {
    max_key: KEY_MAX,
    max_value: LARGE_VALUE_MAX,
    ..Config::SMALL
};

/// A fixed hash key keeps runs reproducible; a device would take one from its random number
/// generator or unique ID, so that no peer can aim keys at one bucket.
static TABLE: Store = Table::new_static(&ARENA, &INDEX, HashKey(*b"kv-firmware-key!"), CONFIG);

/// A value one byte longer than the table takes, in flash.
static TOO_LONG: [u8; LARGE_VALUE_MAX + 1] = [b'v'; LARGE_VALUE_MAX + 1];

static IRQ: Counters = Counters::new();

/// Interrupts the main loop must have seen pre-empting its writes before it moves on.
const STRESS_TICKS: u32 = 3_000;

#[entry]
fn main() -> ! {
    stack::paint_run();
    let mut core = cortex_m::Peripherals::take().expect("first and only take");
    let mut checks = Checks::new();
    let s = TABLE.stats();
    hprintln!(
        "kv-firmware: arena {} bytes ({} pages of {}), index {} bytes (up to {} segments of {} \
         bytes), table header {} bytes",
        ARENA_WORDS * WORD,
        s.pages,
        s.page_bytes,
        INDEX_WORDS * WORD,
        s.max_segments,
        s.segment_bytes,
        core::mem::size_of::<Store>()
    );

    basics(&mut checks);
    #[cfg(feature = "native")]
    protocol::run(&TABLE, &mut checks);
    mixed(&mut checks);

    for i in 0..SHARED_KEYS {
        checks.eq(
            TABLE.put(shared_key(i).as_slice(), shared_value(0).as_slice()),
            Ok(Put::Inserted),
            "put a key shared with the interrupt",
        );
    }
    tick::start(&mut core.SYST);
    stress(&mut checks);
    deadlines(&mut checks);
    // The fill runs without the handler: a write it makes may free memory (and the next blocking
    // put frees what it deferred), so a refused put would not stay refused.
    tick::stop(&mut core.SYST);
    let peak_put = fill(&mut checks);
    tick::start(&mut core.SYST);
    visit(&mut checks);
    tick::stop(&mut core.SYST);
    wide_clock(&mut checks);

    hprintln!(
        "interrupt: {} ticks, {} calls completed, {} found the bucket busy, {} writes found no \
         space, {} wrong",
        IRQ.ticks(),
        IRQ.completed(),
        IRQ.busy(),
        IRQ.no_space(),
        IRQ.wrong()
    );
    checks.eq(IRQ.wrong(), 0, "interrupt-time calls with a wrong result");
    checks.check(
        IRQ.completed() + IRQ.busy() + IRQ.no_space() == IRQ.ticks(),
        "every interrupt-time call completed, found the bucket busy or found no space",
    );
    checks.check(IRQ.completed() > 0, "interrupt-time calls completed");
    checks.check(
        IRQ.busy() > 0,
        "interrupt-time calls pre-empted a write and answered busy",
    );
    hprintln!(
        "stack: put at most {} bytes; whole run at most {} bytes",
        peak_put,
        stack::run_peak()
    );
    checks.finish("kv-firmware")
}

/// Each SysTick moves the table's clock to its count of ticks (the firmware's unit of time; a
/// device would count milliseconds), then reads, tests or overwrites one of the shared keys,
/// never waiting: a call that finds its bucket locked or mid-write by the code it pre-empted
/// answers `Busy`.
#[exception]
fn SysTick() {
    let n = IRQ.tick();
    // Only this handler advances the clock while it runs, so no advance is ever in progress.
    let _ = TABLE.try_advance_clock(u64::from(n) + 1);
    let key = shared_key(n);
    let key = key.as_slice();
    let outcome = match n % 3 {
        0 => {
            let mut buf = [0u8; VALUE_MAX];
            match TABLE.try_get_into(key, &mut buf) {
                Ok(Some(len)) if is_shared_value(&buf[..len]) => Ok(()),
                Ok(_) => Err(Outcome::Wrong),
                Err(e) => Err(outcome_of(e)),
            }
        }
        1 => match TABLE.try_contains(key) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Outcome::Wrong),
            Err(e) => Err(outcome_of(e)),
        },
        _ => match TABLE.try_put(key, shared_value(n).as_slice()) {
            Ok(Put::Replaced) => Ok(()),
            Ok(Put::Inserted) => Err(Outcome::Wrong),
            Err(e) => Err(outcome_of(e)),
        },
    };
    IRQ.record(outcome.err().unwrap_or(Outcome::Completed));
}

fn outcome_of(e: Error) -> Outcome {
    match e {
        Error::Busy => Outcome::Busy,
        // An overwrite needs room for its new value before the old one goes: while the main
        // loop holds the arena full, the handler's writes are refused, and change nothing.
        Error::NoSpace => Outcome::NoSpace,
        _ => Outcome::Wrong,
    }
}

/// Insert, read, overwrite, delete and the length errors, on an empty table.
fn basics(checks: &mut Checks) {
    let mut buf = [0u8; VALUE_MAX];
    checks.eq(TABLE.put(b"user1", b"John"), Ok(Put::Inserted), "insert");
    checks.eq(TABLE.get_into(b"user1", &mut buf), Ok(Some(4)), "get");
    checks.eq(&buf[..4], b"John", "get's value");
    checks.eq(
        TABLE.put(b"user1", b"John Doe"),
        Ok(Put::Replaced),
        "overwrite",
    );
    checks.eq(
        TABLE.get_into(b"user1", &mut buf),
        Ok(Some(8)),
        "get after overwrite",
    );
    checks.eq(&buf[..8], b"John Doe", "overwritten value");
    checks.eq(TABLE.contains(b"user1"), Ok(true), "contains");
    checks.eq(TABLE.len(), 1, "len");
    checks.eq(TABLE.delete(b"user1"), Ok(true), "delete");
    checks.eq(
        TABLE.get_into(b"user1", &mut buf),
        Ok(None),
        "get after delete",
    );
    checks.eq(TABLE.delete(b"user1"), Ok(false), "delete of an absent key");
    checks.eq(TABLE.is_empty(), true, "empty again");

    checks.eq(
        TABLE.put(&[b'k'; KEY_MAX + 1], b"v"),
        Err(Error::KeyTooLong {
            len: KEY_MAX + 1,
            max: KEY_MAX,
        }),
        "key too long",
    );
    checks.eq(
        TABLE.put(b"k", &TOO_LONG),
        Err(Error::ValueTooLong {
            len: LARGE_VALUE_MAX + 1,
            max: LARGE_VALUE_MAX,
        }),
        "value too long",
    );
    checks.eq(
        TABLE.put(b"k", &TOO_LONG[..LARGE_VALUE_MAX]),
        Ok(Put::Inserted),
        "longest value",
    );
    checks.eq(
        TABLE.get_into(b"k", &mut [0u8; 4]),
        Err(Error::BufferTooSmall {
            needed: LARGE_VALUE_MAX,
            len: 4,
        }),
        "buffer too small",
    );
    checks.eq(TABLE.try_put(b"k", b"w"), Ok(Put::Replaced), "try_put");
    checks.eq(
        TABLE.try_get_into(b"k", &mut buf),
        Ok(Some(1)),
        "try_get_into",
    );
    checks.eq(TABLE.try_delete(b"k"), Ok(true), "try_delete");
    checks.eq(TABLE.is_empty(), true, "empty after the basics");
}

/// Values of every size in [`MIXED_SIZES`], from nothing to four pages: put, read back,
/// overwritten with other sizes, read back, deleted; every page goes back but one per class.
fn mixed(checks: &mut Checks) {
    let mut buf = [0u8; LARGE_VALUE_MAX];
    let keys = MIXED_SIZES.len() as u32;
    let pages = TABLE.stats().pages_in_use;
    for generation in 0..3 {
        for n in 0..keys {
            let key = numbered(b"mixed-", n);
            let len = mixed_value(n, generation, &mut buf);
            let want = if generation == 0 {
                Put::Inserted
            } else {
                Put::Replaced
            };
            checks.eq(
                TABLE.put(key.as_slice(), &buf[..len]),
                Ok(want),
                "put a value of mixed size",
            );
        }
        for n in 0..keys {
            let key = numbered(b"mixed-", n);
            let got = TABLE.get_into(key.as_slice(), &mut buf);
            let whole = matches!(got, Ok(Some(len)) if is_mixed_value(n, generation, &buf[..len]));
            checks.check(whole, "read back a value of mixed size");
        }
    }
    let s = TABLE.stats();
    hprintln!(
        "mixed: {} values of 0 to {} bytes in {} pages",
        keys,
        LARGE_VALUE_MAX,
        s.pages_in_use - pages
    );
    for n in 0..keys {
        checks.eq(
            TABLE.delete(numbered(b"mixed-", n).as_slice()),
            Ok(true),
            "delete a value of mixed size",
        );
    }
    checks.check(
        TABLE.stats().pages_in_use <= pages + 8,
        "pages of deleted values went back (one kept per size class)",
    );
}

/// The main loop overwrites the shared keys, and inserts (with values of mixed sizes, read back
/// at once) and deletes keys beside them, while SysTick pre-empts it; its own reads must see
/// whole values too.
fn stress(checks: &mut Checks) {
    let mut buf = [0u8; VALUE_MAX];
    let mut big = [0u8; LARGE_VALUE_MAX];
    let mut torn = 0u32;
    let mut round = 0u32;
    // Until enough interrupts have landed and at least one found a write in progress (the
    // round limit ends a run whose timer does not fire, rather than hanging it).
    while IRQ.ticks() < STRESS_TICKS || IRQ.busy() == 0 {
        let key = shared_key(round);
        TABLE
            .put(key.as_slice(), shared_value(round).as_slice())
            .expect("overwrite a shared key");
        match TABLE.get_into(key.as_slice(), &mut buf) {
            Ok(Some(len)) if is_shared_value(&buf[..len]) => {}
            _ => torn += 1,
        }
        let churn = churn_key(round);
        if round % (2 * CHURN_KEYS) < CHURN_KEYS {
            let n = round % CHURN_KEYS;
            let len = mixed_value(n, round, &mut big);
            TABLE
                .put(churn.as_slice(), &big[..len])
                .expect("insert beside the shared keys");
            match TABLE.get_into(churn.as_slice(), &mut big) {
                Ok(Some(len)) if is_mixed_value(n, round, &big[..len]) => {}
                _ => torn += 1,
            }
        } else {
            TABLE.delete(churn.as_slice()).expect("delete beside them");
        }
        round += 1;
        if round == 2_000_000 {
            break;
        }
    }
    hprintln!(
        "stress: {} main-loop rounds under {} interrupts",
        round,
        IRQ.ticks()
    );
    checks.check(
        IRQ.ticks() >= STRESS_TICKS,
        "SysTick pre-empted the main loop",
    );
    checks.eq(torn, 0, "main-loop reads of shared keys that were torn");
    for n in 0..CHURN_KEYS {
        TABLE
            .delete(churn_key(n).as_slice())
            .expect("delete a churn key");
    }
    checks.eq(
        TABLE.len(),
        SHARED_KEYS as usize,
        "only the shared keys are left",
    );
}

/// Runs one active-expiry cycle; returns how many keys it removed.
fn expire_all() -> usize {
    let mut cursor = ExpireCursor::START;
    let mut expired = 0;
    loop {
        let step = TABLE.expire_step(cursor, 4, &mut |_| {});
        expired += step.expired;
        cursor = step.cursor;
        if cursor.is_start() {
            return expired;
        }
    }
}

/// A key that expires by SysTick time, one whose deadline is removed, and the active step that
/// takes back the expired one's memory. SysTick is running.
fn deadlines(checks: &mut Checks) {
    let mut buf = [0u8; VALUE_MAX];
    let deadline = TABLE.now() + 500;
    let put_at = |key: &[u8]| {
        TABLE.put_with(key, b"token", When::Always, Deadline::At(deadline), None, &mut |_| {})
    };
    checks.eq(put_at(b"session"), Ok(Some(Put::Inserted)), "put with a deadline");
    checks.eq(put_at(b"kept"), Ok(Some(Put::Inserted)), "another");
    checks.eq(
        TABLE.set_deadline(b"kept", None, ExpireIf::Always, &mut |_| {}),
        Ok(DeadlineChange::Changed),
        "remove a deadline",
    );
    checks.eq(
        TABLE.deadline(b"session"),
        Ok(Some(Some(deadline))),
        "the deadline reads back",
    );
    checks.eq(
        TABLE.get_into(b"session", &mut buf),
        Ok(Some(5)),
        "readable before its deadline",
    );
    let mut spins = 0u32;
    while TABLE.now() < deadline && spins < 100_000_000 {
        spins += 1;
        cortex_m::asm::nop();
    }
    checks.check(
        TABLE.now() >= deadline,
        "SysTick moved the clock to the deadline",
    );
    checks.eq(
        TABLE.get_into(b"session", &mut buf),
        Ok(None),
        "gone once the clock reached its deadline",
    );
    checks.eq(TABLE.contains(b"session"), Ok(false), "not contained either");
    checks.eq(
        TABLE.get_into(b"kept", &mut buf),
        Ok(Some(5)),
        "the key without a deadline stays",
    );
    let len = TABLE.len();
    checks.eq(expire_all(), 1, "the active step removed the expired key");
    checks.eq(TABLE.len(), len - 1, "and only it");
    checks.eq(TABLE.expires(), 0, "no key has a deadline");
    checks.eq(TABLE.delete(b"kept"), Ok(true), "delete the kept key");
    hprintln!("deadlines: a key expired at tick {}", deadline);
}

/// The clock beyond 32 bits, where it is three words on this target: a deadline across the
/// boundary of its high half. SysTick is stopped.
fn wide_clock(checks: &mut Checks) {
    let base = (1u64 << 32) - 2;
    checks.eq(TABLE.advance_clock(base), base, "advance the clock");
    let at = Deadline::At(base + 5);
    checks.eq(
        TABLE.put_with(b"wide", b"v", When::Always, at, None, &mut |_| {}),
        Ok(Some(Put::Inserted)),
        "put with a deadline past 2^32",
    );
    checks.eq(TABLE.advance_clock(base + 4), base + 4, "across 2^32");
    checks.eq(TABLE.contains(b"wide"), Ok(true), "live before its deadline");
    checks.eq(TABLE.advance_clock(3), base + 4, "the clock never goes back");
    checks.eq(TABLE.advance_clock(base + 5), base + 5, "to the deadline");
    checks.eq(TABLE.contains(b"wide"), Ok(false), "expired at its deadline");
    checks.eq(TABLE.delete(b"wide"), Ok(false), "a delete removes it, answering absent");
    checks.eq(TABLE.expires(), 0, "no key has a deadline");
}

/// Fills the table until "no space", measuring each put's stack, and checks that the refused
/// put changed nothing. Returns the deepest stack a put used.
fn fill(checks: &mut Checks) -> usize {
    let mut deepest = 0;
    let mut n = 0u32;
    let refused = loop {
        let (key, value) = (fill_key(n), fill_value(n));
        let (result, used) = stack::measure(|| TABLE.put(key.as_slice(), value.as_slice()));
        deepest = deepest.max(used);
        match result {
            Ok(Put::Inserted) => n += 1,
            other => break other,
        }
    };
    checks.eq(
        refused,
        Err(Error::NoSpace),
        "a full table answers no space",
    );
    let len = TABLE.len();
    let s = TABLE.stats();
    // Every fill item (4 + key + value, at most 23 bytes) takes a 24-byte chunk.
    let chunks = hundredths_percent(len * 24, s.pages * s.page_bytes);
    let slots = hundredths_percent(len, s.slots);
    hprintln!(
        "fill: {} keys at the first \"no space\": {} of {} pages in use, {}.{:02}% of the page \
         bytes in chunks; index {} of {} segments, {}.{:02}% of its slots",
        len,
        s.pages_in_use,
        s.pages,
        chunks / 100,
        chunks % 100,
        s.segments,
        s.max_segments,
        slots / 100,
        slots % 100
    );
    checks.check(
        s.pages_in_use == s.pages || s.segments == s.max_segments,
        "no space only when the arena's pages or the index's segments are used up",
    );
    checks.check(
        chunks >= 8_500,
        "85% or more of the page bytes hold chunks at the first no space",
    );

    let mut buf = [0u8; VALUE_MAX];
    let missing = fill_key(n);
    checks.eq(
        TABLE.get_into(missing.as_slice(), &mut buf),
        Ok(None),
        "the refused key is absent",
    );
    checks.eq(TABLE.len(), len, "no space changed nothing");
    let value = fill_value(n);
    let (again, used) = stack::measure(|| TABLE.put(missing.as_slice(), value.as_slice()));
    deepest = deepest.max(used);
    checks.eq(again, Err(Error::NoSpace), "no space again");
    hprintln!("stack: a put that answers no space uses {} bytes", used);

    // A write needs room for its new item before the old one goes: in a full arena, a delete
    // makes that room.
    checks.eq(
        TABLE.delete(fill_key(1).as_slice()),
        Ok(true),
        "delete in a full table",
    );
    checks.eq(
        TABLE.put(fill_key(0).as_slice(), b"VALUE-0"),
        Ok(Put::Replaced),
        "overwrite in a full table",
    );
    checks.eq(
        TABLE.get_into(fill_key(0).as_slice(), &mut buf),
        Ok(Some(7)),
        "read it back",
    );
    checks.eq(&buf[..7], b"VALUE-0", "its new value");
    checks.eq(
        TABLE.put(fill_key(1).as_slice(), fill_value(1).as_slice()),
        Ok(Put::Inserted),
        "the chunk the overwrite freed takes the deleted key again",
    );
    checks.eq(TABLE.len(), len, "len after delete and insert");
    deepest
}

/// Visits every entry while SysTick keeps writing, then deletes the fill keys.
fn visit(checks: &mut Checks) {
    let mut entries = 0usize;
    let mut fill_seen = 0usize;
    let mut wrong = 0usize;
    TABLE.visit(|e| {
        entries += 1;
        let (mut key, mut value) = ([0u8; KEY_MAX], [0u8; VALUE_MAX]);
        let (Some(key), Some(value)) = (e.key(&mut key), value.get_mut(..e.value_len())) else {
            wrong += 1;
            return;
        };
        e.read_value(0, value);
        let value = &*value;
        if let Some(n) = key.strip_prefix(b"fill-").and_then(parse_decimal) {
            fill_seen += 1;
            let whole = if n == 0 {
                value == b"VALUE-0"
            } else {
                value == fill_value(n).as_slice()
            };
            if !whole {
                wrong += 1;
            }
        } else if !(key.starts_with(b"shared-") && is_shared_value(value)) {
            wrong += 1;
        }
    });
    hprintln!("visit: {} entries", entries);
    checks.eq(entries, TABLE.len(), "visit saw every entry once");
    checks.eq(
        fill_seen + SHARED_KEYS as usize,
        entries,
        "visit saw the fill keys",
    );
    checks.eq(wrong, 0, "visited pairs that do not match");

    let mut deleted = 0;
    for n in 0..entries as u32 {
        if TABLE.delete(fill_key(n).as_slice()) == Ok(true) {
            deleted += 1;
        }
    }
    checks.eq(deleted, fill_seen, "every fill key deleted");
    checks.eq(
        TABLE.len(),
        SHARED_KEYS as usize,
        "only the shared keys are left",
    );
}

fn parse_decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}
