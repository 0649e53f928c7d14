//! DBSIZE, FLUSHDB, FLUSHALL, KEYS, SCAN.

use super::{parse_int, Client, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::db::Db;
use crate::pattern;
use crate::reply::Out;
use kv_nostd::resp::Args;
use kv_nostd::ScanCursor;

/// `DBSIZE`.
pub fn dbsize(db: &Db, out: &mut Out) {
    out.int(db.table.len() as i64);
}

/// `FLUSHDB [ASYNC|SYNC]`, `FLUSHALL [ASYNC|SYNC]`: both empty the one database.
pub fn flush(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    match (args.next(), args.next()) {
        (None, _) => {}
        (Some(mode), None)
            if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {}
        _ => {
            out.error(SYNTAX_ERROR);
            return;
        }
    }
    // Each removal is logged under its bucket's lock, so a write racing the flush replays in
    // the order it took effect.
    let mut lsn = 0;
    let mut buf = Vec::new();
    db.table
        .clear_then(&mut |e| lsn = db.log(&[b"DEL", crate::db::entry_key(e, &mut buf)]));
    let start = out.len();
    out.ok();
    client.logged(lsn, start, out.len());
}

/// `KEYS pattern`: every matching key, in one array.
pub fn keys(mut args: Args<'_>, db: &Db, out: &mut Out) {
    let pattern = args.next().unwrap_or_default();
    let match_all = pattern == b"*";
    let mut body = Out::new(out.resp);
    let mut count = 0;
    let mut buf = Vec::new();
    db.table.visit(|e| {
        let k = crate::db::entry_key(e, &mut buf);
        if match_all || pattern::matches(pattern, k) {
            body.bulk(k);
            count += 1;
        }
    });
    out.array(count);
    out.raw().extend_from_slice(body.bytes());
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
///
/// The cursor is the table's [`ScanCursor`] as a decimal number. Every key present for the whole
/// scan is returned at least once, whatever moves the table makes meanwhile.
pub fn scan(mut args: Args<'_>, db: &Db, out: &mut Out) {
    let raw = args.next().unwrap_or_default();
    let Some(cursor) = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        out.error("ERR invalid cursor");
        return;
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut only_strings = true;
    while let Some(opt) = args.next() {
        let Some(val) = args.next() else {
            out.error(SYNTAX_ERROR);
            return;
        };
        if opt.eq_ignore_ascii_case(b"match") {
            pattern = Some(val).filter(|p| *p != b"*");
        } else if opt.eq_ignore_ascii_case(b"count") {
            match parse_int(val) {
                Some(n) if n >= 1 => count = usize::try_from(n).unwrap_or(usize::MAX),
                Some(_) => {
                    out.error(SYNTAX_ERROR);
                    return;
                }
                None => {
                    out.error(NOT_AN_INTEGER);
                    return;
                }
            }
        } else if opt.eq_ignore_ascii_case(b"type") {
            // Every kv value is a string.
            only_strings = val.eq_ignore_ascii_case(b"string");
        } else {
            out.error(SYNTAX_ERROR);
            return;
        }
    }
    // COUNT is a hint, as in Redis: whole segments are read until that many entries are.
    let mut body = Out::new(out.resp);
    let mut found = 0;
    let mut buf = Vec::new();
    let next = db.table.scan(ScanCursor::from_u64(cursor), count, |e| {
        let k = crate::db::entry_key(e, &mut buf);
        if only_strings && pattern.is_none_or(|p| pattern::matches(p, k)) {
            body.bulk(k);
            found += 1;
        }
    });
    out.array(2);
    out.bulk(next.to_u64().to_string().as_bytes());
    out.array(found);
    out.raw().extend_from_slice(body.bytes());
}
