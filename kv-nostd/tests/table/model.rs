//! Random operation sequences against a `HashMap` model with a clock of its own: every result
//! must match. Pages of 1 KiB and segments of 2 buckets, so values span several pages and the
//! index splits often. Keys get deadlines and lose them, the clock jumps, and the model says
//! which keys are live: never an expired value, never a lost live one.

use crate::{get, pair, table, TestTable, VecSink};
use kv_nostd::update::{Change, Update, Updated};
use kv_nostd::{
    Config, Deadline, DeadlineChange, Error, ExpireCursor, ExpireIf, Put, ScanCursor, When,
};
use proptest::prelude::*;
use std::collections::HashMap;

const PAGE: usize = 1024;
const MAX_KEY: usize = 1500;
const MAX_VALUE: usize = 5 * PAGE;

fn config() -> Config {
    Config {
        page_bytes: PAGE,
        segment_buckets: 2,
        max_key: MAX_KEY,
        max_value: MAX_VALUE,
        max_memory: 0,
    }
}

/// A deadline relative to the model's clock when the operation runs: past, now, or ahead.
#[derive(Clone, Copy, Debug)]
enum Due {
    None,
    In(i64),
    Never,
    Keep,
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    PutIf(Vec<u8>, Vec<u8>, When),
    PutWith(Vec<u8>, Vec<u8>, When, Due),
    Get(Vec<u8>),
    Contains(Vec<u8>),
    Deadline(Vec<u8>),
    Delete(Vec<u8>),
    SetDeadline(Vec<u8>, Due, ExpireIf),
    Reap(Vec<u8>),
    Advance(u64),
    /// An advance to a time before the clock: changes nothing.
    Rewind(u64),
    ExpireStep(usize),
    ExpireCycle,
    Visit,
    Scan(usize),
    Clear,
    Shrink(usize),
    Update(Vec<u8>, Rmw),
}

/// What a read-modify-write ([`kv_nostd::Table::update`]) decides, given the value it sees.
#[derive(Clone, Debug)]
enum Rmw {
    /// Append these bytes (to nothing, for an absent key), with this deadline.
    Append(Vec<u8>, Due),
    Delete,
    Keep,
}

/// Keys from a small pool so operations collide, plus long ones (past the short header and
/// past a page) and some too long.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => (0u8..48).prop_map(|i| format!("k{i}").into_bytes()),
        2 => proptest::collection::vec(any::<u8>(), 0..=16),
        1 => (0u8..4).prop_map(|i| vec![i; 300]),
        1 => (0u8..2).prop_map(|i| vec![i; 1200]),
        1 => Just(vec![7; MAX_KEY + 1]),
    ]
}

/// Sizes from 0 bytes to several pages, around the class and page boundaries.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![
        8 => 0usize..100,
        2 => 100usize..600,
        2 => (PAGE / 2 - 16)..(PAGE + 16),
        2 => (PAGE + 16)..MAX_VALUE,
        1 => (MAX_VALUE + 1)..(MAX_VALUE + 2),
    ];
    (len, any::<u64>()).prop_map(|(n, seed)| crate::pattern(seed, n))
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        Just(When::Always),
        Just(When::IfAbsent),
        Just(When::IfPresent)
    ]
}

fn due() -> impl Strategy<Value = Due> {
    prop_oneof![
        3 => Just(Due::None),
        6 => (-20i64..60).prop_map(Due::In),
        1 => Just(Due::Never),
        3 => Just(Due::Keep),
    ]
}

