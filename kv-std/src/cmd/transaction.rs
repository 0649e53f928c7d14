//! MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis 7.0's semantics.
//!
//! Between `MULTI` and `EXEC` a client's commands are checked (name, arity, authentication) and
//! queued, each answered `+QUEUED`; one that fails a check is answered with its error and dooms
//! the transaction (`EXEC` answers `-EXECABORT`). `EXEC` runs the queue under the gate
//! ([`crate::txn::gate`]): no other client's command, and no expiry or eviction outside it,
//! touches the table until it ends, as in Redis's single thread; each command's reply, error or
//! not, is one element of `EXEC`'s reply. `WATCH`ed keys written by anyone after the `WATCH`
//! (or expired by then) make `EXEC` answer a null array and run nothing.

use super::{Client, Flow};
use crate::db::Db;
use crate::reply::Out;
use crate::txn::watch::Watches;
use kv_nostd::resp::{decode_request, Args, Limits, Request};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A client's transaction: the commands queued since `MULTI`, encoded as they came.
#[derive(Default, Debug)]
pub struct Queued {
    commands: Vec<Vec<u8>>,
    /// A command failed its checks while queuing: `EXEC` will refuse.
    pub failed: bool,
}

impl Queued {
    /// Queues `req`.
    pub fn push(&mut self, req: &Request<'_>) {
        let args: Vec<&[u8]> = req.args().collect();
        self.commands.push(crate::reply::request_bytes(&args));
    }
}

/// The keys a client watches, unwatched when it goes.
pub struct Watching {
    watches: Arc<Watches>,
    /// Raised by any write of a watched key.
    dirty: Arc<AtomicBool>,
    /// Each key, with its deadline when watched if it was live and had one.
    keys: Vec<(Vec<u8>, Option<u64>)>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        for (key, _) in &self.keys {
            self.watches.unwatch(key, &self.dirty);
        }
    }
}

/// `MULTI`.
pub fn multi(client: &mut Client, out: &mut Out) {
    if client.transaction.is_some() {
        out.error("ERR MULTI calls can not be nested");
        return;
    }
    client.transaction = Some(Queued::default());
    out.ok();
}

/// `DISCARD`.
pub fn discard(client: &mut Client, out: &mut Out) {
    if client.transaction.take().is_none() {
        out.error("ERR DISCARD without MULTI");
        return;
    }
    client.watching = None;
    out.ok();
}

/// `WATCH key [key ...]`.
pub fn watch(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    if client.transaction.is_some() {
        out.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let w = client.watching.get_or_insert_with(|| Watching {
        watches: Arc::clone(&db.watches),
        dirty: Arc::new(AtomicBool::new(false)),
        keys: Vec::new(),
    });
    for key in args {
        if w.keys.iter().any(|(k, _)| k == key) {
            continue;
        }
        // Registered first: a write from now on flags it, and one before is what the deadline
        // read below sees.
        db.watches.watch(key, &w.dirty);
        let deadline = db.table.deadline(key).ok().flatten().flatten();
        w.keys.push((key.to_vec(), deadline));
    }
    out.ok();
}

/// `UNWATCH`.
pub fn unwatch(client: &mut Client, out: &mut Out) {
    client.watching = None;
    out.ok();
}

/// `EXEC`.
pub fn exec(client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    let Some(queued) = client.transaction.take() else {
        out.error("ERR EXEC without MULTI");
        return Flow::Continue;
    };
    let watching = client.watching.take();
    if queued.failed {
        out.error("EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    let start = out.len();
    let (flow, lsn) = db.exec(|| {
        // In cluster mode the transaction's keys are routed together, here where no other
        // thread runs: no key can move between this check and the commands.
        let entered = match super::route_transaction(&queued.commands, client, db) {
            Ok(entered) => entered,
            Err(redirect) => {
                out.error(&redirect);
                return Flow::Continue;
            }
        };
        // Under the gate: nothing can write a watched key from here to the end.
        if let Some(w) = &watching {
            let now = db.table.now();
            let expired = w.keys.iter().any(|(_, d)| d.is_some_and(|d| d <= now));
            if w.dirty.load(Ordering::Acquire) || expired {
                if let (Some(slot), Some(cluster)) = (entered, &db.cluster) {
                    cluster.leave(slot);
                }
                out.null_array();
                return Flow::Continue;
            }
        }
        out.array(queued.commands.len());
        let limits = Limits::REDIS.with_max_bulk(usize::MAX);
        let mut flow = Flow::Continue;
        client.in_exec = true;
        for bytes in &queued.commands {
            // Encoded by `Queued::push`, so it decodes.
            if let Ok(Some((req, _))) = decode_request(bytes, &limits) {
                if super::execute(&req, client, db, out) == Flow::Close {
                    flow = Flow::Close;
                }
            }
        }
        client.in_exec = false;
        if let (Some(slot), Some(cluster)) = (entered, &db.cluster) {
            cluster.leave(slot);
        }
        flow
    });
    client.logged(lsn, start, out.len());
    flow
}

/// Whether `command` runs at once inside `MULTI` rather than being queued.
pub fn runs_inside_multi(command: super::Command) -> bool {
    use super::Command::*;
    matches!(command, Exec | Discard | Multi | Watch | Reset)
}
