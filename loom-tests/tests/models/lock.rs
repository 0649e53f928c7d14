//! Model 1: the bit lock every table lock is made of.

use std::sync::Arc;

use kv_nostd::{loom_hooks, Word};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

struct Shared {
    lock: Word,
    /// Plain memory: loom reports any access not ordered after the previous holder's.
    count: UnsafeCell<usize>,
    /// The table's own kind of data: relaxed atomic words, published only by the lock.
    word: AtomicUsize,
}

// SAFETY: `count` is only touched by `increment` and the final read, both with the lock held;
// that exclusion is what this model checks, and loom reports any access it misses.
unsafe impl Sync for Shared {}

impl Shared {
    /// One critical section: a read-modify-write of both counters, split so that a second
    /// holder inside at the same time would lose an update.
    fn increment(&self) {
        // SAFETY: the caller holds the lock, so no other access to `count` is live.
        self.count.with_mut(|p| unsafe { *p += 1 });
        let w = self.word.load(Ordering::Relaxed);
        self.word.store(w + 1, Ordering::Relaxed);
    }
}

/// Two threads take the lock, twice each, once by trying: the critical sections never overlap,
/// a failed try leaves the holder's lock held, and each holder sees every write of the holders
/// before it. (Two threads, not three: loom cannot bound two threads spinning on a third.)
#[test]
fn mutual_exclusion_and_release_publishes() {
    loom_tests::model("mutual_exclusion_and_release_publishes", || {
        let s = Arc::new(Shared {
            lock: Word::new(0),
            count: UnsafeCell::new(0),
            word: AtomicUsize::new(0),
        });
        let locker = {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let guard = loom_hooks::lock(&s.lock);
                assert!(
                    loom_hooks::try_lock(&s.lock).is_none(),
                    "try_lock succeeded on a held lock"
                );
                s.increment();
                drop(guard);
                let tried = loom_hooks::try_lock(&s.lock);
                let took = tried.is_some();
                if took {
                    s.increment();
                }
                took
            })
        };
        let mut expected = 1;
        if let Some(_guard) = loom_hooks::try_lock(&s.lock) {
            s.increment();
            expected += 1;
        }
        {
            let _guard = loom_hooks::lock(&s.lock);
            s.increment();
            expected += 1;
        }
        if locker.join().unwrap() {
            expected += 1;
        }
        let _guard = loom_hooks::lock(&s.lock);
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
