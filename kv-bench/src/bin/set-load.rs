//! `SET`s of random keys from many connections, counting the refused ones: `redis-benchmark -t
//! set` for a server that may answer some writes with an error (`redis-benchmark` stops at the
//! first one).
//!
//! ```text
//! cargo run --release -p kv-bench --bin set-load -- --server 127.0.0.1:7878 \
//!     [--requests 1000000] [--keyspace 10000000] [--value 1024] [--clients 50] \
//!     [--pipeline 1] [--seed 1]
//! ```
//!
//! Keys are `key:000012345678` (16 bytes), drawn uniformly from `0..keyspace` as
//! `redis-benchmark -r` draws them; every value is `--value` bytes of `x`. The connections take
//! turns: each sends `--pipeline` `SET`s, then each reads its replies, so `clients × pipeline`
//! requests are in flight at the start of a turn (`redis-benchmark` instead sends a client's next
//! requests as soon as its replies are in; the server sees the same depth). Prints one line:
//! requests a second, the median and 99th percentile of a turn's time, and how many `SET`s were
//! answered with an error, with the first error.

use kv_bench::Rng;
use kv_nostd::resp::{decode_reply, Limits, Reply};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a reply may take before the driver gives up on the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// What the command line asked for.
struct Options {
    server: SocketAddr,
    requests: u64,
    keyspace: u64,
    value: usize,
    clients: usize,
    pipeline: usize,
    seed: u64,
}

impl Options {
    fn parse() -> Self {
        let mut server = None;
        let mut o = Options {
            server: SocketAddr::from(([127, 0, 0, 1], 6379)),
            requests: 1_000_000,
            keyspace: 10_000_000,
            value: 1024,
            clients: 50,
            pipeline: 1,
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
                    server = Some(
                        value
                            .parse()
                            .unwrap_or_else(|e| panic!("--server {value}: {e}")),
                    );
                }
                "--requests" => o.requests = number(),
                "--keyspace" => o.keyspace = number(),
                "--value" => o.value = number() as usize,
                "--clients" => o.clients = number() as usize,
                "--pipeline" => o.pipeline = number() as usize,
                "--seed" => o.seed = number(),
                other => panic!("unknown flag {other}"),
            }
        }
        o.server = server.expect("give --server HOST:PORT");
        o
    }
}

/// One connection: its socket and the bytes read but not yet decoded.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("read timeout");
        Client {
            stream,
            buf: Vec::with_capacity(1 << 16),
        }
    }

    /// Reads `count` replies; counts the errors among them, and keeps the first in `first`.
    fn replies(&mut self, count: usize, first: &mut Option<String>) -> u64 {
        let mut chunk = [0u8; 1 << 14];
        let (mut seen, mut used, mut errors) = (0, 0, 0);
        while seen < count {
            match decode_reply(&self.buf[used..], &Limits::REDIS) {
                Ok(Some((reply, len))) => {
                    used += len;
                    seen += 1;
                    match reply {
                        Reply::Simple(b"OK") => {}
                        Reply::Error(e) => {
                            errors += 1;
                            first.get_or_insert_with(|| String::from_utf8_lossy(e).into_owned());
                        }
                        other => panic!("SET answered {other:?}"),
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("undecodable reply: {e}"),
            }
            self.buf.drain(..used);
            used = 0;
            let n = self
                .stream
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("read: {e}"));
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.buf.drain(..used);
        errors
    }
}

/// Appends `SET key value` to `out`.
fn push_set(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let args: [&[u8]; 3] = [b"SET", key, value];
    let start = out.len();
    out.resize(start + kv_nostd::resp::encoded_request_len(&args), 0);
    kv_nostd::resp::encode_request(&args, &mut out[start..]).expect("sized");
}

fn main() {
    let o = Options::parse();
    assert!(
        o.clients >= 1 && o.pipeline >= 1,
        "--clients and --pipeline must be at least 1"
    );
    assert!(o.keyspace >= 1, "--keyspace must be at least 1");
    let mut clients: Vec<Client> = (0..o.clients).map(|_| Client::connect(o.server)).collect();
    let value = vec![b'x'; o.value];
    let mut rng = Rng::new(o.seed);
    let mut out = Vec::with_capacity(o.pipeline * (o.value + 64));
    let mut turns = Vec::new();
    let (mut sent, mut errors, mut first) = (0u64, 0u64, None);
    let started = Instant::now();
    while sent < o.requests {
        let turn = Instant::now();
        let mut counts = Vec::with_capacity(clients.len());
        for c in clients.iter_mut() {
            let n = (o.requests - sent).min(o.pipeline as u64) as usize;
            out.clear();
            for _ in 0..n {
                let mut key = [0u8; 16];
                write!(&mut key[..], "key:{:012}", rng.below(o.keyspace)).expect("16 bytes");
                push_set(&mut out, &key, &value);
            }
            c.stream
                .write_all(&out)
                .unwrap_or_else(|e| panic!("write: {e}"));
            sent += n as u64;
            counts.push(n);
        }
        for (c, n) in clients.iter_mut().zip(counts) {
            errors += c.replies(n, &mut first);
        }
        turns.push(turn.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    turns.sort_unstable();
    let at = |q: f64| turns[((turns.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "{sent} SETs in {elapsed:.2} s: {:.0} a second; a turn of {} clients × {} took {:.3} ms \
         (median), {:.3} ms (p99); {errors} refused{}",
        sent as f64 / elapsed,
        o.clients,
        o.pipeline,
        at(0.5),
        at(0.99),
        first.map(|e| format!(" ({e})")).unwrap_or_default()
    );
}
