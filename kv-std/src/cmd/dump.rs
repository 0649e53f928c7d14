//! `DUMP` and `RESTORE`: a value as Redis's serialized payload (`crate::rdb::dump`), which
//! `MIGRATE`, `redis-cli --cluster` and backup tools move between servers.
//!
//! `RESTORE` is logged as the value it left (`SET key value`, with `PXAT ms` for a deadline),
//! as the read-modify-writes are (`rewrite.rs`), not as itself: a replay then neither decodes
//! the payload again nor depends on when it runs (a relative TTL would) or on the key's state
//! (a `RESTORE` without `REPLACE` over a snapshot that already holds the key would fail), and
//! replaying it twice changes nothing.

use super::{parse_int, Client, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::db::Db;
use crate::rdb::dump;
use crate::reply::Out;
use kv_nostd::resp::Args;
use kv_nostd::Removed;

/// `DUMP key`: the payload of the key's value, or the null for a missing key.
pub fn dump(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    match super::rewrite::read(key, client, db) {
        Some(value) => {
            let mut payload = Vec::with_capacity(value.len() + 16);
            dump::encode(&value, &mut payload);
            out.bulk(&payload);
        }
        None => out.null(),
    }
}

/// `RESTORE` options, as Redis reads them.
struct Options {
    replace: bool,
    absttl: bool,
}

/// Reads the options after the payload; an error reply if they are wrong. `IDLETIME` and `FREQ`
/// are checked as Redis checks them (one or the other) and then not used: a restored key starts
/// with a fresh access time or counter, as a key `SET` does.
fn options(args: Args<'_>) -> Result<Options, &'static str> {
    let rest: Vec<&[u8]> = args.collect();
    let mut o = Options {
        replace: false,
        absttl: false,
    };
    let (mut idletime, mut freq) = (false, false);
    let mut i = 0;
    while i < rest.len() {
        let opt = rest[i];
        let has_value = i + 1 < rest.len();
        if opt.eq_ignore_ascii_case(b"replace") {
            o.replace = true;
        } else if opt.eq_ignore_ascii_case(b"absttl") {
            o.absttl = true;
        } else if opt.eq_ignore_ascii_case(b"idletime") && has_value && !freq {
            match parse_int(rest[i + 1]) {
                None => return Err(NOT_AN_INTEGER),
                Some(n) if n < 0 => return Err("ERR Invalid IDLETIME value, must be >= 0"),
                Some(_) => {}
            }
            idletime = true;
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"freq") && has_value && !idletime {
            match parse_int(rest[i + 1]) {
                None => return Err(NOT_AN_INTEGER),
                Some(n) if !(0..=255).contains(&n) => {
                    return Err("ERR Invalid FREQ value, must be >= 0 and <= 255")
                }
                Some(_) => {}
            }
            freq = true;
            i += 1;
        } else {
            return Err(SYNTAX_ERROR);
        }
        i += 1;
    }
    Ok(o)
}

/// What `RESTORE` did under the key's lock.
enum Restored {
    /// The key exists and `REPLACE` was not given.
    Busy,
    /// The TTL or the payload was refused: this error.
    Refused(&'static str),
    /// The key holds the value now, or its deadline had passed and it is gone.
    Done,
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`.
///
/// Errors come in Redis 7.0's order: options, then an existing key (`BUSYKEY`), then the TTL,
/// then the payload. The existence check and the write are made under the key's lock, so a
/// racing write cannot slip between them. A deadline already past (a TTL that overflows, as in
/// Redis, counts as one) leaves no key, removing the old one under `REPLACE`, and answers `OK`.
pub fn restore(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let ttl = args.next().unwrap_or_default();
    let payload = args.next().unwrap_or_default();
    let o = match options(args) {
        Ok(o) => o,
        Err(e) => return out.error(e),
    };
    // Checked before the lock is taken, answered under it: Redis answers `BUSYKEY` first.
    let now = db.table.now();
    let checked = match parse_int(ttl) {
        None => Err(NOT_AN_INTEGER),
        Some(ttl) if ttl < 0 => Err("ERR Invalid TTL value, must be >= 0"),
        Some(ttl) => dump::decode(payload)
            .map(|value| (value, deadline(ttl, o.absttl, now)))
            .map_err(|e| e.reply()),
    };
    let needed = match &checked {
        Ok((value, _)) => db.table.item_bytes(key.len(), value.len()),
        Err(_) => 0,
    };
    let mut lsn = 0;
    let restored = db.with_room(needed, || {
        db.locked(&[key], true, |l| {
            if !o.replace && l.entry(0).is_some() {
                return Ok(Restored::Busy);
            }
            let (value, at) = match &checked {
                Ok(restored) => restored,
                Err(e) => return Ok(Restored::Refused(e)),
            };
            match at {
                Deadline::Past => {
                    if l.delete(0) != Removed::Nothing {
                        lsn = db.log(&[b"DEL", key]);
                    }
                }
                Deadline::At(at) => {
                    let item = l.prepare(0, value, *at)?;
                    l.link(item)?;
                    lsn = match at {
                        Some(ms) => {
                            db.log(&[b"SET", key, value, b"PXAT", ms.to_string().as_bytes()])
                        }
                        None => db.log(&[b"SET", key, value]),
                    };
                }
            }
            Ok(Restored::Done)
        })?
    });
    let start = out.len();
    match restored {
        Ok(Restored::Done) => out.ok(),
        Ok(Restored::Busy) => out.error("BUSYKEY Target key name already exists."),
        Ok(Restored::Refused(e)) => out.error(e),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}

/// The deadline a restored key gets.
enum Deadline {
    /// Already past: the key is not created.
    Past,
    /// Milliseconds on the table's clock, or none.
    At(Option<u64>),
}

/// The deadline for a `RESTORE` TTL of `ttl` ms (0: none), from `now` unless `absttl`. Redis
/// 7.0 adds a relative TTL to the clock without checking for overflow: a sum that wraps is in
/// the past, and so it is here.
fn deadline(ttl: i64, absttl: bool, now: u64) -> Deadline {
    if ttl == 0 {
        return Deadline::At(None);
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let at = if absttl { ttl } else { ttl.wrapping_add(now) };
    if at <= now {
        Deadline::Past
    } else {
        // `at` is above `now`, so positive.
        Deadline::At(Some(at as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_as_redis_computes_them() {
        assert!(matches!(deadline(0, false, 1000), Deadline::At(None)));
        assert!(matches!(deadline(0, true, 1000), Deadline::At(None)));
        assert!(matches!(deadline(5, false, 1000), Deadline::At(Some(1005))));
        assert!(matches!(
            deadline(1005, true, 1000),
            Deadline::At(Some(1005))
        ));
        assert!(matches!(deadline(1000, true, 1000), Deadline::Past));
        assert!(matches!(deadline(1, true, 1000), Deadline::Past));
        assert!(matches!(deadline(i64::MAX, false, 1000), Deadline::Past));
        assert!(matches!(
            deadline(i64::MAX, true, 1000),
            Deadline::At(Some(at)) if at == i64::MAX as u64
        ));
    }

    #[test]
    fn options_are_checked_in_redis_s_order() {
        let check = |words: &[&[u8]]| {
            let mut frame = format!("*{}\r\n", words.len()).into_bytes();
            for w in words {
                frame.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
                frame.extend_from_slice(w);
                frame.extend_from_slice(b"\r\n");
            }
            let (req, _) = kv_nostd::resp::decode_request(&frame, &kv_nostd::resp::Limits::REDIS)
                .unwrap()
                .unwrap();
            options(req.args()).map(|o| (o.replace, o.absttl))
        };
        assert_eq!(check(&[b"replace", b"ABSTTL"]), Ok((true, true)));
        assert_eq!(check(&[b"idletime", b"5", b"replace"]), Ok((true, false)));
        assert_eq!(check(&[b"freq", b"255"]), Ok((false, false)));
        assert_eq!(check(&[b"idletime"]), Err(SYNTAX_ERROR));
        assert_eq!(
            check(&[b"idletime", b"1", b"freq", b"1"]),
            Err(SYNTAX_ERROR)
        );
        assert_eq!(
            check(&[b"freq", b"1", b"idletime", b"1"]),
            Err(SYNTAX_ERROR)
        );
        assert_eq!(check(&[b"idletime", b"x"]), Err(NOT_AN_INTEGER));
        assert_eq!(
            check(&[b"idletime", b"-1"]),
            Err("ERR Invalid IDLETIME value, must be >= 0")
        );
        assert_eq!(
            check(&[b"freq", b"256"]),
            Err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(check(&[b"nope"]), Err(SYNTAX_ERROR));
    }
}
