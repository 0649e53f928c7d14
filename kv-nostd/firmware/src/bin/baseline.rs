//! The comparison image: the same table work as `kv-firmware`, done with a
//! `heapless::FnvIndexMap` of the same capacity instead of kv-nostd, and without the native
//! protocol step. A plain map cannot be shared with an interrupt handler, so every access, the
//! handler's included, runs inside a critical section (interrupts masked); nothing is ever busy.
//! Its size, subtracted from `kv-firmware`'s, is what the table and the codec cost.
#![no_std]
#![no_main]

use core::cell::RefCell;

use cortex_m::interrupt::{self, Mutex};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use heapless::index_map::FnvIndexMap;
use panic_semihosting as _;

use kv_firmware::checks::Checks;
use kv_firmware::data::{
    churn_key, fill_key, fill_value, hundredths_percent, is_shared_value, shared_key, shared_value,
    CHURN_KEYS, KEY_MAX, SHARED_KEYS, VALUE_MAX,
};
use kv_firmware::stack;
use kv_firmware::tick::{self, Counters, Outcome};

/// As many entries as the kv table has slots.
const CAPACITY: usize = 512;
type Key = heapless::Vec<u8, KEY_MAX>;
type Value = heapless::Vec<u8, VALUE_MAX>;
type Map = FnvIndexMap<Key, Value, CAPACITY>;

static MAP: Mutex<RefCell<Map>> = Mutex::new(RefCell::new(Map::new()));

static IRQ: Counters = Counters::new();

const STRESS_TICKS: u32 = 3_000;

/// Runs `f` on the map with interrupts masked.
fn with<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    interrupt::free(|cs| f(&mut MAP.borrow(cs).borrow_mut()))
}

/// What the kv table's `put` does: insert or overwrite, refusing a key or value too long, or a
/// full map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    Inserted,
    Replaced,
    TooLong,
    NoSpace,
}

fn put(map: &mut Map, key: &[u8], value: &[u8]) -> Put {
    let (Ok(key), Ok(value)) = (Key::from_slice(key), Value::from_slice(value)) else {
        return Put::TooLong;
    };
    match map.insert(key, value) {
        Ok(None) => Put::Inserted,
        Ok(Some(_)) => Put::Replaced,
        Err(_) => Put::NoSpace,
    }
}

/// The key's value copied into `out`, as the kv table's `get_into` does.
fn get_into(map: &Map, key: &[u8], out: &mut [u8]) -> Option<usize> {
    let value = map.get(&Key::from_slice(key).ok()?)?;
    out.get_mut(..value.len())?.copy_from_slice(value);
    Some(value.len())
}

fn delete(map: &mut Map, key: &[u8]) -> bool {
    Key::from_slice(key)
        .ok()
        .is_some_and(|key| map.swap_remove(&key).is_some())
}

#[entry]
fn main() -> ! {
    stack::paint_run();
    let mut core = cortex_m::Peripherals::take().expect("first and only take");
    let mut checks = Checks::new();
    hprintln!(
        "baseline: FnvIndexMap of {} entries, {} bytes",
        CAPACITY,
        core::mem::size_of::<Map>()
    );

    basics(&mut checks);
    for i in 0..SHARED_KEYS {
        let inserted = with(|m| put(m, shared_key(i).as_slice(), shared_value(0).as_slice()));
        checks.eq(
            inserted,
            Put::Inserted,
            "put a key shared with the interrupt",
        );
    }
    tick::start(&mut core.SYST);
    stress(&mut checks);
    let peak_put = fill(&mut checks);
    visit(&mut checks);
    tick::stop(&mut core.SYST);

    hprintln!(
        "interrupt: {} ticks, {} calls completed, {} found the map busy, {} wrong",
        IRQ.ticks(),
        IRQ.completed(),
        IRQ.busy(),
        IRQ.wrong()
    );
    checks.eq(IRQ.wrong(), 0, "interrupt-time calls with a wrong result");
    checks.check(IRQ.completed() > 0, "interrupt-time calls completed");
    hprintln!(
        "stack: insert at most {} bytes; whole run at most {} bytes",
        peak_put,
        stack::run_peak()
    );
    checks.finish("baseline")
}

#[exception]
fn SysTick() {
    let n = IRQ.tick();
    let key = shared_key(n);
    let key = key.as_slice();
    let ok = with(|m| match n % 3 {
        0 => {
            let mut buf = [0u8; VALUE_MAX];
            get_into(m, key, &mut buf).is_some_and(|len| is_shared_value(&buf[..len]))
        }
        1 => Key::from_slice(key).is_ok_and(|k| m.contains_key(&k)),
        _ => put(m, key, shared_value(n).as_slice()) == Put::Replaced,
    });
    IRQ.record(if ok {
        Outcome::Completed
    } else {
        Outcome::Wrong
    });
}

