//! `CONFIG GET|SET|RESETSTAT|REWRITE|HELP`: every parameter kv has, under Redis's name.
//!
//! Each parameter is a row of [`PARAMETERS`]: how to read its value now, and how to change it
//! (none for what kv fixes at start: the address, the password, persistence). `CONFIG SET` with
//! several pairs checks every name first, then every value into a copy of the settings, and
//! applies the copy only when all are valid: all or nothing, with Redis 7.0's errors. `CONFIG
//! REWRITE` writes the values into the file the server was started with, as Redis does.

use super::stats::percentile_text;
use super::{parse_int, Client};
use crate::config::{parse_memory, OutputLimits};
use crate::db::{Db, EvictionSettings};
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::path::Path;

/// The settings `CONFIG SET` may change, copied so that a set applies all of its pairs or none.
struct Staged {
    output_limits: OutputLimits,
    proto_max_bulk_len: usize,
    client_query_buffer_limit: usize,
    maxmemory: usize,
    eviction: EvictionSettings,
    slower_than: i64,
    slowlog_max_len: usize,
    max_clients: usize,
    timeout: u64,
    latency_tracking: bool,
    percentiles: Vec<f64>,
    repl: crate::repl::Settings,
    backlog_size: usize,
}

impl Staged {
    fn now(db: &Db) -> Self {
        Self {
            output_limits: db.settings.output_limits(),
            proto_max_bulk_len: db.settings.proto_max_bulk_len(),
            client_query_buffer_limit: db.settings.client_query_buffer_limit(),
            maxmemory: db.table.max_memory().unwrap_or(0),
            eviction: db.settings.eviction(),
            slower_than: db.slowlog.slower_than(),
            slowlog_max_len: db.slowlog.max_len(),
            max_clients: db.settings.max_clients(),
            timeout: db.settings.idle_timeout_secs(),
            latency_tracking: db.commands.tracking(),
            percentiles: db.commands.percentiles(),
            repl: db.repl.settings(),
            backlog_size: db.repl.backlog.size(),
        }
    }

    fn apply(self, db: &Db) {
        db.settings.set_output_limits(self.output_limits);
        db.settings.set_proto_max_bulk_len(self.proto_max_bulk_len);
        db.settings
            .set_client_query_buffer_limit(self.client_query_buffer_limit);
        db.table.set_max_memory(self.maxmemory);
        db.settings.set_eviction(self.eviction, &db.table);
        db.slowlog.set_slower_than(self.slower_than);
        db.slowlog.set_max_len(self.slowlog_max_len);
        db.settings.set_max_clients(self.max_clients);
        db.settings.set_idle_timeout_secs(self.timeout);
        db.commands.set_tracking(self.latency_tracking);
        db.commands.set_percentiles(self.percentiles);
        db.repl.set_settings(self.repl);
        db.repl.backlog.set_size(self.backlog_size);
    }
}

/// Changes a staged setting to a value given as text; the error is Redis's reason.
type Setter = fn(&mut Staged, &[u8]) -> Result<(), String>;

/// One parameter.
struct Parameter {
    /// Redis's name.
    name: &'static str,
    /// Its value now, as `CONFIG GET` and `CONFIG REWRITE` write it.
    get: fn(&Db) -> String,
    /// How `CONFIG SET` changes it; none when kv fixes it at start.
    set: Option<Setter>,
    /// Its value when nothing sets it, as written: `CONFIG REWRITE` adds a parameter missing
    /// from the file only when its value is another. None for what `CONFIG SET` cannot change,
    /// which `CONFIG REWRITE` leaves as the file has it.
    default: Option<&'static str>,
}

const fn param(
    name: &'static str,
    get: fn(&Db) -> String,
    set: Option<Setter>,
    default: Option<&'static str>,
) -> Parameter {
    Parameter {
        name,
        get,
        set,
        default,
    }
}

