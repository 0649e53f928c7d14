//! GET, SET, DEL, EXISTS, MGET, MSET.

use super::{Client, SYNTAX_ERROR};
use crate::db::{Db, VecSink};
use crate::reply::{BulkSink, Out};
use kv_nostd::resp::Args;
use kv_nostd::{Error, When};

/// Redis's reply to a write refused for memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The reply for a table error: Redis's `OOM` for memory, the limit by name otherwise.
pub fn table_error(e: Error, out: &mut Out) {
    match e {
        Error::NoSpace => out.error(OOM),
        other => out.error_fmt(format_args!("ERR {other}")),
    }
}

/// Appends `key`'s value as a bulk string, or the null for a missing key.
pub fn reply_value(db: &Db, key: &[u8], out: &mut Out) {
    let mut sink = BulkSink::new(out);
    match db.table.get_with(key, &mut sink) {
        Ok(Some(_)) => sink.finish(),
        Ok(None) | Err(_) => {
            sink.abandon();
            out.null();
        }
    }
}

/// `GET key`: the value, or nil.
pub fn get(mut args: Args<'_>, db: &Db, out: &mut Out) {
    reply_value(db, args.next().unwrap_or_default(), out);
}

/// `SET key value [NX|XX] [GET] [KEEPTTL]`.
pub fn set(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let mut when = When::Always;
    let mut get = false;
    for opt in args {
        if opt.eq_ignore_ascii_case(b"nx") && when != When::IfPresent {
            when = When::IfAbsent;
        } else if opt.eq_ignore_ascii_case(b"xx") && when != When::IfAbsent {
            when = When::IfPresent;
        } else if opt.eq_ignore_ascii_case(b"get") {
            get = true;
        } else if opt.eq_ignore_ascii_case(b"keepttl") {
            // Keys never expire, so there is no time to live to keep.
        } else if [&b"ex"[..], b"px", b"exat", b"pxat"]
            .iter()
            .any(|o| opt.eq_ignore_ascii_case(o))
        {
            out.error("ERR expiry (EX, PX, EXAT, PXAT) is not supported: kv keys do not expire");
            return;
        } else {
            out.error(SYNTAX_ERROR);
            return;
        }
    }
    let start = out.len();
    let mut lsn = 0;
    let mut old_value = VecSink::default();
    let old: Option<kv_nostd::table::OldValue<'_>> = if get { Some(&mut old_value) } else { None };
    let result = db.table.put_if_then(key, value, when, old, &mut || {
        lsn = db.log(&[b"SET", key, value])
    });
    match result {
        Ok(written) if get => match when.was_present(written) {
            true => out.bulk(&old_value.0),
            false => out.null(),
        },
        Ok(Some(_)) => out.ok(),
        Ok(None) => out.null(),
        Err(e) => table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// `DEL key [key ...]`: how many existed.
pub fn del(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let mut lsn = 0;
    let removed = args
        .filter(|k| db.table.delete_then(k, &mut || lsn = db.log(&[b"DEL", k])) == Ok(true))
        .count();
    let start = out.len();
    out.int(removed as i64);
    client.logged(lsn, start, out.len());
}

/// `EXISTS key [key ...]`: how many of the named keys exist, counting repeats.
pub fn exists(args: Args<'_>, db: &Db, out: &mut Out) {
    let found = args.filter(|k| db.table.contains(k) == Ok(true)).count();
    out.int(found as i64);
}

/// `MGET key [key ...]`: an array of values and nils.
pub fn mget(args: Args<'_>, count: usize, db: &Db, out: &mut Out) {
    out.array(count);
    for key in args {
        reply_value(db, key, out);
    }
}

/// `MSET key value [key value ...]`. A table that fills part-way stops it with an error saying
/// how many pairs were set.
pub fn mset(args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Out) {
    if !count.is_multiple_of(2) {
        out.error("ERR wrong number of arguments for 'mset' command");
        return;
    }
    let mut pairs = args;
    let mut set = 0;
    let mut lsn = 0;
    let start = out.len();
    while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
        if let Err(e) = db.table.put_if_then(k, v, When::Always, None, &mut || {
            lsn = db.log(&[b"SET", k, v])
        }) {
            if set == 0 {
                table_error(e, out);
            } else {
                let code = if e == Error::NoSpace { "OOM" } else { "ERR" };
                out.error_fmt(format_args!(
                    "{code} {e} ({set} of {} pairs were set)",
                    count / 2
                ));
            }
            client.logged(lsn, start, out.len());
            return;
        }
        set += 1;
    }
    out.ok();
    client.logged(lsn, start, out.len());
}
