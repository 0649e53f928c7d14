//! Random operation sequences against a `HashMap` model: every result must match.

use crate::{table, TestTable};
use kv_nostd::{Error, Put, When};
use proptest::prelude::*;
use std::collections::HashMap;

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

/// Keys from a small pool so operations collide, plus some that are too long.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (0u8..48).prop_map(|i| format!("k{i}").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..=16),
        1 => proptest::collection::vec(any::<u8>(), 17..40),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => proptest::collection::vec(any::<u8>(), 0..=64),
        1 => proptest::collection::vec(any::<u8>(), 65..100),
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        Just(When::Always),
        Just(When::IfAbsent),
        Just(When::IfPresent)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (key(), value(), when()).prop_map(|(k, v, w)| Op::PutIf(k, v, w)),
        4 => key().prop_map(Op::Get),
        1 => key().prop_map(Op::Contains),
        3 => key().prop_map(Op::Delete),
        1 => Just(Op::Visit),
        1 => (0usize..4).prop_map(Op::Scan),
        1 => (0u8..20).prop_filter_map("rare", |x| (x == 0).then_some(Op::Clear)),
    ]
}

fn length_error(k: &[u8], v: Option<&[u8]>) -> Option<Error> {
    if k.len() > 16 {
        return Some(Error::KeyTooLong {
            len: k.len(),
            max: 16,
        });
    }
    match v {
        Some(v) if v.len() > 64 => Some(Error::ValueTooLong {
            len: v.len(),
            max: 64,
        }),
        _ => None,
    }
}

/// Applies one put to the model, checking the table's answer. Returns false on a NoSpace.
fn check_put(t: &TestTable<4>, m: &mut HashMap<Vec<u8>, Vec<u8>>, k: &[u8], v: &[u8], when: When) {
    let mut seen_old: Option<Option<Vec<u8>>> = None;
    let got = t.put_if_with_old(k, v, when, &mut |old| {
        seen_old = Some(old.map(<[u8]>::to_vec))
    });
    if let Some(e) = length_error(k, Some(v)) {
        assert_eq!(got, Err(e));
        assert_eq!(seen_old, None, "no value handed out on a length error");
        return;
    }
    let present = m.contains_key(k);
    match got {
        Err(Error::NoSpace) => {
            assert!(!present, "NoSpace for a present key");
            assert!(
                m.len() >= t.capacity() / 2,
                "NoSpace at {} of {} slots",
                m.len(),
                t.capacity()
            );
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(outcome) => {
            assert_eq!(seen_old, Some(m.get(k).cloned()), "old value");
            let expected = match (when, present) {
                (When::IfAbsent, true) | (When::IfPresent, false) => None,
                (_, true) => Some(Put::Replaced),
                (_, false) => Some(Put::Inserted),
            };
            assert_eq!(outcome, expected);
            if outcome.is_some() {
                m.insert(k.to_vec(), v.to_vec());
            }
        }
    }
}

fn run(ops: &[Op], hash_key: [u8; 16]) {
    let t = table::<4>(8, hash_key);
    let mut m: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut buf = [0u8; 64];
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let before = m.contains_key(k.as_slice());
                let got = t.put(k, v);
                if let Some(e) = length_error(k, Some(v)) {
                    assert_eq!(got, Err(e));
                } else if got == Err(Error::NoSpace) {
                    assert!(!before && m.len() >= t.capacity() / 2);
                } else {
                    let want = if before { Put::Replaced } else { Put::Inserted };
                    assert_eq!(got, Ok(want));
                    m.insert(k.clone(), v.clone());
                }
            }
            Op::PutIf(k, v, w) => check_put(&t, &mut m, k, v, *w),
            Op::Get(k) => {
                let got = t.get_into(k, &mut buf);
                match length_error(k, None) {
                    Some(e) => assert_eq!(got, Err(e)),
                    None => {
                        let got = got.unwrap().map(|n| buf[..n].to_vec());
                        assert_eq!(got.as_ref(), m.get(k.as_slice()));
                    }
                }
            }
            Op::Contains(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.contains(k), Err(e)),
                None => assert_eq!(t.contains(k), Ok(m.contains_key(k.as_slice()))),
            },
            Op::Delete(k) => match length_error(k, None) {
                Some(e) => assert_eq!(t.delete(k), Err(e)),
                None => assert_eq!(t.delete(k), Ok(m.remove(k.as_slice()).is_some())),
            },
            Op::Visit => {
                let mut seen = HashMap::new();
                t.visit(|k, v| {
                    assert!(
                        seen.insert(k.to_vec(), v.to_vec()).is_none(),
                        "visited twice"
                    );
                });
                assert_eq!(seen, m);
            }
            Op::Scan(step) => {
                // With no concurrent moves, a scan returns each entry exactly once.
                let mut seen = HashMap::new();
                let mut cursor = kv_nostd::ScanCursor::START;
                loop {
                    cursor = t.scan(cursor, *step, |k, v| {
                        assert!(
                            seen.insert(k.to_vec(), v.to_vec()).is_none(),
                            "scanned twice"
                        );
                    });
                    if cursor.is_start() {
                        break;
                    }
                }
                assert_eq!(seen, m);
            }
            Op::Clear => {
                assert_eq!(t.clear(), m.len());
                m.clear();
            }
        }
        assert_eq!(t.len(), m.len());
    }
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
    let t = table::<4>(8, [9; 16]);
    t.put(b"user1", b"John Doe").unwrap();
    let v: heapless::Vec<u8, 64> = t.get_vec(b"user1").unwrap().unwrap();
    assert_eq!(v.as_slice(), b"John Doe");
    assert_eq!(
        t.get_vec::<4>(b"user1"),
        Err(Error::BufferTooSmall { needed: 8, len: 4 })
    );
    assert_eq!(t.get_with(b"user1", |v| v.len()), Ok(Some(8)));
    assert_eq!(t.get_with(b"nobody", |v| v.len()), Ok(None));
    let mut small = [0u8; 3];
    assert_eq!(
        t.get_into(b"user1", &mut small),
        Err(Error::BufferTooSmall { needed: 8, len: 3 })
    );
    assert_eq!(t.try_get_into(b"user1", &mut [0; 64]), Ok(Some(8)));
}