/// What the server was started with.
fn launch(db: &Db) -> Option<&crate::config::Config> {
    db.launch.get()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Every parameter, in no order Redis promises (its own is a hash table's).
const PARAMETERS: &[Parameter] = &[
    param(
        "replicaof",
        |db| {
            db.repl
                .following()
                .map_or(String::new(), |(a, _)| format!("{} {}", a.host, a.port))
        },
        None,
        Some(""),
    ),
    param(
        "masterauth",
        |db| {
            String::from_utf8_lossy(db.repl.settings().masterauth.as_deref().unwrap_or_default())
                .into_owned()
        },
        Some(|s, v| {
            s.repl.masterauth = optional(v);
            Ok(())
        }),
        Some(""),
    ),
    param(
        "masteruser",
        |db| {
            String::from_utf8_lossy(db.repl.settings().masteruser.as_deref().unwrap_or_default())
                .into_owned()
        },
        Some(|s, v| {
            s.repl.masteruser = optional(v);
            Ok(())
        }),
        Some(""),
    ),
    param(
        "repl-backlog-size",
        |db| db.repl.backlog.size().to_string(),
        Some(|s, v| {
            s.backlog_size = memory(v, 1)?;
            Ok(())
        }),
        Some("1048576"),
    ),
    param(
        "repl-timeout",
        |db| db.repl.settings().timeout.as_secs().to_string(),
        Some(|s, v| {
            s.repl.timeout = std::time::Duration::from_secs(int(v, 1, i32::MAX as i64)? as u64);
            Ok(())
        }),
        Some("60"),
    ),
    param(
        "repl-ping-replica-period",
        |db| db.repl.settings().ping_period.as_secs().to_string(),
        Some(|s, v| {
            s.repl.ping_period = std::time::Duration::from_secs(int(v, 1, i32::MAX as i64)? as u64);
            Ok(())
        }),
        Some("10"),
    ),
    param(
        "repl-diskless-sync",
        |db| yes_no(db.repl.settings().diskless),
        Some(|s, v| {
            s.repl.diskless = yes_or_no(v)?;
            Ok(())
        }),
        Some("yes"),
    ),
    param(
        "min-replicas-to-write",
        |db| db.repl.settings().min_replicas.to_string(),
        Some(|s, v| {
            s.repl.min_replicas = int(v, 0, i32::MAX as i64)? as usize;
            Ok(())
        }),
        Some("0"),
    ),
    param(
        "min-replicas-max-lag",
        |db| db.repl.settings().min_replicas_max_lag.to_string(),
        Some(|s, v| {
            s.repl.min_replicas_max_lag = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        }),
        Some("10"),
    ),
    param(
        "sync-replicas",
        |db| db.repl.settings().sync_replicas.to_string(),
        Some(|s, v| {
            s.repl.sync_replicas = int(v, 0, i32::MAX as i64)? as usize;
            Ok(())
        }),
        Some("0"),
    ),
    param(
        "replica-serve-stale-data",
        |db| yes_no(db.repl.settings().serve_stale),
        Some(|s, v| {
            s.repl.serve_stale = yes_or_no(v)?;
            Ok(())
        }),
        Some("yes"),
    ),
    param(
        "replica-priority",
        |db| db.repl.settings().priority.to_string(),
        Some(|s, v| {
            s.repl.priority = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        }),
        Some("100"),
    ),
    param("replica-read-only", |_| "yes".into(), None, None),
    param(
        "replica-announce-ip",
        |db| db.repl.settings().announce_ip.unwrap_or_default(),
        Some(|s, v| {
            s.repl.announce_ip = optional(v).map(|v| String::from_utf8_lossy(&v).into_owned());
            Ok(())
        }),
        Some(""),
    ),
    param(
        "bind",
        |db| {
            launch(db)
                .map(|c| c.addr.ip().to_string())
                .unwrap_or_default()
        },
        None,
        None,
    ),
    param("port", |db| db.port.to_string(), None, None),
    param("databases", |_| "1".into(), None, None),
    param(
        "timeout",
        |db| db.settings.idle_timeout_secs().to_string(),
        Some(|s, v| {
            s.timeout = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        }),
        Some("0"),
    ),
    param(
        "maxclients",
        |db| db.settings.max_clients().to_string(),
        Some(|s, v| {
            s.max_clients = int(v, 1, u32::MAX as i64)? as usize;
            Ok(())
        }),
        Some("10000"),
    ),
    param(
        "requirepass",
        |db| String::from_utf8_lossy(db.password.as_deref().unwrap_or_default()).into_owned(),
        None,
        None,
    ),
    param(
        "protected-mode",
        |db| yes_no(launch(db).is_none_or(|c| c.protected_mode)),
        None,
        None,
    ),
    param(
        "save",
        |db| match &db.persist {
            Some(p) => p
                .save_interval()
                .map_or(String::new(), |d| format!("{} 1", d.as_secs())),
            None => String::new(),
        },
        None,
        None,
    ),
    param("appendonly", |db| yes_no(db.persist.is_some()), None, None),
    param(
        "appendfsync",
        |db| {
            db.persist
                .as_ref()
                .map_or("always", |p| p.options().fsync.name())
                .into()
        },
        None,
        None,
    ),
    param(
        "maxmemory",
        |db| db.table.max_memory().unwrap_or(0).to_string(),
        Some(|s, v| {
            s.maxmemory = memory(v, 0)?;
            Ok(())
        }),
        Some("0"),
    ),
    param(
        "maxmemory-policy",
        |db| db.settings.eviction().policy.name().into(),
        Some(|s, v| {
            s.eviction.policy = std::str::from_utf8(v)
                .ok()
                .and_then(kv_nostd::Policy::from_name)
                .ok_or_else(|| {
                    let names: Vec<&str> = POLICY_ORDER.iter().map(|p| p.name()).collect();
                    format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )
                })?;
            Ok(())
        }),
        Some("noeviction"),
    ),
    param(
        "maxmemory-samples",
        |db| db.settings.eviction().samples.to_string(),
        Some(|s, v| {
            s.eviction.samples = int(v, 1, i32::MAX as i64)? as u32;
            Ok(())
        }),
        Some("5"),
    ),
    param(
        "lfu-log-factor",
        |db| db.settings.eviction().lfu_log_factor.to_string(),
        Some(|s, v| {
            s.eviction.lfu_log_factor = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        }),
        Some("10"),
    ),
    param(
        "lfu-decay-time",
        |db| db.settings.eviction().lfu_decay_time.to_string(),
        Some(|s, v| {
            s.eviction.lfu_decay_time = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        }),
        Some("1"),
    ),
    param(
        "client-output-buffer-limit",
        |db| db.settings.output_limits().render(),
        Some(|s, v| {
            s.output_limits = s.output_limits.parse(&String::from_utf8_lossy(v))?;
            Ok(())
        }),
        Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    ),
    param(
        "proto-max-bulk-len",
        |db| db.settings.proto_max_bulk_len().to_string(),
        Some(|s, v| {
            s.proto_max_bulk_len = memory(v, 1024 * 1024)?;
            Ok(())
        }),
        Some("536870912"),
    ),
    param(
        "client-query-buffer-limit",
        |db| db.settings.client_query_buffer_limit().to_string(),
        Some(|s, v| {
            s.client_query_buffer_limit = memory(v, 1024 * 1024)?;
            Ok(())
        }),
        Some("1073741824"),
    ),
    param(
        "slowlog-log-slower-than",
        |db| db.slowlog.slower_than().to_string(),
        Some(|s, v| {
            s.slower_than = int(v, -1, i64::MAX)?;
            Ok(())
        }),
        Some("10000"),
    ),
    param(
        "latency-tracking",
        |db| yes_no(db.commands.tracking()),
        Some(|s, v| {
            s.latency_tracking = match v.to_ascii_lowercase().as_slice() {
                b"yes" => true,
                b"no" => false,
                _ => return Err("argument must be 'yes' or 'no'".into()),
            };
            Ok(())
        }),
        Some("yes"),
    ),
    param(
        "latency-tracking-info-percentiles",
        |db| {
            let percentiles = db.commands.percentiles();
            let texts: Vec<String> = percentiles.iter().map(|&p| percentile_text(p)).collect();
            texts.join(" ")
        },
        Some(|s, v| {
            let mut percentiles = Vec::new();
            for word in String::from_utf8_lossy(v).split_whitespace() {
                let p: f64 = word
                    .parse()
                    .map_err(|_| "Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(
                        "latency-tracking-info-percentiles parameters should sit between \
                         [0.0,100.0]"
                            .into(),
                    );
                }
                percentiles.push(p);
            }
            s.percentiles = percentiles;
            Ok(())
        }),
        Some("50 99 99.9"),
    ),
    param(
        "slowlog-max-len",
        |db| db.slowlog.max_len().to_string(),
        Some(|s, v| {
            s.slowlog_max_len = int(v, 0, i64::MAX)? as usize;
            Ok(())
        }),
        Some("128"),
    ),
];

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

