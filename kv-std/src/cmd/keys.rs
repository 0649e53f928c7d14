//! The keyspace: DBSIZE, FLUSHDB, FLUSHALL, KEYS, SCAN, RANDOMKEY, TYPE, RENAME, RENAMENX,
//! COPY. (`DEL`, `UNLINK`, `EXISTS` and `TOUCH` are in `strings.rs`.)

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

/// `RANDOMKEY`: a live key picked at random ([`kv_nostd::Table::random_entry`]), or the null
/// when there is none. Like Redis's, the pick is not uniform, and it touches no key.
pub fn randomkey(db: &Db, out: &mut Out) {
    let mut key = Vec::new();
    if db.table.random_entry(next_seed(), |e| {
        crate::db::entry_key(e, &mut key);
    }) {
        out.bulk(&key);
    } else {
        out.null();
    }
}

/// A seed for [`randomkey`]: each thread steps its own splitmix64 sequence, started from the
/// operating system's randomness, so picks differ across threads and restarts.
fn next_seed() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut bytes = [0u8; 8];
            // Without the system's randomness the sequence starts at 0 and still steps.
            let _ = getrandom::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        });
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// `TYPE key`: `string` (every kv value is one) or `none`. The key is not touched, but the
/// read counts as a hit or a miss, as Redis counts it.
pub fn type_of(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    match db.table.access_info(key) {
        Ok(found) => {
            client.read(found.is_some());
            if found.is_none() {
                db.reap(key);
            }
            out.simple(if found.is_some() { b"string" } else { b"none" });
        }
        Err(e) => super::strings::table_error(e, out),
    }
}

/// What a `RENAME` or `COPY` found under the locks.
enum Moved {
    Done,
    NoSource,
    TargetExists,
}

/// `RENAME key newkey` (`nx`: `RENAMENX`, which leaves an existing `newkey` alone and answers
/// 1 or 0). The value and its deadline move at once: no client sees both keys, or neither.
pub fn rename(mut args: Args<'_>, nx: bool, client: &mut Client, db: &Db, out: &mut Out) {
    let (src, dst) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    );
    let mut lsn = 0;
    let moved = if src == dst {
        // Redis 3.2 and later: renaming a key to itself changes nothing.
        match db.table.contains(src) {
            Ok(true) if nx => Ok(Moved::TargetExists),
            Ok(true) => Ok(Moved::Done),
            Ok(false) => Ok(Moved::NoSource),
            Err(e) => Err(e),
        }
    } else {
        copy_value(db, [src, dst], nx, true, &mut lsn)
    };
    let start = out.len();
    match moved {
        Ok(Moved::NoSource) => out.error("ERR no such key"),
        Ok(Moved::TargetExists) => out.int(0),
        Ok(Moved::Done) if nx => out.int(1),
        Ok(Moved::Done) => out.ok(),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied (with its deadline),
/// 0 if the source is absent or the destination exists without `REPLACE`. The one database is
/// number 0.
pub fn copy(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let (src, dst) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    );
    let mut replace = false;
    while let Some(opt) = args.next() {
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && args.len() > 0 {
            match args.next().and_then(parse_int) {
                Some(0) => {}
                Some(n) if i32::try_from(n).is_ok() => {
                    out.error("ERR DB index is out of range");
                    return;
                }
                // Redis's `getIntFromObjectOrReply`.
                Some(_) => {
                    out.error(
                        "ERR value is out of range, value must between -2147483648 and 2147483647",
                    );
                    return;
                }
                None => {
                    out.error(NOT_AN_INTEGER);
                    return;
                }
            }
        } else {
            out.error(SYNTAX_ERROR);
            return;
        }
    }
    if src == dst {
        out.error("ERR source and destination objects are the same");
        return;
    }
    let mut lsn = 0;
    let copied = copy_value(db, [src, dst], !replace, false, &mut lsn);
    let start = out.len();
    match copied {
        Ok(Moved::Done) => out.int(1),
        Ok(_) => out.int(0),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// Gives `keys[1]` the value and deadline of `keys[0]` with both keys locked, unless
/// `keys[0]` is absent or (`keep`) `keys[1]` exists; removes `keys[0]` if `rename`. Logs the
/// effect under the locks: `SET` of the target (with `PXAT`), then `DEL` of the source. A
/// crash between the two records leaves both keys holding the value after a restart (the
/// command was not acknowledged); records framed by `MULTI`/`EXEC` would close that.
fn copy_value(
    db: &Db,
    keys: [&[u8]; 2],
    keep: bool,
    rename: bool,
    lsn: &mut u64,
) -> Result<Moved, kv_nostd::Error> {
    // A hint for eviction: the value may change before the locks are taken.
    let len = db.table.value_len(keys[0]).ok().flatten().unwrap_or(0);
    let needed = db.table.item_bytes(keys[1].len(), len);
    let mut value = Vec::new();
    db.with_room(needed, || {
        db.locked(&keys, true, |l| {
            let Some(e) = l.entry(0) else {
                return Ok(Moved::NoSource);
            };
            if keep && l.entry(1).is_some() {
                return Ok(Moved::TargetExists);
            }
            value.resize(e.value_len(), 0);
            e.read_value(0, &mut value);
            let deadline = e.deadline();
            let item = l.prepare(1, &value, deadline)?;
            if rename {
                l.delete(0);
            }
            l.link(item)?;
            // Logged as what it left, which replays the same over a snapshot that already
            // holds some of it (persist/mod.rs): a logged `RENAME` would fail there.
            *lsn = match deadline {
                Some(at) => db.log(&[b"SET", keys[1], &value, b"PXAT", at.to_string().as_bytes()]),
                None => db.log(&[b"SET", keys[1], &value]),
            };
            if rename {
                *lsn = db.log(&[b"DEL", keys[0]]);
            }
            Ok(Moved::Done)
        })?
    })
}
