//! Models 13 and 14: readers of items that are freed and whose memory is reused meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kv_nostd::Put;
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, table, Shape};

/// Model 13: an optimistic reader of a small value races an overwrite that frees the item and a
/// put of another key that reuses its chunk (the class's free list hands out the chunk freed
/// last). The reader returns the old or the new value, never the other key's bytes, and never
/// "absent" for a key present throughout.
#[test]
fn reader_vs_overwrite_that_frees_and_reuses_the_item() {
    const SHAPE: Shape = Shape::fixed(2);
    // With two-byte keys, items of 9 to 10 bytes: one 16-byte class for all three.
    const OLD: &[u8] = b"old";
    const NEW: &[u8] = b"new!";
    const OTHER: &[u8] = b"xyzw";
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let x = find_key(&t, &[&k], |_, _, _| true);
        (k, x)
    });
    assert_eq!((k.len(), x.len()), (2, 2));
    loom_tests::model(
        "reader_vs_overwrite_that_frees_and_reuses_the_item",
        move || {
            let t = table(SHAPE);
            assert_eq!(t.put(&k, OLD), Ok(Put::Inserted));
            let old_chunk = t.loom_location(&k);
            let writer = {
                let (t, k, x) = (Arc::clone(&t), k.clone(), x.clone());
                thread::spawn(move || {
                    assert_eq!(t.put(&k, NEW), Ok(Put::Replaced));
                    assert_eq!(t.put(&x, OTHER), Ok(Put::Inserted));
                })
            };
            let seen = get(&t, &k);
            assert!(
                seen.as_deref() == Some(OLD) || seen.as_deref() == Some(NEW),
                "reader of a key present throughout got {seen:?}"
            );
            writer.join().unwrap();
            assert_eq!(
                t.loom_location(&x),
                old_chunk,
                "the other key did not reuse the freed chunk (the model tests nothing)"
            );
            assert_eq!(get(&t, &k).as_deref(), Some(NEW));
            assert_eq!(get(&t, &x).as_deref(), Some(OTHER));
            assert_quiescent(&t);
        },
    );
}

/// Model 13b: as model 13, but the chunk is reused by a third thread, not by the one that
/// freed it: the new owner's only ordering with the unlink is through the free list, so its
/// `fence(Release)` before writing the chunk is what makes a reader that copied its bytes see
/// the unlink's version bump. (Executions where the put of `x` allocates before the overwrite
/// frees test nothing; some must reuse.)
#[test]
fn reader_vs_reuse_by_another_thread() {
    static REUSED: AtomicBool = AtomicBool::new(false);
    const SHAPE: Shape = Shape::fixed(2);
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let x = find_key(&t, &[&k], |_, _, _| true);
        (k, x)
    });
    assert_eq!((k.len(), x.len()), (2, 2));
    loom_tests::model("reader_vs_reuse_by_another_thread", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&k, b"old"), Ok(Put::Inserted));
        let old_chunk = t.loom_location(&k);
        let spawn = |key: &[u8], value: &'static [u8]| {
            let (t, key) = (Arc::clone(&t), key.to_vec());
            thread::spawn(move || t.put(&key, value).expect("room"))
        };
        let overwrite = spawn(&k, b"new!");
        let reuse = spawn(&x, b"xyzw");
        let seen = get(&t, &k);
        assert!(
            seen.as_deref() == Some(b"old") || seen.as_deref() == Some(b"new!"),
            "reader of a key present throughout got {seen:?}"
        );
        overwrite.join().unwrap();
        reuse.join().unwrap();
        if t.loom_location(&x) == old_chunk {
            REUSED.store(true, Ordering::Relaxed);
        }
    });
    assert!(
        REUSED.load(Ordering::Relaxed),
        "no execution reused the chunk (the model tests nothing)"
    );
}

/// Model 14: a reader of a chained value (a whole page and a chunk) races its delete, after
/// which another key's value of the same shape reuses the freed page and chunk. The reader
/// pins the item: it returns the whole value or nothing, never bytes of the other value; the
/// last of the reader and the deleter frees it; no pin or page is left behind.
#[test]
fn read_of_a_chained_value_racing_its_delete() {
    const SHAPE: Shape = Shape::fixed(2).pages(6);
    let (k, y) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let y = find_key(&t, &[&k], |_, _, _| true);
        (k, y)
    });
    // Items of 4 + 3 + 89 = 96 bytes: a 64-byte page and a 32-byte chunk.
    let big = |fill: u8| vec![fill; 96 - 4 - k.len()];
    let (one, two) = (big(b'1'), big(b'2'));
    assert_eq!(k.len(), y.len());
    loom_tests::model("read_of_a_chained_value_racing_its_delete", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&k, &one), Ok(Put::Inserted));
        let pages = t.stats().pages_in_use;
        assert_eq!(pages, 2, "a head page and a page of 32-byte chunks");
        let deleter = {
            let (t, k, y, two) = (Arc::clone(&t), k.clone(), y.clone(), two.clone());
            thread::spawn(move || {
                assert_eq!(t.delete(&k), Ok(true));
                assert_eq!(t.put(&y, &two), Ok(Put::Inserted));
            })
        };
        let seen = get(&t, &k);
        assert!(
            seen.is_none() || seen.as_deref() == Some(&one[..]),
            "a reader of a chained value got {} bytes that are not it: {seen:?}",
            seen.as_ref().map_or(0, Vec::len)
        );
        deleter.join().unwrap();
        assert_eq!(get(&t, &y).as_deref(), Some(&two[..]));
        assert_quiescent(&t);
        assert_eq!(t.delete(&y), Ok(true));
        assert_eq!(
            t.stats().pages_in_use,
            1,
            "every page went back but the 32-byte class's last one"
        );
    });
}
