//! The per-slot barrier of online resharding: one atomic word per hash slot holding the slot's
//! routing mode and a count of the commands inside it, which a key transfer (`MIGRATE`) closes
//! and waits to drain before it reads any key.
//!
//! # Why a barrier
//! While a slot moves, Redis's source node serves a command whose keys are all present and
//! answers `-ASK` (go to the target) when none is (R70 `cluster.c` `getNodeByQuery`). That rule
//! is race-free in Redis only because one thread runs both the command and `MIGRATE`. In kv a
//! command and a `MIGRATE` of the same key run on different threads, and without a barrier:
//! - a `SET` sees the key present, then `MIGRATE` copies the key to the target and deletes it
//!   here, then the `SET` writes: the write lands on the source after the copy was taken, and is
//!   lost with the key's deletion (or recreates a key the slot no longer owns);
//! - a `DEL` deletes the key after the copy was taken: the key lives on at the target.
//!
//! # The protocol
//! A command that touches keys of a slot calls [`SlotGate::try_enter`] before it looks at them
//! and [`SlotGate::leave`] when it is done with them; `try_enter` returns the mode bits the
//! command routes by (serve here, `-ASK`, `-MOVED`). A transfer calls
//! [`SlotGate::try_begin_transfer`], waits until [`SlotGate::drained`], reads, copies and deletes
//! its keys, and calls [`SlotGate::end_transfer`]. While the transfer holds the slot,
//! `try_enter` answers `None` and the command waits and retries.
//!
//! # Why it is correct
//! 1. The mode a command acts on is read in the same atomic step that counts it in, so no mode
//!    change can fall between the command's routing decision and its being counted.
//! 2. Every `try_enter`, `leave`, `try_begin_transfer` and `end_transfer` is a read-modify-write
//!    of the one word, so they fall in one order (the word's modification order). A command's
//!    successful `try_enter` is either before the transfer's `try_begin_transfer` in that order,
//!    or after its `end_transfer`: between the two the word has the transfer bit set, and
//!    `try_enter` never counts a command in while it is set.
//! 3. A command that entered before: the transfer's loads in `drained` come after its
//!    `try_begin_transfer` in its own program order, so they read values at or after it in the
//!    word's order, and those carry the command's count until its `leave`. A count of zero is
//!    therefore written by the command's `leave` or by a later read-modify-write, which
//!    continues the `leave`'s release sequence: the `Acquire` load synchronises with the
//!    `leave` (`Release`), and the transfer reads keys after everything the command wrote. The
//!    copy holds the command's write, and holds no key the command deleted.
//! 4. A command that entered after: its `try_enter` (`Acquire`) reads the value `end_transfer`
//!    (`Release`) wrote or one written after it by read-modify-writes, so it sees the transfer's
//!    copy and deletion. The key is gone here, and a slot being migrated answers `-ASK` (and
//!    one that has moved, `-MOVED`): the command runs on the target, after the copy.
//!
//! So every command on a key is wholly before or wholly after each transfer of it, which is
//! what Redis's single thread gives. The loom models `loom-tests/tests/models/slotgate.rs` check
//! this protocol over the real gate.
//!
//! # What it costs
//! A slot that is not being transferred costs a command one compare-and-swap to enter and one
//! `fetch_sub` to leave. Entering is a compare-and-swap rather than a `fetch_add` so that a
//! command waiting on a transfer writes nothing: its retries only read the word, and never
//! disturb the count the transfer waits on. A gate is one word, so 16384 of them are 128 KiB on
//! a 64-bit host, and neighbouring slots share cache lines unless the caller pads them. A
//! transfer stops new commands on its slot for as long as it holds it: one `MIGRATE` batch.
//!
//! # Rules for callers
//! - A thread that waits for a slot to drain must be inside no slot (it would wait for its own
//!   command, or for a thread that waits on it), and a thread holding a transfer must enter no
//!   slot until it ends the transfer (two transfers' threads would wait on each other's slots).
//! - The count is the number of commands inside, not threads: a thread may be inside several
//!   slots (a command confined to one slot enters it once).
//!
//! ```
//! use kv_nostd::slotgate::{SlotGate, MIGRATING, MINE};
//!
//! static GATE: SlotGate = SlotGate::new();
//! GATE.set_mode(MINE | MIGRATING);
//!
//! // A command enters, and routes by the mode it entered with.
//! let mode = GATE.try_enter().expect("no transfer holds the slot");
//! assert_eq!(mode, MINE | MIGRATING);
//!
//! // A transfer claims the slot: new commands wait, the one inside must leave first.
//! assert!(GATE.try_begin_transfer());
//! assert_eq!(GATE.try_enter(), None);
//! assert!(!GATE.drained());
//! GATE.leave();
//! assert!(GATE.drained());
//! GATE.end_transfer();
//! assert_eq!(GATE.try_enter(), Some(MINE | MIGRATING));
//! GATE.leave();
//! ```

