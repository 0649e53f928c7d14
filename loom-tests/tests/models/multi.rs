//! Models 26 and 26b: operations on two keys at once (`Table::locked`), against a reader of
//! both keys and against another such operation taking the keys in the other order.

use std::sync::Arc;

use kv_nostd::{Held, Put};
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, table, Shape, Table};

const SHAPE: Shape = Shape::fixed(4);

/// Two keys whose buckets do not overlap, stored with value `0`.
fn two_keys() -> (Vec<u8>, Vec<u8>) {
    plan(|| {
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, a1, a2| a1 != a2);
        let (_, a1, a2) = t.placement(&a);
        let b = find_key(&t, &[&a], |_, b1, b2| {
            b1 != b2 && ![a1, a2].contains(&b1) && ![a1, a2].contains(&b2)
        });
        (a, b)
    })
}

/// Sets both keys to `v` in one `locked` call, keys given in the order of `keys`.
fn set_both(t: &Table, keys: [&[u8]; 2], v: &'static [u8]) {
    let mut scratch = [Held::EMPTY; 6];
    let puts = t
        .locked(&keys, &mut scratch, false, |l| {
            let (p0, p1) = (
                l.prepare(0, v, None).unwrap(),
                l.prepare(1, v, None).unwrap(),
            );
            (l.link(p0), l.link(p1))
        })
        .unwrap();
    assert_eq!(puts, (Ok(Put::Replaced), Ok(Put::Replaced)));
}

/// Model 26: a reader of `a` then `b`, racing a call that sets both, never sees `a`'s new
/// value with `b`'s old one.
#[test]
fn a_reader_sees_all_of_a_two_key_write_or_none_of_it() {
    let (a, b) = two_keys();
    loom_tests::model(
        "a_reader_sees_all_of_a_two_key_write_or_none_of_it",
        move || {
            let t = table(SHAPE);
            assert_eq!(t.put(&a, b"0"), Ok(Put::Inserted));
            assert_eq!(t.put(&b, b"0"), Ok(Put::Inserted));
            let writer = {
                let (t, a, b) = (Arc::clone(&t), a.clone(), b.clone());
                thread::spawn(move || set_both(&t, [&a, &b], b"1"))
            };
            let (ra, rb) = (get(&t, &a), get(&t, &b));
            assert!(
                !(ra.as_deref() == Some(b"1") && rb.as_deref() == Some(b"0")),
                "saw half of the write: a = 1, then b = 0"
            );
            writer.join().unwrap();
            assert_eq!(
                (get(&t, &a), get(&t, &b)),
                (Some(b"1".to_vec()), Some(b"1".to_vec()))
            );
            assert_quiescent(&t);
        },
    );
}

/// Model 26b: two calls over the same two keys, given in opposite orders, both finish (the
/// buckets are locked in one global order), and the keys end equal: one call wholly after the
/// other.
#[test]
fn two_key_writes_in_opposite_orders_do_not_deadlock() {
    let (a, b) = two_keys();
    loom_tests::model(
        "two_key_writes_in_opposite_orders_do_not_deadlock",
        move || {
            let t = table(SHAPE);
            assert_eq!(t.put(&a, b"0"), Ok(Put::Inserted));
            assert_eq!(t.put(&b, b"0"), Ok(Put::Inserted));
            let other = {
                let (t, a, b) = (Arc::clone(&t), a.clone(), b.clone());
                thread::spawn(move || set_both(&t, [&b, &a], b"2"))
            };
            set_both(&t, [&a, &b], b"1");
            other.join().unwrap();
            let (ra, rb) = (get(&t, &a), get(&t, &b));
            assert_eq!(ra, rb, "the two calls interleaved");
            assert_quiescent(&t);
        },
    );
}
