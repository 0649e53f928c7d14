//! `kv-client`: put (a value, or a file's bytes), get, delete and ping a kv server from the
//! command line, and import or export backups through the pipelined client, or RDB files over
//! the Redis protocol. Given several servers (a primary and its replicas), it speaks the Redis
//! protocol, writes to the primary, reads where `--read-from` says and follows a new primary.
//! With `--partition`, the servers are independent and each holds the keys the scheme gives it.
//! With `--cluster`, they are seeds of a Redis Cluster: each key goes to its slot's owner.
//!
//! Exit codes: 0 done; 1 the key was not found; 2 the server could not be reached after the
//! retries (clap also exits 2 on a usage error, with its usage text on stderr); 3 the server
//! refused the request or answered outside the protocol; 4 a file could not be read or written,
//! was corrupt, or had bad lines (the good lines were imported).

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kv_std::backup_format::{self, BackupReader, BackupWriter, Trailer, TrailerCheck};
use kv_std::client::resp::{CallError, Value};
use kv_std::client::{
    Batch, Client, ClientConfig, Cluster, Error, Partition, ReadFrom, Reply, RetryPolicy, Routed,
    MAX_VALUE,
};
use kv_std::rdb::{LoadOptions, Loader, WriteOptions, Writer};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const NOT_FOUND: u8 = 1;
const UNREACHABLE: u8 = 2;
const REFUSED: u8 = 3;
const FILE_PROBLEM: u8 = 4;
/// A usage error, as clap reports its own.
const USAGE: u8 = 2;

/// Requests per pipelined batch during import.
const IMPORT_BATCH: usize = 10_000;
/// Bytes of requests past which an import batch is sent, whatever its count.
const IMPORT_BATCH_BYTES: usize = 8 << 20;
/// An entry larger than this is sent on its own, straight from where it was read, rather than
/// copied into a batch; an export fetches such a value only when it writes it.
const LARGE: usize = 1 << 20;
/// How much of a backup is read at a time.
const READ_BUFFER: usize = 1 << 20;

/// `kv-client`'s flags, as typed.
#[derive(Parser, Debug)]
#[command(
    name = "kv-client",
    version,
    about = "Talk to a kv server over its native protocol.",
    after_help = "Exit codes: 0 ok, 1 not found, 2 unreachable (or bad usage), 3 refused by the \
                  server, 4 file problem or bad lines skipped."
)]
struct Args {
    /// Server host name or address.
    #[arg(long, global = true, default_value = "127.0.0.1")]
    host: String,

    /// Server port.
    #[arg(long, global = true, default_value_t = kv_std::config::DEFAULT_PORT)]
    port: u16,

    /// Seconds to wait for a connection, and for each answer, before retrying.
    #[arg(long, global = true, default_value = "2", value_parser = parse_timeout)]
    timeout: Duration,

    /// Retries after a lost connection or a timeout, with exponential backoff from 50 ms
    /// (capped at 2 s).
    #[arg(long, global = true, default_value_t = RetryPolicy::DEFAULT.retries)]
    retries: u32,

    /// The server's password (for a server started with --requirepass). Prefer the
    /// KV_PASSWORD environment variable, which keeps it out of the process list.
    #[arg(long, global = true, env = "KV_PASSWORD", hide_env_values = true)]
    password: Option<String>,

    /// A primary and its replicas, in place of --host and --port: HOST:PORT,HOST:PORT,...
    /// (more are learned from their ROLE answers). Commands then go over the Redis protocol:
    /// writes to the server answering ROLE as master, found again when a write is refused
    /// with READONLY or a connection fails.
    #[arg(long, global = true, value_delimiter = ',', value_name = "HOST:PORT,...",
          value_parser = parse_server)]
    servers: Vec<(String, u16)>,

    /// Which server answers reads: primary (sees every write), replica (one in sync with the
    /// primary if any; may lag), or any (the first that answers). Other than primary, commands
    /// go over the Redis protocol, as with --servers.
    #[arg(long, global = true, value_enum, default_value_t = ReadTarget::Primary)]
    read_from: ReadTarget,

    /// Split the keys between the --servers, each an independent server holding its share,
    /// over the native protocol: hash (FNV-1a 64 of the key modulo the number of servers, in
    /// the order given) or range:LO-HI,... (one range of first bytes per server, ASCII letters
    /// case-folded, the first reaching down to 0x00 and the last up to 0xFF; a gap or an
    /// overlap is refused).
    #[arg(long, global = true, value_name = "SCHEME", value_parser = parse_partition,
          requires = "servers", conflicts_with = "read_from")]
    partition: Option<Partition>,

    /// The --servers (or --host and --port) are seeds of a Redis Cluster: the slot map is read
    /// with CLUSTER SLOTS from the first that answers (with every slot served, if one does),
    /// each command goes over the Redis protocol to the primary owning its key's slot, MOVED
    /// and ASK are followed (16 redirections at most), import sends each entry to its slot's
    /// owner and export gathers every primary's.
    #[arg(long, global = true, conflicts_with_all = ["partition", "read_from"])]
    cluster: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Set KEY to VALUE, or to the bytes of a file with --file.
    Put {
        key: OsString,
        #[arg(required_unless_present = "file")]
        value: Option<OsString>,
        /// Store this file's bytes as the value ("-" reads standard input).
        #[arg(long, value_name = "PATH", conflicts_with = "value")]
        file: Option<PathBuf>,
    },
    /// Print KEY's value.
    Get { key: OsString },
    /// Remove KEY.
    Delete { key: OsString },
    /// Check the server answers.
    Ping,
    /// Load a backup file (or plain key,value lines), or an RDB file, into the server.
    Import {
        #[arg(required_unless_present = "rdb")]
        file: Option<PathBuf>,
        /// Load this RDB file (Redis's snapshot format, versions 1 to 10) instead: its string
        /// keys with their expiry times, over the Redis protocol.
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        rdb: Option<PathBuf>,
        /// With --rdb, skip keys of types kv does not store (lists, hashes, ...) and count
        /// them, instead of stopping at the first.
        #[arg(long, requires = "rdb")]
        skip_unsupported: bool,
    },
    /// Write every entry to FILE in the backup format, or to an RDB file.
    Export {
        #[arg(required_unless_present = "rdb")]
        file: Option<PathBuf>,
        /// Write an RDB file (version 10, Redis 7.0's) instead: every key with its value and
        /// expiry time, read over the Redis protocol from the server --read-from picks.
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        rdb: Option<PathBuf>,
    },
}

