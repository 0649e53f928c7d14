//! The transaction gate: `EXEC` runs while no other thread touches the table, as Redis's single
//! thread runs a transaction.
//!
//! Each thread that runs commands (a worker, the expiry thread) registers a flag, on a cache line
//! of its own, and raises it for each turn of its loop ([`Gate::enter`]), lowering it before it
//! sleeps. `EXEC` ([`Gate::exclusive`]) lowers its own thread's flag, takes the gate's mutex
//! (one `EXEC` at a time), raises the gate's `exclusive` word and waits until every flag is down;
//! a thread entering meanwhile sees `exclusive` and waits for it to fall. Each side stores its
//! own word and then loads the other's, both sequentially consistent (Dekker's protocol), so
//! either the entering thread sees `exclusive` or the `EXEC` sees its flag: never neither.
//!
//! A turn costs one store and one load on the thread's own line; an `EXEC` waits for the turns
//! already under way to end (each serves what one poll returned).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A flag alone on its cache line.
#[repr(align(64))]
#[derive(Default)]
struct Flag(AtomicBool);

/// See the module docs.
#[derive(Default)]
pub struct Gate {
    flags: Mutex<Vec<Arc<Flag>>>,
    exclusive: AtomicBool,
    exec: Mutex<()>,
}

thread_local! {
    /// The flag of the gate this thread registered with, if any.
    static MINE: RefCell<Option<Arc<Flag>>> = const { RefCell::new(None) };
}

/// A turn: the thread's flag is up until this drops.
pub struct Turn {
    flag: Option<Arc<Flag>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(f) = &self.flag {
            f.0.store(false, Ordering::Release);
        }
    }
}

impl Gate {
    /// Registers the calling thread: from now on its turns count.
    pub fn register(&self) {
        let flag = Arc::new(Flag::default());
        self.flags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&flag));
        MINE.with(|m| *m.borrow_mut() = Some(flag));
    }

    /// Starts a turn of the calling thread (registered or not: an unregistered thread, such as
    /// the one replaying the log before the workers start, is not waited for).
    pub fn enter(&self) -> Turn {
        let flag = MINE.with(|m| m.borrow().clone());
        if let Some(f) = &flag {
            raise(&f.0, &self.exclusive);
        }
        Turn { flag }
    }

    /// Runs `f` while no other registered thread is in a turn.
    pub fn exclusive<R>(&self, f: impl FnOnce() -> R) -> R {
        let mine = MINE.with(|m| m.borrow().clone());
        let was_up = mine
            .as_ref()
            .is_some_and(|m| m.0.swap(false, Ordering::SeqCst));
        let result = {
            let _one = self.exec.lock().unwrap_or_else(|e| e.into_inner());
            self.exclusive.store(true, Ordering::SeqCst);
            let flags: Vec<Arc<Flag>> =
                self.flags.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for flag in &flags {
                while flag.0.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
            }
            let result = f();
            self.exclusive.store(false, Ordering::SeqCst);
            result
        };
        if let (true, Some(m)) = (was_up, &mine) {
            raise(&m.0, &self.exclusive);
        }
        result
    }
}

/// Raises `flag` once no `EXEC` holds the gate.
fn raise(flag: &AtomicBool, exclusive: &AtomicBool) {
    loop {
        flag.store(true, Ordering::SeqCst);
        if !exclusive.load(Ordering::SeqCst) {
            return;
        }
        flag.store(false, Ordering::SeqCst);
        while exclusive.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Threads add to a counter in two steps inside turns while others run "transactions"
    /// that read it under the gate: a transaction never sees a half-done addition.
    #[test]
    fn exclusive_sections_never_overlap_a_turn() {
        let gate = Arc::new(Gate::default());
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..4)
            .map(|me| {
                let (gate, a, b) = (Arc::clone(&gate), Arc::clone(&a), Arc::clone(&b));
                std::thread::spawn(move || {
                    gate.register();
                    for i in 0..20_000 {
                        let _turn = gate.enter();
                        if (i + me) % 100 == 0 {
                            gate.exclusive(|| {
                                assert_eq!(a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
                            });
                        }
                        a.fetch_add(1, Ordering::Relaxed);
                        std::hint::spin_loop();
                        b.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(a.load(Ordering::Relaxed), 80_000);
    }
}
