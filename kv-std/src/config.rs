//! The server's command-line flags, and the validated configuration they become.

use crate::persist::aof::Fsync;
use crate::persist::{default_aof, Options};
use crate::storage::StorageConfig;
use clap::Parser;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The port kv listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7878;

/// The longest bulk string a client may send, by default: Redis's `proto-max-bulk-len`, 512 MB.
pub const PROTO_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// The most input one client may have buffered, by default: Redis's `client-query-buffer-limit`,
/// 1 GB.
pub const CLIENT_QUERY_BUFFER_LIMIT: usize = 1024 * 1024 * 1024;

/// `kv-server`'s flags, as typed.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kv-server",
    version,
    about = "The kv key-value server: its own binary protocol and the Redis protocol on one port.",
    // A configuration file's settings come first and the command line's after: the last wins.
    args_override_self = true
)]
pub struct Args {
    /// Address to listen on. Loopback by default: expose kv deliberately.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// TCP port to listen on (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Worker threads serving connections [default: the number of available cores].
    #[arg(long)]
    pub threads: Option<usize>,

    /// The most memory the data may take, in bytes or with a unit (`4gb`); writes past it are
    /// refused with Redis's OOM error. 0: no limit but the machine's (Redis's maxmemory).
    #[arg(long, default_value = "0", value_parser = parse_size, value_name = "BYTES")]
    pub maxmemory: usize,

    /// What a write past --maxmemory does: noeviction (refuse it), or make room by evicting
    /// keys: allkeys-lru, allkeys-lfu, allkeys-random among all keys; volatile-lru,
    /// volatile-lfu, volatile-random, volatile-ttl among keys with an expiration.
    #[arg(long, default_value = "noeviction", value_parser = parse_policy, value_name = "POLICY")]
    pub maxmemory_policy: kv_nostd::Policy,

    /// Keys sampled for each key evicted (Redis's maxmemory-samples; more than 64 count as 64).
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    pub maxmemory_samples: u32,

    /// How slowly an LFU policy's access counter grows (Redis's lfu-log-factor; more than 255
    /// count as 255).
    #[arg(long, default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub lfu_log_factor: u32,

    /// Minutes after which an idle key's LFU access counter decays (Redis's
    /// lfu-decay-time; 0: never; more than 255 count as 255).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    pub lfu_decay_time: u32,

    /// Address space to reserve for keys and values: the most the data can ever take. Only
    /// what is used becomes resident. [default: 64gb, or twice the machine's memory if that is
    /// more]
    #[arg(long, value_parser = parse_size, value_name = "BYTES", hide = true)]
    pub reserve: Option<usize>,

    /// Most connections served at once; more are answered with an error and closed.
    #[arg(long, default_value_t = 10_000)]
    pub max_clients: usize,

    /// The backup file (snapshots), loaded at start.
    #[arg(long, default_value = "kv-backup.txt")]
    pub backup: PathBuf,

    /// The append-only log; its segments are PATH.0, PATH.1, ... [default: the backup file's
    /// path with the extension .aof]
    #[arg(long)]
    pub aof: Option<PathBuf>,

    /// When the log reaches the disk: always (before each write is acknowledged; nothing
    /// acknowledged is lost), everysec (a crash may lose about a second), no (the OS decides).
    #[arg(long, value_enum, default_value_t = Fsync::Always)]
    pub fsync: Fsync,

    /// Take a snapshot every SECS seconds when there were writes (0: only on SAVE, BGSAVE and
    /// shutdown).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub save_interval: u64,

    /// Keep nothing on disk: no backup file, no log.
    #[arg(long)]
    pub no_persist: bool,

    /// Start empty even when the backup and log on disk cannot be loaded (their data is then
    /// overwritten by the next snapshot).
    #[arg(long)]
    pub force_empty: bool,

    /// At start, after the backup and log have loaded, put every string key of this RDB file
    /// (Redis's snapshot format, versions 1 to 10) into the table with its expiry, and take a
    /// snapshot so they persist. A key of another type stops the server, naming it.
    #[arg(long, value_name = "PATH")]
    pub rdb_import: Option<PathBuf>,