fn expire_if() -> impl Strategy<Value = ExpireIf> {
    prop_oneof![
        Just(ExpireIf::Always),
        Just(ExpireIf::NoDeadline),
        Just(ExpireIf::HasDeadline),
        Just(ExpireIf::Later),
        Just(ExpireIf::Earlier),
        Just(ExpireIf::EarlierDeadline),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // A clear is rare (about one operation in 800) without filtering.
    prop_oneof![
        120 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        40 => (key(), value(), when()).prop_map(|(k, v, w)| Op::PutIf(k, v, w)),
        120 => (key(), value(), when(), due()).prop_map(|(k, v, w, d)| Op::PutWith(k, v, w, d)),
        120 => key().prop_map(Op::Get),
        30 => key().prop_map(Op::Contains),
        30 => key().prop_map(Op::Deadline),
        60 => key().prop_map(Op::Delete),
        60 => (key(), due(), expire_if()).prop_map(|(k, d, c)| Op::SetDeadline(k, d, c)),
        20 => key().prop_map(Op::Reap),
        50 => prop_oneof![9 => 0u64..30, 1 => 1000u64..2000].prop_map(Op::Advance),
        5 => (1u64..100).prop_map(Op::Rewind),
        20 => (0usize..6).prop_map(Op::ExpireStep),
        5 => Just(Op::ExpireCycle),
        20 => Just(Op::Visit),
        20 => (1usize..20).prop_map(Op::Scan),
        1 => Just(Op::Clear),
        15 => (1usize..4).prop_map(Op::Shrink),
        80 => (key(), rmw()).prop_map(|(k, r)| Op::Update(k, r)),
    ]
}

fn rmw() -> impl Strategy<Value = Rmw> {
    let suffix = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => (0usize..2 * PAGE, any::<u64>()).prop_map(|(n, seed)| crate::pattern(seed, n)),
    ];
    prop_oneof![
        6 => (suffix, due()).prop_map(|(s, d)| Rmw::Append(s, d)),
        1 => Just(Rmw::Delete),
        1 => Just(Rmw::Keep),
    ]
}

fn length_error(k: &[u8], v: Option<&[u8]>) -> Option<Error> {
    if k.len() > MAX_KEY {
        return Some(Error::KeyTooLong {
            len: k.len(),
            max: MAX_KEY,
        });
    }
    match v {
        Some(v) if v.len() > MAX_VALUE => Some(Error::ValueTooLong {
            len: v.len(),
            max: MAX_VALUE,
        }),
        _ => None,
    }
}

/// The model: every item the table stores, expired ones included until the table removes
/// them, with its deadline; the clock; and the expired items removed so far.
#[derive(Default)]
struct Model {
    items: HashMap<Vec<u8>, (Vec<u8>, Option<u64>)>,
    now: u64,
    expired: usize,
}

impl Model {
    fn live(&self, k: &[u8]) -> Option<&(Vec<u8>, Option<u64>)> {
        self.items
            .get(k)
            .filter(|(_, d)| d.is_none_or(|d| d > self.now))
    }

    fn is_expired(&self, k: &[u8]) -> bool {
        self.items.contains_key(k) && self.live(k).is_none()
    }

