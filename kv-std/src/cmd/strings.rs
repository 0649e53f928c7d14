//! GET, SET, DEL, EXISTS, MGET, MSET, and the string commands with an expiration: SETEX,
//! PSETEX, GETEX.

use super::expire::{invalid_expire_time, Unit};
use super::{Client, SYNTAX_ERROR};
use crate::db::{Db, VecSink};
use crate::reply::{BulkSink, Out};
use kv_nostd::resp::Args;
use kv_nostd::{Deadline, DeadlineChange, Error, ExpireIf, Removed, When};

/// Redis's reply to a write refused for memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The reply for a table error: Redis's `OOM` for memory, the limit by name otherwise.
pub fn table_error(e: Error, out: &mut Out) {
    match e {
        Error::NoSpace => out.error(OOM),
        other => out.error_fmt(format_args!("ERR {other}")),
    }
}

/// Appends `key`'s value as a bulk string, or the null for a missing key (removing it if it
/// was there but expired); counts the hit or miss.
pub fn reply_value(client: &mut Client, db: &Db, key: &[u8], out: &mut Out) -> bool {
    let mut sink = BulkSink::new(out);
    let found = matches!(db.table.get_with(key, &mut sink), Ok(Some(_)));
    if found {
        sink.finish();
    } else {
        sink.abandon();
        out.null();
        db.reap(key);
    }
    client.read(found);
    found
}

/// `GET key`: the value, or nil.
pub fn get(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    reply_value(client, db, args.next().unwrap_or_default(), out);
}

