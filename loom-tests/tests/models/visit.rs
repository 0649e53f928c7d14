//! Models 8, 8b, 18 and 18b: visits and scans while writers run: a slot reused for another
//! key, a cuckoo move, and a segment split.

use std::sync::Arc;

use kv_nostd::{Put, ScanCursor};
use loom::thread;
use loom_tests::{assert_quiescent, entries, find_key, occupied, pair, plan, table, Shape, Table};

/// Checks a visit's or scan's pairs: every pair is one of `allowed`, and each key of `once`
/// (present throughout) was seen exactly `times` times (`None`: at least once).
fn check_seen(
    seen: &[(Vec<u8>, Vec<u8>)],
    allowed: &[(Vec<u8>, Vec<u8>)],
    once: &[&Vec<u8>],
    exactly: bool,
) {
    for p in seen {
        assert!(
            allowed.contains(p),
            "visit reported a pair never stored: {p:?}"
        );
    }
    for k in once {
        let n = seen.iter().filter(|(s, _)| s == *k).count();
        if exactly {
            assert_eq!(n, 1, "key {k:?}, present throughout, was visited {n} times");
        } else {
            assert!(n >= 1, "key {k:?}, present throughout, was not scanned");
        }
    }
}

/// Model 8: every pair a visit reports is one the table held: the key with one of its own
/// values, never one key's bytes with another's value or a torn value. A key present throughout
/// is visited exactly once. `b`'s item (8 bytes, like `a`'s 7) takes the chunk `a`'s delete
/// freed, so a visit that read `a`'s slot and then its chunk unlocked would see `b`'s bytes.
#[test]
fn visit_during_writes_reports_whole_pairs() {
    const SHAPE: Shape = Shape::fixed(2);
    let (a, b, c) = plan(|| {
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, _, _| true);
        let (_, a1, _) = t.placement(&a);
        // `b` takes the slot `a` leaves; `c` sits in the other bucket throughout.
        let b = find_key(&t, &[&a], |_, b1, _| b1 == a1);
        let c = find_key(&t, &[&a, &b], |_, c1, _| c1 != a1);
        (a, b, c)
    });
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"bb".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    assert_eq!((a.len(), b.len()), (2, 2), "one size class for both items");
    loom_tests::model("visit_during_writes_reports_whole_pairs", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
        assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted));
        let writer = {
            let (t, a, b) = (Arc::clone(&t), a.clone(), b.clone());
            thread::spawn(move || {
                assert_eq!(t.delete(&a), Ok(true));
                assert_eq!(t.put(&b, b"bb"), Ok(Put::Inserted));
            })
        };
        check_seen(&entries(&t), &allowed, &[&c], true);
        writer.join().unwrap();
        assert_quiescent(&t);
    });
}

/// Model 8b: a visit while a put moves a key to a bucket before the one it leaves, the move
/// that could carry the key past a visit that went bucket by bucket. The moved key and a key
/// left in place are each visited exactly once.
#[test]
fn visit_during_displacement_misses_nothing() {
    const SHAPE: Shape = Shape::fixed(4);
    // `a` in `p` with its other bucket `r < p`; `b` in `q`; `c` hashes to `p` then `q`, so
    // putting it moves `a` down to `r`.
    let (a, b, c, r) = plan(|| {
        let t = table(SHAPE);
        let a = find_key(&t, &[], |_, a1, a2| a2 < a1);
        let (_, p, r) = t.placement(&a);
        let c = find_key(&t, &[&a], |_, c1, c2| c1 == p && c2 != r && c2 != p);
        let q = t.placement(&c).2;
        let b = find_key(&t, &[&a, &c], |_, b1, _| b1 == q);
        (a, b, c, r)
    });
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"b".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    loom_tests::model("visit_during_displacement_misses_nothing", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
        assert_eq!(t.put(&b, b"b"), Ok(Put::Inserted));
        let writer = {
            let (t, c) = (Arc::clone(&t), c.clone());
            thread::spawn(move || assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted)))
        };
        check_seen(&entries(&t), &allowed, &[&a, &b], true);
        writer.join().unwrap();
        assert_eq!(occupied(&t, 0, r), 1, "the put did not move `a`");
        assert_quiescent(&t);
    });
}

