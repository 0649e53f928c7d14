//! INFO, COMMAND, CONFIG, and the persistence commands: commands about the server.

use crate::db::{Db, MAX_KEY, MAX_VALUE};
use crate::reply;
use kv_nostd::resp::Args;
use std::fmt::Write;
use std::time::UNIX_EPOCH;

/// The Redis version kv reports, for tools that check it before using a feature.
pub const REDIS_VERSION: &str = "7.0.0";

/// `INFO [section ...]`: a bulk string of `# Section` headers and `field:value` lines.
pub fn info(args: Args<'_>, db: &Db, out: &mut Vec<u8>) {
    let wanted: Vec<&[u8]> = args.collect();
    let all = wanted.is_empty()
        || wanted.iter().any(|w| {
            [&b"all"[..], b"default", b"everything"]
                .iter()
                .any(|a| w.eq_ignore_ascii_case(a))
        });
    let want = |name: &str| {
        all || wanted
            .iter()
            .any(|w| w.eq_ignore_ascii_case(name.as_bytes()))
    };
    let s = &db.stats;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let mut text = String::new();
    let mut section = |name: &str, body: String| {
        if want(&name.to_ascii_lowercase()) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            let _ = write!(text, "# {name}\r\n{body}");
        }
    };
    let uptime = db.started.elapsed().as_secs();
    section(
        "Server",
        format!(
            "redis_version:{REDIS_VERSION}\r\nkv_version:{}\r\nredis_mode:standalone\r\n\
             os:{} {}\r\narch_bits:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n\
             uptime_in_days:{}\r\nmax_key_bytes:{MAX_KEY}\r\nmax_value_bytes:{MAX_VALUE}\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            usize::BITS,
            std::process::id(),
            db.port,
            uptime / 86_400,
        ),
    );
    section(
        "Clients",
        format!(
            "connected_clients:{}\r\n",
            s.connected_clients
                .load(std::sync::atomic::Ordering::Relaxed)
        ),
    );
    let rss = resident_bytes().unwrap_or(0);
    section(
        "Memory",
        format!(
            "used_memory:{}\r\nused_memory_human:{:.2}M\r\nused_memory_rss:{rss}\r\n\
             table_bytes:{}\r\ntable_capacity:{}\r\nmaxmemory:0\r\nmem_allocator:libc\r\n",
            db.table_bytes,
            db.table_bytes as f64 / (1024.0 * 1024.0),
            db.table_bytes,
            db.table.stats().slots,
        ),
    );
    let persistence = match &db.persist {
        None => "loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n\
                 aof_enabled:0\r\n"
            .to_string(),
        Some(p) => format!(
            "loading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\n\
             rdb_last_save_time:{}\r\naof_enabled:1\r\naof_fsync:{}\r\n\
             aof_last_write_status:{}\r\n",
            p.dirty(),
            u8::from(p.bgsave_running()),
            p.lastsave(),
            p.options().fsync.name(),
            if p.log().failure().is_some() {
                "err"
            } else {
                "ok"
            },
        ),
    };
    section("Persistence", persistence);
    section(
        "Stats",
        format!(
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
             total_net_input_bytes:{}\r\nrejected_connections:{}\r\n",
            load(&s.total_connections),
            load(&s.total_commands),
            load(&s.net_input_bytes),
            load(&s.rejected_connections),
        ),
    );
    let keys = db.table.len();
    section(
        "Keyspace",
        if keys > 0 {
            format!("db0:keys={keys},expires=0,avg_ttl=0\r\n")
        } else {
            String::new()
        },
    );
    reply::bulk(out, text.as_bytes());
}

/// This process's resident memory, from `/proc/self/statm` where there is one.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The page size is 4 KiB on the Linux targets kv serves from.
    Some(pages * 4096)
}