use crate::sync::{AtomicUsize, Ordering};

/// The slot is served here (this node owns it).
pub const MINE: usize = 1;
/// The slot is being migrated away (Redis's `MIGRATING`): a command whose keys are absent here
/// is sent to the target with `-ASK`.
pub const MIGRATING: usize = 2;
/// The slot is being imported (Redis's `IMPORTING`): served here after `ASKING`.
pub const IMPORTING: usize = 4;

/// All the mode bits.
const MODES: usize = MINE | MIGRATING | IMPORTING;
/// A transfer holds the slot: no command may enter.
const TRANSFER: usize = 8;
/// One command inside, in the count that takes the bits above [`TRANSFER`].
///
/// The count cannot overflow: it is the number of commands inside the slot at once, each held
/// by a running thread for the span of one command, so it stays below the number of threads,
/// far from the 2^28 a 32-bit word leaves it (2^60 on 64 bits).
const ONE: usize = 16;

/// One hash slot's gate: its routing mode and a count of the commands inside it.
#[derive(Debug)]
pub struct SlotGate {
    /// Bits 0..3 the mode, bit 3 [`TRANSFER`], the count from bit 4 up.
    word: AtomicUsize,
}

impl SlotGate {
    /// A gate with no mode bits (the slot is not served here), no command inside and no
    /// transfer: a `const fn`, so gates can be a `static` array.
    #[cfg(not(kv_loom))]
    pub const fn new() -> Self {
        Self {
            word: AtomicUsize::new(0),
        }
    }

    /// A gate with no mode bits, no command inside and no transfer.
    #[cfg(kv_loom)]
    pub fn new() -> Self {
        Self {
            word: AtomicUsize::new(0),
        }
    }

    /// The mode bits now: for routing decisions that do not touch keys (`CLUSTER NODES`, a
    /// `-MOVED` for a slot not served here). A command that touches keys routes by what
    /// [`SlotGate::try_enter`] returned instead.
    #[inline]
    pub fn mode(&self) -> usize {
        self.word.load(Ordering::Acquire) & MODES
    }

    /// Replaces the mode bits with `mode` (a set of [`MINE`], [`MIGRATING`], [`IMPORTING`]),
    /// keeping the count and the transfer's hold.
    ///
    /// A read-modify-write, never a plain store: commands change the count concurrently, and
    /// a store of a count read before would undo their entries or leaves. `Release`: a command
    /// that enters with the new mode sees what the caller wrote before setting it (for
    /// `MIGRATING`, the node to send `-ASK`s to).
    pub fn set_mode(&self, mode: usize) {
        debug_assert_eq!(mode & !MODES, 0, "not a mode: {mode:#x}");
        let mode = mode & MODES;
        // `fetch_update` with a closure that always answers `Some` cannot fail.
        let _ = self
            .word
            .fetch_update(Ordering::Release, Ordering::Relaxed, |w| {
                Some(w & !MODES | mode)
            });
    }