    /// With --rdb-import, skip keys of types kv does not store (lists, hashes, ...) and log how
    /// many were skipped, rather than refusing to start.
    #[arg(long, requires = "rdb_import")]
    pub rdb_skip_unsupported: bool,

    /// Require clients to AUTH with this password. Prefer --requirepass-file or the
    /// KV_REQUIREPASS environment variable, which keep it out of the process list.
    #[arg(
        long,
        env = "KV_REQUIREPASS",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub requirepass: Option<String>,

    /// Read the password from the first line of this file.
    #[arg(long, value_name = "PATH", conflicts_with = "requirepass")]
    pub requirepass_file: Option<PathBuf>,

    /// With no password set, refuse clients that do not connect over loopback.
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub protected_mode: bool,

    /// Close a connection idle for this many seconds (0: never).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub timeout: u64,

    /// After serving requests, a worker keeps polling its sockets for this many microseconds
    /// before it sleeps (0: off, at most 100000). Saves the wake-up of a sleeping thread, slow on
    /// a virtual machine, when requests come close together; costs the CPU spent polling, so
    /// give each worker a core of its own (fewer --threads than cores).
    #[arg(long, default_value_t = 0, value_name = "MICROS",
          value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub busy_poll: u64,

    /// The workers' I/O loop: `uring` (io_uring: multishot receives into shared buffers, all of
    /// a turn's sends in one system call), `epoll` (readiness and a read and a write per
    /// request), or `auto`: io_uring when the kernel offers what the loop needs (not too old,
    /// not disabled by `kernel.io_uring_disabled` or a container's seccomp profile), else epoll.
    /// The server logs which loop it runs. KV_IO in the environment sets the default.
    #[arg(long, value_enum, default_value_t = IoMode::Auto, env = "KV_IO", value_name = "LOOP")]
    pub io: IoMode,

    /// Output buffer limits per class of client, as Redis's `client-output-buffer-limit`:
    /// `CLASS HARD SOFT SECONDS`, repeatable, with sizes in bytes or with units (`32mb`, `8m`,
    /// `1gb`). A client whose pending output reaches HARD, or stays above SOFT for more than
    /// SECONDS, is disconnected; 0 turns a limit off. Classes: normal, replica, pubsub.
    /// [default: normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60]
    #[arg(long, value_name = "CLASS HARD SOFT SECONDS")]
    pub client_output_buffer_limit: Option<String>,

    /// The longest bulk string (so the longest key or value) a client may send, in bytes or
    /// with a unit (Redis's proto-max-bulk-len).
    #[arg(long, default_value = "512mb", value_parser = parse_size, value_name = "BYTES")]
    pub proto_max_bulk_len: usize,

    /// The most unanswered input one client may have buffered; a client past it is disconnected
    /// (Redis's client-query-buffer-limit).
    #[arg(long, default_value = "1gb", value_parser = parse_size, value_name = "BYTES")]
    pub client_query_buffer_limit: usize,

    /// Log commands that run for at least this many microseconds in the slow log (SLOWLOG
    /// GET); -1 turns it off, 0 logs every command (Redis's slowlog-log-slower-than).
    #[arg(long, default_value_t = crate::cmd::slowlog::DEFAULT_SLOWER_THAN, value_name = "MICROS",
          allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..))]
    pub slowlog_log_slower_than: i64,

    /// Entries the slow log keeps (Redis's slowlog-max-len).
    #[arg(long, default_value_t = crate::cmd::slowlog::DEFAULT_MAX_LEN, value_name = "N")]
    pub slowlog_max_len: usize,

    /// Log level: error, warn, info, debug or trace (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    pub log_level: log::LevelFilter,

    /// A configuration file of Redis-style `name value` lines (`maxmemory 1gb`, `port 6380`):
    /// Redis's names for the parameters kv has, or kv's own flag names. Flags on the command
    /// line win over the file. CONFIG REWRITE writes the settings back to it.
    #[arg(value_name = "CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// Replication.
    #[command(flatten)]
    pub repl: crate::repl::Flags,

    /// Cluster mode.
    #[command(flatten)]
    pub cluster: crate::cluster::Flags,
}