/// `COMMAND`, `COMMAND DOCS`, `COMMAND COUNT`: no command table is published, which clients
/// accept.
pub fn command(mut args: Args<'_>, out: &mut Vec<u8>) {
    match args.next() {
        Some(sub) if sub.eq_ignore_ascii_case(b"count") => {
            reply::int(out, super::COMMAND_COUNT as i64)
        }
        _ => reply::array(out, 0),
    }
}

/// Parameters `CONFIG GET` answers, with their fixed values.
const CONFIG: &[(&str, &str)] = &[("save", ""), ("appendonly", "no"), ("databases", "1")];

/// `CONFIG GET pattern [pattern ...]`, `CONFIG SET`, `CONFIG RESETSTAT`.
pub fn config(mut args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.next().unwrap_or_default();
    if sub.eq_ignore_ascii_case(b"get") {
        let patterns: Vec<&[u8]> = args.collect();
        if patterns.is_empty() {
            reply::error(
                out,
                "ERR wrong number of arguments for 'config|get' command",
            );
            return;
        }
        let hits: Vec<&(&str, &str)> = CONFIG
            .iter()
            .filter(|(name, _)| {
                patterns
                    .iter()
                    .any(|p| crate::pattern::matches(&p.to_ascii_lowercase(), name.as_bytes()))
            })
            .collect();
        reply::array(out, hits.len() * 2);
        for (name, value) in hits {
            reply::bulk(out, name.as_bytes());
            reply::bulk(out, value.as_bytes());
        }
    } else if sub.eq_ignore_ascii_case(b"set") {
        let name = args.next().unwrap_or_default();
        reply::error_fmt(
            out,
            format_args!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            ),
        );
    } else if sub.eq_ignore_ascii_case(b"resetstat") {
        reply::ok(out);
    } else {
        reply::error_fmt(
            out,
            format_args!(
                "ERR unknown subcommand '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(&sub[..sub.len().min(128)])
            ),
        );
    }
}

const NO_PERSISTENCE: &str = "ERR persistence is disabled on this server (--no-persist)";

/// `SAVE`: a snapshot now; the reply waits for it.
pub fn save(db: &Db, out: &mut Vec<u8>) {
    match &db.persist {
        None => reply::error(out, NO_PERSISTENCE),
        Some(p) => match p.save(&db.table) {
            Ok(_) => reply::ok(out),
            Err(e) => reply::error_fmt(out, format_args!("ERR snapshot failed: {e}")),
        },
    }
}

/// `BGSAVE [SCHEDULE]`: a snapshot on its own thread.
pub fn bgsave(_args: Args<'_>, db: &Db, out: &mut Vec<u8>) {
    let (Some(p), Some(shared)) = (&db.persist, db.shared()) else {
        reply::error(out, NO_PERSISTENCE);
        return;
    };
    if p.bgsave(&shared) {
        reply::push(
            out,
            kv_nostd::resp::Reply::Simple(b"Background saving started"),
        );
    } else {
        reply::error(out, "ERR Background save already in progress");
    }
}

/// `LASTSAVE`: when the last snapshot succeeded (or the server started), in Unix seconds.
pub fn lastsave(db: &Db, out: &mut Vec<u8>) {
    let when = match &db.persist {
        Some(p) => p.lastsave(),
        None => db
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    reply::int(out, when as i64);
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]`: stops the server as SIGTERM does — requests already
/// received are answered and, unless `NOSAVE`, a final snapshot is taken. Like Redis, the client
/// gets no reply: its connection closes.
pub fn shutdown(args: Args<'_>, db: &Db, out: &mut Vec<u8>) -> super::Flow {
    let mut nosave = false;
    for opt in args {
        if opt.eq_ignore_ascii_case(b"nosave") {
            nosave = true;
        } else if opt.eq_ignore_ascii_case(b"save")
            || opt.eq_ignore_ascii_case(b"now")
            || opt.eq_ignore_ascii_case(b"force")
        {
        } else {
            reply::error(out, super::SYNTAX_ERROR);
            return super::Flow::Continue;
        }
    }
    let Some(stop) = db.shutdown.get() else {
        reply::error(out, "ERR the server cannot be shut down from here");
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
