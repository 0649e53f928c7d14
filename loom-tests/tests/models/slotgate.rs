//! Models 28 to 30b: the per-slot gate of online resharding (`kv_nostd::slotgate`), against the
//! key transfer (`MIGRATE`) it exists for.
//!
//! One key `k` of a slot being migrated, on a source node and a target node. Each node's copy of
//! `k` is a plain cell (`UnsafeCell`), not a table: the table orders its own accesses with its
//! bucket locks, so plain cells check the stronger property that the gate alone orders every
//! command's access to `k` against the transfer's (loom reports any pair of accesses it does
//! not order). A client runs a command on the source as Redis does for a migrating slot (key
//! present: served here; absent: `-ASK`, and the command runs on the target); the transfer
//! claims the slot, waits for the commands inside to leave, copies `k` to the target, deletes it
//! on the source and lets commands in again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kv_nostd::slotgate::{SlotGate, MIGRATING, MINE};
use loom::cell::UnsafeCell;
use loom::thread;

/// The value `k` holds before the models start.
const OLD: u8 = 1;
/// The value a client writes.
const NEW: u8 = 2;

/// The source's gate of `k`'s slot, and `k` on each node (`None`: absent).
struct Nodes {
    gate: SlotGate,
    source: UnsafeCell<Option<u8>>,
    target: UnsafeCell<Option<u8>>,
}

// SAFETY: the cells are read and written only as the gate protocol allows, which is what these
// models check; loom reports any access the protocol leaves unordered.
unsafe impl Sync for Nodes {}

/// `k` on one node.
fn read(cell: &UnsafeCell<Option<u8>>) -> Option<u8> {
    // SAFETY: loom checks that no write of the cell is concurrent with this read.
    cell.with(|p| unsafe { *p })
}

/// Sets `k` on one node (`None`: deletes it).
fn write(cell: &UnsafeCell<Option<u8>>, v: Option<u8>) {
    // SAFETY: loom checks that no access of the cell is concurrent with this write.
    cell.with_mut(|p| unsafe { *p = v });
}

impl Nodes {
    /// `k` holds [`OLD`] on the source, which owns the slot and is migrating it.
    fn migrating() -> Arc<Self> {
        let gate = SlotGate::new();
        gate.set_mode(MINE | MIGRATING);
        Arc::new(Self {
            gate,
            source: UnsafeCell::new(Some(OLD)),
            target: UnsafeCell::new(None),
        })
    }
}

/// Enters the gate, yielding while a transfer holds it (as a server's command waits); returns
/// the mode it entered with.
fn enter(gate: &SlotGate) -> usize {
    loop {
        if let Some(mode) = gate.try_enter() {
            return mode;
        }
        thread::yield_now();
    }
}

/// `MIGRATE` of `k` from the source to the target: returns whether `k` was there to move (`+OK`
/// rather than `+NOKEY`).
fn migrate(n: &Nodes) -> bool {
    assert!(n.gate.try_begin_transfer(), "the only transfer");
    while !n.gate.drained() {
        thread::yield_now();
    }
    let v = read(&n.source);
    if v.is_some() {
        write(&n.target, v);
        write(&n.source, None);
    }
    n.gate.end_transfer();
    v.is_some()
}

/// Spawns [`migrate`] on `n`.
fn spawn_migrate(n: &Arc<Nodes>) -> thread::JoinHandle<bool> {
    let n = Arc::clone(n);
    thread::spawn(move || migrate(&n))
}

