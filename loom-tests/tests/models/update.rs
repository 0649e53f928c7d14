//! Model 27: read-modify-writes of one key through `Table::update`.

use std::sync::Arc;

use kv_nostd::update::{Change, Update, Updated};
use kv_nostd::Deadline;
use loom::thread;
use loom_tests::{assert_quiescent, entries, find_key, plan, stored, table, Shape};

const SHAPE: Shape = Shape::fixed(2);

/// Adds one to the decimal number `key` holds (0 if absent), as `INCR` does; returns what
/// `update` answered and the number the closure wrote last.
fn increment(t: &loom_tests::Table, key: &[u8]) -> (Updated, u8) {
    let mut buf = [0u8; 1];
    let mut wrote = 0;
    let mut logged = None;
    let updated = t
        .update(
            key,
            &mut buf[..],
            |old, buf| {
                let mut digit = [b'0'];
                if let Some(e) = old {
                    assert_eq!(e.read_value(0, &mut digit), 1, "a one-digit counter");
                }
                wrote = digit[0] + 1;
                buf[0] = wrote;
                Update::Set {
                    len: 1,
                    deadline: Deadline::Keep,
                }
            },
            &mut |c| {
                if let Change::Set { value, .. } = c {
                    logged = Some(value[0]);
                }
            },
        )
        .expect("memory is ample");
    assert_eq!(logged, Some(wrote), "then is told the value written");
    (updated, wrote)
}

/// Model 27: two threads increment one key through `update`, the key absent or holding "0"
/// before: the key ends with both increments, stored once, and each thread wrote a different
/// number (one saw the other's write).
#[test]
fn two_increments_of_one_key_end_with_both() {
    // Two one-slot buckets, the key's two: an insert that forgot the other's could take both.
    let k = plan(|| find_key(&table(SHAPE), &[], |_, b1, b2| b1 != b2));
    for present in [false, true] {
        let k = k.clone();
        loom_tests::model("two_increments_of_one_key_end_with_both", move || {
            let t = table(SHAPE);
            if present {
                t.put(&k, b"0").unwrap();
            }
            let other = {
                let (t, k) = (Arc::clone(&t), k.clone());
                thread::spawn(move || increment(&t, &k))
            };
            let (mine, theirs) = (increment(&t, &k), other.join().unwrap());
            let mut wrote = [mine.1, theirs.1];
            wrote.sort();
            assert_eq!(wrote, *b"12", "each increment saw the one before");
            assert_quiescent(&t);
            assert_eq!(stored(&t), 1, "the key is stored once");
            assert_eq!(
                entries(&t),
                [(k.clone(), b"2".to_vec())],
                "an increment was lost"
            );
            let first = if present {
                Updated::Replaced
            } else {
                Updated::Inserted
            };
            let mut answers = [mine.0, theirs.0].map(|u| u == Updated::Replaced);
            answers.sort();
            assert_eq!(answers, [first == Updated::Replaced, true]);
            assert_eq!(t.len(), 1);
        });
    }
}
