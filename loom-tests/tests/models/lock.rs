//! Model 1: the bucket lock.

use std::sync::Arc;

use kv_nostd::{loom_hooks, Bucket};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

struct Shared {
    bucket: Bucket<1, 1, 1>,
    /// Plain memory: loom reports any access not ordered after the previous holder's.
    count: UnsafeCell<usize>,
    /// The table's own kind of data: relaxed atomic words, published only by the lock.
    word: AtomicUsize,
}

// SAFETY: `count` is only touched by `increment` and the final read, both with the bucket's
// lock held; that exclusion is what this model checks, and loom reports any access it misses.
unsafe impl Sync for Shared {}

impl Shared {
    /// One critical section: a read-modify-write of both counters, split so that a second
    /// holder inside at the same time would lose an update.
    fn increment(&self) {
        // SAFETY: the caller holds the bucket's lock, so no other access to `count` is live.
        self.count.with_mut(|p| unsafe { *p += 1 });
        let w = self.word.load(Ordering::Relaxed);
        self.word.store(w + 1, Ordering::Relaxed);
    }
}

/// Two threads take the lock and one tries it: the critical sections never overlap, and each
/// holder sees every write of the holders before it.
#[test]
fn mutual_exclusion_and_release_publishes() {
    loom_tests::model("mutual_exclusion_and_release_publishes", || {
        let s = Arc::new(Shared {
            bucket: Bucket::new(),
            count: UnsafeCell::new(0),
            word: AtomicUsize::new(0),
        });
        let lockers: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let _guard = loom_hooks::lock(&s.bucket);
                    assert!(
                        loom_hooks::try_lock(&s.bucket).is_none(),
                        "try_lock succeeded on a held lock"
                    );
                    s.increment();
                })
            })
            .collect();
        let mut expected = 2;
        if let Some(_guard) = loom_hooks::try_lock(&s.bucket) {
            s.increment();
            expected += 1;
        }
        for t in lockers {
            t.join().unwrap();
        }
        let _guard = loom_hooks::lock(&s.bucket);
        // SAFETY: every other thread has been joined and the lock is held.
        let count = s.count.with(|p| unsafe { *p });
        assert_eq!(count, expected, "an update under the lock was lost");
        assert_eq!(
            s.word.load(Ordering::Relaxed),
            expected,
            "a relaxed write under the lock was lost"
        );
    });
}
