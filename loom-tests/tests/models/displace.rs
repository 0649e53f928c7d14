//! Models 3 and 7: cuckoo displacement, in tables of four one-slot buckets.

use std::sync::Arc;

use kv_nostd::{loom_hooks, Error, Put};
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, stored, table};

/// Keys for a table of four one-slot buckets `p`, `q`, `r`, `s`:
/// `a` lives in `p` and its other bucket is `r`; `b` lives in `q`; `e` lives in `s`;
/// `c` hashes to `p` then `q`, so with `a` and `b` in place it fits only by moving `a` to `r`
/// (the first hop the breadth-first search tries); `d` hashes to `r` first.
struct Keys {
    a: Vec<u8>,
    b: Vec<u8>,
    c: Vec<u8>,
    d: Vec<u8>,
    e: Vec<u8>,
    r: usize,
}

fn keys() -> Keys {
    plan(|| {
        let (t, _) = table::<1>(4);
        let a = find_key(&t, &[], |_, _| true);
        let (p, r) = t.buckets_of(&a);
        let c = find_key(&t, &[&a], |c1, c2| c1 == p && c2 != r && c2 != p);
        let q = t.buckets_of(&c).1;
        let b = find_key(&t, &[&a, &c], |b1, _| b1 == q);
        let d = find_key(&t, &[&a, &b, &c], |d1, _| d1 == r);
        let s = (0..4).find(|i| ![p, q, r].contains(i)).unwrap();
        let e = find_key(&t, &[&a, &b, &c, &d], |e1, _| e1 == s);
        Keys { a, b, c, d, e, r }
    })
}

/// Model 3: a reader of a key that a concurrent put moves to its other bucket finds it.
#[test]
fn reader_vs_displacement_no_false_miss() {
    let Keys { a, b, c, r, .. } = keys();
    loom_tests::model("reader_vs_displacement_no_false_miss", move || {
        let (t, buckets) = table::<1>(4);
        assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
        assert_eq!(t.put(&b, b"b"), Ok(Put::Inserted));
        let writer = {
            let (t, c) = (Arc::clone(&t), c.clone());
            thread::spawn(move || assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted)))
        };
        assert_eq!(
            get(&t, &a).as_deref(),
            Some(&b"a"[..]),
            "a key being moved was missed"
        );
        writer.join().unwrap();
        assert_eq!(
            loom_hooks::occupied(&buckets[r]),
            1,
            "the put did not move the key (the model tests nothing)"
        );
        for (k, v) in [(&a, b"a"), (&b, b"b"), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(&v[..]));
        }
        assert_quiescent(&buckets);
    });
}

/// Model 7: two puts race for the last free slot, one directly and one by a move. One wins;
/// the other answers "no space"; nothing stored before changes or disappears.
#[test]
fn full_pair_answers_no_space() {
    let Keys { a, b, c, d, e, .. } = keys();
    loom_tests::model("full_pair_answers_no_space", move || {
        let (t, buckets) = table::<1>(4);
        for (k, v) in [(&a, b"a"), (&b, b"b"), (&e, b"e")] {
            assert_eq!(t.put(k, v), Ok(Put::Inserted));
        }
        let spawn_put = |k: &Vec<u8>, v: &'static [u8]| {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || t.put(&k, v))
        };
        let put_c = spawn_put(&c, b"c");
        let put_d = spawn_put(&d, b"d");
        let (rc, rd) = (put_c.join().unwrap(), put_d.join().unwrap());
        let (won, lost) = match (rc, rd) {
            (Ok(Put::Inserted), Err(Error::NoSpace)) => ((&c, b"c"), &d),
            (Err(Error::NoSpace), Ok(Put::Inserted)) => ((&d, b"d"), &c),
            other => panic!(
                "one free slot, two puts: expected one insert and one NoSpace, got {other:?}"
            ),
        };
        for (k, v) in [(&a, b"a"), (&b, b"b"), (&e, b"e"), won] {
            assert_eq!(
                get(&t, k).as_deref(),
                Some(&v[..]),
                "a stored key changed or vanished"
            );
        }
        assert_eq!(
            get(&t, lost),
            None,
            "the put that answered NoSpace stored its key"
        );
        assert_eq!(stored(&buckets), 4);
        assert_eq!(t.len(), 4);
        assert_quiescent(&buckets);
    });
}
