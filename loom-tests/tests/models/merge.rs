//! Models 25 to 25d: a read, an overwrite, a clear and a visit racing the merge of the last
//! segment back into its buddy (the reverse of a split, which also halves the directory).

use kv_nostd::Put;
use loom_tests::{assert_quiescent, get, stored, Shape, Table};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use loom::thread;

use super::visit::{full_segment, split_keys};

const SHAPE: Shape = Shape::growing(2, 2);

/// Two segments after a split, holding only `b` (in the last one): sparse enough to merge.
fn split_then_emptied(a: &[u8], b: &[u8], c: &[u8]) -> Arc<Table> {
    let t = full_segment(SHAPE, a, b);
    assert_eq!(t.put(c, b"c"), Ok(Put::Inserted));
    assert_eq!(t.stats().segments, 2, "the put did not split");
    assert_eq!(t.delete(a), Ok(true));
    assert_eq!(t.delete(c), Ok(true));
    t
}

/// Runs one shrink step on another thread; the thread answers whether it merged.
fn spawn_merge(t: &Arc<Table>) -> thread::JoinHandle<bool> {
    let t = Arc::clone(t);
    thread::spawn(move || {
        let merged = t.shrink_step(1) == 1;
        if merged {
            let s = t.stats();
            assert_eq!(
                (s.segments, s.global_depth),
                (1, 0),
                "merged but not halved"
            );
        }
        merged
    })
}

/// Model 25: a reader of the key that a merge moves back into the buddy finds it.
#[test]
fn reader_vs_merge_no_false_miss() {
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("reader_vs_merge_no_false_miss", move || {
        let t = split_then_emptied(&a, &b, &c);
        let merger = spawn_merge(&t);
        assert_eq!(
            get(&t, &b).as_deref(),
            Some(&b"b"[..]),
            "a key being merged was missed"
        );
        assert!(
            merger.join().unwrap(),
            "nothing merged (the model tests nothing)"
        );
        assert_eq!(get(&t, &b).as_deref(), Some(&b"b"[..]));
        assert_eq!(get(&t, &a), None);
        assert_quiescent(&t);
    });
}

/// Model 25b: an overwrite of the key a merge moves lands wherever the key ends up, once.
#[test]
fn overwrite_vs_merge_keeps_the_new_value() {
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("overwrite_vs_merge_keeps_the_new_value", move || {
        let t = split_then_emptied(&a, &b, &c);
        let merger = spawn_merge(&t);
        assert_eq!(t.put(&b, b"b-new"), Ok(Put::Replaced));
        assert!(
            merger.join().unwrap(),
            "nothing merged (the model tests nothing)"
        );
        assert_eq!(
            get(&t, &b).as_deref(),
            Some(&b"b-new"[..]),
            "wrong value after the race"
        );
        assert_eq!(stored(&t), 1, "a key is stored twice or lost");
        assert_eq!(t.len(), 1);
        assert_quiescent(&t);
    });
}

/// Model 25c: a clear, which walks the segments in numbered order, racing a merge that moves
/// a key from the last segment into an earlier one: the clear removes it either way (a merge
/// that finds the walk under way does nothing). Some executions must merge.
#[test]
fn clear_vs_merge_removes_every_key() {
    static MERGED: AtomicBool = AtomicBool::new(false);
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("clear_vs_merge_removes_every_key", move || {
        let t = split_then_emptied(&a, &b, &c);
        let merger = spawn_merge(&t);
        assert_eq!(t.clear(), 1, "the clear missed a key");
        if merger.join().unwrap() {
            MERGED.store(true, Ordering::Relaxed);
        }
        assert_eq!(get(&t, &b), None, "a cleared key is still there");
        assert_eq!((stored(&t), t.len()), (0, 0));
        assert_quiescent(&t);
    });
    assert!(
        MERGED.load(Ordering::Relaxed),
        "no execution merged (the model tests nothing)"
    );
}

const WIDE: Shape = Shape::growing(4, 2);

/// `a` in the first segment and `b` in the second after `fill` split the index, the fillers
/// deleted, so that a shrink step merges `b` back beside `a`.
fn split_apart(a: &[u8], b: &[u8], fill: &[Vec<u8>]) -> Arc<Table> {
    let t = loom_tests::table(WIDE);
    assert_eq!(t.put(a, b"a"), Ok(Put::Inserted));
    assert_eq!(t.put(b, b"b"), Ok(Put::Inserted));
    for k in fill {
        assert_eq!(t.put(k, b"f"), Ok(Put::Inserted));
    }
    assert_eq!(t.stats().segments, 2, "the fillers did not split the index");
    for k in fill {
        assert_eq!(t.delete(k), Ok(true));
    }
    t
}

/// Keys for model 25d: `a` (hash bit 0 clear, so it stays in the first segment), `b` (bit 0
/// set, so a split moves it to the second), and the fewest fillers that make the index split,
/// chosen so that a shrink step then merges.
fn merge_keys() -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    loom_tests::plan(|| {
        let probe = loom_tests::table(WIDE);
        let a = loom_tests::find_key(&probe, &[], |h, _, _| h & 1 == 0);
        for skip in 0..50 {
            let b = (0..100_000)
                .map(loom_tests::key)
                .filter(|k| *k != a && probe.placement(k).0 & 1 == 1)
                .nth(skip)
                .expect("keys with hash bit 0 set");
            let t = loom_tests::table(WIDE);
            assert_eq!(t.put(&a, b"a"), Ok(Put::Inserted));
            assert_eq!(t.put(&b, b"b"), Ok(Put::Inserted));
            let mut fill = Vec::new();
            for i in 1000.. {
                if t.stats().segments == 2 || fill.len() == 8 {
                    break;
                }
                let k = loom_tests::key(i);
                if t.put(&k, b"f") == Ok(Put::Inserted) {
                    fill.push(k);
                }
            }
            if t.stats().segments != 2 {
                continue;
            }
            for k in &fill {
                assert_eq!(t.delete(k), Ok(true));
            }
            if t.shrink_step(1) == 1 {
                return (a, b, fill);
            }
        }
        panic!("no keys split and merge as the model needs");
    })
}

/// Model 25d: a visit racing the merge of the second segment into the first, which the visit
/// may already have passed: each key is visited exactly once (a visit that passed the first
/// segment and then meets the merged one at the second's position passes only the keys from
/// that position on).
#[test]
fn visit_vs_merge_sees_each_key_once() {
    static MERGED: AtomicBool = AtomicBool::new(false);
    let (a, b, fill) = merge_keys();
    loom_tests::model("visit_vs_merge_sees_each_key_once", move || {
        let t = split_apart(&a, &b, &fill);
        let merger = spawn_merge(&t);
        let seen = loom_tests::entries(&t);
        if merger.join().unwrap() {
            MERGED.store(true, Ordering::Relaxed);
        }
        for k in [&a, &b] {
            let n = seen.iter().filter(|(s, _)| s == k).count();
            assert_eq!(n, 1, "key {k:?}, present throughout, was visited {n} times");
        }
        assert_quiescent(&t);
    });
    assert!(
        MERGED.load(Ordering::Relaxed),
        "no execution merged (the model tests nothing)"
    );
}