#[test]
fn empty_keys_and_values_are_entries_like_any_other() {
    let t = table::<4>(8, [9; 16]);
    assert_eq!(t.put(b"", b""), Ok(Put::Inserted));
    assert_eq!(t.get_with(b"", <[u8]>::to_vec), Ok(Some(vec![])));
    assert_eq!(t.delete(b""), Ok(true));
    assert_eq!(t.contains(b""), Ok(false));
}

#[test]
fn maximum_lengths_fit_and_one_more_byte_does_not() {
    let t = table::<4>(8, [9; 16]);
    let (k, v) = ([7u8; 16], [8u8; 64]);
    assert_eq!(t.put(&k, &v), Ok(Put::Inserted));
    assert_eq!(t.get_with(&k, <[u8]>::to_vec), Ok(Some(v.to_vec())));
    assert_eq!(
        t.put(&[7; 17], b""),
        Err(Error::KeyTooLong { len: 17, max: 16 })
    );
    assert_eq!(
        t.put(b"k", &[0; 65]),
        Err(Error::ValueTooLong { len: 65, max: 64 })
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn bucket_counts_must_be_powers_of_two() {
    let storage: Box<[kv_nostd::Bucket<2, 8, 4>]> =
        (0..6).map(|_| kv_nostd::Bucket::new()).collect();
    assert_eq!(
        kv_nostd::Table::<_, 2, 8, 4>::new(storage, kv_nostd::HashKey([0; 16])).err(),
        Some(kv_nostd::LayoutError::BucketCount(6))
    );
}