impl Args {
    /// The flags of `argv` (its first item the program's name), after the settings of the
    /// configuration file it names, if it names one: the command line wins over the file.
    /// Lines of the file kv does not know are listed in the second item, to be logged.
    pub fn parse_with_file<I, T>(argv: I) -> Result<(Self, Vec<String>), ArgsError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
        let first = Self::try_parse_from(&argv).map_err(ArgsError::Flags)?;
        let Some(path) = &first.config_file else {
            return Ok((first, Vec::new()));
        };
        let file_error = |why: String| ArgsError::File(path.clone(), why);
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let (flags, ignored) = file_flags(&text).map_err(file_error)?;
        let mut all = argv[..1].to_vec();
        all.extend(flags.into_iter().map(Into::into));
        all.extend(argv[1..].iter().cloned());
        let args = Self::try_parse_from(&all).map_err(|e| file_error(e.to_string()))?;
        Ok((args, ignored))
    }
}

/// Why the command line and configuration file do not make flags.
#[derive(Debug)]
pub enum ArgsError {
    /// The command line does not parse (or asks for `--help` or `--version`).
    Flags(clap::Error),
    /// The configuration file cannot be read, or a setting in it is invalid.
    File(PathBuf, String),
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgsError::Flags(e) => write!(f, "{e}"),
            ArgsError::File(path, why) => write!(f, "{}: {why}", path.display()),
        }
    }
}

impl std::error::Error for ArgsError {}

/// The flags a configuration file stands for, and the lines kv does not know. Each line is a
/// name and its arguments (quoted as Redis's `sdssplitargs` reads them); the name is Redis's
/// for a parameter kv has (`maxclients`, `appendfsync`, `save`, ...) or one of kv's flags
/// without its dashes (`threads 4`).
fn file_flags(text: &str) -> Result<(Vec<String>, Vec<String>), String> {
    use clap::CommandFactory;
    let command = Args::command();
    let mut flags = Vec::new();
    let mut ignored = Vec::new();
    let mut output_limits: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let words = split_args(line).ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
        let Some((name, values)) = words.split_first() else {
            continue;
        };
        if name.starts_with('#') {
            continue;
        }
        let name = name.to_ascii_lowercase();
        let flag = match name.as_str() {
            "maxclients" => "max-clients",
            "slaveof" => "replicaof",
            "appendfsync" => "fsync",
            "client-output-buffer-limit" => {
                output_limits.extend(values.iter().cloned());
                continue;
            }
            "save" => {
                // kv snapshots after an interval with any write: Redis's `save <secs> 1`.
                let secs = match values.first().map(String::as_str) {
                    None | Some("") => "0".to_string(),
                    Some(secs) => secs.to_string(),
                };
                flags.extend(["--save-interval".to_string(), secs]);
                continue;
            }
            "bind" => {
                if let Some(addr) = values.first() {
                    flags.extend(["--bind".to_string(), addr.trim_start_matches('-').into()]);
                }
                continue;
            }
            other => other,
        };
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_long() == Some(flag) && flag != "help" && flag != "version")
        else {
            ignored.push(line.to_string());
            continue;
        };
        if arg.get_action().takes_values() {
            // One value, whatever follows (`--replicaof` takes one or two).
            flags.push(format!("--{flag}={}", values.join(" ")));
        } else if values.is_empty() || values[0].eq_ignore_ascii_case("yes") {
            flags.push(format!("--{flag}"));
        }
    }
    if !output_limits.is_empty() {
        flags.push("--client-output-buffer-limit".into());
        flags.push(output_limits.join(" "));
    }
    Ok((flags, ignored))
}

/// A configuration line's words, as Redis's `sdssplitargs` splits them: by spaces, with double
/// quotes (and the escapes `\n`, `\r`, `\t`, `\"`, `\\`, `\xHH`) or single quotes (and `\'`)
/// grouping. None for an unbalanced quote.
fn split_args(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            loop {
                match chars.next()? {
                    c if c == first => break,
                    '\\' if first == '"' => match chars.next()? {
                        'n' => word.push('\n'),
                        'r' => word.push('\r'),
                        't' => word.push('\t'),
                        'x' => {
                            let hex: String = [chars.next()?, chars.next()?].iter().collect();
                            word.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                        }
                        c => word.push(c),
                    },
                    '\\' if chars.peek() == Some(&'\'') => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    parse_memory(s)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("expected a size in bytes (such as 1048576 or 512mb), got '{s}'"))
}

fn parse_policy(s: &str) -> Result<kv_nostd::Policy, String> {
    kv_nostd::Policy::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = kv_nostd::Policy::all().iter().map(|p| p.name()).collect();
        format!("expected one of {}, got '{s}'", names.join(", "))
    })
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("expected yes or no, got '{other}'")),
    }
}