    /// A command enters the slot: if no transfer holds it, adds one to the count and returns
    /// the mode bits of that same atomic step (`Some(mode)`); if a transfer holds it, changes
    /// nothing and returns `None` (the caller waits its own way and retries).
    ///
    /// `Acquire`: a command that enters after a transfer sees the transfer's copy and deletion.
    #[inline]
    pub fn try_enter(&self) -> Option<usize> {
        self.word
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |w| {
                (w & TRANSFER == 0).then(|| w + ONE)
            })
            .ok()
            .map(|before| before & MODES)
    }

    /// The command leaves: one off the count. `Release`: a transfer that sees the count reach
    /// zero sees everything the command wrote.
    #[inline]
    pub fn leave(&self) {
        let before = self.word.fetch_sub(ONE, Ordering::Release);
        debug_assert!(before >= ONE, "a leave without an entry");
    }

    /// A key transfer (`MIGRATE`) claims the slot: sets the transfer bit if it was clear and
    /// returns `true`; `false` if another transfer holds it. No command enters from then on,
    /// until [`SlotGate::end_transfer`].
    ///
    /// One `fetch_or`, with no load before it (see `sync::BitLock::try_take` for why). Its
    /// `Acquire` is not what orders the transfer's reads of keys after the commands and the
    /// transfer before it: [`SlotGate::drained`]'s is, and it is required before any read.
    #[inline]
    pub fn try_begin_transfer(&self) -> bool {
        self.word.fetch_or(TRANSFER, Ordering::Acquire) & TRANSFER == 0
    }

    /// Whether every command that entered before the transfer claimed the slot has left (the
    /// count is zero). The transfer polls this before it reads any key; `Acquire`, so once it
    /// answers `true` the transfer sees what those commands wrote.
    #[inline]
    pub fn drained(&self) -> bool {
        self.word.load(Ordering::Acquire) < ONE
    }

    /// The transfer ends: clears the transfer bit. `Release`: a command that enters next sees
    /// what the transfer did to the keys.
    #[inline]
    pub fn end_transfer(&self) {
        let before = self.word.fetch_and(!TRANSFER, Ordering::Release);
        debug_assert_ne!(before & TRANSFER, 0, "an end without a transfer");
    }

    /// [`SlotGate::try_enter`] with a guard that leaves when dropped.
    #[inline]
    pub fn enter(&self) -> Option<Inside<'_>> {
        let mode = self.try_enter()?;
        Some(Inside { gate: self, mode })
    }

    /// [`SlotGate::try_begin_transfer`] with a guard that ends the transfer when dropped.
    #[inline]
    pub fn begin_transfer(&self) -> Option<Transfer<'_>> {
        self.try_begin_transfer().then(|| Transfer { gate: self })
    }
}

impl Default for SlotGate {
    fn default() -> Self {
        Self::new()
    }
}

/// Proof that a command is inside a slot; dropping it leaves.
#[must_use]
#[derive(Debug)]
pub struct Inside<'a> {
    gate: &'a SlotGate,
    mode: usize,
}

impl Inside<'_> {
    /// The mode bits the command entered with: the ones it routes by.
    #[inline]
    pub fn mode(&self) -> usize {
        self.mode
    }
}

impl Drop for Inside<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gate.leave();
    }
}

/// Proof that a transfer holds a slot; dropping it ends the transfer.
#[must_use]
#[derive(Debug)]
pub struct Transfer<'a> {
    gate: &'a SlotGate,
}

impl Transfer<'_> {
    /// Whether every command that entered before this transfer has left: keys may be read.
    #[inline]
    pub fn drained(&self) -> bool {
        self.gate.drained()
    }
}

impl Drop for Transfer<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gate.end_transfer();
    }
}