/// Runs a one-key command on the source the way Redis routes it in a migrating slot: `here`
/// runs it on the source's copy of `k` if `k` is present there, or if the slot is not being
/// migrated; otherwise the source answers `-ASK` and the client runs `ask` on the target (after
/// `ASKING`), outside the source's gate. Returns whether it was served here, and the command's
/// answer.
fn command<R>(
    n: &Nodes,
    here: impl FnOnce(&UnsafeCell<Option<u8>>) -> R,
    ask: impl FnOnce(&UnsafeCell<Option<u8>>) -> R,
) -> (bool, R) {
    let mode = enter(&n.gate);
    let served = mode & MIGRATING == 0 || read(&n.source).is_some();
    let answer = served.then(|| here(&n.source));
    n.gate.leave();
    match answer {
        Some(a) => (true, a),
        None => (false, ask(&n.target)),
    }
}

/// `SET k NEW` on a node.
fn set(cell: &UnsafeCell<Option<u8>>) {
    write(cell, Some(NEW));
}

/// `DEL k` on a node: whether it deleted a key.
fn del(cell: &UnsafeCell<Option<u8>>) -> bool {
    let was = read(cell).is_some();
    write(cell, None);
    was
}

/// Model 28: `SET k` racing a `MIGRATE` of `k`. Whichever comes first, the write is not lost: the
/// target ends holding it (never the old value back), and `k` is gone from the source. Some
/// executions serve the write on the source (the copy carries it) and some send it to the
/// target.
#[test]
fn write_vs_migrate_of_its_key_is_not_lost() {
    static SERVED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    loom_tests::model("write_vs_migrate_of_its_key_is_not_lost", || {
        let n = Nodes::migrating();
        let migrator = spawn_migrate(&n);
        let (here, ()) = command(&n, set, set);
        assert!(migrator.join().unwrap(), "k was there to move");
        assert_eq!(read(&n.target), Some(NEW), "the write was lost");
        assert_eq!(read(&n.source), None, "k left on the source");
        SERVED[usize::from(here)].store(true, Ordering::Relaxed);
    });
    assert!(
        SERVED.iter().all(|s| s.load(Ordering::Relaxed)),
        "some executions must serve the write on each node"
    );
}

/// Model 28b: as model 28, but the slot is not yet migrating when the threads start: the
/// migrating thread first marks it (`CLUSTER SETSLOT MIGRATING`), then moves `k`. A command
/// that entered before the mark routes as an owner (serve here), one after it as Redis does for a
/// migrating slot; the write is not lost either way. Some executions serve it on each node.
#[test]
fn write_vs_mode_change_and_migrate_is_not_lost() {
    static SERVED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    loom_tests::model("write_vs_mode_change_and_migrate_is_not_lost", || {
        let n = Nodes::migrating();
        n.gate.set_mode(MINE);
        let migrator = {
            let n = Arc::clone(&n);
            thread::spawn(move || {
                n.gate.set_mode(MINE | MIGRATING);
                migrate(&n)
            })
        };
        let (here, ()) = command(&n, set, set);
        assert!(migrator.join().unwrap(), "k was there to move");
        assert_eq!(read(&n.target), Some(NEW), "the write was lost");
        assert_eq!(read(&n.source), None, "k left on the source");
        SERVED[usize::from(here)].store(true, Ordering::Relaxed);
    });
    assert!(
        SERVED.iter().all(|s| s.load(Ordering::Relaxed)),
        "some executions must serve the write on each node"
    );
}

/// Model 29: `DEL k` racing a `MIGRATE` of `k`. The delete deletes a key whichever comes first,
/// and afterwards `k` is nowhere: the migration does not bring it back on the target. Some
/// executions delete on each node.
#[test]
fn delete_vs_migrate_of_its_key_does_not_resurrect() {
    static SERVED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
    loom_tests::model("delete_vs_migrate_of_its_key_does_not_resurrect", || {
        let n = Nodes::migrating();
        let migrator = spawn_migrate(&n);
        let (here, deleted) = command(&n, del, del);
        let moved = migrator.join().unwrap();
        assert!(deleted, "DEL of a key that existed answered 0");
        assert_eq!(moved, !here, "MIGRATE moves k exactly when it came first");
        assert_eq!(
            read(&n.target),
            None,
            "the deleted key came back on the target"
        );
        assert_eq!(read(&n.source), None, "the deleted key is on the source");
        SERVED[usize::from(here)].store(true, Ordering::Relaxed);
    });
    assert!(
        SERVED.iter().all(|s| s.load(Ordering::Relaxed)),
        "some executions must delete on each node"
    );
}

