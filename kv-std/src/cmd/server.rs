//! TIME, and the persistence commands: SAVE, BGSAVE, LASTSAVE, SHUTDOWN.

use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::time::UNIX_EPOCH;

/// The Redis version kv reports, for tools that check it before using a feature.
pub const REDIS_VERSION: &str = "7.0.0";

/// A byte count as Redis's `bytesToHuman` writes it: `999B`, `1.50K`, `2.00M`, `3.25G`.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

/// `TIME`: the Unix time, seconds and microseconds, as two bulk strings.
pub fn time(out: &mut Out) {
    let us = crate::db::unix_us();
    out.array(2);
    out.bulk((us / 1_000_000).to_string().as_bytes());
    out.bulk((us % 1_000_000).to_string().as_bytes());
}

const NO_PERSISTENCE: &str = "ERR persistence is disabled on this server (--no-persist)";

/// `SAVE`: a snapshot now; the reply waits for it.
pub fn save(db: &Db, out: &mut Out) {
    match &db.persist {
        None => out.error(NO_PERSISTENCE),
        Some(p) => match p.save(&db.table) {
            Ok(_) => out.ok(),
            Err(e) => out.error_fmt(format_args!("ERR snapshot failed: {e}")),
        },
    }
}

/// `BGSAVE [SCHEDULE]`: a snapshot on its own thread.
pub fn bgsave(_args: Args<'_>, db: &Db, out: &mut Out) {
    let (Some(p), Some(shared)) = (&db.persist, db.shared()) else {
        out.error(NO_PERSISTENCE);
        return;
    };
    if p.bgsave(&shared) {
        out.simple(b"Background saving started");
    } else {
        out.error("ERR Background save already in progress");
    }
}

/// `LASTSAVE`: when the last snapshot succeeded (or the server started), in Unix seconds.
pub fn lastsave(db: &Db, out: &mut Out) {
    let when = match &db.persist {
        Some(p) => p.lastsave(),
        None => db
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    out.int(when as i64);
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]`: stops the server as SIGTERM does — requests already
/// received are answered and, unless `NOSAVE`, a final snapshot is taken. Like Redis, the client
/// gets no reply: its connection closes.
pub fn shutdown(args: Args<'_>, db: &Db, out: &mut Out) -> super::Flow {
    let mut nosave = false;
    for opt in args {
        if opt.eq_ignore_ascii_case(b"nosave") {
            nosave = true;
        } else if opt.eq_ignore_ascii_case(b"save")
            || opt.eq_ignore_ascii_case(b"now")
            || opt.eq_ignore_ascii_case(b"force")
        {
        } else {
            out.error(super::SYNTAX_ERROR);
            return super::Flow::Continue;
        }
    }
    let Some(stop) = db.shutdown.get() else {
        out.error("ERR the server cannot be shut down from here");
        return super::Flow::Continue;
    };
    log::info!(
        "SHUTDOWN{} requested by a client",
        if nosave { " NOSAVE" } else { "" }
    );
    db.skip_final_save
        .store(nosave, std::sync::atomic::Ordering::Release);
    stop.shutdown();
    super::Flow::Close
}