fn basics(checks: &mut Checks) {
    with(|m| {
        let mut buf = [0u8; VALUE_MAX];
        checks.eq(put(m, b"user1", b"John"), Put::Inserted, "insert");
        checks.eq(get_into(m, b"user1", &mut buf), Some(4), "get");
        checks.eq(&buf[..4], b"John", "get's value");
        checks.eq(put(m, b"user1", b"John Doe"), Put::Replaced, "overwrite");
        checks.eq(
            get_into(m, b"user1", &mut buf),
            Some(8),
            "get after overwrite",
        );
        checks.eq(&buf[..8], b"John Doe", "overwritten value");
        checks.eq(m.len(), 1, "len");
        checks.eq(delete(m, b"user1"), true, "delete");
        checks.eq(get_into(m, b"user1", &mut buf), None, "get after delete");
        checks.eq(delete(m, b"user1"), false, "delete of an absent key");
        checks.eq(
            put(m, &[b'k'; KEY_MAX + 1], b"v"),
            Put::TooLong,
            "key too long",
        );
        checks.eq(
            put(m, b"k", &[b'v'; VALUE_MAX + 1]),
            Put::TooLong,
            "value too long",
        );
        checks.eq(m.is_empty(), true, "empty after the basics");
    });
}

fn stress(checks: &mut Checks) {
    let mut buf = [0u8; VALUE_MAX];
    let mut torn = 0u32;
    let mut round = 0u32;
    while IRQ.ticks() < STRESS_TICKS {
        let key = shared_key(round);
        let churn = churn_key(round);
        with(|m| {
            put(m, key.as_slice(), shared_value(round).as_slice());
            if !get_into(m, key.as_slice(), &mut buf)
                .is_some_and(|len| is_shared_value(&buf[..len]))
            {
                torn += 1;
            }
            if round % (2 * CHURN_KEYS) < CHURN_KEYS {
                put(m, churn.as_slice(), fill_value(round).as_slice());
            } else {
                delete(m, churn.as_slice());
            }
        });
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
    with(|m| {
        for n in 0..CHURN_KEYS {
            delete(m, churn_key(n).as_slice());
        }
    });
    checks.eq(
        with(|m| m.len()),
        SHARED_KEYS as usize,
        "only the shared keys are left",
    );
}

fn fill(checks: &mut Checks) -> usize {
    let mut deepest = 0;
    let mut n = 0u32;
    let refused = loop {
        let (key, value) = (fill_key(n), fill_value(n));
        let (result, used) = stack::measure(|| with(|m| put(m, key.as_slice(), value.as_slice())));
        deepest = deepest.max(used);
        match result {
            Put::Inserted => n += 1,
            other => break other,
        }
    };
    checks.eq(refused, Put::NoSpace, "a full map answers no space");
    let len = with(|m| m.len());
    let occupancy = hundredths_percent(len, CAPACITY);
    hprintln!(
        "fill: {} of {} entries used at the first \"no space\" ({}.{:02}%)",
        len,
        CAPACITY,
        occupancy / 100,
        occupancy % 100
    );
    with(|m| {
        let mut buf = [0u8; VALUE_MAX];
        let missing = fill_key(n);
        checks.eq(
            get_into(m, missing.as_slice(), &mut buf),
            None,
            "the refused key is absent",
        );
        checks.eq(m.len(), len, "no space changed nothing");
        checks.eq(
            put(m, fill_key(0).as_slice(), b"new"),
            Put::Replaced,
            "overwrite in a full map",
        );
        checks.eq(
            get_into(m, fill_key(0).as_slice(), &mut buf),
            Some(3),
            "read it back",
        );
        checks.eq(&buf[..3], b"new", "its new value");
        checks.eq(
            delete(m, fill_key(1).as_slice()),
            true,
            "delete in a full map",
        );
        checks.eq(
            put(m, fill_key(1).as_slice(), fill_value(1).as_slice()),
            Put::Inserted,
            "the freed entry takes its key again",
        );
        checks.eq(m.len(), len, "len after delete and insert");
    });
    deepest
}

fn visit(checks: &mut Checks) {
    let (entries, fill_seen, wrong) = with(|m| {
        let (mut entries, mut fill_seen, mut wrong) = (0usize, 0usize, 0usize);
        for (key, value) in m.iter() {
            entries += 1;
            if key.starts_with(b"fill-") {
                fill_seen += 1;
            } else if !(key.starts_with(b"shared-") && is_shared_value(value)) {
                wrong += 1;
            }
        }
        (entries, fill_seen, wrong)
    });
    hprintln!("visit: {} entries", entries);
    checks.eq(entries, with(|m| m.len()), "visit saw every entry once");
    checks.eq(
        fill_seen + SHARED_KEYS as usize,
        entries,
        "visit saw the fill keys",
    );
    checks.eq(wrong, 0, "visited pairs that do not match");
    let deleted = (0..entries as u32)
        .filter(|&n| with(|m| delete(m, fill_key(n).as_slice())))
        .count();
    checks.eq(deleted, fill_seen, "every fill key deleted");
    checks.eq(
        with(|m| m.len()),
        SHARED_KEYS as usize,
        "only the shared keys are left",
    );
}