    /// The live entries, as a visit should report them.
    fn visible(&self) -> HashMap<Vec<u8>, (Vec<u8>, Option<u64>)> {
        self.items
            .iter()
            .filter(|(k, _)| self.live(k).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The absolute deadline `due` names now (`Some(None)` for none, `None` for "keep").
    fn absolute(&self, due: Due) -> Option<Option<u64>> {
        match due {
            Due::None => Some(None),
            Due::Never => Some(Some(u64::MAX)),
            Due::In(dt) => Some(Some(self.now.saturating_add_signed(dt))),
            Due::Keep => None,
        }
    }

    /// Removes `k`'s item, counting it if it was expired.
    fn remove(&mut self, k: &[u8]) {
        if self.is_expired(k) {
            self.expired += 1;
        }
        self.items.remove(k);
    }
}

/// Whether Redis 7's condition allows moving a deadline from `current` to `new` (no deadline
/// is infinitely far).
fn allows(cond: ExpireIf, current: Option<u64>, new: Option<u64>) -> bool {
    let far = |d: Option<u64>| d.map_or(u128::MAX, u128::from);
    match cond {
        ExpireIf::Always => true,
        ExpireIf::NoDeadline => current.is_none(),
        ExpireIf::HasDeadline => current.is_some(),
        ExpireIf::Later => far(new) > far(current),
        ExpireIf::Earlier => far(new) < far(current),
        ExpireIf::EarlierDeadline => current.is_some() && far(new) < far(current),
    }
}

fn check_put(t: &TestTable, m: &mut Model, k: &[u8], v: &[u8], when: When, due: Due) {
    let mut old = VecSink(b"untouched".to_vec());
    let mut logged = 0;
    let mut told = Some(0);
    let deadline = match m.absolute(due) {
        Some(None) => Deadline::None,
        Some(Some(d)) => Deadline::At(d),
        None => Deadline::Keep,
    };
    let got = t.put_with(k, v, when, deadline, Some(&mut old), &mut |d| {
        logged += 1;
        told = d;
    });
    if let Some(e) = length_error(k, Some(v)) {
        assert_eq!(got, Err(e));
        assert_eq!(old.0, b"untouched", "no value handed out on a length error");
        assert_eq!(logged, 0);
        return;
    }
    let present = m.live(k).cloned();
    let outcome = got.expect("memory is ample");
    let expected = match (when, present.is_some()) {
        (When::IfAbsent, true) | (When::IfPresent, false) => None,
        (_, true) => Some(Put::Replaced),
        (_, false) => Some(Put::Inserted),
    };
    assert_eq!(outcome, expected, "put {when:?} {deadline:?}");
    assert_eq!(when.was_present(outcome), present.is_some());
    assert_eq!(
        logged,
        usize::from(outcome.is_some()),
        "then once per write"
    );
    match &present {
        Some((p, _)) => assert_eq!(&old.0, p, "old value"),
        None => assert_eq!(old.0, b"untouched", "an absent key has no old value"),
    }
    if outcome.is_none() {
        return;
    }
    let new_deadline = match deadline {
        Deadline::None | Deadline::At(u64::MAX) => None,
        Deadline::At(d) => Some(d),
        Deadline::Keep => present.and_then(|(_, d)| d),
    };
    let lasting = new_deadline.filter(|&d| d > m.now);
    assert_eq!(told, lasting, "then is told the deadline the key got");
    m.remove(k);
    if new_deadline.is_none_or(|d| d > m.now) {
        m.items.insert(k.to_vec(), (v.to_vec(), new_deadline));
    }
}

fn check_set_deadline(t: &TestTable, m: &mut Model, k: &[u8], due: Due, cond: ExpireIf) {
    // "Keep" stands for removing the deadline here (Redis `PERSIST`).
    let target = m.absolute(due).flatten().filter(|&d| d != u64::MAX);
    let mut told = Vec::new();
    let got = t.set_deadline(k, target, cond, &mut |c| told.push(c));
    if let Some(e) = length_error(k, None) {
        assert_eq!(got, Err(e));
        return;
    }
    let got = got.expect("memory is ample");
    let expected = match m.live(k).cloned() {
        None => DeadlineChange::Absent,
        Some((_, current)) if !allows(cond, current, target) => DeadlineChange::Unchanged,
        Some((_, None)) if target.is_none() => DeadlineChange::Unchanged,
        Some(_) if target.is_some_and(|d| d <= m.now) => {
            m.items.remove(k);
            DeadlineChange::Deleted
        }
        Some((v, _)) => {
            m.items.insert(k.to_vec(), (v, target));
            DeadlineChange::Changed
        }
    };
    assert_eq!(got, expected, "set_deadline {target:?} {cond:?}");
    match got {
        DeadlineChange::Changed | DeadlineChange::Deleted => assert_eq!(told, [got]),
        _ => assert!(told.is_empty()),
    }
}

fn check_update(t: &TestTable, m: &mut Model, k: &[u8], rmw: &Rmw) {
    let mut seen = Vec::new();
    let mut told = Vec::new();
    let mut scratch = Vec::new();
    let now = m.now;
    let got = t.update(
        k,
        &mut scratch,
        |old, buf: &mut Vec<u8>| {
            // Read in pieces, as a large value may need.
            let value = old.map(|e| {
                let mut v = vec![0u8; e.value_len()];
                for (i, piece) in v.chunks_mut(100).enumerate() {
                    assert_eq!(e.read_value(i * 100, piece), piece.len());
                }
                v
            });
            seen.push(value.clone());
            match rmw {
                Rmw::Keep => Update::Keep,
                Rmw::Delete => Update::Delete,
                Rmw::Append(suffix, due) => {
                    *buf = value.unwrap_or_default();
                    buf.extend_from_slice(suffix);
                    let deadline = match due {
                        Due::None => Deadline::None,
                        Due::Never => Deadline::At(u64::MAX),
                        Due::In(dt) => Deadline::At(now.saturating_add_signed(*dt)),
                        Due::Keep => Deadline::Keep,
                    };
                    Update::Set {
                        len: buf.len(),
                        deadline,
                    }
                }
            }
        },
        &mut |c| {
            told.push(match c {
                Change::Set { value, deadline } => Some((value.to_vec(), deadline)),
                Change::Deleted => None,
                Change::Expired => Some((b"expired".to_vec(), None)),
            })
        },
    );
    if let Some(e) = length_error(k, None) {
        assert_eq!(got, Err(e));
        assert!(seen.is_empty() && told.is_empty());
        return;
    }
    let live = m.live(k).cloned();
    let expired = m.is_expired(k);
    // Asked again only when an absent key had to make room.
    let want = live.as_ref().map(|(v, _)| v.clone());
    assert!(
        !seen.is_empty() && seen.iter().all(|s| *s == want),
        "the value seen"
    );
    assert!(seen.len() == 1 || live.is_none());
    let removal = |m: &mut Model, told: &[Option<(Vec<u8>, Option<u64>)>], got| {
        if live.is_some() {
            assert_eq!(got, Ok(Updated::Deleted));
            assert_eq!(told, [None]);
        } else {
            assert_eq!(got, Ok(Updated::Unchanged));
            match expired {
                true => assert_eq!(told, [Some((b"expired".to_vec(), None))]),
                false => assert!(told.is_empty()),
            }
        }
        m.remove(k);
    };
    match rmw {
        Rmw::Keep if live.is_some() => {
            assert_eq!(got, Ok(Updated::Unchanged));
            assert!(told.is_empty());
        }
        Rmw::Keep | Rmw::Delete => removal(m, &told, got),
        Rmw::Append(suffix, due) => {
            let mut value = live.as_ref().map(|(v, _)| v.clone()).unwrap_or_default();
            value.extend_from_slice(suffix);
            let deadline = match due {
                Due::Keep => live.as_ref().and_then(|(_, d)| *d),
                d => m.absolute(*d).flatten().filter(|&d| d != u64::MAX),
            };
            if deadline.is_some_and(|d| d <= m.now) {
                return removal(m, &told, got);
            }
            if let Some(e) = length_error(k, Some(&value)) {
                assert_eq!(got, Err(e));
                assert!(told.is_empty());
                return;
            }
            let want = if live.is_some() {
                Updated::Replaced
            } else {
                Updated::Inserted
            };
            assert_eq!(got, Ok(want));
            assert_eq!(told, [Some((value.clone(), deadline))]);
            m.remove(k);
            m.items.insert(k.to_vec(), (value, deadline));
        }
    }
}

type Seen = HashMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

fn entries(mut each: impl FnMut(&mut dyn FnMut(&kv_nostd::Entry<'_>))) -> Seen {
    let mut seen = HashMap::new();
    each(&mut |e| {
        let (k, v) = pair(e);
        assert!(
            seen.insert(k, (v, e.deadline())).is_none(),
            "returned twice"
        );
    });
    seen
}

/// Removes from the model the keys a step reported, each of which must be an expired item.
fn expire_step(t: &TestTable, m: &mut Model, cursor: ExpireCursor, max: usize) -> ExpireCursor {
    let mut reported = Vec::new();
    let step = t.expire_step(cursor, max, &mut |e| reported.push(pair(e).0));
    assert_eq!(step.expired, reported.len());
    assert!(step.examined >= step.expired);
    for k in &reported {
        assert!(m.is_expired(k), "a step removed a key that was not expired");
        m.remove(k);
    }
    step.cursor
}

fn run(ops: &[Op], hash_key: [u8; 16]) {
    let t = table(4 << 20, 1 << 20, config(), hash_key);
    let baseline = t.used_bytes();
    let mut m = Model::default();
    let mut cursor = ExpireCursor::START;
    let mut buf = vec![0u8; MAX_VALUE];
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let before = m.live(k).is_some();
                let got = t.put(k, v);
                if let Some(e) = length_error(k, Some(v)) {
                    assert_eq!(got, Err(e));
                } else {
                    let want = if before { Put::Replaced } else { Put::Inserted };
                    assert_eq!(got, Ok(want));
                    m.remove(k);
                    m.items.insert(k.clone(), (v.clone(), None));
                }
            }
            Op::PutIf(k, v, w) => check_put(&t, &mut m, k, v, *w, Due::None),
            Op::PutWith(k, v, w, d) => check_put(&t, &mut m, k, v, *w, *d),
            Op::Get(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.get_into(k, &mut buf), Err(e)),
                None => {
                    let want = m.live(k).map(|(v, _)| v);
                    let got = t.get_into(k, &mut buf).unwrap().map(|n| buf[..n].to_vec());
                    assert_eq!(got.as_ref(), want);
                    assert_eq!(get(&t, k).as_ref(), want);
                    assert_eq!(t.value_len(k), Ok(want.map(Vec::len)));
                    if let Some(v) = want.filter(|v| !v.is_empty()) {
                        assert_eq!(
                            t.get_into(k, &mut buf[..v.len() - 1]),
                            Err(Error::BufferTooSmall {
                                needed: v.len(),
                                len: v.len() - 1
                            })
                        );
                    }
                }
            },
            Op::Contains(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.contains(k), Err(e)),
                None => assert_eq!(t.contains(k), Ok(m.live(k).is_some())),
            },
            Op::Deadline(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.deadline(k), Err(e)),
                None => assert_eq!(t.deadline(k), Ok(m.live(k).map(|(_, d)| *d))),
            },
            Op::Delete(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.delete(k), Err(e)),
                None => {
                    let (live, stored) = (m.live(k).is_some(), m.items.contains_key(k));
                    let mut logged = 0;
                    assert_eq!(t.delete_then(k, &mut || logged += 1), Ok(live));
                    assert_eq!(logged, usize::from(stored), "then for every removal");
                    m.remove(k);
                }
            },
            Op::SetDeadline(k, d, c) => check_set_deadline(&t, &mut m, k, *d, *c),
            Op::Reap(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.reap(k, &mut |_| {}), Err(e)),
                None => {
                    let expired = m.is_expired(k);
                    let mut reported = 0;
                    assert_eq!(t.reap(k, &mut |_| reported += 1), Ok(expired));
                    assert_eq!(reported, usize::from(expired));
                    if expired {
                        m.remove(k);
                    }
                }
            },
            Op::Advance(dt) => {
                m.now += dt;
                assert_eq!(t.advance_clock(m.now), m.now);
            }
            Op::Rewind(dt) => {
                assert_eq!(t.advance_clock(m.now.saturating_sub(*dt)), m.now);
                assert_eq!(t.now(), m.now, "the clock never goes back");
            }
            Op::ExpireStep(max) => cursor = expire_step(&t, &mut m, cursor, *max),
            Op::ExpireCycle => {
                // Nothing else runs: a whole cycle removes exactly the expired items.
                let mut c = expire_step(&t, &mut m, ExpireCursor::START, 3);
                while !c.is_start() {
                    c = expire_step(&t, &mut m, c, 3);
                }
                let left = m.items.keys().filter(|k| m.is_expired(k)).count();
                assert_eq!(left, 0, "a cycle left expired items");
            }
            Op::Visit => {
                let seen = entries(|f| t.visit(|e| f(e)));
                assert_eq!(seen, m.visible());
            }
            Op::Scan(count) => {
                // With no writer running, a scan returns each entry exactly once.
                let seen = entries(|f| {
                    let mut cursor = ScanCursor::START;
                    loop {
                        cursor = t.scan(cursor, *count, |e| f(e));
                        if cursor.is_start() {
                            break;
                        }
                    }
                });
                assert_eq!(seen, m.visible());
            }
            Op::Update(k, rmw) => check_update(&t, &mut m, k, rmw),
            Op::Clear => {
                let mut cleared = HashMap::new();
                let live = m.visible().len();
                assert_eq!(
                    t.clear_then(&mut |e| {
                        cleared.insert(pair(e).0, ());
                    }),
                    live
                );
                assert_eq!(cleared.len(), m.items.len());
                m.items.clear();
            }
            // Merges move keys, never lose or change one: the checks below and the next
            // operations read through the merged index.
            Op::Shrink(n) => {
                t.shrink_step(*n);
                assert_eq!(entries(|f| t.visit(|e| f(e))), m.visible());
            }
        }
        assert_eq!(t.len(), m.items.len());
        let with_deadline = m.items.values().filter(|(_, d)| d.is_some()).count();
        assert_eq!(t.expires(), with_deadline, "keys with a deadline");
        assert_eq!(t.stats().expired, m.expired, "expired keys removed");
        assert!(t.used_bytes() >= baseline);
    }
    // Everything deleted, the arena keeps at most one page per size class.
    t.clear();
    let s = t.stats();
    assert_eq!(s.len, 0);
    assert!(
        s.pages_in_use <= 30,
        "{} pages still in use",
        s.pages_in_use
    );
    // And a shrink step gives back those pages and every segment but the first.
    t.shrink_step(usize::MAX);
    let s = t.stats();
    assert_eq!(
        (s.segments, s.global_depth, s.pages_in_use),
        (1, 0, 0),
        "{s:?}"
    );
    assert_eq!(t.used_bytes(), baseline);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_table_behaves_like_a_hash_map(
        ops in proptest::collection::vec(op(), 1..200),
        hash_key in any::<[u8; 16]>(),
    ) {
        run(&ops, hash_key);
    }
}

