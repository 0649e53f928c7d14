//! A worker's doorbell: how other threads tell a worker that one of its connections has
//! something waiting (pub/sub messages, a `CLIENT KILL`), without a system call per message.

use super::waker::Waker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Rung with a connection's token; the worker wakes once however often it is rung before it
/// looks.
pub struct Doorbell {
    waker: Arc<Waker>,
    /// Set by the first ring since the worker last looked; later rings skip the wake-up.
    rung: AtomicBool,
    tokens: Mutex<Vec<usize>>,
}

impl Doorbell {
    /// A doorbell that wakes the worker through `waker`.
    pub fn new(waker: Arc<Waker>) -> Self {
        Self {
            waker,
            rung: AtomicBool::new(false),
            tokens: Mutex::new(Vec::new()),
        }
    }

    /// Asks the worker to serve connection `token`.
    pub fn ring(&self, token: usize) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(token);
        // The token is listed before the flag is tested, and the worker clears the flag before
        // it takes the list: a token listed after that take finds the flag clear and wakes it.
        if !self.rung.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }

    /// The tokens rung since the last call, in ring order, duplicates included.
    pub fn take(&self) -> Vec<usize> {
        self.rung.store(false, Ordering::Release);
        std::mem::take(&mut *self.tokens.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
