//! Models 22, 23, 24 and 31: eviction racing a reader of its victim and an overwrite of the key
//! it sampled, a reader's access-metadata update racing a writer's change of the slot, and a
//! page being emptied racing an overwrite of a key on it.

use std::sync::Arc;

use kv_nostd::{Deadline, Policy, Put, When};
use loom::thread;
use loom_tests::{assert_quiescent, find_key, get, plan, stored, table, Shape};

const SHAPE: Shape = Shape::fixed(2);

/// Model 22: a get of `k`, which also updates `k`'s access time, races an eviction that
/// removes `k` and a put of another key whose item takes `k`'s freed chunk: the get returns
/// `k`'s value or nothing, never the other key's bytes.
#[test]
fn read_vs_eviction_of_its_key() {
    const OLD: &[u8] = b"old";
    // Items of 4 + 2 + 3 = 9 and 4 + 2 + 11 = 17 bytes: 16- and 24-byte classes. The other
    // value is as long as `k`'s item is, so the reuse is of the same class.
    const OTHER: &[u8] = b"oth";
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let x = find_key(&t, &[&k], |_, _, _| true);
        (k, x)
    });
    loom_tests::model("read_vs_eviction_of_its_key", move || {
        let t = table(SHAPE);
        t.set_eviction(Policy::AllKeysRandom, 1);
        t.set_lru_resolution(1);
        assert_eq!(t.put(&k, OLD), Ok(Put::Inserted));
        // A tick later: the get also stamps `k`'s slot (a compare-and-swap racing the
        // eviction's write of it).
        t.advance_clock(1);
        let old_chunk = t.loom_location(&k);
        let evictor = {
            let (t, x) = (Arc::clone(&t), x.clone());
            thread::spawn(move || {
                let stats = t.evict(1, &mut |_| {}).expect("a key to evict");
                assert_eq!(stats.evicted, 1);
                assert_eq!(t.put(&x, OTHER), Ok(Put::Inserted));
            })
        };
        let seen = get(&t, &k);
        assert!(
            seen.is_none() || seen.as_deref() == Some(OLD),
            "a get racing the eviction of its key got {seen:?}"
        );
        evictor.join().unwrap();
        assert_eq!(
            t.loom_location(&x),
            old_chunk,
            "the other key did not reuse the freed chunk (the model tests nothing)"
        );
        assert_eq!(get(&t, &k), None);
        assert_eq!((t.len(), t.evicted()), (1, 1));
        assert_quiescent(&t);
    });
}

/// Model 23: under `volatile-random` an eviction races an overwrite of the only key with a
/// deadline by a value without one. The new value is never evictable: whatever the eviction
/// sampled, it evicts the old item or nothing, and the new value survives.
#[test]
fn eviction_vs_overwrite_of_the_sampled_key_keeps_the_new_value() {
    let k = plan(|| find_key(&table(SHAPE), &[], |_, _, _| true));
    loom_tests::model(
        "eviction_vs_overwrite_of_the_sampled_key_keeps_the_new_value",
        move || {
            let t = table(SHAPE);
            t.set_eviction(Policy::VolatileRandom, 1);
            let at = Deadline::At(1000);
            let put = t.put_with(&k, b"old", When::Always, at, None, &mut |_| {});
            assert_eq!(put, Ok(Some(Put::Inserted)));
            let evictor = {
                let t = Arc::clone(&t);
                thread::spawn(move || {
                    let mut victims = Vec::new();
                    let _ = t.evict(1, &mut |e| victims.push(e.deadline()));
                    victims
                })
            };
            let put = t.put(&k, b"new");
            let victims = evictor.join().unwrap();
            assert!(
                victims.iter().all(|d| *d == Some(1000)),
                "evicted an item without a deadline: {victims:?}"
            );
            assert_eq!(
                get(&t, &k).as_deref(),
                Some(&b"new"[..]),
                "the new value was lost"
            );
            // Replaced if the overwrite came first, Inserted if the eviction did.
            assert_eq!(
                put,
                Ok(if victims.is_empty() {
                    Put::Replaced
                } else {
                    Put::Inserted
                })
            );
            assert_eq!((stored(&t), t.len(), t.expires()), (1, 1, 0));
            assert_quiescent(&t);
        },
    );
}