#[test]
fn get_variants_agree() {
    let t = table(1 << 20, 1 << 16, config(), [9; 16]);
    t.put(b"user1", b"John Doe").unwrap();
    let v: heapless::Vec<u8, 64> = t.get_vec(b"user1").unwrap().unwrap();
    assert_eq!(v.as_slice(), b"John Doe");
    assert_eq!(
        t.get_vec::<4>(b"user1"),
        Err(Error::BufferTooSmall { needed: 8, len: 4 })
    );
    assert_eq!(t.value_len(b"user1"), Ok(Some(8)));
    assert_eq!(t.value_len(b"nobody"), Ok(None));
    let mut small = [0u8; 3];
    assert_eq!(
        t.get_into(b"user1", &mut small),
        Err(Error::BufferTooSmall { needed: 8, len: 3 })
    );
    assert_eq!(t.try_get_into(b"user1", &mut [0; 64]), Ok(Some(8)));
    assert_eq!(t.try_contains(b"user1"), Ok(true));
    assert_eq!(t.try_put(b"user1", b"x"), Ok(Put::Replaced));
    assert_eq!(t.try_delete(b"user1"), Ok(true));
}

#[test]
fn empty_keys_and_values_are_entries_like_any_other() {
    let t = table(1 << 20, 1 << 16, config(), [9; 16]);
    assert_eq!(t.put(b"", b""), Ok(Put::Inserted));
    assert_eq!(get(&t, b""), Some(vec![]));
    assert_eq!(t.delete(b""), Ok(true));
    assert_eq!(t.contains(b""), Ok(false));
}