/// Gates are shared by every thread of a server.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SlotGate>();
    assert_send_sync::<Inside<'static>>();
    assert_send_sync::<Transfer<'static>>();
};

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_new_gate_has_no_mode_no_command_and_no_transfer() {
        let g = SlotGate::new();
        assert_eq!(g.mode(), 0);
        assert!(g.drained());
        assert_eq!(g.try_enter(), Some(0), "nothing holds a new gate");
        g.leave();
        assert!(g.try_begin_transfer(), "no transfer holds a new gate");
        g.end_transfer();
    }

    #[test]
    fn set_mode_replaces_the_mode_and_keeps_count_and_transfer() {
        let g = SlotGate::new();
        g.set_mode(MINE);
        assert_eq!(g.mode(), MINE);
        assert_eq!(g.try_enter(), Some(MINE));
        assert_eq!(g.try_enter(), Some(MINE));
        g.set_mode(MINE | MIGRATING);
        assert_eq!(g.mode(), MINE | MIGRATING);
        assert!(!g.drained(), "the count survives a mode change");
        assert!(g.try_begin_transfer());
        g.set_mode(IMPORTING);
        assert_eq!(g.mode(), IMPORTING);
        assert_eq!(
            g.try_enter(),
            None,
            "the transfer's hold survives a mode change"
        );
        assert!(!g.try_begin_transfer(), "still held");
        g.leave();
        assert!(!g.drained(), "one of two left");
        g.leave();
        assert!(g.drained());
        g.end_transfer();
        assert_eq!(g.try_enter(), Some(IMPORTING));
        g.leave();
        g.set_mode(0);
        assert_eq!(g.mode(), 0);
    }

    #[test]
    fn try_enter_returns_the_mode_at_entry_and_counts() {
        let g = SlotGate::new();
        g.set_mode(MINE | MIGRATING);
        let n = 5;
        for _ in 0..n {
            assert_eq!(g.try_enter(), Some(MINE | MIGRATING));
        }
        g.set_mode(MINE);
        assert_eq!(
            g.try_enter(),
            Some(MINE),
            "the mode of the entry's own step"
        );
        for left in 0..=n {
            assert!(!g.drained(), "{left} of {} left", n + 1);
            g.leave();
        }
        assert!(g.drained());
    }

    #[test]
    fn a_transfer_blocks_entry_until_it_ends_and_changes_nothing_while_refusing() {
        let g = SlotGate::new();
        g.set_mode(MINE | MIGRATING);
        assert!(g.try_begin_transfer());
        let held = g.word.load(Ordering::Relaxed);
        for _ in 0..3 {
            assert_eq!(g.try_enter(), None);
        }
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            held,
            "a refused entry writes nothing"
        );
        assert!(g.drained(), "refused commands are not counted");
        assert!(!g.try_begin_transfer(), "one transfer at a time");
        g.end_transfer();
        assert_eq!(g.try_enter(), Some(MINE | MIGRATING));
        g.leave();
        assert!(
            g.try_begin_transfer(),
            "a new transfer after the first ended"
        );
        g.end_transfer();
    }

    #[test]
    fn a_transfer_waits_for_commands_that_entered_before_it() {
        let g = SlotGate::new();
        g.set_mode(MINE);
        assert_eq!(g.try_enter(), Some(MINE));
        assert_eq!(g.try_enter(), Some(MINE));
        assert!(g.try_begin_transfer());
        assert!(!g.drained());
        g.leave();
        assert!(!g.drained());
        g.leave();
        assert!(g.drained());
        g.end_transfer();
        assert_eq!(
            g.word.load(Ordering::Relaxed),
            MINE,
            "only the mode is left"
        );
    }

    #[test]
    fn guards_leave_and_end_when_dropped() {
        let g = SlotGate::new();
        g.set_mode(MINE);
        {
            let a = g.enter().expect("free");
            let b = g.enter().expect("free");
            assert_eq!((a.mode(), b.mode()), (MINE, MINE));
            let t = g.begin_transfer().expect("no other transfer");
            assert!(g.enter().is_none(), "held by the transfer");
            assert!(g.begin_transfer().is_none(), "one transfer at a time");
            assert!(!t.drained());
            drop(a);
            drop(b);
            assert!(t.drained());
        }
        assert_eq!(g.word.load(Ordering::Relaxed), MINE, "all guards undone");
    }

    #[test]
    fn gates_can_be_a_static_array() {
        static GATES: [SlotGate; 4] = [const { SlotGate::new() }; 4];
        GATES[2].set_mode(MINE);
        for (i, g) in GATES.iter().enumerate() {
            assert_eq!(g.mode(), if i == 2 { MINE } else { 0 });
        }
    }
}
