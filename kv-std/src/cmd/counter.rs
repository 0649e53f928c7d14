//! INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT: numbers in string values, changed atomically
//! (`rewrite.rs`), the key's deadline kept.

use super::rewrite::rewrite;
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::number::{self, Increment, MAX_INTEGER_LEN};
use crate::value::WriteReply;
use kv_nostd::resp::Args;

/// `INCR key`, `DECR key` (`by` given), `INCRBY key increment` and `DECRBY key decrement` (`by`
/// read from the arguments by `parse`): the new value.
pub fn incr(
    by: Option<Increment>,
    parse: fn(&[u8]) -> Result<Increment, crate::value::Error>,
    mut args: Args<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) {
    let key = args.next().unwrap_or_default();
    let by = match by.map_or_else(|| parse(args.next().unwrap_or_default()), Ok) {
        Ok(by) => by,
        Err(e) => return e.reply(out),
    };
    rewrite(key, MAX_INTEGER_LEN, client, db, out, |value| {
        by.apply(value)
    });
}

/// `INCRBYFLOAT key increment`: the new value, in Redis's long double format.
pub fn incrbyfloat(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let by = number::parse_incrbyfloat(args.next().unwrap_or_default());
    // A long double's text is at most a few hundred bytes.
    rewrite(key, 512, client, db, out, |value| by.apply(value));
}
