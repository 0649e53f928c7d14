//! Hit ratio under a memory limit: the same Zipf trace replayed cache-aside against every server
//! given, in lockstep, and each server's hits counted.
//!
//! ```text
//! cargo run --release -p kv-bench --bin hit-ratio -- \
//!     --server kv=127.0.0.1:7878 --server redis=127.0.0.1:6379 \
//!     [--keys 1000000] [--requests 10000000] [--warmup 2000000] [--theta 0.99] \
//!     [--value 1024] [--window 128] [--seed 1]
//! ```
//!
//! The trace draws `--requests` keys from `--keys` (`key:000000000042`, 16 bytes) with
//! probability proportional to `1 / rank^theta`, rank 1 being `key:000000000000`, from a
//! precomputed distribution function searched by bisection (exact, unlike the approximate
//! sampler the table benches use). Each request is `GET key` and, when the server misses,
//! `SET key value` with a `--value`-byte value: what an application in front of a slower store
//! does. The first `--warmup` requests fill the servers; hits and misses are counted over the
//! rest.
//!
//! Requests go out in windows of at most `--window` distinct keys (a key seen again ends the
//! window): every server gets the window's `GET`s, then its own `SET`s for the keys it missed,
//! in trace order. So every server sees the same `GET`s in the same order, and a `SET` comes
//! after the `GET`s of its window rather than right after its own; the servers work at once, so
//! they also see the same number of requests per tick of their LRU clocks (one second in both).
//!
//! Prints a markdown row per server: its policy, `maxmemory-samples` and `maxmemory` as it
//! reports them, the hit ratio measured, the keys it holds at the end (`DBSIZE`), its
//! `used_memory` and `evicted_keys`, the `SET`s it refused (answered with an error, such as
//! `OOM`), and two references computed here for a cache of exactly that many keys on the same
//! trace: exact LRU, and the hottest keys kept for good (the best any policy can do on a trace
//! without a future it can see, as the draws are independent). Every million requests, each
//! server's hit ratio over that million and its `DBSIZE` go to stderr.

use kv_bench::Rng;
use kv_nostd::resp::{decode_reply, Limits, Reply};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a reply may take before the driver gives up on the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes in a key: `key:` and twelve digits, as `redis-benchmark -r` writes them.
const KEY_LEN: usize = 16;
/// Requests between progress lines.
const PROGRESS_EVERY: u64 = 1_000_000;

/// What the command line asked for.
struct Options {
    servers: Vec<(String, SocketAddr)>,
    keys: u32,
    requests: u64,
    warmup: u64,
    theta: f64,
    value: usize,
    window: usize,
    seed: u64,
}

impl Options {
    fn parse() -> Self {
        let mut o = Options {
            servers: Vec::new(),
            keys: 1_000_000,
            requests: 10_000_000,
            warmup: 2_000_000,
            theta: 0.99,
            value: 1024,
            window: 128,
            seed: 1,
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
                "--keys" => {
                    o.keys = u32::try_from(number()).expect("--keys: at most 2^32 - 1");
                }
                "--requests" => o.requests = number(),
                "--warmup" => o.warmup = number(),
                "--theta" => {
                    o.theta = value
                        .parse()
                        .unwrap_or_else(|_| panic!("--theta: expected a number, got '{value}'"));
                }
                "--value" => o.value = number() as usize,
                "--window" => o.window = number() as usize,
                "--seed" => o.seed = number(),
                other => panic!("unknown flag {other}"),
            }
        }
        o
    }
}

/// Zipf-distributed key numbers by inversion of the exact distribution function.
struct ZipfCdf {
    /// `cdf[i]`: the probability of drawing a key numbered `i` or lower.
    cdf: Vec<f64>,
}