/// An integer parameter's value from `min` to `max`, with Redis 7.0's errors.
/// A `yes`/`no` parameter's value.
fn yes_or_no(value: &[u8]) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_slice() {
        b"yes" => Ok(true),
        b"no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// A string parameter's value: none when empty.
fn optional(value: &[u8]) -> Option<Vec<u8>> {
    (!value.is_empty()).then(|| value.to_vec())
}

fn int(value: &[u8], min: i64, max: i64) -> Result<i64, String> {
    let n = parse_int(value).ok_or("argument couldn't be parsed into an integer")?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// A memory parameter's value (bytes, or with a unit: `1gb`), at least `min`, with Redis 7.0's
/// errors.
fn memory(value: &[u8], min: usize) -> Result<usize, String> {
    let n = parse_memory(&String::from_utf8_lossy(value))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("argument must be a memory value")?;
    if n < min || n > i64::MAX as usize {
        return Err(format!(
            "argument must be between {min} and 9223372036854775807 inclusive"
        ));
    }
    Ok(n)
}

fn find(name: &[u8]) -> Option<&'static Parameter> {
    PARAMETERS
        .iter()
        .find(|p| p.name.as_bytes().eq_ignore_ascii_case(name))
}

/// `CONFIG GET pattern [pattern ...]` (a map), `CONFIG SET parameter value [parameter value
/// ...]`, `CONFIG RESETSTAT`, `CONFIG REWRITE`, `CONFIG HELP`.
pub fn config(sub: &str, args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    match sub {
        "get" => get(args, db, out),
        "set" => set(args, db, out),
        "resetstat" => {
            client.flush_stats(db);
            db.reset_stats();
            out.ok();
        }
        "rewrite" => rewrite(db, out),
        _ => {
            const LINES: &[&str] = &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}

/// Each parameter matching any of the patterns, once. A pattern without `*`, `?` or `[` is a
/// name, answered as it was typed, as Redis 7.0 answers it.
fn get(args: Args<'_>, db: &Db, out: &mut Out) {
    let mut hits: Vec<(&[u8], &Parameter)> = Vec::new();
    for pattern in args {
        let mut add = |name: &'static [u8], p: &'static Parameter| {
            if !hits.iter().any(|(_, hit)| std::ptr::eq(*hit, p)) {
                hits.push((name, p));
            }
        };
        if !pattern.iter().any(|b| b"*?[".contains(b)) {
            if let Some(p) = find(pattern) {
                add(p.name.as_bytes(), p);
                // Answered under the name as typed.
                if let Some(last) = hits.last_mut().filter(|(_, hit)| std::ptr::eq(*hit, p)) {
                    last.0 = pattern;
                }
            }
            continue;
        }
        let pattern = pattern.to_ascii_lowercase();
        for p in PARAMETERS {
            if crate::pattern::matches(&pattern, p.name.as_bytes()) {
                add(p.name.as_bytes(), p);
            }
        }
    }
    out.map(hits.len());
    for (name, p) in hits {
        out.bulk(name);
        out.bulk((p.get)(db).as_bytes());
    }
}

/// `CONFIG SET`: the names are checked first (unknown, fixed, given twice), then the values, in
/// order; nothing changes unless all are valid.
fn set(args: Args<'_>, db: &Db, out: &mut Out) {
    let words: Vec<&[u8]> = args.collect();
    if !words.len().is_multiple_of(2) {
        out.error(super::SYNTAX_ERROR);
        return;
    }
    let failed = |out: &mut Out, name: &[u8], why: &str| {
        out.error_fmt(format_args!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            String::from_utf8_lossy(name)
        ));
    };
    let mut setters: Vec<(Setter, &[u8], &[u8])> = Vec::new();
    let mut refused: Option<(&[u8], &str)> = None;
    let mut seen: Vec<&str> = Vec::new();
    for pair in words.chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        let Some(p) = find(name) else {
            if refused.is_none() {
                out.error_fmt(format_args!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    String::from_utf8_lossy(name)
                ));
                return;
            }
            continue;
        };
        if refused.is_some() {
            continue;
        }
        match p.set {
            None => refused = Some((name, "can't set immutable config")),
            Some(_) if seen.contains(&p.name) => refused = Some((name, "duplicate parameter")),
            Some(setter) => setters.push((setter, name, value)),
        }
        seen.push(p.name);
    }
    if let Some((name, why)) = refused {
        return failed(out, name, why);
    }
    let mut staged = Staged::now(db);
    for (setter, name, value) in setters {
        if let Err(why) = setter(&mut staged, value) {
            return failed(out, name, &why);
        }
    }
    staged.apply(db);
    out.ok();
}

