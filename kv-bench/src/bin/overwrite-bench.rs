//! Fragmentation under overwrites: the same stream of `SET`s of values from 16 bytes to 16 KiB,
//! sent to every server given, and each server's resident memory against the bytes it holds.
//!
//! ```text
//! cargo run --release -p kv-bench --bin overwrite-bench -- \
//!     --server kv=127.0.0.1:7878 --server redis=127.0.0.1:6379 \
//!     [--duration 600] [--keys 100000] [--min 16] [--max 16384] [--seed 1] [--settle 30]
//! ```
//!
//! First sets every one of `--keys` keys (`key:000000000042`, 16 bytes) once, then overwrites
//! keys drawn uniformly with values whose sizes are drawn uniformly from `--min..=--max` bytes,
//! for `--duration` seconds, 64 commands to a pipelined batch. Every server gets each batch
//! before any reply is read, so all of them run at once and see exactly the same commands; the
//! driver remembers the last size written to each key, so it knows the live bytes (keys plus
//! values) without asking. Then it deletes every other key, and then the rest, and waits
//! `--settle` seconds after each.
//!
//! At each of those three points it prints a markdown table row per server: the resident set
//! (`VmRSS` of the process named by `INFO server`'s `process_id`, so the servers must run on
//! this machine), `INFO memory`'s `used_memory` and `mem_fragmentation_ratio`, the live bytes,
//! and RSS ÷ live bytes. Progress goes to stderr once a minute.

use kv_bench::Rng;
use kv_nostd::resp::{decode_reply, Limits, Reply};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Commands sent to a server before its replies are read.
const BATCH: usize = 64;
/// How long a reply may take before the driver gives up on the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes in a key: `key:` and twelve digits, as `redis-benchmark -r` writes them.
const KEY_LEN: u64 = 16;

/// What the command line asked for.
struct Options {
    servers: Vec<(String, SocketAddr)>,
    duration: Duration,
    keys: u64,
    min: usize,
    max: usize,
    seed: u64,
    settle: Duration,
}

impl Options {
    fn parse() -> Self {
        let mut o = Options {
            servers: Vec::new(),
            duration: Duration::from_secs(600),
            keys: 100_000,
            min: 16,
            max: 16 * 1024,
            seed: 1,
            settle: Duration::from_secs(30),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || -> u64 {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{flag}: expected a number, got '{value}'"))
            };
            match flag.as_str() {
                "--server" => {
                    let (name, addr) = value
                        .split_once('=')
                        .unwrap_or_else(|| panic!("--server NAME=HOST:PORT, got '{value}'"));
                    let addr = addr
                        .parse()
                        .unwrap_or_else(|e| panic!("--server {value}: {e}"));
                    o.servers.push((name.to_string(), addr));
                }
                "--duration" => o.duration = Duration::from_secs(number()),
                "--keys" => o.keys = number(),
                "--min" => o.min = number() as usize,
                "--max" => o.max = number() as usize,
                "--seed" => o.seed = number(),
                "--settle" => o.settle = Duration::from_secs(number()),
                other => panic!("unknown flag {other}"),
            }
        }
        o
    }
}

/// A connection to one server, and what the driver has learned about it.
struct Server {
    name: String,
    stream: TcpStream,
    pid: u32,
    buf: Vec<u8>,
}

impl Server {
    fn connect(name: &str, addr: SocketAddr) -> Self {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {name} at {addr}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("read timeout");
        let mut server = Server {
            name: name.to_string(),
            stream,
            pid: 0,
            buf: Vec::with_capacity(1 << 16),
        };
        server.pid = server
            .info("server", "process_id")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no process_id in INFO server"));
        server
    }

    fn send(&mut self, bytes: &[u8]) {
        let name = &self.name;
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{name}: write: {e}"));
    }

