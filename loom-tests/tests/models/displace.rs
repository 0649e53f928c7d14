//! Models 3, 3b, 7, 10 and 11: cuckoo displacement, in one segment of four one-slot buckets.

use std::sync::Arc;

use kv_nostd::{Error, Put};
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, occupied, plan, stored, table, Shape, Table};

/// One segment of four one-slot buckets, which cannot split.
const SHAPE: Shape = Shape::fixed(4);

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
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, _, _| true);
        let (_, p, r) = t.placement(&a);
        let c = find_key(&t, &[&a], |_, c1, c2| c1 == p && c2 != r && c2 != p);
        let q = t.placement(&c).2;
        let b = find_key(&t, &[&a, &c], |_, b1, _| b1 == q);
        let d = find_key(&t, &[&a, &b, &c], |_, d1, _| d1 == r);
        let s = (0..4).find(|i| ![p, q, r].contains(i)).unwrap();
        let e = find_key(&t, &[&a, &b, &c, &d], |_, e1, _| e1 == s);
        Keys { a, b, c, d, e, r }
    })
}

/// A table of four one-slot buckets holding `a` ("a") and `b` ("b"), so that a put of `c`
/// fits only by moving `a`.
fn a_and_b(a: &[u8], b: &[u8]) -> Arc<Table> {
    let t = table(SHAPE);
    assert_eq!(t.put(a, b"a"), Ok(Put::Inserted));
    assert_eq!(t.put(b, b"b"), Ok(Put::Inserted));
    t
}

/// Puts `c` (value "c") on another thread.
fn spawn_put(t: &Arc<Table>, c: &[u8]) -> thread::JoinHandle<Result<Put, Error>> {
    let (t, c) = (Arc::clone(t), c.to_vec());
    thread::spawn(move || t.put(&c, b"c"))
}

/// Reads `a` (value "a") while another thread puts `c`, which fits only by moving `a` into
/// bucket `to`: the read finds `a`, and afterwards `a` really is in `to`.
fn read_during_move(t: &Arc<Table>, a: &[u8], c: &[u8], to: usize) {
    let writer = spawn_put(t, c);
    assert_eq!(
        get(t, a).as_deref(),
        Some(&b"a"[..]),
        "a key being moved was missed"
    );
    assert_eq!(writer.join().unwrap(), Ok(Put::Inserted));
    assert_eq!(
        occupied(t, 0, to),
        1,
        "the put did not move the key (the model tests nothing)"
    );
}

/// Model 3: a reader of a key that a concurrent put moves to its other bucket finds it.
#[test]
fn reader_vs_displacement_no_false_miss() {
    let Keys { a, b, c, r, .. } = keys();
    loom_tests::model("reader_vs_displacement_no_false_miss", move || {
        let t = a_and_b(&a, &b);
        read_during_move(&t, &a, &c, r);
        for (k, v) in [(&a, b"a"), (&b, b"b"), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(&v[..]));
        }
        assert_quiescent(&t);
    });
}

/// Model 3b: as model 3, but the key moves from its second bucket back into its first, the
/// order in which a reader that searched the first bucket before the move and the second after
/// it would miss the key if it checked only the second bucket's version.
#[test]
fn reader_vs_move_into_first_bucket_no_false_miss() {
    // `a` lives in `r`, its second bucket, because `x` held `p` when `a` was put; `x` is then
    // deleted, and `c` (buckets `r`, `q`, with `b` in `q`) fits only by moving `a` back to `p`.
    let (a, b, c, x, p) = plan(|| {
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, _, _| true);
        let (_, p, r) = t.placement(&a);
        let x = find_key(&t, &[&a], |_, x1, _| x1 == p);
        let c = find_key(&t, &[&a, &x], |_, c1, c2| c1 == r && c2 != p && c2 != r);
        let q = t.placement(&c).2;
        let b = find_key(&t, &[&a, &x, &c], |_, b1, _| b1 == q);
        (a, b, c, x, p)
    });
    loom_tests::model(
        "reader_vs_move_into_first_bucket_no_false_miss",
        move || {
            let t = table(SHAPE);
            assert_eq!(t.put(&x, b"x"), Ok(Put::Inserted));
            assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
            assert_eq!(t.delete(&x), Ok(true));
            assert_eq!(t.put(&b, b"b"), Ok(Put::Inserted));
            assert_eq!(
                occupied(&t, 0, p),
                0,
                "the key is not in its second bucket (the model tests nothing)"
            );
            read_during_move(&t, &a, &c, p);
            assert_quiescent(&t);
        },
    );
}

/// Model 7: two puts race for the last free slot, one directly and one by a move. One wins;
/// the other answers "no space"; nothing stored before changes or disappears.
#[test]
fn full_pair_answers_no_space() {
    let Keys { a, b, c, d, e, .. } = keys();
    loom_tests::model("full_pair_answers_no_space", move || {
        let t = table(SHAPE);
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
        assert_eq!(stored(&t), 4);
        assert_eq!(t.len(), 4);
        assert_quiescent(&t);
    });
}

/// Model 10: an overwrite of a present key, which locks only the bucket it finds the key in,
/// races a put that moves that key to its other bucket. The new value lands wherever the key
/// ends up, and the key is stored once.
#[test]
fn overwrite_vs_displacement_keeps_the_new_value() {
    let Keys { a, b, c, r, .. } = keys();
    loom_tests::model("overwrite_vs_displacement_keeps_the_new_value", move || {
        let t = a_and_b(&a, &b);
        let mover = spawn_put(&t, &c);
        assert_eq!(t.put(&a, b"a-new"), Ok(Put::Replaced));
        assert_eq!(mover.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(
            occupied(&t, 0, r),
            1,
            "the put did not move the key (the model tests nothing)"
        );
        for (k, v) in [(&a, &b"a-new"[..]), (&b, b"b"), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(v), "wrong value after the race");
        }
        assert_eq!(stored(&t), 3, "a key is stored twice or lost");
        assert_eq!(t.len(), 3);
        assert_quiescent(&t);
    });
}

/// Model 11: a delete of a present key, which locks only the bucket it finds the key in, races
/// a put that moves that key: the delete reports the key present, and it is gone afterwards.
#[test]
fn delete_vs_displacement_removes_the_key() {
    let Keys { a, b, c, .. } = keys();
    loom_tests::model("delete_vs_displacement_removes_the_key", move || {
        let t = a_and_b(&a, &b);
        let mover = spawn_put(&t, &c);
        assert_eq!(t.delete(&a), Ok(true), "a present key was not found");
        assert_eq!(mover.join().unwrap(), Ok(Put::Inserted));
        assert_eq!(get(&t, &a), None, "the deleted key is still there");
        for (k, v) in [(&b, b"b"), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(&v[..]));
        }
        assert_eq!(stored(&t), 2);
        assert_eq!(t.len(), 2);
        assert_quiescent(&t);
    });
}