/// `--read-from`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReadTarget {
    Primary,
    Replica,
    Any,
}

impl From<ReadTarget> for ReadFrom {
    fn from(t: ReadTarget) -> Self {
        match t {
            ReadTarget::Primary => ReadFrom::Primary,
            ReadTarget::Replica => ReadFrom::Replica,
            ReadTarget::Any => ReadFrom::Any,
        }
    }
}

/// `HOST:PORT`, or `[HOST]:PORT` for an IPv6 literal.
fn parse_server(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT, got '{s}'"))?;
    let port = port
        .parse()
        .map_err(|_| format!("'{port}' is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("expected HOST:PORT, got '{s}'"));
    }
    Ok((host.to_string(), port))
}

fn parse_partition(s: &str) -> Result<Partition, String> {
    Partition::parse(s).map_err(|e| e.to_string())
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err("expected a number of seconds above 0 and at most 86400".into()),
    }
}

/// A failure to report, with the exit code it leads to.
struct Exit {
    code: u8,
    /// The whole line for stderr, without its newline.
    line: Vec<u8>,
}

impl Exit {
    fn client(e: Error) -> Self {
        let code = match e {
            Error::Unreachable { .. } => UNREACHABLE,
            _ => REFUSED,
        };
        Self {
            code,
            line: format!("kv-client: {e}").into_bytes(),
        }
    }

