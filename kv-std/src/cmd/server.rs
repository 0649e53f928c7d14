//! INFO, CONFIG, MEMORY, and the persistence commands: commands about the server.

use crate::db::{Db, EvictionSettings};
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::fmt::Write;
use std::time::UNIX_EPOCH;

/// The Redis version kv reports, for tools that check it before using a feature.
pub const REDIS_VERSION: &str = "7.0.0";

/// `INFO [section ...]`: text of `# Section` headers and `field:value` lines (a bulk string in
/// RESP2, a verbatim string in RESP3).
pub fn info(args: Args<'_>, db: &Db, out: &mut Out) {
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
             uptime_in_days:{}\r\n",
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
    let used = db.table.used_bytes() as u64;
    let max = db.table.max_memory().unwrap_or(0) as u64;
    let table = db.table.stats();
    section(
        "Memory",
        format!(
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
             used_memory_rss_human:{}\r\nused_memory_dataset:{used}\r\nmaxmemory:{max}\r\n\
             maxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
             mem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\n\
             arena_pages_in_use:{}\r\narena_page_bytes:{}\r\nindex_segments:{}\r\n\
             index_segment_bytes:{}\r\n",
            bytes_to_human(used),
            bytes_to_human(rss),
            bytes_to_human(max),
            db.table.eviction().policy.name(),
            if used > 0 {
                rss as f64 / used as f64
            } else {
                0.0
            },
            table.pages_in_use,
            table.page_bytes,
            table.segments,
            table.segment_bytes,
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
             total_net_input_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\n\
             expired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:{}\r\n\
             evicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\n\
             pubsub_patterns:{}\r\npubsubshard_channels:{}\r\n\
             client_output_buffer_limit_disconnections:{}\r\n",
            load(&s.total_connections),
            load(&s.total_commands),
            load(&s.net_input_bytes),
            load(&s.rejected_connections),
            db.expired_keys(),
            f64::from_bits(load(&s.expired_stale_perc)),
            load(&s.expired_time_cap_reached),
            db.table.evicted(),
            load(&s.keyspace_hits),
            load(&s.keyspace_misses),
            db.pubsub.len(crate::pubsub::Space::Channels),
            db.pubsub.len(crate::pubsub::Space::Patterns),
            db.pubsub.len(crate::pubsub::Space::Shards),
            load(&db.pubsub.limit_disconnections),
        ),
    );
    let keys = db.table.len();
    section(
        "Keyspace",
        if keys > 0 {
            format!(
                "db0:keys={keys},expires={},avg_ttl={}\r\n",
                db.table.expires(),
                average_ttl(db)
            )
        } else {
            String::new()
        },
    );
    out.verbatim(text.as_bytes());
}

/// The keyspace line's `avg_ttl`: the mean time to live, in milliseconds, of a sample of the
/// keys with a deadline (0 when none has one), as Redis estimates it from the keys its expiry
/// cycle samples. The sample is up to 16 index segments from a position that changes with the
/// time of the call.
fn average_ttl(db: &Db) -> u64 {
    if db.table.expires() == 0 {
        return 0;
    }
    let now = db.table.now();
    let (mut sum, mut n) = (0u128, 0u128);
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut cursor = kv_nostd::ScanCursor::from_u64(u64::from(nanos.reverse_bits()));
    for _ in 0..16 {
        cursor = db.table.scan(cursor, 1, |e| {
            if let Some(d) = e.deadline() {
                sum += u128::from(d.saturating_sub(now));
                n += 1;
            }
        });
        if n >= 100 || cursor.is_start() {
            break;
        }
    }
    u64::try_from(sum.checked_div(n).unwrap_or(0)).unwrap_or(u64::MAX)
}

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

/// This process's resident memory, from `/proc/self/statm` where there is one.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The page size is 4 KiB on the Linux targets kv serves from.
    Some(pages * 4096)
}

/// The parameters `CONFIG GET` answers, each with its value now, in Redis's names.
fn parameters(db: &Db) -> Vec<(&'static str, String)> {
    let eviction = db.settings.eviction();
    vec![
        ("save", String::new()),
        ("appendonly", "no".into()),
        ("databases", "1".into()),
        (
            "client-output-buffer-limit",
            db.settings.output_limits().render(),
        ),
        (
            "proto-max-bulk-len",
            db.settings.proto_max_bulk_len().to_string(),
        ),
        ("maxmemory", db.table.max_memory().unwrap_or(0).to_string()),
        ("maxmemory-policy", eviction.policy.name().into()),
        ("maxmemory-samples", eviction.samples.to_string()),
        ("lfu-log-factor", eviction.lfu_log_factor.to_string()),
        ("lfu-decay-time", eviction.lfu_decay_time.to_string()),
        (
            "client-query-buffer-limit",
            db.settings.client_query_buffer_limit().to_string(),
        ),
    ]
}

