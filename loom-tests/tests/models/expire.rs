//! Models 19, 19b, 20, 21 and 21b: expiry racing readers and writers of the expiring key, and a
//! deadline changed in place under a reader of a small item and of a large one.

use std::sync::Arc;

use kv_nostd::{Deadline, DeadlineChange, ExpireCursor, ExpireIf, Put, When};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, stored, table, Shape, Table};

const SHAPE: Shape = Shape::fixed(2);

/// Puts `key` with `value` and a deadline.
fn put_at(t: &Table, key: &[u8], value: &[u8], deadline: u64) -> Option<Put> {
    t.put_with(
        key,
        value,
        When::Always,
        Deadline::At(deadline),
        None,
        &mut |_| {},
    )
    .expect("room")
}

/// Runs a whole active-expiry cycle; returns how many keys it removed.
fn expire_all(t: &Table) -> usize {
    let mut cursor = ExpireCursor::START;
    let mut expired = 0;
    loop {
        let step = t.expire_step(cursor, 8, &mut |_| {});
        expired += step.expired;
        cursor = step.cursor;
        if cursor.is_start() {
            return expired;
        }
    }
}

/// Model 19: a get races the clock reaching its key's deadline and an expiry step that removes
/// the key, after which another key's item takes the freed chunk. The get returns the value or
/// nothing (never the other key's bytes), and nothing at all once it has seen the step end.
#[test]
fn get_vs_active_expiry_of_its_key() {
    const OLD: &[u8] = b"old";
    // With two-byte keys: `k`'s item is 4 + 8 + 2 + 3 = 17 bytes, `x`'s 4 + 2 + 11 = 17, one
    // 24-byte class, so `x` takes the chunk the step freed.
    const OTHER: &[u8] = b"other-value";
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let x = find_key(&t, &[&k], |_, _, _| true);
        (k, x)
    });
    assert_eq!((k.len(), x.len()), (2, 2));
    loom_tests::model("get_vs_active_expiry_of_its_key", move || {
        let t = table(SHAPE);
        assert_eq!(put_at(&t, &k, OLD, 10), Some(Put::Inserted));
        let old_chunk = t.loom_location(&k);
        let reaped = Arc::new(AtomicBool::new(false));
        let expirer = {
            let (t, x, reaped) = (Arc::clone(&t), x.clone(), Arc::clone(&reaped));
            thread::spawn(move || {
                t.advance_clock(10);
                assert_eq!(expire_all(&t), 1, "the step did not remove the expired key");
                reaped.store(true, Ordering::Release);
                assert_eq!(t.put(&x, OTHER), Ok(Put::Inserted));
            })
        };
        let after_reap = reaped.load(Ordering::Acquire);
        let seen = get(&t, &k);
        assert!(
            seen.is_none() || seen.as_deref() == Some(OLD),
            "a get racing the expiry of its key got {seen:?}"
        );
        assert!(
            !(after_reap && seen.is_some()),
            "a get that began after the key was removed got {seen:?}"
        );
        expirer.join().unwrap();
        assert_eq!(
            t.loom_location(&x),
            old_chunk,
            "the other key did not reuse the freed chunk (the model tests nothing)"
        );
        assert_eq!(get(&t, &k), None);
        assert_eq!((t.len(), t.expires(), t.stats().expired), (1, 0, 1));
        assert_quiescent(&t);
    });
}

