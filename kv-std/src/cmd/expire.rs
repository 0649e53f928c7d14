//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST: a key's
//! deadline, read and changed.
//!
//! Deadlines are Unix milliseconds on the table's clock, which the server advances once per
//! loop turn ([`Db::tick`](crate::db::Db::tick)); a relative time counts from that clock, as
//! Redis's from its cached time. Changes are logged as Redis propagates them: a deadline as
//! `PEXPIREAT key ms`, a deadline already past as `DEL key`, a removed one as `PERSIST key`.

use super::{parse_int, Client, NOT_AN_INTEGER};
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;
use kv_nostd::{DeadlineChange, ExpireIf};

/// The unit a command's time is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Seconds (`EXPIRE`, `EX`, `TTL`).
    Seconds,
    /// Milliseconds (`PEXPIRE`, `PX`, `PTTL`).
    Milliseconds,
}

/// Whether a command's time counts from now or from the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// From now (`EXPIRE`, `TTL`).
    Now,
    /// From the Unix epoch (`EXPIREAT`, `EXPIRETIME`).
    Epoch,
}

/// Redis's error for a time out of range, naming the command.
pub fn invalid_expire_time(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` and its kin, `name` saying which: 1 if the deadline was
/// set (or the key deleted, for a time already past), 0 if the key is absent or the condition
/// failed. Checked in Redis 7.0's order: options, then the number, then its range, then the key.
pub fn expire(
    name: &str,
    unit: Unit,
    base: Base,
    mut args: Args<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) {
    let key = args.next().unwrap_or_default();
    let time = args.next().unwrap_or_default();
    let cond = match condition(args) {
        Ok(c) => c,
        Err(e) => return out.error(&e),
    };
    let Some(mut when) = parse_int(time) else {
        return out.error(NOT_AN_INTEGER);
    };
    if unit == Unit::Seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return out.error(&invalid_expire_time(name)),
        }
    }
    let start = match base {
        Base::Now => i64::try_from(db.table.now()).unwrap_or(i64::MAX),
        Base::Epoch => 0,
    };
    // Redis checks only for overflow; a negative time is a time already past.
    let Some(when) = when.checked_add(start) else {
        return out.error(&invalid_expire_time(name));
    };
    let deadline = u64::try_from(when).unwrap_or(0);
    let at = out.len();
    let mut lsn = 0;
    let change = db.with_room(db.table.item_bytes(key.len(), 0), || {
        db.table
            .set_deadline(key, Some(deadline), cond, &mut |change| {
                lsn = match change {
                    DeadlineChange::Deleted => db.log(&[b"DEL", key]),
                    _ => db.log(&[b"PEXPIREAT", key, deadline.to_string().as_bytes()]),
                }
            })
    });
    match change {
        Ok(DeadlineChange::Changed | DeadlineChange::Deleted) => out.int(1),
        Ok(DeadlineChange::Absent) => {
            db.reap(key);
            out.int(0);
        }
        Ok(DeadlineChange::Unchanged) => out.int(0),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, at, out.len());
}

/// The `NX`, `XX`, `GT`, `LT` options of `EXPIRE` as one condition, with Redis 7.0's errors for
/// an unknown option and for options that exclude each other.
fn condition(args: Args<'_>) -> Result<ExpireIf, String> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args {
        // Redis compares options as C strings: up to the first NUL.
        let opt = super::strings::c_string(opt);
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        if is(b"nx") {
            nx = true;
        } else if is(b"xx") {
            xx = true;
        } else if is(b"gt") {
            gt = true;
        } else if is(b"lt") {
            lt = true;
        } else {
            return Err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    // `GT` fails for a key without a deadline, so `XX GT` is `GT`.
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireIf::NoDeadline,
        (_, _, true, _) => ExpireIf::Later,
        (_, true, _, true) => ExpireIf::EarlierDeadline,
        (_, false, _, true) => ExpireIf::Earlier,
        (_, true, ..) => ExpireIf::HasDeadline,
        _ => ExpireIf::Always,
    })
}

/// `TTL key` and its kin: the time left (or, from the epoch, the deadline) in `unit`; -1 for a
/// key without a deadline, -2 for a missing key. Seconds are rounded to the nearest, as Redis
/// rounds them.
pub fn ttl(
    unit: Unit,
    base: Base,
    mut args: Args<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) {
    let key = args.next().unwrap_or_default();
    let found = db.table.deadline(key);
    client.read(matches!(found, Ok(Some(_))));
    let deadline = match found {
        Ok(Some(Some(ms))) => ms,
        Ok(Some(None)) => return out.int(-1),
        Ok(None) | Err(_) => {
            db.reap(key);
            return out.int(-2);
        }
    };
    // The clock is read after the deadline, so a key about to expire answers 0, never less.
    let ms = match base {
        Base::Now => deadline.saturating_sub(db.table.now()),
        Base::Epoch => deadline,
    };
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    out.int(match unit {
        Unit::Milliseconds => ms,
        Unit::Seconds => ms.saturating_add(500) / 1000,
    });
}

/// `PERSIST key`: 1 if the key's deadline was removed, 0 if it had none or is missing.
pub fn persist(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let at = out.len();
    let mut lsn = 0;
    let change = db.with_room(db.table.item_bytes(key.len(), 0), || {
        db.table
            .set_deadline(key, None, ExpireIf::Always, &mut |_| {
                lsn = db.log(&[b"PERSIST", key]);
            })
    });
    match change {
        Ok(DeadlineChange::Changed) => out.int(1),
        Ok(DeadlineChange::Absent) => {
            db.reap(key);
            out.int(0);
        }
        Ok(_) => out.int(0),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, at, out.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(opts: &[&str]) -> Result<ExpireIf, String> {
        let mut frame = Vec::new();
        let mut all = vec!["expire", "k", "1"];
        all.extend_from_slice(opts);
        frame.extend_from_slice(format!("*{}\r\n", all.len()).as_bytes());
        for a in &all {
            frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            frame.extend_from_slice(a.as_bytes());
            frame.extend_from_slice(b"\r\n");
        }
        let (req, _) = kv_nostd::resp::decode_request(&frame, &kv_nostd::resp::Limits::REDIS)
            .unwrap()
            .unwrap();
        let mut args = req.args();
        args.nth(2);
        condition(args)
    }

    #[test]
    fn options_combine_as_in_redis() {
        assert_eq!(cond(&[]), Ok(ExpireIf::Always));
        assert_eq!(cond(&["nx", "NX"]), Ok(ExpireIf::NoDeadline));
        assert_eq!(cond(&["xx"]), Ok(ExpireIf::HasDeadline));
        assert_eq!(cond(&["xx", "gt"]), Ok(ExpireIf::Later));
        assert_eq!(cond(&["lt", "xx"]), Ok(ExpireIf::EarlierDeadline));
        assert_eq!(cond(&["lt"]), Ok(ExpireIf::Earlier));
        assert!(cond(&["xx", "nx"])
            .unwrap_err()
            .starts_with("ERR NX and XX"));
        assert!(cond(&["gt", "lt"])
            .unwrap_err()
            .starts_with("ERR GT and LT"));
        assert_eq!(
            cond(&["nx", "f\0oo"]),
            Err("ERR Unsupported option f".into())
        );
    }
}