/// Which I/O loop the workers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// io_uring when the kernel offers it, else epoll.
    Auto,
    /// io_uring, or fail to start.
    Uring,
    /// epoll readiness (mio).
    Epoll,
}

impl IoMode {
    /// The loop KV_IO names (`auto`, `uring`, `epoll`); `auto` when it is unset or names none.
    pub fn from_env() -> Self {
        match std::env::var("KV_IO").as_deref() {
            Ok("uring") => Self::Uring,
            Ok("epoll") => Self::Epoll,
            _ => Self::Auto,
        }
    }
}

/// A configuration the server can run with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Worker threads.
    pub threads: usize,
    /// The table's memory: what to reserve, and its limits.
    pub storage: StorageConfig,
    /// Most connections at once.
    pub max_clients: usize,
    /// Where and how to persist; `None` keeps everything in memory only.
    pub persist: Option<Options>,
    /// An RDB file to load at start, after persistence has loaded.
    pub rdb_import: Option<crate::persist::import::RdbImport>,
    /// The password clients must AUTH with, if any.
    pub password: Option<Vec<u8>>,
    /// Refuse non-loopback clients while no password is set.
    pub protected_mode: bool,
    /// Close connections idle this long.
    pub idle_timeout: Option<Duration>,
    /// How long a worker polls without sleeping after serving (zero: it sleeps at once).
    pub busy_poll: Duration,
    /// The workers' I/O loop.
    pub io: IoMode,
    /// Output buffer limits per class of client.
    pub output_limits: OutputLimits,
    /// The longest bulk string a client may send.
    pub proto_max_bulk_len: usize,
    /// The most unanswered input one client may buffer.
    pub client_query_buffer_limit: usize,
    /// The eviction policy and its parameters.
    pub eviction: crate::db::EvictionSettings,
    /// The slow log's threshold in microseconds (negative: off).
    pub slowlog_log_slower_than: i64,
    /// The slow log's length.
    pub slowlog_max_len: usize,
    /// The configuration file the server was started with, which CONFIG REWRITE writes.
    pub config_file: Option<PathBuf>,
    /// Replication: the primary to follow, the backlog, the settings.
    pub repl: crate::repl::Flags,
    /// Cluster mode and its settings.
    pub cluster: crate::cluster::Flags,
}

/// An output buffer limit: Redis's `client-output-buffer-limit` for one class of client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    /// Pending output at which the client is disconnected at once (0: none).
    pub hard: usize,
    /// Pending output the client may stay above for `soft_seconds` only (0: none).
    pub soft: usize,
    /// How long the soft limit may be passed without a break.
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// No limit.
    pub const NONE: OutputLimit = OutputLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    };
}

/// The output buffer limit of each class of client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    /// Ordinary clients.
    pub normal: OutputLimit,
    /// Replicas of this server.
    pub replica: OutputLimit,
    /// Clients subscribed to a channel, pattern or shard channel.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults: `normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        Self {
            normal: OutputLimit::NONE,
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputLimits {
    /// These limits changed by `text`, Redis's `client-output-buffer-limit` value: groups of
    /// `class hard soft seconds`. Nothing changes unless all of it is valid.
    pub fn parse(&self, text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut limits = *self;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut limits.normal,
                "replica" | "slave" => &mut limits.replica,
                "pubsub" => &mut limits.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bytes = |s: &str| parse_memory(s).and_then(|n| usize::try_from(n).ok());
            let (Some(hard), Some(soft), Ok(soft_seconds)) =
                (bytes(group[1]), bytes(group[2]), group[3].parse::<u64>())
            else {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                );
            };
            *class = OutputLimit {
                hard,
                soft,
                soft_seconds,
            };
        }
        Ok(limits)
    }

    /// As `CONFIG GET client-output-buffer-limit` shows them.
    pub fn render(&self) -> String {
        let one = |l: OutputLimit| format!("{} {} {}", l.hard, l.soft, l.soft_seconds);
        format!(
            "normal {} slave {} pubsub {}",
            one(self.normal),
            one(self.replica),
            one(self.pubsub)
        )
    }
}