/// Model 19b: as model 19, but a third thread reuses the chunk, so its new owner is ordered
/// with the step's unlink only through the free list: the step must bump the bucket's version
/// before it frees the item. (Executions where the put allocates before the step frees test
/// nothing; some must reuse.)
#[test]
fn get_vs_active_expiry_and_reuse_by_another_thread() {
    static REUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    const OLD: &[u8] = b"old";
    const OTHER: &[u8] = b"other-value";
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let x = find_key(&t, &[&k], |_, _, _| true);
        (k, x)
    });
    loom_tests::model(
        "get_vs_active_expiry_and_reuse_by_another_thread",
        move || {
            let t = table(SHAPE);
            assert_eq!(put_at(&t, &k, OLD, 10), Some(Put::Inserted));
            t.advance_clock(10);
            let old_chunk = t.loom_location(&k);
            let expirer = {
                let t = Arc::clone(&t);
                thread::spawn(move || assert_eq!(expire_all(&t), 1))
            };
            let reuser = {
                let (t, x) = (Arc::clone(&t), x.clone());
                thread::spawn(move || assert_eq!(t.put(&x, OTHER), Ok(Put::Inserted)))
            };
            let seen = get(&t, &k);
            assert!(
                seen.is_none() || seen.as_deref() == Some(OLD),
                "a get racing the expiry of its key got {seen:?}"
            );
            expirer.join().unwrap();
            reuser.join().unwrap();
            if t.loom_location(&x) == old_chunk {
                REUSED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            assert_quiescent(&t);
        },
    );
    assert!(
        REUSED.load(std::sync::atomic::Ordering::Relaxed),
        "no execution reused the chunk (the model tests nothing)"
    );
}

/// Model 20: an overwrite of a key whose item has expired races an expiry step. The overwrite
/// answers `Inserted` (an expired key is absent) and its value survives; exactly one of the two
/// removed the old item.
#[test]
fn overwrite_vs_expiry_of_the_old_item_keeps_the_new_value() {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model(
        "overwrite_vs_expiry_of_the_old_item_keeps_the_new_value",
        move || {
            let t = table(SHAPE);
            assert_eq!(put_at(&t, &k, b"old", 10), Some(Put::Inserted));
            t.advance_clock(10);
            let expirer = {
                let t = Arc::clone(&t);
                thread::spawn(move || expire_all(&t))
            };
            assert_eq!(t.put(&k, b"new"), Ok(Put::Inserted));
            let removed_by_step = expirer.join().unwrap();
            assert_eq!(
                get(&t, &k).as_deref(),
                Some(&b"new"[..]),
                "the new value was lost"
            );
            assert_eq!(stored(&t), 1, "the key is stored twice or not at all");
            assert_eq!((t.len(), t.expires()), (1, 0));
            assert_eq!(t.stats().expired, 1, "the old item was removed once");
            assert!(removed_by_step <= 1);
            assert_quiescent(&t);
        },
    );
}

/// Different in both 32-bit halves, so a deadline read half before and half after the change
/// is neither.
const A: u64 = 1 << 32 | 1;
const B: u64 = 2 << 32 | 2;

/// A reader of `k`, whose item holds `value` with deadline `A`, races a change of the deadline
/// to `B` in place: it sees `A` or `B`, and the value.
fn deadline_changed_in_place(name: &'static str, value: &'static [u8]) {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model(name, move || {
        let t = table(SHAPE);
        assert_eq!(put_at(&t, &k, value, A), Some(Put::Inserted));
        let setter = {
            let (t, k) = (Arc::clone(&t), k.clone());
            thread::spawn(move || {
                let r = t.set_deadline(&k, Some(B), ExpireIf::Always, &mut |_| {});
                assert_eq!(r, Ok(DeadlineChange::Changed));
            })
        };
        let seen = t.deadline(&k).expect("a short key");
        assert!(
            seen == Some(Some(A)) || seen == Some(Some(B)),
            "a reader saw a deadline the key never had: {seen:x?}"
        );
        assert_eq!(get(&t, &k).as_deref(), Some(value));
        setter.join().unwrap();
        assert_eq!(t.deadline(&k), Ok(Some(Some(B))));
        assert_eq!((t.len(), t.expires()), (1, 1));
        assert_quiescent(&t);
    });
}

/// Model 21: a deadline changed in place (the item has a deadline field) under an optimistic
/// reader of a small item, which validates the deadline it copied like the value.
#[test]
fn deadline_changed_in_place_under_a_reader() {
    deadline_changed_in_place("deadline_changed_in_place_under_a_reader", b"v");
}

/// Model 21b: as model 21 for a large item (4 + 8 + 2 + 40 bytes: a page of its own), which a
/// reader pins rather than validates: its deadline must still be the one read before the
/// validation, never one read from the pinned item.
#[test]
fn deadline_changed_in_place_under_a_reader_of_a_large_item() {
    deadline_changed_in_place(
        "deadline_changed_in_place_under_a_reader_of_a_large_item",
        &[b'L'; 40],
    );
}
