//! Models 4, 5 and 6: writers of the same key, and writers of keys sharing both buckets.

use std::sync::Arc;

use kv_nostd::Put;
use loom::thread;
use loom_tests::{assert_quiescent, entries, find_key, get, plan, stored, table};

/// Model 4: two puts of one absent key leave exactly one entry, holding the value of the put
/// that came second (the one that answered `Replaced`).
#[test]
fn concurrent_inserts_of_one_key_leave_one_entry() {
    let k = plan(|| find_key(&table::<1>(2).0, &[], |_, _| true));
    loom_tests::model("concurrent_inserts_of_one_key_leave_one_entry", move || {
        let (t, buckets) = table::<1>(2);
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
        assert_eq!(stored(&buckets), 1, "the key is stored twice");
        assert_eq!(entries(&t), [(k.clone(), last.to_vec())]);
        assert_eq!(t.len(), 1);
        assert_quiescent(&buckets);
    });
}

/// Model 5: a put and a delete of one absent key end as one of the two serial orders:
/// put then delete (`Inserted`, `true`, absent) or delete then put (`Inserted`, `false`, present).
#[test]
fn insert_vs_delete_is_serialisable() {
    let k = plan(|| find_key(&table::<1>(2).0, &[], |_, _| true));
    loom_tests::model("insert_vs_delete_is_serialisable", move || {
        let (t, buckets) = table::<1>(2);
        let put = {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || t.put(&k, b"v"))
        };
        let deleted = t.delete(&k);
        let put = put.join().unwrap();
        assert_quiescent(&buckets);
        let after = get(&t, &k);
        match (put, deleted, after.as_deref()) {
            (Ok(Put::Inserted), Ok(true), None) => assert_eq!(t.len(), 0),
            (Ok(Put::Inserted), Ok(false), Some(b"v")) => assert_eq!(t.len(), 1),
            other => panic!("no serial order gives {other:?}"),
        }
    });
}

/// Model 6: two puts whose keys take the same two buckets in opposite order both finish.
#[test]
fn opposite_bucket_order_does_not_deadlock() {
    let (a, b) = plan(|| {
        let (t, _) = table::<1>(2);
        let a = find_key(&t, &[], |b1, _| b1 == 0);
        let b = find_key(&t, &[&a], |b1, _| b1 == 1);
        (a, b)
    });
    loom_tests::model("opposite_bucket_order_does_not_deadlock", move || {
        let (t, buckets) = table::<1>(2);
        let put = |k: &Vec<u8>, v: &'static [u8]| {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || t.put(&k, v))
        };
        let (pa, pb) = (put(&a, b"a"), put(&b, b"b"));
        assert_eq!(pa.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(pb.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(get(&t, &a).as_deref(), Some(&b"a"[..]));
        assert_eq!(get(&t, &b).as_deref(), Some(&b"b"[..]));
        assert_quiescent(&buckets);
    });
}