/// Model 24: under `allkeys-lfu` with a log factor of 0 every read counts, so a get of `k`
/// always updates the slot's metadata, racing a delete of `k` and an insert of another key
/// into the same slot. The update never brings `k` back, nor changes the other key's slot
/// beyond its metadata.
#[test]
fn access_update_vs_slot_change_does_not_resurrect() {
    let (k, x) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let (_, kb, _) = t.placement(&k);
        // The same first bucket, so `x` takes the slot `k` leaves.
        let x = find_key(&t, &[&k], move |_, b1, _| b1 == kb);
        (k, x)
    });
    loom_tests::model(
        "access_update_vs_slot_change_does_not_resurrect",
        move || {
            let t = table(SHAPE);
            t.set_eviction(Policy::AllKeysLfu, 5);
            t.set_lfu(0, 0);
            assert_eq!(t.put(&k, b"kv"), Ok(Put::Inserted));
            let writer = {
                let (t, k, x) = (Arc::clone(&t), k.clone(), x.clone());
                thread::spawn(move || {
                    assert_eq!(t.delete(&k), Ok(true));
                    assert_eq!(t.put(&x, b"xv"), Ok(Put::Inserted));
                })
            };
            let seen = get(&t, &k);
            assert!(seen.is_none() || seen.as_deref() == Some(&b"kv"[..]));
            writer.join().unwrap();
            assert_eq!(get(&t, &k), None, "a deleted key came back");
            assert_eq!(get(&t, &x).as_deref(), Some(&b"xv"[..]));
            assert_eq!((stored(&t), t.len()), (1, 1));
            assert_quiescent(&t);
        },
    );
}

/// Model 31: `evict_page` (`allkeys-random`) races an overwrite of `k` by a value of another size
/// class, so the new item lands on another page, beside `y`'s. The page emptied is one page:
/// `k`'s new value goes only if `y`, on the same page, goes too (a removal that does not check
/// the chunk it read against the slot's would take the new value alone), and `k` never reads as
/// its old value afterwards. Run twice, from clocks that make the page sampler choose `k`'s old
/// page in one run and `y`'s page in the other when nothing races it.
#[test]
fn page_emptying_vs_overwrite_of_a_key_on_the_page() {
    // Items of 4 + 2 + 3 = 9 and 4 + 2 + 11 = 17 bytes: 16- and 24-byte classes.
    const OLD: &[u8] = b"old";
    const NEW: &[u8] = b"other value";
    fn setup(k: &[u8], y: &[u8], clock: u64) -> Arc<loom_tests::Table> {
        let t = table(SHAPE);
        t.set_eviction(Policy::AllKeysRandom, 1);
        assert_eq!(t.put(y, NEW), Ok(Put::Inserted));
        assert_eq!(t.put(k, OLD), Ok(Put::Inserted));
        t.advance_clock(clock);
        t
    }
    let (k, y) = plan(|| {
        let t = table(SHAPE);
        let k = find_key(&t, &[], |_, _, _| true);
        let y = find_key(&t, &[&k], |_, _, _| true);
        (k, y)
    });
    // The first clock at which an unraced `evict_page` empties each page: [k's, y's].
    let mut clocks = [None; 2];
    for clock in 1..64 {
        if clocks.iter().all(Option::is_some) {
            break;
        }
        let (k, y) = (k.clone(), y.clone());
        let page = plan(move || {
            let mut removed = Vec::new();
            let _ = setup(&k, &y, clock).evict_page(&mut |e| removed.push(e.value_len()));
            match removed[..] {
                [n] if n == OLD.len() => 0,
                [n] if n == NEW.len() => 1,
                _ => panic!("an unraced page emptying removed {removed:?}"),
            }
        });
        clocks[page].get_or_insert(clock);
    }
    let clocks = clocks.map(|c| c.expect("a clock for each page"));
    for (name, clock) in [("k's old page", clocks[0]), ("y's page", clocks[1])] {
        let (k, y) = (k.clone(), y.clone());
        let name = format!("page_emptying_vs_overwrite_of_a_key_on_the_page ({name})");
        loom_tests::model(&name, move || {
            let t = setup(&k, &y, clock);
            let evictor = {
                let t = Arc::clone(&t);
                thread::spawn(move || {
                    let mut removed = Vec::new();
                    let _ = t.evict_page(&mut |e| removed.push(e.value_len()));
                    removed
                })
            };
            let put = t.put(&k, NEW);
            let removed = evictor.join().unwrap();
            let (k_now, y_now) = (get(&t, &k), get(&t, &y));
            assert!(
                k_now.is_none() || k_now.as_deref() == Some(NEW),
                "k reads {k_now:?}"
            );
            if k_now.is_none() {
                assert_eq!(
                    y_now, None,
                    "k's new value was evicted without the page it is on"
                );
            }
            // Replaced if the overwrite came first, Inserted if the eviction did.
            let old_evicted = removed.contains(&OLD.len());
            assert_eq!(
                put,
                Ok(if old_evicted {
                    Put::Inserted
                } else {
                    Put::Replaced
                })
            );
            assert_eq!(stored(&t), t.len());
            assert_eq!(t.len(), 2 - removed.len() + usize::from(old_evicted));
            assert_quiescent(&t);
        });
    }
}