    /// Reads `count` replies, handing each to `check`.
    fn replies(&mut self, count: usize, mut check: impl FnMut(&str, &Reply<'_>)) {
        let mut chunk = [0u8; 1 << 14];
        let mut seen = 0;
        let mut used = 0;
        while seen < count {
            match decode_reply(&self.buf[used..], &Limits::REDIS) {
                Ok(Some((reply, len))) => {
                    used += len;
                    seen += 1;
                    check(&self.name, &reply);
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("{}: undecodable reply: {e}", self.name),
            }
            self.buf.drain(..used);
            used = 0;
            let n = self
                .stream
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("{}: read: {e}", self.name));
            assert!(n > 0, "{}: the server closed the connection", self.name);
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.buf.drain(..used);
    }

    /// One field of `INFO <section>`.
    fn info(&mut self, section: &str, field: &str) -> Option<String> {
        self.send(&command(&[b"INFO", section.as_bytes()]));
        let mut text = String::new();
        self.replies(1, |name, reply| match reply {
            Reply::Bulk(t) | Reply::Verbatim { text: t, .. } => {
                text = String::from_utf8_lossy(t).into_owned();
            }
            other => panic!("{name}: INFO answered {other:?}"),
        });
        text.lines()
            .filter_map(|l| l.trim_end().split_once(':'))
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.to_string())
    }

    /// The number of keys the server holds.
    fn dbsize(&mut self) -> u64 {
        self.send(&command(&[b"DBSIZE"]));
        let mut keys = 0;
        self.replies(1, |name, reply| match reply {
            Reply::Integer(n) => keys = *n as u64,
            other => panic!("{name}: DBSIZE answered {other:?}"),
        });
        keys
    }

    /// The server's resident set in bytes, from `/proc/PID/status`.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_else(|e| panic!("{}: /proc/{}/status: {e}", self.name, self.pid));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{}: no VmRSS in /proc/{}/status", self.name, self.pid))
    }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = vec![0u8; kv_nostd::resp::encoded_request_len(args)];
    kv_nostd::resp::encode_request(args, &mut bytes).expect("sized");
    bytes
}

/// Appends one encoded command to `out`.
fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let start = out.len();
    out.resize(start + kv_nostd::resp::encoded_request_len(args), 0);
    kv_nostd::resp::encode_request(args, &mut out[start..]).expect("sized");
}

fn key(i: u64) -> [u8; KEY_LEN as usize] {
    let mut k = [0u8; KEY_LEN as usize];
    write!(&mut k[..], "key:{i:012}").expect("16 bytes");
    k
}

/// The reply every command of a batch must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// `+OK`, as `SET` answers.
    Ok,
    /// A number, as `DEL` answers.
    Integer,
}

/// Sends one batch to every server, then checks every reply: all servers work on it at once.
fn run_batch(servers: &mut [Server], batch: &[u8], count: usize, expect: Expect) {
    for s in servers.iter_mut() {
        s.send(batch);
    }
    for s in servers.iter_mut() {
        s.replies(count, |name, reply| match (expect, reply) {
            (Expect::Ok, Reply::Simple(b"OK")) | (Expect::Integer, Reply::Integer(_)) => {}
            (_, other) => panic!("{name}: expected {expect:?}, got {other:?}"),
        });
    }
}

