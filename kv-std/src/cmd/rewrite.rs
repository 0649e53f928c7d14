//! How a command reads and rewrites one key's value atomically (`INCR`, `APPEND`, `SETRANGE`,
//! `SETBIT`, `BITFIELD`, `GETDEL`, ...): through [`kv_nostd::Table::update`], under the key's
//! bucket lock, making room by eviction when the table is full, and logging the write as Redis
//! propagates it.
//!
//! Redis propagates `INCRBYFLOAT` as `SET key value KEEPTTL`, and the others as themselves;
//! here every such write is logged as the value it left (`SET key value`, with `PXAT ms` when
//! the key keeps a deadline) or as `DEL key`, so a replay depends neither on the key's state at
//! the time nor on when it runs (a logged `KEEPTTL` or `INCR` would), and replaying it twice
//! changes nothing: a write that races a snapshot is replayed over a snapshot that may hold it
//! already (`persist/mod.rs`), where a logged `INCR` would count twice. The price: a write to a large value logs the whole value (a `SETBIT` on a
//! 1 MB bitmap logs 1 MB), where Redis logs the command.
//!
//! The value functions (`crate::value`) take the old value as a slice and return the new one
//! as a vector, so a write copies the old value out of the table and allocates the new one.

use super::strings::table_error;
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::{self, Store, WriteReply};
use kv_nostd::update::{Change, Update};
use kv_nostd::Deadline;

/// Applies `op` to `key`'s value (`None` for a missing or expired key) under the key's lock,
/// stores what it asks (keeping the key's deadline), and appends its reply or error to `out`.
/// `grows` is about how many bytes the value may grow by, to ask eviction for room. Returns
/// whether `op` succeeded and the write (if any) was made.
pub fn rewrite<R: WriteReply>(
    key: &[u8],
    grows: usize,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
    mut op: impl FnMut(Option<&[u8]>) -> Result<value::Update<R>, value::Error>,
) -> bool {
    let start = out.len();
    let mut lsn = 0;
    let mut old = Vec::new();
    let mut scratch = Vec::new();
    let mut outcome = None;
    let now_len = db.table.value_len(key).ok().flatten().unwrap_or(0);
    let needed = db
        .table
        .item_bytes(key.len(), now_len.saturating_add(grows));
    let written = db.with_room(needed, || {
        db.table.update(
            key,
            &mut scratch,
            |entry, buf: &mut Vec<u8>| {
                let value = entry.map(|e| {
                    old.clear();
                    old.resize(e.value_len(), 0);
                    e.read_value(0, &mut old);
                    old.as_slice()
                });
                let (decision, result) = match op(value) {
                    Err(e) => (Update::Keep, Err(e)),
                    Ok(value::Update { reply, store }) => {
                        let decision = match store {
                            Store::Keep => Update::Keep,
                            Store::Delete => Update::Delete,
                            Store::Put(new) => {
                                *buf = new;
                                Update::Set {
                                    len: buf.len(),
                                    deadline: Deadline::Keep,
                                }
                            }
                        };
                        (decision, Ok(reply))
                    }
                };
                outcome = Some(result);
                decision
            },
            &mut |change| lsn = log_change(db, key, change),
        )
    });
    let done = match (written, outcome) {
        (Err(e), _) => {
            table_error(e, out);
            false
        }
        (Ok(_), Some(result)) => {
            result.reply(out);
            result.is_ok()
        }
        // `op` always runs once the key's lock is held.
        (Ok(_), None) => unreachable!("the update called its closure"),
    };
    client.logged(lsn, start, out.len());
    done
}

/// Logs a change [`kv_nostd::Table::update`] made to `key`; returns the log position.
pub fn log_change(db: &Db, key: &[u8], change: Change<'_>) -> u64 {
    match change {
        Change::Set {
            value,
            deadline: Some(ms),
        } => db.log(&[b"SET", key, value, b"PXAT", ms.to_string().as_bytes()]),
        Change::Set {
            value,
            deadline: None,
        } => db.log(&[b"SET", key, value]),
        Change::Deleted | Change::Expired => db.log(&[b"DEL", key]),
    }
}

/// `key`'s value, or `None` for a missing key (removing it if it was there but expired);
/// counts the read as a hit or a miss.
pub fn read(key: &[u8], client: &mut Client, db: &Db) -> Option<Vec<u8>> {
    let mut sink = crate::db::VecSink::default();
    let found = matches!(db.table.get_with(key, &mut sink), Ok(Some(_)));
    if !found {
        db.reap(key);
    }
    client.read(found);
    found.then_some(sink.0)
}
