//! `MEMORY USAGE|STATS|DOCTOR|HELP`: what the data and the clients take.
//!
//! kv knows its table's memory exactly (the items in the arena, the index segments) and the
//! process's resident size; it does not see its allocator's internals, and keeps no peak. So
//! `MEMORY STATS` has the fields of Redis's that those figures answer, and `MEMORY DOCTOR` can
//! only tell an instance too small to judge from one with data.

use super::info::resident_bytes;
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;

/// Below this much data Redis's doctor declines to judge, and so does kv's.
const TOO_LITTLE: u64 = 5 * 1024 * 1024;

/// `MEMORY USAGE key [SAMPLES count]`, `MEMORY STATS`, `MEMORY DOCTOR`, `MEMORY HELP`.
pub fn memory(sub: &str, args: Args<'_>, db: &Db, out: &mut Out) {
    match sub {
        "usage" => usage(args, db, out),
        "stats" => stats(db, out),
        "doctor" => doctor(db, out),
        _ => {
            const LINES: &[&str] = &[
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return memory problems reports.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
                "HELP",
                "    Print this help.",
            ];
            out.help(LINES);
        }
    }
}

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key takes (its item in the arena and its
/// slot in the index; exact, so `SAMPLES` changes nothing), or nil.
fn usage(mut args: Args<'_>, db: &Db, out: &mut Out) {
    let Some(key) = args.next() else {
        out.error("ERR wrong number of arguments for 'memory|usage' command");
        return;
    };
    while let Some(option) = args.next() {
        let count = args
            .next()
            .filter(|_| option.eq_ignore_ascii_case(b"samples"));
        let Some(count) = count else {
            out.error(super::SYNTAX_ERROR);
            return;
        };
        match super::parse_int(count) {
            Some(n) if n >= 0 => {}
            Some(_) => return out.error(super::SYNTAX_ERROR),
            None => return out.error(super::NOT_AN_INTEGER),
        }
    }
    match db.table.value_len(key) {
        Ok(Some(len)) => out.int(db.table.item_bytes(key.len(), len) as i64),
        Ok(None) => out.null(),
        Err(e) => out.error_fmt(format_args!("ERR {e}")),
    }
}

/// `MEMORY STATS`: a map of Redis's fields that kv measures, in Redis's order.
fn stats(db: &Db, out: &mut Out) {
    let table = db.table.stats();
    let used = table.used_bytes as u64;
    let index = (table.segments * table.segment_bytes) as u64;
    let clients: u64 = db
        .clients
        .all()
        .iter()
        .map(|c| (c.shown().memory + c.unwritten() + c.mailbox.bytes()) as u64)
        .sum();
    let rss = resident_bytes().unwrap_or(0);
    let keys = table.len as u64;
    out.map(8);
    out.bulk(b"clients.normal");
    out.int(clients as i64);
    out.bulk(b"db.0");
    out.map(2);
    out.bulk(b"overhead.hashtable.main");
    out.int(index as i64);
    // Deadlines live in the items: there is no table of them apart.
    out.bulk(b"overhead.hashtable.expires");
    out.int(0);
    out.bulk(b"keys.count");
    out.int(keys as i64);
    out.bulk(b"keys.bytes-per-key");
    out.int(used.checked_div(keys).unwrap_or(0) as i64);
    out.bulk(b"dataset.bytes");
    out.int(used as i64);
    out.bulk(b"dataset.percentage");
    let total = used + index + clients;
    out.double(if total > 0 {
        used as f64 * 100.0 / total as f64
    } else {
        0.0
    });
    out.bulk(b"fragmentation");
    out.double(if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    });
    out.bulk(b"fragmentation.bytes");
    out.int(rss as i64 - used as i64);
}

/// `MEMORY DOCTOR`: Redis's words for an instance with too little data to judge, or for one
/// where nothing was found (kv looks for nothing further).
fn doctor(db: &Db, out: &mut Out) {
    let text = if (db.table.used_bytes() as u64) < TOO_LITTLE {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't \
         be used in these conditions. Please, leave for your mission on Earth and fill it with \
         some data. The new Sam and I will be back to our programming as soon as I finished \
         rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what \
         occurs on this base.\n"
    };
    out.verbatim(text.as_bytes());
}