/// The live bytes: every present key and its last value.
fn live_bytes(sizes: &[Option<usize>]) -> u64 {
    sizes.iter().flatten().map(|&s| KEY_LEN + s as u64).sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One markdown row per server: what it holds, and what it takes.
fn report(point: &str, servers: &mut [Server], sizes: &[Option<usize>]) {
    let live = live_bytes(sizes);
    let keys = sizes.iter().flatten().count() as u64;
    for s in servers.iter_mut() {
        let held = s.dbsize();
        assert_eq!(
            held, keys,
            "{}: holds {held} keys, not the {keys} written",
            s.name
        );
        let rss = s.rss();
        let used: u64 = s
            .info("memory", "used_memory")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let frag = s
            .info("memory", "mem_fragmentation_ratio")
            .unwrap_or_else(|| "-".into());
        let ratio = if live > 0 {
            format!("{:.3}", rss as f64 / live as f64)
        } else {
            "-".into()
        };
        println!(
            "| {point} | {} | {keys} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {ratio} | {frag} |",
            s.name,
            mib(live),
            mib(rss),
            mib(used),
        );
    }
}

fn main() {
    let o = Options::parse();
    assert!(
        !o.servers.is_empty(),
        "give at least one --server NAME=HOST:PORT"
    );
    assert!(o.min <= o.max && o.max > 0, "--min must not exceed --max");
    assert!(o.keys > 0, "--keys must be at least 1");
    let mut servers: Vec<Server> = o
        .servers
        .iter()
        .map(|(name, addr)| Server::connect(name, *addr))
        .collect();
    for s in servers.iter_mut() {
        let held = s.dbsize();
        assert_eq!(held, 0, "{}: holds {held} keys; start it empty", s.name);
    }

    let filler: Vec<u8> = {
        let mut rng = Rng::new(o.seed ^ 0xf111);
        (0..o.max).map(|_| b'a' + rng.below(26) as u8).collect()
    };
    let mut rng = Rng::new(o.seed);
    let span = (o.max - o.min + 1) as u64;
    let size = move |rng: &mut Rng| o.min + rng.below(span) as usize;
    let mut sizes: Vec<Option<usize>> = vec![None; o.keys as usize];
    let mut batch = Vec::with_capacity(BATCH * (o.max + 64));

    // Every key once, in order.
    let started = Instant::now();
    let mut next = 0;
    while next < o.keys {
        batch.clear();
        let end = (next + BATCH as u64).min(o.keys);
        for i in next..end {
            let len = size(&mut rng);
            push_command(&mut batch, &[b"SET", &key(i), &filler[..len]]);
            sizes[i as usize] = Some(len);
        }
        run_batch(&mut servers, &batch, (end - next) as usize, Expect::Ok);
        next = end;
    }
    eprintln!(
        "overwrite-bench: {} keys set in {:.1}s, {:.1} MiB live",
        o.keys,
        started.elapsed().as_secs_f64(),
        mib(live_bytes(&sizes))
    );

    // Overwrites of uniformly drawn keys until the time is up.
    let started = Instant::now();
    let mut overwrites = 0u64;
    let mut written = 0u64;
    let mut next_progress = Duration::from_secs(60);
    while started.elapsed() < o.duration {
        batch.clear();
        for _ in 0..BATCH {
            let i = rng.below(o.keys);
            let len = size(&mut rng);
            push_command(&mut batch, &[b"SET", &key(i), &filler[..len]]);
            sizes[i as usize] = Some(len);
            written += KEY_LEN + len as u64;
        }
        run_batch(&mut servers, &batch, BATCH, Expect::Ok);
        overwrites += BATCH as u64;
        if started.elapsed() >= next_progress {
            let rss: Vec<String> = servers
                .iter()
                .map(|s| format!("{} RSS {:.1} MiB", s.name, mib(s.rss())))
                .collect();
            eprintln!(
                "overwrite-bench: {:>4}s {overwrites} overwrites, live {:.1} MiB, {}",
                next_progress.as_secs(),
                mib(live_bytes(&sizes)),
                rss.join(", ")
            );
            next_progress += Duration::from_secs(60);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = format!(
        "{overwrites} overwrites in {elapsed:.0} s ({:.0} a second to each server, {:.1} per \
         key), {:.1} GiB written to each server.",
        overwrites as f64 / elapsed,
        overwrites as f64 / o.keys as f64,
        mib(written) / 1024.0,
    );
    eprintln!("overwrite-bench: {summary}");

    println!(
        "| after | server | keys | live bytes | RSS | used_memory | RSS ÷ live | mem_fragmentation_ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    report(&format!("{overwrites} overwrites"), &mut servers, &sizes);

    // Deletes: every other key, then the rest; each point measured after a pause, because an
    // allocator may give memory back lazily (jemalloc's dirty pages decay over 10 s by default).
    for (point, parity) in [("deleting every other key", 1), ("deleting the rest", 0)] {
        let mut i = parity;
        while i < o.keys {
            batch.clear();
            let mut count = 0;
            while i < o.keys && count < BATCH {
                push_command(&mut batch, &[b"DEL", &key(i)]);
                sizes[i as usize] = None;
                i += 2;
                count += 1;
            }
            run_batch(&mut servers, &batch, count, Expect::Integer);
        }
        std::thread::sleep(o.settle);
        report(point, &mut servers, &sizes);
    }
    println!();
    println!("{summary}");
}