    fn file(path: &Path, what: impl std::fmt::Display) -> Self {
        Self {
            code: FILE_PROBLEM,
            line: format!("kv-client: {}: {what}", path.display()).into_bytes(),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (host, port) = match args.servers.first() {
        Some(first) => first.clone(),
        None => (args.host.clone(), args.port),
    };
    let config = ClientConfig {
        connect_timeout: args.timeout,
        io_timeout: args.timeout,
        retry: RetryPolicy {
            retries: args.retries,
            ..RetryPolicy::DEFAULT
        },
        password: args.password.map(String::into_bytes),
        ..ClientConfig::new(host.clone(), port)
    };
    let routed_mode = !args.servers.is_empty() || args.read_from != ReadTarget::Primary;
    let partitioned = match &args.partition {
        Some(partition) => match partition.check(args.servers.len()) {
            Ok(()) => Some((partition.clone(), args.servers.clone())),
            Err(e) => {
                eprintln!("kv-client: --partition: {e}");
                return ExitCode::from(USAGE);
            }
        },
        None => None,
    };
    let servers = if args.servers.is_empty() {
        vec![(host, port)]
    } else {
        args.servers
    };
    let cluster_seeds = args.cluster.then(|| servers.clone());
    let mut routed = Routed::new(servers, args.read_from.into(), config.clone());
    let mut client = Client::new(config);
    let mut out = io::stdout().lock();
    let result = if let Some(seeds) = cluster_seeds {
        let mut cluster = Cluster::new(seeds, client.config().clone());
        run_cluster(args.command, &mut cluster, &mut out)
    } else if let Some((partition, servers)) = partitioned {
        let mut clients: Vec<Client> = servers
            .into_iter()
            .map(|(host, port)| {
                Client::new(ClientConfig {
                    host,
                    port,
                    ..client.config().clone()
                })
            })
            .collect();
        run_partitioned(
            args.command,
            &partition,
            &mut clients,
            &mut routed,
            &mut out,
        )
    } else if routed_mode {
        run_routed(args.command, &mut client, &mut routed, &mut out)
    } else {
        run(args.command, &mut client, &mut routed, &mut out)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            let _ = out.flush();
            let mut err = io::stderr().lock();
            let _ = err.write_all(&exit.line);
            let _ = err.write_all(b"\n");
            ExitCode::from(exit.code)
        }
    }
}

fn printed(r: io::Result<()>) -> Result<(), Exit> {
    r.map_err(|e| Exit {
        code: FILE_PROBLEM,
        line: format!("kv-client: cannot write to stdout: {e}").into_bytes(),
    })
}

fn run(
    command: Command,
    client: &mut Client,
    routed: &mut Routed,
    out: &mut impl Write,
) -> Result<(), Exit> {
    match command {
        Command::Put {
            key,
            value: Some(value),
            file: None,
        } => {
            let (key, value) = (key.into_encoded_bytes(), value.into_encoded_bytes());
            client.put(&key, &value).map_err(Exit::client)?;
            printed(write_line(out, &[b"\xE2\x9C\x93 ", &key, b" = ", &value]))
        }
        Command::Put { key, file, .. } => {
            // clap requires a value or a file, and not both.
            let path = file.unwrap_or_else(|| PathBuf::from("-"));
            let key = key.into_encoded_bytes();
            let (value, source) = read_value(&path)?;
            client.put(&key, &value).map_err(Exit::client)?;
            let summary = format!("<{} bytes from {source}>", value.len());
            printed(write_line(
                out,
                &[b"\xE2\x9C\x93 ", &key, b" = ", summary.as_bytes()],
            ))
        }
        Command::Get { key } => {
            let key = key.into_encoded_bytes();
            // Printed from the client's buffer: a large value is not copied first.
            let shown = client
                .get_with(&key, |value| write_line(out, &[value]))
                .map_err(Exit::client)?;
            match shown {
                Some(written) => printed(written),
                None => Err(not_found(&key)),
            }
        }
        Command::Delete { key } => {
            let key = key.into_encoded_bytes();
            if client.delete(&key).map_err(Exit::client)? {
                printed(write_line(out, &[b"\xE2\x9C\x93 deleted ", &key]))
            } else {
                Err(not_found(&key))
            }
        }
        Command::Ping => {
            client.ping().map_err(Exit::client)?;
            printed(write_line(out, &[b"PONG"]))
        }
        Command::Import {
            rdb: Some(path),
            skip_unsupported,
            ..
        } => import_rdb(&path, skip_unsupported, routed, out),
        Command::Import { file, .. } => {
            import(&required(file), std::slice::from_mut(client), &|_| 0, out)
        }
        Command::Export {
            rdb: Some(path), ..
        } => export_rdb(&path, routed, out),
        Command::Export { file, .. } => export(&required(file), std::slice::from_mut(client), out),
    }
}

/// The commands with `--partition`: each key's command goes to the server the scheme names, an
/// import sends each entry to its server, and an export collects every server's entries.
fn run_partitioned(
    command: Command,
    partition: &Partition,
    clients: &mut [Client],
    routed: &mut Routed,
    out: &mut impl Write,
) -> Result<(), Exit> {
    let n = clients.len();
    let place = |key: &[u8]| partition.server_of(key, n);
    match command {
        Command::Put { ref key, .. } | Command::Get { ref key } | Command::Delete { ref key } => {
            let i = place(key.as_encoded_bytes());
            run(command, &mut clients[i], routed, out)
        }
        Command::Ping => {
            for client in clients.iter_mut() {
                client.ping().map_err(Exit::client)?;
            }
            printed(write_line(out, &[b"PONG"]))
        }
        Command::Import { rdb: Some(_), .. } | Command::Export { rdb: Some(_), .. } => Err(Exit {
            code: USAGE,
            line: b"kv-client: --rdb is not supported with --partition".to_vec(),
        }),
        Command::Import { file, .. } => import(&required(file), clients, &place, out),
        Command::Export { file, .. } => export(&required(file), clients, out),
    }
}

/// A file argument clap requires unless another one is given.
fn required(file: Option<PathBuf>) -> PathBuf {
    file.unwrap_or_else(|| PathBuf::from("-"))
}

/// The commands over the Redis protocol, through [`Routed`]: writes to the primary, reads where
/// `--read-from` says. Backups in kv's own format still go over the native protocol, to the
/// first server given.
fn run_routed(
    command: Command,
    client: &mut Client,
    routed: &mut Routed,
    out: &mut impl Write,
) -> Result<(), Exit> {
    let rest = run_resp(
        command,
        &mut |args, write| {
            if write {
                routed.write(args)
            } else {
                routed.read(args)
            }
        },
        out,
    )?;
    match rest {
        Some(other) => run(other, client, routed, out),
        None => Ok(()),
    }
}

/// Sends one Redis command: its arguments, and whether it writes.
type Send<'a> = dyn FnMut(&[&[u8]], bool) -> Result<Value, Error> + 'a;

/// Put, get, delete and ping as Redis commands, each sent with `send`; any other command is
/// handed back.
fn run_resp(
    command: Command,
    send: &mut Send<'_>,
    out: &mut impl Write,
) -> Result<Option<Command>, Exit> {
    let unexpected = |command: &str, v: Value| Exit::client(v.unexpected(command));
    match command {
        Command::Put { key, value, file } => {
            let key = key.into_encoded_bytes();
            let (value, summary) = match (value, file) {
                (Some(value), None) => {
                    let value = value.into_encoded_bytes();
                    let shown = value.clone();
                    (value, shown)
                }
                (_, file) => {
                    let path = file.unwrap_or_else(|| PathBuf::from("-"));
                    let (value, source) = read_value(&path)?;
                    let summary = format!("<{} bytes from {source}>", value.len()).into_bytes();
                    (value, summary)
                }
            };
            match send(&[b"SET", &key, &value], true).map_err(Exit::client)? {
                Value::Simple(ok) if ok == b"OK" => {}
                other => return Err(unexpected("SET", other)),
            }
            printed(write_line(out, &[b"\xE2\x9C\x93 ", &key, b" = ", &summary]))?;
        }
        Command::Get { key } => {
            let key = key.into_encoded_bytes();
            match send(&[b"GET", &key], false).map_err(Exit::client)? {
                Value::Bulk(value) => printed(write_line(out, &[&value]))?,
                Value::Null => return Err(not_found(&key)),
                other => return Err(unexpected("GET", other)),
            }
        }
        Command::Delete { key } => {
            let key = key.into_encoded_bytes();
            match send(&[b"DEL", &key], true).map_err(Exit::client)? {
                Value::Int(1) => printed(write_line(out, &[b"\xE2\x9C\x93 deleted ", &key]))?,
                Value::Int(0) => return Err(not_found(&key)),
                other => return Err(unexpected("DEL", other)),
            }
        }
        Command::Ping => match send(&[b"PING"], false).map_err(Exit::client)? {
            Value::Simple(pong) if pong == b"PONG" => printed(write_line(out, &[b"PONG"]))?,
            other => return Err(unexpected("PING", other)),
        },
        other => return Ok(Some(other)),
    }
    Ok(None)
}

/// The commands with `--cluster`: each key's command goes to its slot's owner, `ping` asks every
/// primary, an import routes each entry and an export gathers every primary's keys.
fn run_cluster(command: Command, cluster: &mut Cluster, out: &mut impl Write) -> Result<(), Exit> {
    match command {
        Command::Ping => {
            for addr in cluster.primaries().map_err(Exit::client)? {
                match cluster
                    .on_node(&addr, |conn| conn.call(&[b"PING"]))
                    .map_err(Exit::client)?
                {
                    Value::Simple(pong) if pong == b"PONG" => {}
                    other => return Err(Exit::client(other.unexpected("PING"))),
                }
            }
            printed(write_line(out, &[b"PONG"]))
        }
        Command::Import { rdb: Some(_), .. } | Command::Export { rdb: Some(_), .. } => Err(Exit {
            code: USAGE,
            line: b"kv-client: --rdb is not supported with --cluster".to_vec(),
        }),
        Command::Import { file, .. } => import_cluster(&required(file), cluster, out),
        Command::Export { file, .. } => export_cluster(&required(file), cluster, out),
        other => run_resp(other, &mut |args, _| cluster.call(args), out).map(drop),
    }
}

/// One entry of a cluster import: its line number, key, value and `PXAT` time (as text).
type ClusterEntry = (u64, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// Imports a backup into a cluster with `SET key value [PXAT ms]`, pipelined to each slot's
/// owner in batches; entries already expired are left out, the others keep their deadlines.
fn import_cluster(path: &Path, cluster: &mut Cluster, out: &mut impl Write) -> Result<(), Exit> {
    let started = Instant::now();
    let (input, _) = open_backup(path)?;
    let mut reader = BackupReader::new(input);
    let (mut imported, mut skipped, mut expired) = (0u64, 0u64, 0u64);
    let mut stderr = io::stderr();
    let mut report = |line: u64, why: &dyn std::fmt::Display| {
        skipped += 1;
        let _ = writeln!(
            stderr,
            "kv-client: {}:{line}: {why}; skipped",
            path.display()
        );
    };
    let mut send = |batch: &mut Vec<ClusterEntry>,
                    report: &mut dyn FnMut(u64, &dyn std::fmt::Display)|
     -> Result<(), Exit> {
        let commands: Vec<Vec<&[u8]>> = batch
            .iter()
            .map(|(_, key, value, at)| match at {
                Some(at) => vec![&b"SET"[..], key, value, b"PXAT", at],
                None => vec![&b"SET"[..], key, value],
            })
            .collect();
        let commands: Vec<&[&[u8]]> = commands.iter().map(Vec::as_slice).collect();
        let replies = cluster.call_many(&commands).map_err(Exit::client)?;
        for ((line, ..), reply) in batch.iter().zip(replies) {
            match reply {
                Value::Simple(ok) if ok == b"OK" => imported += 1,
                Value::Error(e) => report(*line, &String::from_utf8_lossy(&e)),
                other => return Err(Exit::client(other.unexpected("SET"))),
            }
        }
        batch.clear();
        Ok(())
    };
    let now_ms = kv_std::db::unix_ms();
    let mut batch: Vec<ClusterEntry> = Vec::new();
    let mut batch_bytes = 0;
    let mut fatal = None;
    while let Some((number, entry)) = reader.next_expiring_entry() {
        match entry {
            Ok((Some(at), ..)) if at <= now_ms => expired += 1,
            Ok((at, key, value)) => {
                batch_bytes += key.len() + value.len();
                let at = at.map(|at| at.to_string().into_bytes());
                batch.push((number, key.to_vec(), value.to_vec(), at));
                if batch.len() >= RDB_BATCH || batch_bytes >= IMPORT_BATCH_BYTES {
                    send(&mut batch, &mut report)?;
                    batch_bytes = 0;
                }
            }
            Err(e) if e.is_fatal() => {
                fatal = Some(format!("line {number}: {e}"));
                break;
            }
            Err(e) => report(number, &e),
        }
    }
    send(&mut batch, &mut report)?;
    let secs = started.elapsed().as_secs_f64();
    let rate = imported as f64 / secs.max(1e-9);
    let mut summary = format!("imported {imported} entries in {secs:.2} s ({rate:.0} entries/s)");
    if skipped > 0 {
        summary.push_str(&format!(", skipped {skipped} bad lines"));
    }
    if expired > 0 {
        summary.push_str(&format!(", left out {expired} expired entries"));
    }
    let _ = writeln!(out, "{summary}");
    if let Some(why) = fatal {
        return Err(Exit::file(path, why));
    }
    if let Some(Trailer::Absent { had_header: true }) = reader.trailer() {
        let _ = writeln!(
            io::stderr(),
            "kv-client: {}: warning: no trailer, so truncation cannot be ruled out",
            path.display()
        );
    }
    if skipped > 0 {
        return Err(Exit {
            code: FILE_PROBLEM,
            line: format!("kv-client: {}: {skipped} bad lines skipped", path.display())
                .into_bytes(),
        });
    }
    Ok(())
}

/// Exports every key of a cluster, with its value and deadline, to one backup file: `SCAN` on
/// every primary for the keys, then `GET` and `PEXPIRETIME` of each from its slot's owner,
/// pipelined. A key deleted meanwhile is left out; one of another type than string stops the
/// export, naming it.
fn export_cluster(path: &Path, cluster: &mut Cluster, out: &mut impl Write) -> Result<(), Exit> {
    let started = Instant::now();
    let keys: Vec<Vec<u8>> = cluster.keys().map_err(Exit::client)?.into_iter().collect();
    let file = File::create(path).map_err(|e| Exit::file(path, e))?;
    let mut writer = BackupWriter::new(BufWriter::new(file), 1).map_err(|e| Exit::file(path, e))?;
    for chunk in keys.chunks(RDB_BATCH / 2) {
        let commands: Vec<[&[u8]; 2]> = chunk
            .iter()
            .flat_map(|key| [[&b"GET"[..], key], [b"PEXPIRETIME", key]])
            .collect();
        let commands: Vec<&[&[u8]]> = commands.iter().map(|c| &c[..]).collect();
        let replies = cluster.call_many(&commands).map_err(Exit::client)?;
        for (key, pair) in chunk.iter().zip(replies.chunks(2)) {
            if let Some((value, deadline)) = string_entry(key, pair, "")? {
                writer
                    .expiring_entry(deadline.map(|ms| ms as u64), key, value)
                    .map_err(|e| Exit::file(path, e))?;
            }
        }
    }
    let (buffered, n) = writer.finish().map_err(|e| Exit::file(path, e))?;
    sync_export(path, buffered, started, &format!("{n} entries"), out)
}

/// The bytes of the file at `path` ("-" for standard input), read into one buffer that is then
/// sent as it is, and how to name where they came from. A value longer than a server takes is
/// refused before it is read.
fn read_value(path: &Path) -> Result<(Vec<u8>, String), Exit> {
    let too_long = |len: u64| {
        Exit::client(Error::ValueTooLong(format!(
            "value of {len} bytes exceeds the maximum of {MAX_VALUE} bytes"
        )))
    };
    if path == Path::new("-") {
        let mut value = Vec::new();
        io::stdin()
            .lock()
            .take(MAX_VALUE as u64 + 1)
            .read_to_end(&mut value)
            .map_err(|e| Exit::file(Path::new("stdin"), e))?;
        if value.len() > MAX_VALUE {
            return Err(too_long(value.len() as u64));
        }
        return Ok((value, "stdin".into()));
    }
    let mut file = File::open(path).map_err(|e| Exit::file(path, e))?;
    let len = file.metadata().map_err(|e| Exit::file(path, e))?.len();
    if len > MAX_VALUE as u64 {
        return Err(too_long(len));
    }
    let mut value = Vec::with_capacity(len as usize);
    file.read_to_end(&mut value)
        .map_err(|e| Exit::file(path, e))?;
    Ok((value, path.display().to_string()))
}

fn write_line(out: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    for p in parts {
        out.write_all(p)?;
    }
    out.write_all(b"\n")?;
    out.flush()
}

fn not_found(key: &[u8]) -> Exit {
    let mut line = b"not found: ".to_vec();
    line.extend_from_slice(key);
    Exit {
        code: NOT_FOUND,
        line,
    }
}

/// Opens a backup to import and checks its trailer first, so that a corrupt file is refused
/// before anything is sent. A regular file is read twice, a piece at a time, never held whole;
/// anything else (a pipe) is read into memory once. Returns the reader and the file's length.
fn open_backup(path: &Path) -> Result<(Box<dyn BufRead>, u64), Exit> {
    let fail = |e: io::Error| Exit::file(path, e);
    let refuse =
        |e: backup_format::LineError| Exit::file(path, format!("{e}; nothing was imported"));
    let mut file = File::open(path).map_err(fail)?;
    if !file.metadata().map_err(fail)?.is_file() {
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(fail)?;
        backup_format::check_trailer(&data).map_err(refuse)?;
        let len = data.len() as u64;
        return Ok((Box::new(io::Cursor::new(data)), len));
    }
    let mut check = TrailerCheck::new();
    let mut reader = BufReader::with_capacity(READ_BUFFER, &mut file);
    let mut len = 0u64;
    loop {
        let piece = reader.fill_buf().map_err(fail)?;
        if piece.is_empty() {
            break;
        }
        check.update(piece);
        let n = piece.len();
        len += n as u64;
        reader.consume(n);
    }
    check.finish().map_err(refuse)?;
    // The file is read again from the start; should it change in between, the reader's own
    // check of the trailer catches it, at the end.
    let file = File::open(path).map_err(fail)?;
    Ok((Box::new(BufReader::with_capacity(READ_BUFFER, file)), len))
}

/// Imports a backup, sending each entry to `clients[place(key)]`.
fn import(
    path: &Path,
    clients: &mut [Client],
    place: &dyn Fn(&[u8]) -> usize,
    out: &mut impl Write,
) -> Result<(), Exit> {
    let started = Instant::now();
    let (input, total) = open_backup(path)?;
    let progress = if io::stderr().is_terminal() {
        let bar =
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:40} {percent:>3}% {binary_bytes}/{binary_total_bytes} {per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let mut reader = BackupReader::new(input);
    // One batch per server, with the line number of each of its entries.
    let mut batches: Vec<Batch> = clients.iter().map(|_| Batch::new()).collect();
    let mut lines: Vec<Vec<u64>> = clients.iter().map(|_| Vec::new()).collect();
    let (mut imported, mut skipped) = (0u64, 0u64);
    let mut stderr = io::stderr();
    let mut report = |line: u64, why: &dyn std::fmt::Display| {
        skipped += 1;
        let _ = writeln!(
            stderr,
            "kv-client: {}:{line}: {why}; skipped",
            path.display()
        );
    };
    let mut fatal = None;
    let flush = |client: &mut Client,
                 batch: &mut Batch,
                 lines: &mut Vec<u64>,
                 report: &mut dyn FnMut(u64, &dyn std::fmt::Display)|
     -> Result<u64, Exit> {
        let mut done = 0;
        client
            .execute_with(batch, |i, reply| match reply {
                Reply::Done => done += 1,
                Reply::Refused(e) => report(lines[i], &e),
                other => report(lines[i], &format!("unexpected answer {other:?}")),
            })
            .map_err(Exit::client)?;
        batch.clear();
        lines.clear();
        Ok(done)
    };
    // The native protocol carries no deadlines: an entry already expired is left out, and the
    // others are imported without theirs (counted, and reported).
    let now_ms = kv_std::db::unix_ms();
    let (mut expired, mut undated) = (0u64, 0u64);
    while let Some((number, entry)) = reader.next_expiring_entry() {
        let entry = match entry {
            Ok((Some(at), ..)) if at <= now_ms => {
                expired += 1;
                continue;
            }
            Ok((deadline, key, value)) => {
                undated += u64::from(deadline.is_some());
                Ok((key, value))
            }
            Err(e) => Err(e),
        };
        match entry {
            Ok((key, value)) if key.len() + value.len() > LARGE => {
                // Sent from the reader's buffer, after the entries read before it.
                let i = place(key);
                imported += flush(&mut clients[i], &mut batches[i], &mut lines[i], &mut report)?;
                match clients[i].put(key, value) {
                    Ok(()) => imported += 1,
                    Err(e) if e.status().is_some() => report(number, &e),
                    Err(e) => return Err(Exit::client(e)),
                }
            }
            Ok((key, value)) => {
                let i = place(key);
                match batches[i].put(key, value) {
                    Ok(()) => lines[i].push(number),
                    Err(e) => report(number, &e),
                }
                let batch = &mut batches[i];
                if batch.len() >= IMPORT_BATCH || batch.encoded_len() >= IMPORT_BATCH_BYTES {
                    imported += flush(&mut clients[i], batch, &mut lines[i], &mut report)?;
                }
            }
            Err(e) if e.is_fatal() => {
                fatal = Some(format!("line {number}: {e}"));
                break;
            }
            Err(e) => report(number, &e),
        }
        if let Some(bar) = &progress {
            bar.set_position(reader.position());
        }
    }
    for ((client, batch), lines) in clients.iter_mut().zip(&mut batches).zip(&mut lines) {
        imported += flush(client, batch, lines, &mut report)?;
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let trailer = reader.trailer();
    let secs = started.elapsed().as_secs_f64();
    let rate = imported as f64 / secs.max(1e-9);
    let mut summary = format!("imported {imported} entries in {secs:.2} s ({rate:.0} entries/s)");
    if skipped > 0 {
        summary.push_str(&format!(", skipped {skipped} bad lines"));
    }
    if expired > 0 {
        summary.push_str(&format!(", left out {expired} expired entries"));
    }
    let _ = writeln!(out, "{summary}");
    if undated > 0 {
        let _ = writeln!(
            io::stderr(),
            "kv-client: {}: warning: {undated} entries were imported without their deadlines \
             (the native protocol carries none)",
            path.display()
        );
    }
    if let Some(why) = fatal {
        return Err(Exit::file(path, why));
    }
    if let Some(Trailer::Absent { had_header: true }) = trailer {
        let _ = writeln!(
            io::stderr(),
            "kv-client: {}: warning: no trailer, so truncation cannot be ruled out",
            path.display()
        );
    }
    if skipped > 0 {
        return Err(Exit {
            code: FILE_PROBLEM,
            line: format!("kv-client: {}: {skipped} bad lines skipped", path.display())
                .into_bytes(),
        });
    }
    Ok(())
}

/// Exports every entry of every one of `clients` to one file, each key once.
fn export(path: &Path, clients: &mut [Client], out: &mut impl Write) -> Result<(), Exit> {
    let started = Instant::now();
    // A scan may pass a key twice; the last value read is the newest. A large value is not kept:
    // it is fetched again, from the server it was found on, when its turn comes to be written,
    // so at most one is held at a time.
    let mut entries: HashMap<Vec<u8>, (usize, Option<Vec<u8>>)> = HashMap::new();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .scan(|k, v| {
                let value = (k.len() + v.len() <= LARGE).then(|| v.to_vec());
                entries.insert(k.to_vec(), (i, value));
            })
            .map_err(Exit::client)?;
    }
    let mut sorted: Vec<_> = entries.into_iter().collect();
    sorted.sort_unstable();
    let file = File::create(path).map_err(|e| Exit::file(path, e))?;
    let mut writer = BackupWriter::new(BufWriter::new(file), 1).map_err(|e| Exit::file(path, e))?;
    for (k, (i, v)) in &sorted {
        let written = match v {
            Some(v) => writer.entry(k, v),
            // A key deleted since the scan is left out, as if the scan had not seen it.
            None => match clients[*i]
                .get_with(k, |value| writer.entry(k, value))
                .map_err(Exit::client)?
            {
                Some(written) => written,
                None => Ok(()),
            },
        };
        written.map_err(|e| Exit::file(path, e))?;
    }
    let (buffered, n) = writer.finish().map_err(|e| Exit::file(path, e))?;
    sync_export(path, buffered, started, &format!("{n} entries"), out)
}

/// Flushes an export's file and makes it durable, then reports what it holds.
fn sync_export(
    path: &Path,
    buffered: BufWriter<File>,
    started: Instant,
    what: &str,
    out: &mut impl Write,
) -> Result<(), Exit> {
    let file = buffered
        .into_inner()
        .map_err(|e| Exit::file(path, e.into_error()))?;
    file.sync_all().map_err(|e| Exit::file(path, e))?;
    let secs = started.elapsed().as_secs_f64();
    let _ = writeln!(out, "exported {what} to {} in {secs:.2} s", path.display());
    Ok(())
}

/// Keys asked for in one `MULTI` during an RDB export, and `SET`s pipelined during an import.
const RDB_BATCH: usize = 1000;

/// An answer retrying will not change.
fn unanswerable(what: String) -> CallError {
    CallError::Protocol(kv_std::client::ProtocolError::UnexpectedReply(what))
}

/// The items of an `EXEC` answer, or why there are none.
fn exec_items(value: Value) -> Result<Vec<Value>, CallError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Error(e) => Err(unanswerable(format!(
            "EXEC answered -{}",
            String::from_utf8_lossy(&e)
        ))),
        other => Err(unanswerable(format!("EXEC answered {other:?}"))),
    }
}

/// Writes every key of the server reads go to, with its value and expiry time, to an RDB file:
/// SCAN for the keys, then for each batch of them one transaction of GET and PEXPIRETIME, so
/// each value and its deadline are read together. A key deleted meanwhile is left out; a key of
/// a type other than string stops the export, naming it.
fn export_rdb(path: &Path, routed: &mut Routed, out: &mut impl Write) -> Result<(), Exit> {
    let started = Instant::now();
    // SCAN may pass a key twice.
    let mut keys = std::collections::BTreeSet::new();
    let mut cursor = b"0".to_vec();
    routed
        .with_reader(|conn| loop {
            let reply = kv_std::client::routed::unless_unavailable(
                conn.call(&[b"SCAN", &cursor, b"COUNT", b"1000"])?,
            )?;
            let Value::Array(parts) = reply else {
                return Err(unanswerable(format!("SCAN answered {reply:?}")));
            };
            let (Some(Value::Bulk(next)), Some(Value::Array(found))) =
                (parts.first(), parts.get(1))
            else {
                return Err(unanswerable(format!("SCAN answered {parts:?}")));
            };
            for key in found {
                if let Value::Bulk(key) = key {
                    keys.insert(key.clone());
                }
            }
            cursor.clone_from(next);
            if cursor == b"0" {
                return Ok(());
            }
        })
        .map_err(Exit::client)?;
    let keys: Vec<Vec<u8>> = keys.into_iter().collect();
    let file = File::create(path).map_err(|e| Exit::file(path, e))?;
    let mut writer = Writer::new(
        BufWriter::with_capacity(1 << 20, file),
        WriteOptions::default(),
    )
    .map_err(|e| Exit::file(path, e))?;
    let mut written = 0u64;
    for chunk in keys.chunks(RDB_BATCH) {
        let items = routed
            .with_reader(|conn| {
                conn.send(&[b"MULTI"])?;
                for key in chunk {
                    conn.send(&[b"GET", key])?;
                    conn.send(&[b"PEXPIRETIME", key])?;
                }
                conn.send(&[b"EXEC"])?;
                for _ in 0..=2 * chunk.len() {
                    // +OK, then +QUEUED for each command; an error here aborts the EXEC too.
                    conn.receive()?;
                }
                exec_items(conn.receive()?)
            })
            .map_err(Exit::client)?;
        if items.len() != 2 * chunk.len() {
            return Err(Exit::client(Value::Array(items).unexpected("EXEC")));
        }
        for (key, pair) in chunk.iter().zip(items.chunks(2)) {
            let Some((value, deadline)) =
                string_entry(key, pair, "; an RDB export holds only string keys")?
            else {
                continue;
            };
            writer
                .write_entry(key, value, deadline)
                .map_err(|e| Exit::file(path, e))?;
            written += 1;
        }
    }
    let buffered = writer.finish().map_err(|e| Exit::file(path, e))?;
    sync_export(path, buffered, started, &format!("{written} keys"), out)
}

/// A string key's value and deadline (Unix time in milliseconds), as an export reads them.
type StringEntry<'a> = (&'a [u8], Option<i64>);

