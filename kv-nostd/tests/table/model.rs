//! Random operation sequences against a `HashMap` model: every result must match. Pages of
//! 1 KiB and segments of 2 buckets, so values span several pages and the index splits often.

use crate::{get, pair, table, TestTable, VecSink};
use kv_nostd::{Config, Error, Put, ScanCursor, When};
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

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    PutIf(Vec<u8>, Vec<u8>, When),
    Get(Vec<u8>),
    Contains(Vec<u8>),
    Delete(Vec<u8>),
    Visit,
    Scan(usize),
    Clear,
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
        2 => (PAGE / 2 - 8)..(PAGE + 16),
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

fn op() -> impl Strategy<Value = Op> {
    // Weights in thirtieths, so a clear is rare (about one operation in 570) without filtering.
    prop_oneof![
        180 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        60 => (key(), value(), when()).prop_map(|(k, v, w)| Op::PutIf(k, v, w)),
        120 => key().prop_map(Op::Get),
        30 => key().prop_map(Op::Contains),
        90 => key().prop_map(Op::Delete),
        30 => Just(Op::Visit),
        30 => (1usize..20).prop_map(Op::Scan),
        1 => Just(Op::Clear),
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

fn check_put(t: &TestTable, m: &mut HashMap<Vec<u8>, Vec<u8>>, k: &[u8], v: &[u8], when: When) {
    let mut old = VecSink(b"untouched".to_vec());
    let got = t.put_if_with_old(k, v, when, &mut old);
    if let Some(e) = length_error(k, Some(v)) {
        assert_eq!(got, Err(e));
        assert_eq!(old.0, b"untouched", "no value handed out on a length error");
        return;
    }
    let present = m.get(k).cloned();
    let outcome = got.expect("memory is ample");
    let expected = match (when, present.is_some()) {
        (When::IfAbsent, true) | (When::IfPresent, false) => None,
        (_, true) => Some(Put::Replaced),
        (_, false) => Some(Put::Inserted),
    };
    assert_eq!(outcome, expected);
    assert_eq!(when.was_present(outcome), present.is_some());
    match present {
        Some(p) => assert_eq!(old.0, p, "old value"),
        None => assert_eq!(old.0, b"untouched", "an absent key has no old value"),
    }
    if outcome.is_some() {
        m.insert(k.to_vec(), v.to_vec());
    }
}

fn entries(
    t: &TestTable,
    mut each: impl FnMut(&mut dyn FnMut(&kv_nostd::Entry<'_>)),
) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut seen = HashMap::new();
    each(&mut |e| {
        let (k, v) = pair(e);
        assert!(seen.insert(k, v).is_none(), "returned twice");
    });
    let _ = t;
    seen
}

fn run(ops: &[Op], hash_key: [u8; 16]) {
    let t = table(4 << 20, 1 << 20, config(), hash_key);
    let baseline = t.used_bytes();
    let mut m: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut buf = vec![0u8; MAX_VALUE];
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let before = m.contains_key(k.as_slice());
                let got = t.put(k, v);
                if let Some(e) = length_error(k, Some(v)) {
                    assert_eq!(got, Err(e));
                } else {
                    let want = if before { Put::Replaced } else { Put::Inserted };
                    assert_eq!(got, Ok(want));
                    m.insert(k.clone(), v.clone());
                }
            }
            Op::PutIf(k, v, w) => check_put(&t, &mut m, k, v, *w),
            Op::Get(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.get_into(k, &mut buf), Err(e)),
                None => {
                    let got = t.get_into(k, &mut buf).unwrap().map(|n| buf[..n].to_vec());
                    assert_eq!(got.as_ref(), m.get(k.as_slice()));
                    assert_eq!(get(&t, k).as_ref(), m.get(k.as_slice()));
                    if let Some(v) = m.get(k.as_slice()).filter(|v| !v.is_empty()) {
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
                None => assert_eq!(t.contains(k), Ok(m.contains_key(k.as_slice()))),
            },
            Op::Delete(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.delete(k), Err(e)),
                None => assert_eq!(t.delete(k), Ok(m.remove(k.as_slice()).is_some())),
            },
            Op::Visit => {
                let seen = entries(&t, |f| t.visit(|e| f(e)));
                assert_eq!(seen, m);
            }
            Op::Scan(count) => {
                // With no writer running, a scan returns each entry exactly once.
                let seen = entries(&t, |f| {
                    let mut cursor = ScanCursor::START;
                    loop {
                        cursor = t.scan(cursor, *count, |e| f(e));
                        if cursor.is_start() {
                            break;
                        }
                    }
                });
                assert_eq!(seen, m);
            }
            Op::Clear => {
                let mut cleared = HashMap::new();
                assert_eq!(
                    t.clear_then(&mut |e| {
                        cleared.insert(pair(e).0, ());
                    }),
                    m.len()
                );
                assert_eq!(cleared.len(), m.len());
                m.clear();
            }
        }
        assert_eq!(t.len(), m.len());
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