/// A size as Redis's `memtoull` reads it: digits, then optionally `k`, `kb`, `m`, `mb`, `g` or
/// `gb` in any case (`k` is 1000, `kb` 1024).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Why flags do not make a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `--threads 0`.
    NoThreads,
    /// `--reserve` too small for a table, or `--maxmemory` above it.
    Memory(String),
    /// `--max-clients 0`.
    NoClients,
    /// The password file cannot be read, or the password is empty.
    Password(String),
    /// `--client-output-buffer-limit` does not parse.
    OutputLimit(String),
    /// `--replicaof` does not name a primary.
    Replication(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NoThreads => f.write_str("--threads must be at least 1"),
            ConfigError::Memory(why) => f.write_str(why),
            ConfigError::NoClients => f.write_str("--max-clients must be at least 1"),
            ConfigError::Password(why) => write!(f, "password: {why}"),
            ConfigError::OutputLimit(why) => write!(f, "--client-output-buffer-limit: {why}"),
            ConfigError::Replication(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The table's memory for a server: `reserve` bytes of address space for the arena (a quarter
/// as much for the index), at most `maxmemory` of them in use (0: no limit).
pub fn storage(reserve: usize, maxmemory: usize) -> StorageConfig {
    StorageConfig {
        arena_bytes: reserve,
        index_bytes: (reserve / 4).max(1 << 20),
        table: kv_nostd::Config {
            max_key: crate::db::MAX_LENGTH,
            max_value: crate::db::MAX_LENGTH,
            max_memory: maxmemory,
            ..kv_nostd::Config::HOST
        },
    }
}

/// The address space reserved for data by default: 64 GiB, or twice the machine's memory.
fn default_reserve() -> usize {
    // SAFETY: `sysconf` reads a system value and has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let physical =
        usize::try_from(pages.max(0)).unwrap_or(0) * usize::try_from(page.max(0)).unwrap_or(0);
    (64usize << 30).max(physical.saturating_mul(2))
}

impl Config {
    /// Checks `args` and fills in what depends on the machine.
    pub fn from_args(args: &Args) -> Result<Self, ConfigError> {
        let threads = match args.threads {
            Some(0) => return Err(ConfigError::NoThreads),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        let reserve = args.reserve.unwrap_or_else(default_reserve);
        if reserve < 1 << 20 {
            return Err(ConfigError::Memory(format!(
                "--reserve {reserve} is too small: at least 1mb"
            )));
        }
        if args.maxmemory > reserve {
            return Err(ConfigError::Memory(format!(
                "--maxmemory {} is above the {reserve} bytes reserved for data (--reserve)",
                args.maxmemory
            )));
        }
        if args.max_clients == 0 {
            return Err(ConfigError::NoClients);
        }
        let password = match (&args.requirepass, &args.requirepass_file) {
            (Some(p), _) => Some(p.as_bytes().to_vec()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Password(format!("{}: {e}", path.display())))?;
                Some(text.lines().next().unwrap_or_default().as_bytes().to_vec())
            }
            (None, None) => None,
        };
        if password.as_ref().is_some_and(|p| p.is_empty()) {
            return Err(ConfigError::Password("the password is empty".into()));
        }
        let output_limits = match &args.client_output_buffer_limit {
            None => OutputLimits::default(),
            Some(text) => OutputLimits::default()
                .parse(text)
                .map_err(ConfigError::OutputLimit)?,
        };
        Ok(Self {
            addr: SocketAddr::new(args.bind, args.port),
            threads,
            storage: storage(reserve, args.maxmemory),
            max_clients: args.max_clients,
            persist: (!args.no_persist).then(|| Options {
                aof: args
                    .aof
                    .clone()
                    .unwrap_or_else(|| default_aof(&args.backup)),
                backup: args.backup.clone(),
                fsync: args.fsync,
                save_interval: (args.save_interval > 0)
                    .then(|| Duration::from_secs(args.save_interval)),
                force_empty: args.force_empty,
            }),
            rdb_import: args
                .rdb_import
                .clone()
                .map(|path| crate::persist::import::RdbImport {
                    path,
                    skip_unsupported: args.rdb_skip_unsupported,
                }),
            password,
            protected_mode: args.protected_mode,
            idle_timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
            busy_poll: Duration::from_micros(args.busy_poll),
            io: args.io,
            output_limits,
            proto_max_bulk_len: args.proto_max_bulk_len,
            client_query_buffer_limit: args.client_query_buffer_limit,
            eviction: crate::db::EvictionSettings {
                policy: args.maxmemory_policy,
                samples: args.maxmemory_samples,
                lfu_log_factor: args.lfu_log_factor,
                lfu_decay_time: args.lfu_decay_time,
            },
            slowlog_log_slower_than: args.slowlog_log_slower_than,
            slowlog_max_len: args.slowlog_max_len,
            // Absolute, as Redis keeps it: INFO shows it, and CONFIG REWRITE finds it whatever
            // the working directory becomes.
            config_file: args
                .config_file
                .as_deref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())),
            repl: {
                args.repl.primary().map_err(ConfigError::Replication)?;
                args.repl.clone()
            },
            cluster: args.cluster.clone(),
        })
    }

    /// A configuration for tests and embedding: loopback, a free port, 2 threads, 4 GiB of
    /// address space for data, nothing kept on disk; the I/O loop KV_IO names.
    pub fn local() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            threads: 2,
            storage: storage(4 << 30, 0),
            max_clients: 10_000,
            persist: None,
            rdb_import: None,
            password: None,
            protected_mode: true,
            idle_timeout: None,
            busy_poll: Duration::ZERO,
            io: IoMode::from_env(),
            output_limits: OutputLimits::default(),
            proto_max_bulk_len: PROTO_MAX_BULK_LEN,
            client_query_buffer_limit: CLIENT_QUERY_BUFFER_LIMIT,
            eviction: Default::default(),
            slowlog_log_slower_than: crate::cmd::slowlog::DEFAULT_SLOWER_THAN,
            slowlog_max_len: crate::cmd::slowlog::DEFAULT_MAX_LEN,
            config_file: None,
            repl: crate::repl::Flags::default(),
            cluster: crate::cluster::Flags::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Config, ConfigError> {
        let args = Args::try_parse_from(std::iter::once("kv-server").chain(flags.iter().copied()))
            .expect("flags parse");
        Config::from_args(&args)
    }

    #[test]
    fn defaults_are_loopback_on_7878() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.addr, "127.0.0.1:7878".parse().unwrap());
        assert!(c.threads >= 1);
        assert_eq!(c.storage.table.max_memory, 0);
        assert!(c.storage.arena_bytes >= 64 << 30);
        let p = c.persist.expect("persistence on by default");
        assert_eq!(p.backup, PathBuf::from("kv-backup.txt"));
        assert_eq!(p.aof, PathBuf::from("kv-backup.aof"));
        assert_eq!(p.fsync, Fsync::Always);
        assert_eq!(p.save_interval, Some(Duration::from_secs(60)));
        assert!(parse(&["--no-persist"]).unwrap().persist.is_none());
        assert!(c.protected_mode && c.password.is_none() && c.idle_timeout.is_none());
    }

    #[test]
    fn the_password_comes_from_a_flag_or_a_file() {
        assert_eq!(
            parse(&["--requirepass", "s3cret"]).unwrap().password,
            Some(b"s3cret".to_vec())
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from file\nignored\n").unwrap();
        let c = parse(&["--requirepass-file", file.to_str().unwrap()]).unwrap();
        assert_eq!(c.password, Some(b"from file".to_vec()));
        assert!(matches!(
            parse(&["--requirepass", ""]),
            Err(ConfigError::Password(_))
        ));
        assert!(!parse(&["--protected-mode", "no"]).unwrap().protected_mode);
    }

    #[test]
    fn maxmemory_reads_sizes_as_redis_does() {
        assert_eq!(
            parse(&["--maxmemory", "100mb"])
                .unwrap()
                .storage
                .table
                .max_memory,
            100 << 20
        );
        assert_eq!(
            parse(&["--maxmemory", "1000"])
                .unwrap()
                .storage
                .table
                .max_memory,
            1000
        );
        let small = parse(&["--reserve", "16mb"]).unwrap().storage;
        assert_eq!((small.arena_bytes, small.index_bytes), (16 << 20, 4 << 20));
        assert!(matches!(
            parse(&["--reserve", "16mb", "--maxmemory", "1gb"]),
            Err(ConfigError::Memory(_))
        ));
    }

    #[test]
    fn eviction_flags_take_redis_names_and_bounds() {
        let e = parse(&[]).unwrap().eviction;
        assert_eq!(e, crate::db::EvictionSettings::default());
        assert_eq!(e.policy, kv_nostd::Policy::NoEviction);
        assert_eq!((e.samples, e.lfu_log_factor, e.lfu_decay_time), (5, 10, 1));
        let e = parse(&[
            "--maxmemory-policy",
            "ALLKEYS-LFU",
            "--maxmemory-samples",
            "100",
            "--lfu-log-factor",
            "0",
            "--lfu-decay-time",
            "0",
        ])
        .unwrap()
        .eviction;
        assert_eq!(e.policy, kv_nostd::Policy::AllKeysLfu);
        assert_eq!((e.samples, e.lfu_log_factor, e.lfu_decay_time), (100, 0, 0));
        for bad in [
            &["--maxmemory-policy", "lru"][..],
            &["--maxmemory-samples", "0"],
            &["--lfu-log-factor", "-1"],
        ] {
            assert!(Args::try_parse_from(["kv-server"].iter().chain(bad)).is_err());
        }
    }

    #[test]
    fn output_limits_read_as_redis_writes_them() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            c.output_limits.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let c = parse(&[
            "--client-output-buffer-limit",
            "pubsub 1mb 512kb 10 normal 1k 0 0",
        ])
        .unwrap();
        assert_eq!(
            c.output_limits.pubsub,
            OutputLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
        assert_eq!(c.output_limits.normal.hard, 1000);
        for bad in [
            "pubsub 1 2",
            "nobody 1 2 3",
            "pubsub x 2 3",
            "pubsub 1 2 -3",
        ] {
            assert!(matches!(
                parse(&["--client-output-buffer-limit", bad]),
                Err(ConfigError::OutputLimit(_))
            ));
        }
        assert_eq!(parse_memory("8MB"), Some(8 << 20));
        assert_eq!(parse_memory("3g"), Some(3_000_000_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(parse_memory(""), None);
    }

    #[test]
    fn a_configuration_file_comes_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.conf");
        std::fs::write(
            &path,
            "# kv\nmaxmemory 10mb\nmaxclients 77\nsave \"\"\ndaemonize yes\n\
             client-output-buffer-limit normal 1mb 0 0\nclient-output-buffer-limit pubsub 2mb 1mb 5\n\
             threads 3\nno-persist\nmaxmemory-policy 'allkeys-lru'\n",
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let (args, ignored) = Args::parse_with_file(["kv-server", file, "--threads", "2"]).unwrap();
        assert_eq!(ignored, ["daemonize yes"]);
        let c = Config::from_args(&args).unwrap();
        assert_eq!(c.storage.table.max_memory, 10 << 20);
        assert_eq!((c.max_clients, c.threads), (77, 2));
        assert!(c.persist.is_none());
        assert_eq!(c.eviction.policy, kv_nostd::Policy::AllKeysLru);
        assert_eq!(c.output_limits.normal.hard, 1 << 20);
        assert_eq!(c.output_limits.pubsub.soft_seconds, 5);
        assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
        assert_eq!(
            split_args(r#"a "b c\x41\n" 'd\'e'"#),
            Some(vec!["a".into(), "b cA\n".into(), "d'e".into()])
        );
        assert_eq!(split_args("a \"b"), None);
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(
            parse(&["--threads", "0"]).unwrap_err(),
            ConfigError::NoThreads
        );
        assert!(matches!(
            parse(&["--reserve", "1000"]),
            Err(ConfigError::Memory(_))
        ));
        assert_eq!(
            parse(&["--max-clients", "0"]).unwrap_err(),
            ConfigError::NoClients
        );
    }
}
