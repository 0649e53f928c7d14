//! APPEND, SETRANGE, GETRANGE (and its old name SUBSTR), and STRLEN: parts of a string value.
//! The writes change the value atomically (`rewrite.rs`) and keep the key's deadline.

use super::rewrite::{read, rewrite};
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::{range, WriteReply};
use kv_nostd::resp::Args;

/// `proto-max-bulk-len` now: the longest value a command may make.
pub fn max_len(db: &Db) -> u64 {
    db.settings.proto_max_bulk_len() as u64
}

/// `APPEND key value`: the new length.
pub fn append(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let suffix = args.next().unwrap_or_default();
    let max = max_len(db);
    rewrite(key, suffix.len(), client, db, out, |value| {
        range::append(value, suffix, max)
    });
}

/// `SETRANGE key offset value`: the new length.
pub fn setrange(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let offset = args.next().unwrap_or_default();
    let patch = args.next().unwrap_or_default();
    let op = match range::parse_setrange(offset, patch) {
        Ok(op) => op,
        Err(e) => return e.reply(out),
    };
    let max = max_len(db);
    rewrite(key, patch.len(), client, db, out, |value| {
        op.apply(value, max)
    });
}

/// `GETRANGE key start end` and `SUBSTR key start end`: the bytes in the range.
pub fn getrange(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let start = args.next().unwrap_or_default();
    let end = args.next().unwrap_or_default();
    match range::parse_getrange(start, end) {
        Ok(op) => {
            let value = read(key, client, db);
            out.bulk(op.apply(value.as_deref()));
        }
        Err(e) => e.reply(out),
    }
}

/// `STRLEN key`: the value's length, 0 for a missing key.
pub fn strlen(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let len = db.table.value_len(key).ok().flatten();
    if len.is_none() {
        db.reap(key);
    }
    client.read(len.is_some());
    out.int(len.unwrap_or(0) as i64);
}