/// An expiration option of `SET` or `GETEX`, with its argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry<'a> {
    /// `EX seconds`.
    Ex(&'a [u8]),
    /// `PX milliseconds`.
    Px(&'a [u8]),
    /// `EXAT unix-time-seconds`.
    Exat(&'a [u8]),
    /// `PXAT unix-time-milliseconds`.
    Pxat(&'a [u8]),
    /// `KEEPTTL` (`SET` only).
    KeepTtl,
    /// `PERSIST` (`GETEX` only).
    Persist,
}

/// The options of `SET` (after key and value) or `GETEX` (after the key).
#[derive(Default)]
struct StringOptions<'a> {
    /// `NX` or `XX`.
    when: Option<When>,
    /// `GET`.
    get: bool,
    expiry: Option<Expiry<'a>>,
}

/// Which command's options are parsed: they share one grammar, as in Redis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grammar {
    Set,
    Getex,
}

impl<'a> StringOptions<'a> {
    /// Parses the options exactly as Redis 7.0's `parseExtendedStringArgumentsOrReply`: an
    /// option is refused (a syntax error) if one it excludes came before it; an expiration may
    /// be given again in the same unit, the last one counting; an option is read as a C string
    /// (`NX\0abc` is `NX`).
    fn parse(args: &mut Args<'a>, grammar: Grammar) -> Result<Self, &'static str> {
        let mut o = StringOptions::default();
        let set = grammar == Grammar::Set;
        while let Some(opt) = args.next() {
            let opt = c_string(opt);
            let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
            let given = o.expiry;
            // Whether an expiration of another kind than `kind` came before.
            let other = |kind: Expiry<'_>| {
                given.is_some_and(|e| std::mem::discriminant(&e) != std::mem::discriminant(&kind))
            };
            let timed = [
                ("ex", Expiry::Ex as fn(&'a [u8]) -> Expiry<'a>),
                ("px", Expiry::Px),
                ("exat", Expiry::Exat),
                ("pxat", Expiry::Pxat),
            ]
            .into_iter()
            .find_map(|(name, make)| is(name).then_some(make));
            if set && is("nx") && o.when != Some(When::IfPresent) {
                o.when = Some(When::IfAbsent);
            } else if set && is("xx") && o.when != Some(When::IfAbsent) {
                o.when = Some(When::IfPresent);
            } else if set && is("get") {
                o.get = true;
            } else if set && is("keepttl") && !other(Expiry::KeepTtl) {
                o.expiry = Some(Expiry::KeepTtl);
            } else if !set && is("persist") && !other(Expiry::Persist) {
                o.expiry = Some(Expiry::Persist);
            } else if let Some(make) = timed.filter(|make| !other(make(b""))) {
                let value = args.next().ok_or(SYNTAX_ERROR)?;
                o.expiry = Some(make(value));
            } else {
                return Err(SYNTAX_ERROR);
            }
        }
        Ok(o)
    }
}

/// An argument as Redis reads it when it compares it as a C string: up to its first NUL byte.
pub fn c_string(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or_default()
}

/// The deadline an `EX`, `PX`, `EXAT` or `PXAT` option asks for (Unix milliseconds), or the
/// error to answer, as Redis 7.0's `getExpireMillisecondsOrReply`: a value must be a positive
/// integer, and the deadline it makes must fit a signed 64-bit number.
fn option_deadline(expiry: Expiry<'_>, db: &Db, name: &str) -> Result<Option<u64>, String> {
    let (arg, unit, relative) = match expiry {
        Expiry::Ex(a) => (a, Unit::Seconds, true),
        Expiry::Px(a) => (a, Unit::Milliseconds, true),
        Expiry::Exat(a) => (a, Unit::Seconds, false),
        Expiry::Pxat(a) => (a, Unit::Milliseconds, false),
        Expiry::KeepTtl | Expiry::Persist => return Ok(None),
    };
    let n = super::parse_int(arg).ok_or_else(|| super::NOT_AN_INTEGER.to_string())?;
    let invalid = || invalid_expire_time(name);
    if n <= 0 || (unit == Unit::Seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if unit == Unit::Seconds { n * 1000 } else { n };
    let base = if relative { db.table.now() } else { 0 };
    let at = i64::try_from(base)
        .ok()
        .and_then(|b| ms.checked_add(b))
        .ok_or_else(invalid)?;
    Ok(Some(at as u64))
}

/// `SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT
/// unix-time-milliseconds|KEEPTTL]`.
pub fn set(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let opts = match StringOptions::parse(&mut args, Grammar::Set) {
        Ok(o) => o,
        Err(e) => return out.error(e),
    };
    let deadline = match opts.expiry {
        Some(Expiry::KeepTtl) => Deadline::Keep,
        Some(e) => match option_deadline(e, db, "set") {
            Ok(at) => at.map_or(Deadline::None, Deadline::At),
            Err(e) => return out.error(&e),
        },
        None => Deadline::None,
    };
    write_string(
        key,
        value,
        opts.when.unwrap_or(When::Always),
        opts.get,
        deadline,
        client,
        db,
        out,
    );
}

/// Writes `key` as a `SET` with these options does, logging the write with its deadline as an
/// absolute time (`SET key value PXAT ms`, or a plain `SET` for none), so that replaying it
/// neither depends on when it is replayed nor on the deadline the key had: a `KEEPTTL` is
/// logged as the deadline it kept.
#[allow(clippy::too_many_arguments)]
fn write_string(
    key: &[u8],
    value: &[u8],
    when: When,
    get: bool,
    deadline: Deadline,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) {
    let start = out.len();
    let mut lsn = 0;
    let mut old_value = VecSink::default();
    let needed = db.table.item_bytes(key.len(), value.len());
    let result = db.with_room(needed, || {
        let old: Option<kv_nostd::table::OldValue<'_>> =
            if get { Some(&mut old_value) } else { None };
        db.table
            .put_with(key, value, when, deadline, old, &mut |kept| {
                // A deadline already passed is logged too: replayed, it leaves the key absent again.
                let at = match deadline {
                    Deadline::At(ms) => Some(ms),
                    Deadline::Keep => kept,
                    Deadline::None => None,
                };
                lsn = match at {
                    Some(ms) => db.log(&[b"SET", key, value, b"PXAT", ms.to_string().as_bytes()]),
                    None => db.log(&[b"SET", key, value]),
                };
            })
    });
    match result {
        Ok(written) if get => {
            let present = when.was_present(written);
            client.read(present);
            match present {
                true => out.bulk(&old_value.0),
                false => out.null(),
            }
        }
        Ok(Some(_)) => out.ok(),
        Ok(None) => out.null(),
        Err(e) => table_error(e, out),
    }
    if when == When::IfPresent && matches!(result, Ok(None)) {
        db.reap(key);
    }
    client.logged(lsn, start, out.len());
}

/// `SETEX key seconds value` and `PSETEX key milliseconds value`: `SET key value EX|PX n`.
pub fn setex(unit: Unit, mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let n = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let (expiry, name) = match unit {
        Unit::Seconds => (Expiry::Ex(n), "setex"),
        Unit::Milliseconds => (Expiry::Px(n), "psetex"),
    };
    let deadline = match option_deadline(expiry, db, name) {
        Ok(at) => at.map_or(Deadline::None, Deadline::At),
        Err(e) => return out.error(&e),
    };
    write_string(key, value, When::Always, false, deadline, client, db, out);
}

/// `GETEX key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT
/// unix-time-milliseconds|PERSIST]`: the value, and the key's expiration changed as asked
/// (logged as `PEXPIREAT`, `PERSIST`, or `DEL` for a time already past).
pub fn getex(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let opts = match StringOptions::parse(&mut args, Grammar::Getex) {
        Ok(o) => o,
        Err(e) => return out.error(e),
    };
    let start = out.len();
    if !reply_value(client, db, key, out) {
        return;
    }
    let target = match opts.expiry {
        None => return,
        Some(e) => match option_deadline(e, db, "getex") {
            Ok(at) => at,
            Err(e) => {
                // Redis checks the time once it has found the key, before it answers.
                out.raw().truncate(start);
                return out.error(&e);
            }
        },
    };
    let mut lsn = 0;
    let changed = db.with_room(db.table.item_bytes(key.len(), 0), || {
        db.table
            .set_deadline(key, target, ExpireIf::Always, &mut |change| {
                lsn = match (change, target) {
                    (DeadlineChange::Deleted, _) => db.log(&[b"DEL", key]),
                    (_, Some(ms)) => db.log(&[b"PEXPIREAT", key, ms.to_string().as_bytes()]),
                    (_, None) => db.log(&[b"PERSIST", key]),
                };
            })
    });
    if let Err(e) = changed {
        // No memory to give the key a deadline: the value is not answered either.
        out.raw().truncate(start);
        table_error(e, out);
    }
    client.logged(lsn, start, out.len());
}

/// `DEL key [key ...]`: how many existed. Several keys go at once: no client sees some of them
/// gone and others not.
pub fn del(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let keys: Vec<&[u8]> = args.collect();
    let mut lsn = 0;
    let removed = match keys[..] {
        [key] => Ok(usize::from(
            db.table
                .delete_then(key, &mut || lsn = db.log(&[b"DEL", key]))
                == Ok(true),
        )),
        _ => db.locked(&keys, false, |l| {
            let mut live = 0;
            for (i, key) in keys.iter().enumerate() {
                match l.delete(i) {
                    Removed::Nothing => continue,
                    Removed::Live => live += 1,
                    Removed::Expired => {}
                }
                lsn = db.log(&[b"DEL", key]);
            }
            live
        }),
    };
    let start = out.len();
    match removed {
        Ok(n) => out.int(n as i64),
        Err(e) => table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// `EXISTS key [key ...]`: how many of the named keys exist, counting repeats.
pub fn exists(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let mut found = 0;
    for key in args {
        let here = db.table.contains(key) == Ok(true);
        if !here {
            db.reap(key);
        }
        client.read(here);
        found += usize::from(here);
    }
    out.int(found as i64);
}

/// `MGET key [key ...]`: an array of values and nils.
pub fn mget(args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Out) {
    let start = out.len();
    out.array(count);
    if count == 1 {
        for key in args {
            reply_value(client, db, key, out);
        }
        return;
    }
    // Several keys are read at one instant, as Redis's single thread reads them: an `MSET` or
    // `RENAME` is seen whole or not at all.
    let keys: Vec<&[u8]> = args.collect();
    let read = db.read_locked(&keys, |l| {
        for i in 0..keys.len() {
            let found = match l.entry(i) {
                Some(e) => {
                    let mut sink = BulkSink::new(out);
                    if let Some(buf) = kv_nostd::Sink::buffer(&mut sink, e.value_len()) {
                        e.read_value(0, buf);
                    }
                    sink.finish();
                    true
                }
                None => {
                    out.null();
                    false
                }
            };
            client.read(found);
        }
    });
    if let Err(e) = read {
        out.raw().truncate(start);
        table_error(e, out);
    }
}

/// `MSET key value [key value ...]` (`nx`: `MSETNX`, which sets nothing if any key exists
/// and answers 1 or 0). All the pairs are set at once, or none when memory runs out.
pub fn mset(args: Args<'_>, count: usize, nx: bool, client: &mut Client, db: &Db, out: &mut Out) {
    if !count.is_multiple_of(2) {
        let name = if nx { "msetnx" } else { "mset" };
        out.error_fmt(format_args!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return;
    }
    let mut logged: Vec<&[u8]> = Vec::with_capacity(count + 1);
    logged.push(b"MSET");
    logged.extend(args);
    let pairs = &logged[1..];
    let keys: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
    let needed = pairs
        .chunks(2)
        .map(|p| db.table.item_bytes(p[0].len(), p[1].len()))
        .sum();
    let mut lsn = 0;
    let set = db.with_room(needed, || {
        db.locked(&keys, true, |l| {
            if nx && (0..keys.len()).any(|i| l.entry(i).is_some()) {
                return Ok(false);
            }
            // Every item first: out of memory, nothing is set.
            let items = pairs
                .chunks(2)
                .enumerate()
                .map(|(i, p)| l.prepare(i, p[1], None))
                .collect::<Result<Vec<_>, _>>()?;
            for item in items {
                l.link(item)?;
            }
            lsn = db.log(&logged);
            Ok(true)
        })?
    });
    let start = out.len();
    match set {
        Ok(set) if nx => out.int(i64::from(set)),
        Ok(_) => out.ok(),
        Err(e) => table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// `GETDEL key`: the value, or nil; the key is removed (logged as `DEL`).
pub fn getdel(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let start = out.len();
    let mut lsn = 0;
    let mut old = None;
    let deleted = db.table.update(
        key,
        &mut [0u8; 0][..],
        |entry, _| {
            old = entry.map(|e| {
                let mut v = vec![0; e.value_len()];
                e.read_value(0, &mut v);
                v
            });
            kv_nostd::update::Update::Delete
        },
        &mut |change| lsn = super::rewrite::log_change(db, key, change),
    );
    match deleted {
        Ok(_) => {
            client.read(old.is_some());
            match old {
                Some(v) => out.bulk(&v),
                None => out.null(),
            }
        }
        Err(e) => table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// `GETSET key value`: `SET key value GET`, which is how Redis propagates it.
pub fn getset(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    write_string(
        key,
        value,
        When::Always,
        true,
        Deadline::None,
        client,
        db,
        out,
    );
}

/// `SETNX key value`: 1 if the key was set, 0 if it existed.
pub fn setnx(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let start = out.len();
    let mut lsn = 0;
    let needed = db.table.item_bytes(key.len(), value.len());
    let written = db.with_room(needed, || {
        db.table.put_with(
            key,
            value,
            When::IfAbsent,
            Deadline::None,
            None,
            &mut |_| lsn = db.log(&[b"SET", key, value]),
        )
    });
    match written {
        Ok(set) => out.int(i64::from(set.is_some())),
        Err(e) => table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}