#[test]
fn maximum_lengths_fit_and_one_more_byte_does_not() {
    let t = table(1 << 20, 1 << 16, config(), [9; 16]);
    let (k, v) = (vec![7u8; MAX_KEY], crate::pattern(1, MAX_VALUE));
    assert_eq!(t.put(&k, &v), Ok(Put::Inserted));
    assert_eq!(get(&t, &k), Some(v));
    assert_eq!(
        t.put(&[7; MAX_KEY + 1], b""),
        Err(Error::KeyTooLong {
            len: MAX_KEY + 1,
            max: MAX_KEY
        })
    );
    assert_eq!(
        t.put(b"k", &vec![0; MAX_VALUE + 1]),
        Err(Error::ValueTooLong {
            len: MAX_VALUE + 1,
            max: MAX_VALUE
        })
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn layouts_out_of_range_are_refused() {
    use kv_nostd::LayoutError;
    let bad_page = Config {
        page_bytes: 1000,
        ..config()
    };
    let mem = || (crate::Heap::new(1 << 16), crate::Heap::new(1 << 16));
    let (a, i) = mem();
    assert_eq!(
        kv_nostd::Table::new(a, i, kv_nostd::HashKey([0; 16]), bad_page).err(),
        Some(LayoutError::PageSize(1000))
    );
    let (a, i) = mem();
    let bad_segment = Config {
        segment_buckets: 3,
        ..config()
    };
    assert_eq!(
        kv_nostd::Table::new(a, i, kv_nostd::HashKey([0; 16]), bad_segment).err(),
        Some(LayoutError::SegmentBuckets(3))
    );
    let tiny = kv_nostd::Table::new(
        crate::Heap::new(512),
        crate::Heap::new(1 << 16),
        kv_nostd::HashKey([0; 16]),
        config(),
    );
    assert!(matches!(
        tiny.err(),
        Some(LayoutError::ArenaTooSmall { .. })
    ));
    let tiny = kv_nostd::Table::new(
        crate::Heap::new(1 << 16),
        crate::Heap::new(32),
        kv_nostd::HashKey([0; 16]),
        config(),
    );
    assert!(matches!(
        tiny.err(),
        Some(LayoutError::IndexTooSmall { .. })
    ));
}
