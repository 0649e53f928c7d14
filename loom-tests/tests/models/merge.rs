//! Models 25, 25b and 25c: a read, an overwrite and a clear racing the merge of the last
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
