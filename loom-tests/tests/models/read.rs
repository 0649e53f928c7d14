//! Models 2, 9 and 12: optimistic readers against writers of the same key.

use std::sync::Arc;

use kv_nostd::Put;
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, table, Shape};

const SHAPE: Shape = Shape::fixed(2);

/// Values of different lengths, so a reader that pairs one write's length with another's words
/// produces neither.
const OLD: &[u8] = b"old";
const NEW: &[u8] = b"newvalue";

/// Model 2: a reader of a key being overwritten sees the old or the new value, never a mix.
#[test]
fn reader_vs_update_sees_old_or_new() {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model("reader_vs_update_sees_old_or_new", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&k, OLD), Ok(Put::Inserted));
        let writer = {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || assert_eq!(t.put(&k, NEW), Ok(Put::Replaced)))
        };
        let seen = get(&t, &k).expect("the key is present throughout");
        assert!(
            seen == OLD || seen == NEW,
            "reader saw a mix of two writes: {seen:?}"
        );
        writer.join().unwrap();
        assert_eq!(get(&t, &k).as_deref(), Some(NEW));
        assert_quiescent(&t);
    });
}

/// Model 9: a reader that loses the race to a writer (under loom, once is enough) falls back to
/// reading under the locks; that read ends and returns a value the key held. The key sits in
/// its second bucket, behind another key.
///
/// A broken fallback shows only when the reader first loses the optimistic race and then reads
/// while the writer is inside its second write: four preemptions, so this model explores that
/// many whatever `LOOM_MAX_PREEMPTIONS` says.
#[test]
fn lost_race_falls_back_to_locks() {
    const V1: &[u8] = b"v1";
    const V2: &[u8] = b"value-02";
    let (x, k) = plan(|| {
        let t = table(SHAPE);
        let x = find_key(&t, &[], |_, _, _| true);
        let (_, x1, _) = t.placement(&x);
        let k = find_key(&t, &[&x], |_, b1, _| b1 == x1);
        (x, k)
    });
    loom_tests::deep_model("lost_race_falls_back_to_locks", 4, move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&x, b"x"), Ok(Put::Inserted));
        assert_eq!(t.put(&k, OLD), Ok(Put::Inserted));
        let writer = {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || {
                assert_eq!(t.put(&k, V1), Ok(Put::Replaced));
                assert_eq!(t.put(&k, V2), Ok(Put::Replaced));
            })
        };
        let seen = get(&t, &k).expect("the key is present throughout");
        assert!(
            seen == OLD || seen == V1 || seen == V2,
            "reader returned a value the key never held: {seen:?}"
        );
        writer.join().unwrap();
        assert_eq!(get(&t, &k).as_deref(), Some(V2));
        assert_eq!(get(&t, &x).as_deref(), Some(&b"x"[..]));
        assert_quiescent(&t);
    });
}

/// Model 12: a get racing the delete of its key hands back the value or nothing, and leaves
/// none of the deleted value's bytes in the caller's buffer when it answers "absent" (an
/// optimistic copy the delete disturbed is wiped, not left behind).
#[test]
fn get_of_a_deleted_key_leaves_no_bytes_behind() {
    const SECRET: &[u8] = b"secret";
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model("get_of_a_deleted_key_leaves_no_bytes_behind", move || {
        let t = table(SHAPE);
        assert_eq!(t.put(&k, SECRET), Ok(Put::Inserted));
        let deleter = {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || assert_eq!(t.delete(&k), Ok(true)))
        };
        let mut buf = [b'#'; 8];
        let got = t.get_into(&k, &mut buf).expect("the value fits");
        let value_len = match got {
            Some(n) => {
                assert_eq!(&buf[..n], SECRET, "a get returned a value never stored");
                n
            }
            None => 0,
        };
        assert!(
            buf[value_len..].iter().all(|&b| b == b'#' || b == 0),
            "bytes of a value not returned were left in the buffer: {buf:?} (answer {got:?})"
        );
        deleter.join().unwrap();
        assert_quiescent(&t);
    });
}