impl ZipfCdf {
    fn new(keys: u32, theta: f64) -> Self {
        let mut cdf = Vec::with_capacity(keys as usize);
        let mut sum = 0.0;
        for rank in 1..=keys {
            sum += 1.0 / f64::from(rank).powf(theta);
            cdf.push(sum);
        }
        for p in &mut cdf {
            *p /= sum;
        }
        ZipfCdf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        let i = self.cdf.partition_point(|&p| p <= u);
        i.min(self.cdf.len() - 1) as u32
    }

    /// The probability that a draw is one of the `count` most frequent keys.
    fn top(&self, count: u64) -> f64 {
        match count {
            0 => 0.0,
            n => self.cdf[(n as usize).min(self.cdf.len()) - 1],
        }
    }
}

/// A connection to one server, and what the replay has counted on it.
struct Server {
    name: String,
    stream: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
    /// Per request of the current window: did the server hold the key.
    hit: Vec<bool>,
    hits: u64,
    misses: u64,
    /// Hits and misses since the last progress line.
    recent: (u64, u64),
    /// `SET`s sent and not yet answered.
    sets: usize,
    /// `SET`s answered with an error (`OOM`: the server could not make room).
    refused: u64,
    /// The first such error.
    refusal: Option<String>,
}

impl Server {
    fn connect(name: &str, addr: SocketAddr) -> Self {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {name} at {addr}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("read timeout");
        Server {
            name: name.to_string(),
            stream,
            buf: Vec::with_capacity(1 << 20),
            out: Vec::with_capacity(1 << 20),
            hit: Vec::new(),
            hits: 0,
            misses: 0,
            recent: (0, 0),
            sets: 0,
            refused: 0,
            refusal: None,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let name = &self.name;
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{name}: write: {e}"));
    }

    /// Reads `count` replies, handing each to `check`.
    fn replies(&mut self, count: usize, mut check: impl FnMut(&str, &Reply<'_>)) {
        let mut chunk = [0u8; 1 << 16];
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

    /// Reads the replies to a window of `GET`s of `value_len`-byte values.
    fn read_gets(&mut self, count: usize, value_len: usize) {
        let mut hit = std::mem::take(&mut self.hit);
        hit.clear();
        self.replies(count, |name, reply| match reply {
            Reply::Bulk(v) if v.len() == value_len => hit.push(true),
            Reply::NullBulk | Reply::Null => hit.push(false),
            other => panic!("{name}: GET answered {other:?}"),
        });
        self.hit = hit;
    }

    /// The text of `INFO <section>`.
    fn info_text(&mut self, section: &str) -> String {
        self.send(&command(&[b"INFO", section.as_bytes()]));
        let mut text = String::new();
        self.replies(1, |name, reply| match reply {
            Reply::Bulk(t) | Reply::Verbatim { text: t, .. } => {
                text = String::from_utf8_lossy(t).into_owned();
            }
            other => panic!("{name}: INFO answered {other:?}"),
        });
        text
    }

    /// One field of `INFO <section>`.
    fn info(&mut self, section: &str, field: &str) -> Option<String> {
        self.info_text(section)
            .lines()
            .filter_map(|l| l.trim_end().split_once(':'))
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.to_string())
    }

    /// One parameter's value from `CONFIG GET`.
    fn config(&mut self, parameter: &str) -> String {
        self.send(&command(&[b"CONFIG", b"GET", parameter.as_bytes()]));
        let mut value = String::new();
        self.replies(1, |name, reply| match reply {
            Reply::Array(pairs) | Reply::Map(pairs) => {
                if let Some(Reply::Bulk(v)) = pairs.iter().nth(1) {
                    value = String::from_utf8_lossy(v).into_owned();
                }
            }
            other => panic!("{name}: CONFIG GET answered {other:?}"),
        });
        value
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
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    push_command(&mut bytes, args);
    bytes
}

/// Appends one encoded command to `out`.
fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let start = out.len();
    out.resize(start + kv_nostd::resp::encoded_request_len(args), 0);
    kv_nostd::resp::encode_request(args, &mut out[start..]).expect("sized");
}

fn key(i: u32) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    write!(&mut k[..], "key:{i:012}").expect("16 bytes");
    k
}

/// Exact LRU over key numbers: a doubly linked list threaded through two arrays, most recent
/// at the head.
struct ExactLru {
    capacity: u64,
    len: u64,
    prev: Vec<u32>,
    next: Vec<u32>,
    present: Vec<bool>,
    head: u32,
    tail: u32,
}

const NIL: u32 = u32::MAX;

impl ExactLru {
    fn new(keys: u32, capacity: u64) -> Self {
        ExactLru {
            capacity,
            len: 0,
            prev: vec![NIL; keys as usize],
            next: vec![NIL; keys as usize],
            present: vec![false; keys as usize],
            head: NIL,
            tail: NIL,
        }
    }

