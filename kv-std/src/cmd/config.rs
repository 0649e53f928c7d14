//! `CONFIG GET|SET|RESETSTAT|REWRITE|HELP`: every parameter kv has, under Redis's name.
//!
//! Each parameter is a row of [`PARAMETERS`]: how to read its value now, and how to change it
//! (none for what kv fixes at start: the address, the password, persistence). `CONFIG SET` with
//! several pairs checks every name first, then every value into a copy of the settings, and
//! applies the copy only when all are valid: all or nothing, with Redis 7.0's errors. `CONFIG
//! REWRITE` writes the values into the file the server was started with, as Redis does.

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
    let values: Vec<(&str, String, Option<&str>)> = PARAMETERS
        .iter()
        .filter(|p| p.default.is_some())
        .map(|p| (p.name, (p.get)(db), p.default))
        .collect();
    match rewrite_file(path, &values) {
        Ok(()) => out.ok(),
        Err(e) => {
            log::warn!("CONFIG REWRITE failed: {e}");
            out.error_fmt(format_args!("ERR Rewriting config file: {e}"));
        }
    }
}

/// The line Redis puts before the parameters a rewrite adds.
const SIGNATURE: &str = "# Generated by CONFIG REWRITE";

/// Rewrites the file at `path` as Redis's `rewriteConfig` does: each parameter's first line
/// takes its value now and its other lines go; a parameter with no line gets one, after
/// [`SIGNATURE`], only when its value is not the default; comments, blank lines and lines kv
/// does not know stay as they are. The new file replaces the old one whole.
pub fn rewrite_file(path: &Path, values: &[(&str, String, Option<&str>)]) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<Option<String>> = old.lines().map(|l| Some(l.to_string())).collect();
    let mut written = vec![false; values.len()];
    for line in lines.iter_mut() {
        let Some(name) = line.as_deref().and_then(directive) else {
            continue;
        };
        let Some(at) = values
            .iter()
            .position(|(n, _, _)| n.eq_ignore_ascii_case(&name))
        else {
            continue;
        };
        *line = if written[at] {
            None
        } else {
            written[at] = true;
            Some(render(values[at].0, &values[at].1))
        };
    }
    let has_signature = lines.iter().flatten().any(|l| l == SIGNATURE);
    let mut added = Vec::new();
    for ((name, value, default), done) in values.iter().zip(&written) {
        if !done && default.is_some_and(|d| d != value) {
            added.push(render(name, value));
        }
    }
    if !added.is_empty() && !has_signature {
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

/// A configuration line: the name, then the value quoted when it is empty or has a space or a
/// quote in it (`client-output-buffer-limit` is the exception: Redis writes its words bare).
fn render(name: &str, value: &str) -> String {
    let bare = name == "client-output-buffer-limit"
        || (!value.is_empty() && !value.contains([' ', '"', '\'', '\\']));
    if bare {
        format!("{name} {value}")
    } else {
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{name} \"{quoted}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_keeps_what_it_does_not_know_and_adds_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.conf");
        std::fs::write(
            &path,
            "# my settings\nmaxmemory 1gb\nsomething-else 1\nMAXMEMORY 2gb\n\ntimeout 0\n",
        )
        .unwrap();
        let values = [
            ("maxmemory", "100".to_string(), Some("0")),
            ("timeout", "0".to_string(), Some("0")),
            ("slowlog-max-len", "5".to_string(), Some("128")),
            ("maxclients", "10000".to_string(), Some("10000")),
            ("save", String::new(), Some("x")),
        ];
        rewrite_file(&path, &values).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# my settings\nmaxmemory 100\nsomething-else 1\n\ntimeout 0\n\
             # Generated by CONFIG REWRITE\nslowlog-max-len 5\nsave \"\"\n"
        );
        // A second rewrite changes nothing.
        rewrite_file(&path, &values).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("REWRITE\nslowlog-max-len 5\nsave \"\"\n"));
    }
}
