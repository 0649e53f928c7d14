//! Model 8: visits while writers run: a slot reused for another key, and a cuckoo move.

use std::sync::Arc;

use kv_nostd::loom_hooks;
use kv_nostd::Put;
use loom::thread;
use loom_tests::{entries, find_key, plan, table};

/// Every pair a visit reports is one the table held: the key with one of its own values, never
/// one key's bytes with another's value or a torn value. A key present throughout is visited
/// exactly once.
#[test]
fn visit_during_writes_reports_whole_pairs() {
    let (a, b, c) = plan(|| {
        let (t, _) = table::<1>(2);
        let a = find_key(&t, &[], |_, _| true);
        let (a1, _) = t.buckets_of(&a);
        // `b` takes the slot `a` leaves; `c` sits in the other bucket throughout.
        let b = find_key(&t, &[&a], |b1, _| b1 == a1);
        let c = find_key(&t, &[&a, &b], |c1, _| c1 != a1);
        (a, b, c)
    });
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"b-longer".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    loom_tests::model("visit_during_writes_reports_whole_pairs", move || {
        let (t, _) = table::<1>(2);
        assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
        assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted));
        let writer = {
            let (t, a, b) = (Arc::clone(&t), a.clone(), b.clone());
            thread::spawn(move || {
                assert_eq!(t.delete(&a), Ok(true));
                assert_eq!(t.put(&b, b"b-longer"), Ok(Put::Inserted));
            })
        };
        let seen = entries(&t);
        for pair in &seen {
            assert!(
                allowed.contains(pair),
                "visit reported a pair never stored: {pair:?}"
            );
        }
        let cs = seen.iter().filter(|(k, _)| *k == c).count();
        assert_eq!(cs, 1, "a key present throughout was visited {cs} times");
        writer.join().unwrap();
        // No `assert_quiescent` here: the visit's `fetch_add(0)` on a version races the writer's
        // plain `store` that ends a write, and loom 0.7 may order that store before the
        // read-modify-write, leaving a final version a real machine cannot produce (an odd one).
        // tokio-rs/loom#254; the table's writes are checked for this in the other models.
    });
}

/// Model 8b: a visit while a put moves a key to a bucket before the one it leaves, the move
/// that could carry the key past a running visit. The visit's cursor must stop that move, so
/// the moved key and a key left in place are each visited exactly once.
#[test]
fn visit_during_displacement_misses_nothing() {
    // Four one-slot buckets: `a` in `p` with its other bucket `r < p`; `b` in `q`; `c` hashes to
    // `p` then `q`, so putting it moves `a` down to `r`.
    let (a, b, c) = plan(|| {
        let (t, _) = table::<1>(4);
        let a = find_key(&t, &[], |a1, a2| a2 < a1);
        let (p, r) = t.buckets_of(&a);
        let c = find_key(&t, &[&a], |c1, c2| c1 == p && c2 != r && c2 != p);
        let q = t.buckets_of(&c).1;
        let b = find_key(&t, &[&a, &c], |b1, _| b1 == q);
        (a, b, c)
    });
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"b".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    loom_tests::model("visit_during_displacement_misses_nothing", move || {
        let (t, buckets) = table::<1>(4);
        assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
        assert_eq!(t.put(&b, b"b"), Ok(Put::Inserted));
        let writer = {
            let (t, c) = (Arc::clone(&t), c.clone());
            thread::spawn(move || assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted)))
        };
        let seen = entries(&t);
        for pair in &seen {
            assert!(
                allowed.contains(pair),
                "visit reported a pair never stored: {pair:?}"
            );
        }
        for k in [&a, &b] {
            let n = seen.iter().filter(|(s, _)| s == k).count();
            assert_eq!(n, 1, "key {k:?}, present throughout, was visited {n} times");
        }
        writer.join().unwrap();
        assert_eq!(
            loom_hooks::occupied(&buckets[t.buckets_of(&a).1]),
            1,
            "the put did not move `a`"
        );
    });
}
