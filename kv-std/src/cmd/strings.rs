//! GET, SET, DEL, EXISTS, MGET, MSET.

use super::{Client, SYNTAX_ERROR};
use crate::db::Db;
use crate::reply;
use kv_nostd::resp::Args;
use kv_nostd::{Error, When};

/// The reply for a table error: the limit by name, or Redis's `OOM` code for a full table.
pub fn table_error(e: Error, db: &Db, out: &mut Vec<u8>) {
    match e {
        Error::NoSpace => reply::error_fmt(
            out,
            format_args!(
                "OOM no space left: the table is full ({} slots)",
                db.table.stats().slots
            ),
        ),
        other => reply::error_fmt(out, format_args!("ERR {other}")),
    }
}

/// `GET key`: the value, or nil. A key longer than any stored key is simply absent.
pub fn get(mut args: Args<'_>, db: &Db, out: &mut Vec<u8>) {
    let key = args.next().unwrap_or_default();
    match crate::db::read_value(&db.table, key) {
        Ok(Some(v)) => reply::bulk(out, &v),
        Ok(None) | Err(_) => reply::null(out),
    }
}

/// `SET key value [NX|XX] [GET] [KEEPTTL]`.
pub fn set(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
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
            reply::error(
                out,
                "ERR expiry (EX, PX, EXAT, PXAT) is not supported: kv keys do not expire",
            );
            return;
        } else {
            reply::error(out, SYNTAX_ERROR);
            return;
        }
    }
    let start = out.len();
    let mut lsn = 0;
    let mut old_value = crate::db::VecSink::default();
    let old: Option<kv_nostd::table::OldValue<'_>> = if get { Some(&mut old_value) } else { None };
    let result = db
        .table
        .put_if_then(key, value, when, old, &mut || lsn = db.log_set(key, value));
    match result {
        Ok(written) if get => match when.was_present(written) {
            true => reply::bulk(out, &old_value.0),
            false => reply::null(out),
        },
        Ok(Some(_)) => reply::ok(out),
        Ok(None) => reply::null(out),
        Err(e) => table_error(e, db, out),
    }
    client.logged(lsn, start, out);
}

/// `DEL key [key ...]`: how many existed.
pub fn del(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
    let mut lsn = 0;
    let removed = args
        .filter(|k| db.table.delete_then(k, &mut || lsn = db.log_del(k)) == Ok(true))
        .count();
    let start = out.len();
    reply::int(out, removed as i64);
    client.logged(lsn, start, out);
}

/// `EXISTS key [key ...]`: how many of the named keys exist, counting repeats.
pub fn exists(args: Args<'_>, db: &Db, out: &mut Vec<u8>) {
    let found = args.filter(|k| db.table.contains(k) == Ok(true)).count();
    reply::int(out, found as i64);
}

/// `MGET key [key ...]`: an array of values and nils.
pub fn mget(args: Args<'_>, count: usize, db: &Db, out: &mut Vec<u8>) {
    reply::array(out, count);
    for key in args {
        match crate::db::read_value(&db.table, key) {
            Ok(Some(v)) => reply::bulk(out, &v),
            Ok(None) | Err(_) => reply::null(out),
        }
    }
}

/// `MSET key value [key value ...]`. Every length is checked before anything is written; a
/// table that fills part-way stops it with an error saying how many pairs were set.
pub fn mset(args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
    if !count.is_multiple_of(2) {
        reply::error(out, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    let mut pairs = args.clone();
    while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
        let too_long = if k.len() > crate::db::MAX_KEY {
            Some(Error::KeyTooLong {
                len: k.len(),
                max: crate::db::MAX_KEY,
            })
        } else if v.len() > crate::db::MAX_VALUE {
            Some(Error::ValueTooLong {
                len: v.len(),
                max: crate::db::MAX_VALUE,
            })
        } else {
            None
        };
        if let Some(e) = too_long {
            table_error(e, db, out);
            return;
        }
    }
    let mut pairs = args;
    let mut set = 0;
    let mut lsn = 0;
    let start = out.len();
    while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
        if let Err(e) = db
            .table
            .put_if_then(k, v, When::Always, None, &mut || lsn = db.log_set(k, v))
        {
            let code = if e == Error::NoSpace { "OOM" } else { "ERR" };
            reply::error_fmt(
                out,
                format_args!("{code} {e} ({set} of {} pairs were set)", count / 2),
            );
            client.logged(lsn, start, out);
            return;
        }
        set += 1;
    }
    reply::ok(out);
    client.logged(lsn, start, out);
}