/// `CONFIG GET pattern [pattern ...]` (a map), `CONFIG SET parameter value [parameter value
/// ...]`, `CONFIG RESETSTAT`, `CONFIG HELP`.
pub fn config(sub: &str, args: Args<'_>, db: &Db, out: &mut Out) {
    match sub {
        "get" => {
            let patterns: Vec<Vec<u8>> = args.map(<[u8]>::to_ascii_lowercase).collect();
            let hits: Vec<(&str, String)> = parameters(db)
                .into_iter()
                .filter(|(name, _)| {
                    patterns
                        .iter()
                        .any(|p| crate::pattern::matches(p, name.as_bytes()))
                })
                .collect();
            out.map(hits.len());
            for (name, value) in hits {
                out.bulk(name.as_bytes());
                out.bulk(value.as_bytes());
            }
        }
        "set" => config_set(args, db, out),
        "resetstat" => out.ok(),
        _ => {
            const LINES: &[&str] = &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}

/// The policies in the order Redis 7.0 lists them in its error for an unknown one.
const POLICY_ORDER: [kv_nostd::Policy; 8] = {
    use kv_nostd::Policy::*;
    [
        VolatileLru,
        VolatileLfu,
        VolatileRandom,
        VolatileTtl,
        AllKeysLru,
        AllKeysLfu,
        AllKeysRandom,
        NoEviction,
    ]
};

/// A numeric eviction parameter: its least value, and where it is kept.
struct EvictionNumber {
    min: u32,
    of: fn(&mut EvictionSettings) -> &mut u32,
}

/// The numeric eviction parameter named `name`, if it is one.
fn eviction_number(name: &[u8]) -> Option<EvictionNumber> {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if is("maxmemory-samples") {
        Some(EvictionNumber {
            min: 1,
            of: |e| &mut e.samples,
        })
    } else if is("lfu-log-factor") {
        Some(EvictionNumber {
            min: 0,
            of: |e| &mut e.lfu_log_factor,
        })
    } else if is("lfu-decay-time") {
        Some(EvictionNumber {
            min: 0,
            of: |e| &mut e.lfu_decay_time,
        })
    } else {
        None
    }
}

/// An integer parameter from `min` to `i32::MAX`, with Redis 7.0's errors.
fn int_argument(value: &[u8], min: u32) -> Result<u32, String> {
    let n = super::parse_int(value).ok_or("argument couldn't be parsed into an integer")?;
    match u32::try_from(n) {
        Ok(n) if n >= min && n <= i32::MAX as u32 => Ok(n),
        _ => Err(format!(
            "argument must be between {min} and 2147483647 inclusive"
        )),
    }
}

/// `CONFIG SET`: every pair is checked before any is applied, as Redis 7 does.
fn config_set(args: Args<'_>, db: &Db, out: &mut Out) {
    let words: Vec<&[u8]> = args.collect();
    if !words.len().is_multiple_of(2) {
        out.error("ERR wrong number of arguments for 'config|set' command");
        return;
    }
    let mut limits = db.settings.output_limits();
    let mut bulk = db.settings.proto_max_bulk_len();
    let mut query = db.settings.client_query_buffer_limit();
    let mut maxmemory = db.table.max_memory().unwrap_or(0);
    let mut eviction = db.settings.eviction();
    let failed = |out: &mut Out, name: &[u8], why: &str| {
        out.error_fmt(format_args!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            String::from_utf8_lossy(name)
        ));
    };
    for pair in words.chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        if name.eq_ignore_ascii_case(b"client-output-buffer-limit") {
            match limits.parse(&String::from_utf8_lossy(value)) {
                Ok(l) => limits = l,
                Err(why) => return failed(out, name, &why),
            }
        } else if name.eq_ignore_ascii_case(b"maxmemory") {
            let size = crate::config::parse_memory(&String::from_utf8_lossy(value))
                .and_then(|n| usize::try_from(n).ok());
            match size {
                Some(n) => maxmemory = n,
                None => return failed(out, name, "argument must be a memory value"),
            }
        } else if name.eq_ignore_ascii_case(b"maxmemory-policy") {
            let policy = std::str::from_utf8(value)
                .ok()
                .and_then(kv_nostd::Policy::from_name);
            match policy {
                Some(p) => eviction.policy = p,
                None => {
                    let names: Vec<&str> = POLICY_ORDER.iter().map(|p| p.name()).collect();
                    let why = format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    );
                    return failed(out, name, &why);
                }
            }
        } else if let Some(field) = eviction_number(name) {
            let n = match int_argument(value, field.min) {
                Ok(n) => n,
                Err(why) => return failed(out, name, &why),
            };
            *(field.of)(&mut eviction) = n;
        } else if name.eq_ignore_ascii_case(b"proto-max-bulk-len")
            || name.eq_ignore_ascii_case(b"client-query-buffer-limit")
        {
            // Redis's bounds for both: at least 1 MB.
            let size = crate::config::parse_memory(&String::from_utf8_lossy(value))
                .and_then(|n| usize::try_from(n).ok());
            let n = match size {
                Some(n) if n >= 1024 * 1024 => n,
                Some(_) => {
                    let why = "argument must be between 1048576 and 9223372036854775807 inclusive";
                    return failed(out, name, why);
                }
                None => return failed(out, name, "argument must be a memory value"),
            };
            if name.eq_ignore_ascii_case(b"proto-max-bulk-len") {
                bulk = n;
            } else {
                query = n;
            }
        } else {
            out.error_fmt(format_args!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            ));
            return;
        }
    }
    db.settings.set_output_limits(limits);
    db.settings.set_proto_max_bulk_len(bulk);
    db.settings.set_client_query_buffer_limit(query);
    db.table.set_max_memory(maxmemory);
    db.settings.set_eviction(eviction, &db.table);
    out.ok();
}

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key takes (its item in the arena and its
/// slot in the index; exact, so `SAMPLES` changes nothing), or nil; `MEMORY HELP`.
pub fn memory(sub: &str, mut args: Args<'_>, db: &Db, out: &mut Out) {
    if sub != "usage" {
        const LINES: &[&str] = &[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Print this help.",
        ];
        out.help(LINES);
        return;
    }
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