/// Keys for the split models: one segment of two one-slot buckets holds `a` and `b`, which
/// differ in hash bit 0; `c` hashes to the same buckets, so putting it splits the segment (and
/// doubles the directory, from one entry to two).
pub(crate) fn split_keys(shape: Shape) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    plan(move || {
        let t = table(shape);
        let a = find_key(&t, &[], |h, _, _| h & 1 == 0);
        let (_, a1, a2) = t.placement(&a);
        let b = find_key(&t, &[&a], |h, b1, _| h & 1 == 1 && b1 == a2);
        let c = find_key(&t, &[&a, &b], |_, c1, c2| (c1, c2) == (a1, a2));
        (a, b, c)
    })
}

/// `a` and `b` in the only segment, which `c` does not fit.
pub(crate) fn full_segment(shape: Shape, a: &[u8], b: &[u8]) -> Arc<Table> {
    let t = table(shape);
    assert_eq!(t.put(a, b"a"), Ok(Put::Inserted));
    assert_eq!(t.put(b, b"b"), Ok(Put::Inserted));
    assert_eq!(t.stats().segments, 1);
    t
}

/// Puts `c` on another thread, which splits the segment (unless the main thread made room
/// first); the thread answers whether it split.
pub(crate) fn spawn_split(t: &Arc<Table>, c: &[u8]) -> thread::JoinHandle<bool> {
    let (t, c) = (Arc::clone(t), c.to_vec());
    thread::spawn(move || {
        assert_eq!(t.put(&c, b"c"), Ok(Put::Inserted));
        let split = t.stats().segments == 2;
        if split {
            assert_eq!(
                t.stats().global_depth,
                1,
                "the split did not double the directory"
            );
        }
        split
    })
}

/// Joins a `spawn_split` thread that must have split.
pub(crate) fn join_split(splitter: thread::JoinHandle<bool>) {
    assert!(
        splitter.join().unwrap(),
        "the put did not split (the model tests nothing)"
    );
}

/// Model 18: a visit while a put splits the segment holding two keys present throughout: each
/// is visited exactly once, before the split (in the old segment) or after (in the new one).
#[test]
fn visit_during_split_sees_each_key_once() {
    const SHAPE: Shape = Shape::growing(2, 2);
    let (a, b, c) = split_keys(SHAPE);
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"b".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    loom_tests::model("visit_during_split_sees_each_key_once", move || {
        let t = full_segment(SHAPE, &a, &b);
        let splitter = spawn_split(&t, &c);
        check_seen(&entries(&t), &allowed, &[&a, &b], true);
        join_split(splitter);
        assert_quiescent(&t);
    });
}

/// Model 18b: a scan, one segment a step, while a put splits the segment between steps or
/// during one: every key present throughout is returned at least once.
#[test]
fn scan_during_split_misses_nothing() {
    const SHAPE: Shape = Shape::growing(2, 2);
    let (a, b, c) = split_keys(SHAPE);
    let allowed = [
        (a.clone(), b"a".to_vec()),
        (b.clone(), b"b".to_vec()),
        (c.clone(), b"c".to_vec()),
    ];
    loom_tests::model("scan_during_split_misses_nothing", move || {
        let t = full_segment(SHAPE, &a, &b);
        let splitter = spawn_split(&t, &c);
        let mut seen = Vec::new();
        let mut cursor = ScanCursor::START;
        loop {
            cursor = t.scan(cursor, 1, |e| seen.push(pair(e)));
            if cursor.is_start() {
                break;
            }
        }
        check_seen(&seen, &allowed, &[&a, &b], false);
        join_split(splitter);
        assert_quiescent(&t);
    });
}