    fn unlink(&mut self, k: u32) {
        let (p, n) = (self.prev[k as usize], self.next[k as usize]);
        if p == NIL {
            self.head = n
        } else {
            self.next[p as usize] = n
        }
        if n == NIL {
            self.tail = p
        } else {
            self.prev[n as usize] = p
        }
    }

    fn push_front(&mut self, k: u32) {
        self.prev[k as usize] = NIL;
        self.next[k as usize] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = k;
        }
        self.head = k;
        if self.tail == NIL {
            self.tail = k;
        }
    }

    /// A `GET` and, on a miss, a `SET`: whether it hit.
    fn access(&mut self, k: u32) -> bool {
        if self.present[k as usize] {
            self.unlink(k);
            self.push_front(k);
            return true;
        }
        if self.capacity == 0 {
            return false;
        }
        if self.len == self.capacity {
            let victim = self.tail;
            self.unlink(victim);
            self.present[victim as usize] = false;
            self.len -= 1;
        }
        self.push_front(k);
        self.present[k as usize] = true;
        self.len += 1;
        false
    }
}

fn ratio(hits: u64, misses: u64) -> f64 {
    hits as f64 / (hits + misses).max(1) as f64
}

fn main() {
    let o = Options::parse();
    assert!(
        !o.servers.is_empty(),
        "give at least one --server NAME=HOST:PORT"
    );
    assert!(o.keys >= 2, "--keys must be at least 2");
    assert!(o.window >= 1, "--window must be at least 1");
    assert!(o.warmup < o.requests, "--warmup must be below --requests");
    let mut servers: Vec<Server> = o
        .servers
        .iter()
        .map(|(name, addr)| Server::connect(name, *addr))
        .collect();
    for s in servers.iter_mut() {
        let held = s.dbsize();
        assert_eq!(held, 0, "{}: holds {held} keys; start it empty", s.name);
    }

    let built = Instant::now();
    let zipf = ZipfCdf::new(o.keys, o.theta);
    let mut rng = Rng::new(o.seed);
    let trace: Vec<u32> = (0..o.requests).map(|_| zipf.sample(&mut rng)).collect();
    let distinct = {
        let mut seen = vec![false; o.keys as usize];
        trace
            .iter()
            .filter(|&&k| !std::mem::replace(&mut seen[k as usize], true))
            .count()
    };
    eprintln!(
        "hit-ratio: {} requests over {} keys (theta {}, seed {}), {distinct} distinct, in {:.1}s",
        o.requests,
        o.keys,
        o.theta,
        o.seed,
        built.elapsed().as_secs_f64()
    );

    let value: Vec<u8> = {
        let mut rng = Rng::new(o.seed ^ 0xf111);
        (0..o.value).map(|_| b'a' + rng.below(26) as u8).collect()
    };
    // Marks the keys of the current window; cleared at the end of each window.
    let mut in_window = vec![false; o.keys as usize];
    let mut gets = Vec::with_capacity(o.window * 40);
    let started = Instant::now();
    let mut next_progress = PROGRESS_EVERY;
    let mut start = 0usize;
    while start < trace.len() {
        let mut end = start;
        while end < trace.len() && end - start < o.window && !in_window[trace[end] as usize] {
            in_window[trace[end] as usize] = true;
            end += 1;
        }
        let window = &trace[start..end];
        gets.clear();
        for &k in window {
            push_command(&mut gets, &[b"GET", &key(k)]);
            in_window[k as usize] = false;
        }
        for s in servers.iter_mut() {
            s.send(&gets);
        }
        for s in servers.iter_mut() {
            s.read_gets(window.len(), o.value);
        }
        for s in servers.iter_mut() {
            let mut out = std::mem::take(&mut s.out);
            out.clear();
            s.sets = 0;
            for (i, &k) in window.iter().enumerate() {
                let measured = (start + i) as u64 >= o.warmup;
                if s.hit[i] {
                    s.recent.0 += 1;
                    s.hits += u64::from(measured);
                } else {
                    s.recent.1 += 1;
                    s.misses += u64::from(measured);
                    push_command(&mut out, &[b"SET", &key(k), &value]);
                    s.sets += 1;
                }
            }
            s.send(&out);
            s.out = out;
        }
        for s in servers.iter_mut() {
            let (mut refused, mut refusal) = (0, None);
            s.replies(s.sets, |name, reply| match reply {
                Reply::Simple(b"OK") => {}
                Reply::Error(e) => {
                    refused += 1;
                    refusal.get_or_insert_with(|| String::from_utf8_lossy(e).into_owned());
                }
                other => panic!("{name}: SET answered {other:?}"),
            });
            if refused > 0 && s.refused == 0 {
                eprintln!(
                    "hit-ratio: {}: a SET was refused after {start} requests: {}",
                    s.name,
                    refusal.as_deref().unwrap_or_default()
                );
            }
            s.refused += refused;
            if s.refusal.is_none() {
                s.refusal = refusal;
            }
        }
        start = end;
        if start as u64 >= next_progress {
            let line: Vec<String> = servers
                .iter_mut()
                .map(|s| {
                    let (h, m) = std::mem::take(&mut s.recent);
                    let held = s.dbsize();
                    format!("{} {:.4} ({held} keys)", s.name, ratio(h, m))
                })
                .collect();
            eprintln!(
                "hit-ratio: {:>9} requests, {:.0}s, hit ratio of the last million: {}",
                next_progress,
                started.elapsed().as_secs_f64(),
                line.join(", ")
            );
            next_progress += PROGRESS_EVERY;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    println!(
        "| server | policy | samples | maxmemory | hit ratio | keys held | used_memory | evicted_keys | SETs refused | exact LRU, same keys | hottest keys, same keys |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for s in servers.iter_mut() {
        let held = s.dbsize();
        let policy = s.config("maxmemory-policy");
        let samples = s.config("maxmemory-samples");
        let maxmemory = s.config("maxmemory");
        let used = s
            .info("memory", "used_memory")
            .unwrap_or_else(|| "-".into());
        let evicted = s
            .info("stats", "evicted_keys")
            .unwrap_or_else(|| "-".into());
        let mut lru = ExactLru::new(o.keys, held);
        let (mut h, mut m) = (0u64, 0u64);
        for (i, &k) in trace.iter().enumerate() {
            let hit = lru.access(k);
            if i as u64 >= o.warmup {
                if hit {
                    h += 1
                } else {
                    m += 1
                }
            }
        }
        println!(
            "| {} | {policy} | {samples} | {maxmemory} | {:.4} | {held} | {used} | {evicted} | {} | {:.4} | {:.4} |",
            s.name,
            ratio(s.hits, s.misses),
            s.refused,
            ratio(h, m),
            zipf.top(held),
        );
    }
    println!();
    println!(
        "{} requests ({} warm-up), {} keys, Zipf {}, {}-byte values, windows of {}; {elapsed:.0} s.",
        o.requests, o.warmup, o.keys, o.theta, o.value, o.window
    );
}