/// `CONFIG REWRITE`: the server's configuration file, rewritten with the values now.
fn rewrite(db: &Db, out: &mut Out) {
    let Some(path) = launch(db).and_then(|c| c.config_file.as_deref()) else {
        out.error("ERR The server is running without a config file");
        return;
    };
    let options: Vec<Rewritten> = PARAMETERS
        .iter()
        .filter_map(|p| Some((p.name, lines(p, p.default?, db))))
        .collect();
    match rewrite_file(path, &options) {
        Ok(()) => out.ok(),
        Err(e) => {
            log::warn!("CONFIG REWRITE failed: {e}");
            out.error_fmt(format_args!("ERR Rewriting config file: {e}"));
        }
    }
}

/// A parameter's name and the lines that set it to its value now, each with whether it differs
/// from the default (a line that does not is written only in place of one the file has).
type Rewritten = (&'static str, Vec<(String, bool)>);

/// The parameters whose values Redis writes with a unit.
const MEMORY: &[&str] = &[
    "maxmemory",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
];

/// The lines that set `p` to its value now, as Redis's rewrite writes them: sizes with a unit
/// where one divides them, `client-output-buffer-limit` a line per class of client.
fn lines(p: &Parameter, default: &str, db: &Db) -> Vec<(String, bool)> {
    if p.name == "client-output-buffer-limit" {
        let now = db.settings.output_limits();
        let defaults = OutputLimits::default();
        return [
            ("normal", now.normal, defaults.normal),
            ("replica", now.replica, defaults.replica),
            ("pubsub", now.pubsub, defaults.pubsub),
        ]
        .into_iter()
        .map(|(class, l, d)| {
            let line = format!(
                "{} {class} {} {} {}",
                p.name,
                with_unit(l.hard as u64),
                with_unit(l.soft as u64),
                l.soft_seconds
            );
            (line, l != d)
        })
        .collect();
    }
    let value = (p.get)(db);
    if p.name == "replicaof" {
        // A primary's file has no `replicaof` line: any there is removed.
        if value.is_empty() {
            return Vec::new();
        }
        return vec![(format!("replicaof {value}"), true)];
    }
    let changed = value != default;
    let written = match value.parse::<u64>() {
        Ok(n) if MEMORY.contains(&p.name) => with_unit(n),
        _ => value,
    };
    vec![(render(p.name, &written), changed)]
}

/// A size as Redis's rewrite writes it (`rewriteConfigFormatMemory`): in `gb`, `mb` or `kb`
/// when one divides it, in bytes otherwise.
fn with_unit(bytes: u64) -> String {
    for (unit, size) in [("gb", 1u64 << 30), ("mb", 1 << 20), ("kb", 1 << 10)] {
        if bytes > 0 && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// The line Redis puts before the parameters a rewrite adds.
const SIGNATURE: &str = "# Generated by CONFIG REWRITE";

/// Rewrites the file at `path` as Redis's `rewriteConfig` does: each new line of a parameter
/// takes the place of one of the lines the file has for it, in order, and the file's lines
/// left over go; new lines with no place are added at the end, after [`SIGNATURE`], when they
/// set a value other than the default. Comments, blank lines and lines kv does not know stay
/// as they are. The new file replaces the old one whole.
pub fn rewrite_file(path: &Path, options: &[Rewritten]) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<Option<String>> = old.lines().map(|l| Some(l.to_string())).collect();
    let mut added = Vec::new();
    for (name, new) in options {
        let mut places = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.as_deref().and_then(directive).as_deref() == Some(*name))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
            .into_iter();
        for (line, changed) in new {
            match places.next() {
                Some(i) => lines[i] = Some(line.clone()),
                None if *changed => added.push(line.clone()),
                None => {}
            }
        }
        for i in places {
            lines[i] = None;
        }
    }
    if !added.is_empty() && !lines.iter().flatten().any(|l| l == SIGNATURE) {
        lines.push(Some(SIGNATURE.to_string()));
    }
    let mut text: String = lines.into_iter().flatten().map(|l| l + "\n").collect();
    for line in added {
        text.push_str(&line);
        text.push('\n');
    }
    let tmp = path.with_extension(format!("rewrite-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The parameter a configuration line sets, lower-cased; none for a comment or a blank line.
fn directive(line: &str) -> Option<String> {
    let word = line.split_whitespace().next()?;
    (!word.starts_with('#')).then(|| word.to_ascii_lowercase())
}

/// A configuration line: the name, then the value, quoted when it is empty or has a space, a
/// quote or a backslash in it.
fn render(name: &str, value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '"', '\'', '\\']) {
        format!("{name} {value}")
    } else {
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{name} \"{quoted}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &'static str, line: &str, changed: bool) -> Rewritten {
        (name, vec![(line.to_string(), changed)])
    }

    #[test]
    fn a_rewrite_keeps_what_it_does_not_know_and_adds_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.conf");
        std::fs::write(
            &path,
            "# my settings\nmaxmemory 1gb\nsomething-else 1\nMAXMEMORY 2gb\n\ntimeout 0\n\
             client-output-buffer-limit pubsub 1mb 0 0\n",
        )
        .unwrap();
        let options = [
            one("maxmemory", "maxmemory 100", true),
            one("timeout", "timeout 0", false),
            one("slowlog-max-len", "slowlog-max-len 5", true),
            one("maxclients", "maxclients 10000", false),
            (
                "client-output-buffer-limit",
                vec![
                    ("client-output-buffer-limit normal 0 0 0".into(), false),
                    ("client-output-buffer-limit replica 1mb 0 0".into(), true),
                    (
                        "client-output-buffer-limit pubsub 32mb 8mb 60".into(),
                        false,
                    ),
                ],
            ),
        ];
        rewrite_file(&path, &options).unwrap();
        let expected = "# my settings\nmaxmemory 100\nsomething-else 1\n\ntimeout 0\n\
                        client-output-buffer-limit normal 0 0 0\n\
                        # Generated by CONFIG REWRITE\nslowlog-max-len 5\n\
                        client-output-buffer-limit replica 1mb 0 0\n";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        // A second rewrite changes nothing.
        rewrite_file(&path, &options).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn sizes_and_values_are_written_as_redis_writes_them() {
        assert_eq!(with_unit(2 << 20), "2mb");
        assert_eq!(with_unit(3 << 30), "3gb");
        assert_eq!(with_unit(1024), "1kb");
        assert_eq!(with_unit(1000), "1000");
        assert_eq!(with_unit(0), "0");
        assert_eq!(render("save", ""), "save \"\"");
        assert_eq!(render("requirepass", "a \"b"), "requirepass \"a \\\"b\"");
    }
}
