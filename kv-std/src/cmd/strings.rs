//! GET, SET, DEL, EXISTS, MGET, MSET.

use super::{Client, SYNTAX_ERROR};
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;
use kv_nostd::{Error, When};

/// The reply for a table error: the limit by name, or Redis's `OOM` code for a full table.
pub fn table_error(e: Error, db: &Db, out: &mut Out) {
    match e {
        Error::NoSpace => out.error_fmt(format_args!(
            "OOM no space left: the table is full ({} slots)",
            db.table.capacity()
        )),
        other => out.error_fmt(format_args!("ERR {other}")),
    }
}

/// `GET key`: the value, or nil. A key longer than any stored key is simply absent.
pub fn get(mut args: Args<'_>, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    match db.table.get_with(key, |v| out.bulk(v)) {
        Ok(Some(())) => {}
        Ok(None) | Err(_) => out.null(),
    }
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
    let mut old_reply = Out::new(out.resp);
    let mut keep_old = |old: Option<&[u8]>| match old {
        Some(v) => old_reply.bulk(v),
        None => old_reply.null(),
    };
    let old: Option<kv_nostd::table::OldValue<'_>> = if get { Some(&mut keep_old) } else { None };
    let result = db.table.put_if_then(key, value, when, old, &mut || {
        lsn = db.log(&[b"SET", key, value])
    });
    match result {
        Ok(_) if get => out.raw().extend_from_slice(old_reply.bytes()),
        Ok(Some(_)) => out.ok(),
        Ok(None) => out.null(),
        Err(e) => table_error(e, db, out),
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
        match db.table.get_with(key, |v| out.bulk(v)) {
            Ok(Some(())) => {}
            Ok(None) | Err(_) => out.null(),
        }
    }
}

/// `MSET key value [key value ...]`. Every length is checked before anything is written; a
/// table that fills part-way stops it with an error saying how many pairs were set.
pub fn mset(args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Out) {
    if !count.is_multiple_of(2) {
        out.error("ERR wrong number of arguments for 'mset' command");
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
        if let Err(e) = db.table.put_if_then(k, v, When::Always, None, &mut || {
            lsn = db.log(&[b"SET", k, v])
        }) {
            let code = if e == Error::NoSpace { "OOM" } else { "ERR" };
            out.error_fmt(format_args!(
                "{code} {e} ({set} of {} pairs were set)",
                count / 2
            ));
            client.logged(lsn, start, out.len());
            return;
        }
        set += 1;
    }
    out.ok();
    client.logged(lsn, start, out.len());
}
