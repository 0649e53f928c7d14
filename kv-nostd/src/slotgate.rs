//! Placeholder.
#![allow(missing_docs)]
use core::sync::atomic::{AtomicUsize, Ordering};
pub const MINE: usize = 1;
pub const MIGRATING: usize = 2;
pub const IMPORTING: usize = 4;
const MODES: usize = 7;
const TRANSFER: usize = 8;
const ONE: usize = 16;
pub struct SlotGate {
    word: AtomicUsize,
}
impl Default for SlotGate {
    fn default() -> Self {
        Self::new()
    }
}
impl SlotGate {
    pub const fn new() -> Self {
        Self {
            word: AtomicUsize::new(0),
        }
    }
    pub fn mode(&self) -> usize {
        self.word.load(Ordering::Acquire) & MODES
    }
    pub fn set_mode(&self, mode: usize) {
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some((w & !MODES) | (mode & MODES))
            });
    }
    pub fn try_enter(&self) -> Option<usize> {
        let w = self.word.fetch_add(ONE, Ordering::Acquire);
        if w & TRANSFER != 0 {
            self.word.fetch_sub(ONE, Ordering::Release);
            return None;
        }
        Some(w & MODES)
    }
    pub fn leave(&self) {
        self.word.fetch_sub(ONE, Ordering::Release);
    }
    pub fn try_begin_transfer(&self) -> bool {
        self.word.fetch_or(TRANSFER, Ordering::AcqRel) & TRANSFER == 0
    }
    pub fn drained(&self) -> bool {
        self.word.load(Ordering::Acquire) < ONE
    }
    pub fn end_transfer(&self) {
        self.word.fetch_and(!TRANSFER, Ordering::Release);
    }
}