/// A key's `GET` and `PEXPIRETIME` replies (`pair`) as its value and deadline (Unix time in
/// milliseconds), or `None` for a key deleted since it was listed. A key of another type than
/// string stops the export, named, with `more` after the server's error.
fn string_entry<'a>(
    key: &[u8],
    pair: &'a [Value],
    more: &str,
) -> Result<Option<StringEntry<'a>>, Exit> {
    let deadline = match &pair[1] {
        Value::Int(-2) => return Ok(None),
        Value::Int(-1) => None,
        &Value::Int(ms) if ms >= 0 => Some(ms),
        other => return Err(Exit::client(other.unexpected("PEXPIRETIME"))),
    };
    match &pair[0] {
        Value::Bulk(value) => Ok(Some((value, deadline))),
        Value::Null => Ok(None),
        Value::Error(e) => Err(Exit::client(Error::Redis(format!(
            "key '{}': {}{more}",
            key.escape_ascii(),
            String::from_utf8_lossy(e)
        )))),
        other => Err(Exit::client(other.unexpected("GET"))),
    }
}

/// Keys, values and `PXAT` times (as text) to send as `SET`s.
type SetBatch = Vec<(Vec<u8>, Vec<u8>, Option<Vec<u8>>)>;

/// Sends every string key of an RDB file to the primary with `SET key value [PXAT ms]`,
/// pipelined in batches; a key whose expiry time has passed is left out. A batch cut short by
/// a failed connection is sent again whole (a `SET` applied twice is applied once).
fn import_rdb(
    path: &Path,
    skip_unsupported: bool,
    routed: &mut Routed,
    out: &mut impl Write,
) -> Result<(), Exit> {
    let started = Instant::now();
    let file = File::open(path).map_err(|e| Exit::file(path, e))?;
    let options = LoadOptions {
        skip_unsupported,
        ..LoadOptions::default()
    };
    let mut loader = Loader::new(BufReader::with_capacity(READ_BUFFER, file), options)
        .map_err(|e| Exit::file(path, e))?;
    let now_ms = i64::try_from(kv_std::db::unix_ms()).unwrap_or(i64::MAX);
    let (mut imported, mut expired) = (0u64, 0u64);
    let mut batch: SetBatch = Vec::with_capacity(RDB_BATCH);
    let mut send = |batch: &mut SetBatch| -> Result<(), Exit> {
        let replies = routed
            .with_writer(|conn| {
                for (key, value, at) in batch.iter() {
                    match at {
                        Some(at) => conn.send(&[b"SET", key, value, b"PXAT", at])?,
                        None => conn.send(&[b"SET", key, value])?,
                    }
                }
                let mut replies = Vec::with_capacity(batch.len());
                for _ in 0..batch.len() {
                    replies.push(kv_std::client::routed::unless_unavailable(conn.receive()?)?);
                }
                Ok(replies)
            })
            .map_err(Exit::client)?;
        for ((key, ..), reply) in batch.iter().zip(replies) {
            match reply {
                Value::Simple(ok) if ok == b"OK" => imported += 1,
                Value::Error(e) => {
                    return Err(Exit::client(Error::Redis(format!(
                        "key '{}': {}",
                        key.escape_ascii(),
                        String::from_utf8_lossy(&e)
                    ))))
                }
                other => return Err(Exit::client(other.unexpected("SET"))),
            }
        }
        batch.clear();
        Ok(())
    };
    while let Some(entry) = loader.next_entry().map_err(|e| Exit::file(path, e))? {
        let at = match entry.expire_ms {
            Some(ms) if ms <= now_ms => {
                expired += 1;
                continue;
            }
            Some(ms) => Some(ms.to_string().into_bytes()),
            None => None,
        };
        batch.push((entry.key, entry.value, at));
        if batch.len() >= RDB_BATCH {
            send(&mut batch)?;
        }
    }
    send(&mut batch)?;
    let secs = started.elapsed().as_secs_f64();
    let mut summary = format!("imported {imported} keys in {secs:.2} s");
    if expired > 0 {
        summary.push_str(&format!(", left out {expired} expired keys"));
    }
    let skipped = loader.skipped().total_keys();
    if skipped > 0 {
        summary.push_str(&format!(
            ", skipped {skipped} keys of types kv does not store"
        ));
    }
    let _ = writeln!(out, "{summary}");
    Ok(())
}
