//! Models 15, 16 and 17: a read, an overwrite and a delete racing a segment split that doubles
//! the directory.

use kv_nostd::Put;
use loom_tests::{assert_quiescent, get, stored, Shape};

use std::sync::atomic::{AtomicBool, Ordering};

use super::visit::{full_segment, join_split, spawn_split, split_keys};

const SHAPE: Shape = Shape::growing(2, 2);

/// Model 15: a reader of a key that a concurrent split moves to the new segment finds it, and
/// so does a reader of the key that stays.
#[test]
fn reader_vs_split_no_false_miss() {
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("reader_vs_split_no_false_miss", move || {
        let t = full_segment(SHAPE, &a, &b);
        let splitter = spawn_split(&t, &c);
        assert_eq!(
            get(&t, &b).as_deref(),
            Some(&b"b"[..]),
            "a key being moved was missed"
        );
        assert_eq!(
            get(&t, &a).as_deref(),
            Some(&b"a"[..]),
            "a key staying was missed"
        );
        join_split(splitter);
        assert_quiescent(&t);
    });
}

/// Model 16: an overwrite of the key a split moves lands wherever the key ends up.
#[test]
fn overwrite_vs_split_keeps_the_new_value() {
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("overwrite_vs_split_keeps_the_new_value", move || {
        let t = full_segment(SHAPE, &a, &b);
        let splitter = spawn_split(&t, &c);
        assert_eq!(t.put(&b, b"b-new"), Ok(Put::Replaced));
        join_split(splitter);
        for (k, v) in [(&a, &b"a"[..]), (&b, b"b-new"), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(v), "wrong value after the race");
        }
        assert_eq!(stored(&t), 3, "a key is stored twice or lost");
        assert_eq!(t.len(), 3);
        assert_quiescent(&t);
    });
}

/// Model 17: a delete of the key a split moves removes it, wherever it is. (When the delete
/// comes first, `c` takes the freed slot and nothing splits; some executions must split.)
#[test]
fn delete_vs_split_removes_the_key() {
    static SPLIT_SEEN: AtomicBool = AtomicBool::new(false);
    let (a, b, c) = split_keys(SHAPE);
    loom_tests::model("delete_vs_split_removes_the_key", move || {
        let t = full_segment(SHAPE, &a, &b);
        let splitter = spawn_split(&t, &c);
        assert_eq!(t.delete(&b), Ok(true), "a present key was not found");
        if splitter.join().unwrap() {
            SPLIT_SEEN.store(true, Ordering::Relaxed);
        }
        assert_eq!(get(&t, &b), None, "the deleted key is still there");
        for (k, v) in [(&a, &b"a"[..]), (&c, b"c")] {
            assert_eq!(get(&t, k).as_deref(), Some(v));
        }
        assert_eq!(stored(&t), 2);
        assert_eq!(t.len(), 2);
        assert_quiescent(&t);
    });
    assert!(
        SPLIT_SEEN.load(Ordering::Relaxed),
        "no execution split (the model tests nothing)"
    );
}