/// Model 30: two commands enter and leave while the slot's mode changes from `MINE` to
/// `MINE | MIGRATING` (`CLUSTER SETSLOT MIGRATING`), which first records the node to send
/// `-ASK`s to. Each command routes by one of the two modes, and one that entered migrating sees
/// that node; afterwards the mode is the one set, the count is back to zero and no transfer
/// holds the slot.
#[test]
fn entries_vs_mode_change_keep_the_count_and_the_mode() {
    /// The gate, and the node a migrating slot's `-ASK` names (0: none yet).
    struct Slot {
        gate: SlotGate,
        ask_to: UnsafeCell<u16>,
    }
    // SAFETY: `ask_to` is written before the mode that publishes it, and read only by commands
    // that entered with that mode; loom reports an access the gate does not order.
    unsafe impl Sync for Slot {}
    const TARGET: u16 = 7001;

    loom_tests::model("entries_vs_mode_change_keep_the_count_and_the_mode", || {
        let slot = Arc::new(Slot {
            gate: SlotGate::new(),
            ask_to: UnsafeCell::new(0),
        });
        slot.gate.set_mode(MINE);
        let clients: Vec<_> = (0..2)
            .map(|_| {
                let slot = Arc::clone(&slot);
                thread::spawn(move || {
                    let mode = enter(&slot.gate);
                    if mode & MIGRATING != 0 {
                        // SAFETY: written before the mode this command entered with.
                        let to = slot.ask_to.with(|p| unsafe { *p });
                        assert_eq!(to, TARGET, "migrating, but to no node");
                    }
                    slot.gate.leave();
                    mode
                })
            })
            .collect();
        // SAFETY: no command reads it before the mode below publishes it.
        slot.ask_to.with_mut(|p| unsafe { *p = TARGET });
        slot.gate.set_mode(MINE | MIGRATING);
        for c in clients {
            let mode = c.join().unwrap();
            assert!(
                mode == MINE || mode == MINE | MIGRATING,
                "entered with a mode never set: {mode:#x}"
            );
        }
        let gate = &slot.gate;
        assert_eq!(gate.mode(), MINE | MIGRATING, "the mode set was lost");
        assert!(gate.drained(), "the count did not return to zero");
        assert!(gate.try_begin_transfer(), "a transfer bit was left set");
        assert!(gate.drained(), "the count did not return to zero");
        assert_eq!(
            gate.mode(),
            MINE | MIGRATING,
            "the transfer changed the mode"
        );
    });
}

/// Model 30b: a mode change (`CLUSTER SETSLOT MIGRATING` again, as `redis-cli --cluster fix`
/// may send) during a transfer keeps the transfer's hold: a `SET k` racing both is not lost.
/// Explores at least three preemptions (`deep_model`): the mode must change after the transfer
/// has drained and before the command tries again.
#[test]
fn mode_change_during_a_transfer_keeps_its_hold() {
    loom_tests::deep_model("mode_change_during_a_transfer_keeps_its_hold", 3, || {
        let n = Nodes::migrating();
        let migrator = spawn_migrate(&n);
        let client = {
            let n = Arc::clone(&n);
            thread::spawn(move || command(&n, set, set))
        };
        n.gate.set_mode(MINE | MIGRATING);
        client.join().unwrap();
        assert!(migrator.join().unwrap(), "k was there to move");
        assert_eq!(read(&n.target), Some(NEW), "the write was lost");
        assert_eq!(read(&n.source), None, "k left on the source");
        assert_eq!(n.gate.mode(), MINE | MIGRATING);
    });
}
