//! Models 4, 5 and 6: writers of the same key, and writers of keys sharing both buckets.

use std::sync::Arc;

use kv_nostd::Put;
use loom::thread;
use loom_tests::{assert_quiescent, entries, find_key, get, plan, stored, table, Shape};

const SHAPE: Shape = Shape::fixed(2);

/// Model 4: two puts of one absent key leave exactly one entry, holding the value of the put
/// that came second (the one that answered `Replaced`).
#[test]
fn concurrent_inserts_of_one_key_leave_one_entry() {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model("concurrent_inserts_of_one_key_leave_one_entry", move || {
        let t = table(SHAPE);
        let put = |v: &'static [u8]| {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || t.put(&k, v))
        };
        let (p1, p2) = (put(b"one"), put(b"two"));
        let (r1, r2) = (p1.join().unwrap(), p2.join().unwrap());
        let last: &[u8] = match (r1, r2) {
            (Ok(Put::Inserted), Ok(Put::Replaced)) => b"two",
            (Ok(Put::Replaced), Ok(Put::Inserted)) => b"one",
            other => panic!("expected one insert and one replace, got {other:?}"),
        };
        assert_eq!(stored(&t), 1, "the key is stored twice");
        assert_eq!(entries(&t), [(k.clone(), last.to_vec())]);
        assert_eq!(t.len(), 1);
        assert_quiescent(&t);
    });
}

/// Model 5: a put and a delete of one key end as one of the two serial orders, whether the key
/// was absent or present before: both results, the final value and the count agree with
/// put-then-delete or with delete-then-put.
#[test]
fn insert_vs_delete_is_serialisable() {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    for present in [false, true] {
        let k = k.clone();
        loom_tests::model("insert_vs_delete_is_serialisable", move || {
            let t = table(SHAPE);
            if present {
                assert_eq!(t.put(&k, b"old"), Ok(Put::Inserted));
            }
            let put = {
                let (t, k) = (Arc::clone(&t), k.clone());
                thread::spawn(move || t.put(&k, b"new"))
            };
            let deleted = t.delete(&k);
            let put = put.join().unwrap();
            assert_quiescent(&t);
            let outcome = (put, deleted, get(&t, &k), t.len());
            let put_first = (
                Ok(if present {
                    Put::Replaced
                } else {
                    Put::Inserted
                }),
                Ok(true),
                None,
                0,
            );
            let delete_first = (Ok(Put::Inserted), Ok(present), Some(b"new".to_vec()), 1);
            assert!(
                outcome == put_first || outcome == delete_first,
                "no serial order gives {outcome:?} (key present before: {present})"
            );
        });
    }
}

/// Model 6: two puts whose keys take the same two buckets in opposite order both finish.
#[test]
fn opposite_bucket_order_does_not_deadlock() {
    let (a, b) = plan(|| {
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, b1, _| b1 == 0);
        let b = find_key(&t, &[&a], |_, b1, _| b1 == 1);
        (a, b)
    });
    loom_tests::model("opposite_bucket_order_does_not_deadlock", move || {
        let t = table(SHAPE);
        let put = |k: &Vec<u8>, v: &'static [u8]| {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || t.put(&k, v))
        };
        let (pa, pb) = (put(&a, b"a"), put(&b, b"b"));
        assert_eq!(pa.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(pb.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(get(&t, &a).as_deref(), Some(&b"a"[..]));
        assert_eq!(get(&t, &b).as_deref(), Some(&b"b"[..]));
        assert_quiescent(&t);
    });
}
