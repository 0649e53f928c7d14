//! Pub/sub throughput, kv-server against redis-server on the same machine: messages delivered per
//! second to 1 and to 200 subscribers of one channel, from 2 publishers pipelining `PUBLISH`.
//! `redis-benchmark` cannot measure this.
//!
//! ```text
//! cargo build --release -p kv-std --bin kv-server
//! cargo run --release -p kv-bench --bin pubsub-bench -- [--rounds 5] [--kv-server PATH]
//! ```
//!
//! Starts both servers on free loopback ports with nothing kept on disk, and for each
//! subscriber count runs alternating rounds (kv, redis, then redis, kv, ...). A round times from
//! the first `PUBLISH` until every subscriber has every message. Prints the median messages/s
//! of each server and the median of the per-round kv/Redis ratios. Both servers are stopped at
//! the end, also on failure.

use kv_nostd::resp::{decode_reply, Limits, Reply};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const PUBLISHERS: usize = 2;
const PAYLOAD: &[u8] = b"0123456789abcdef";

struct Server {
    child: Child,
    addr: SocketAddr,
    name: &'static str,
}

impl Server {
    fn start(name: &'static str, program: &str, args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut cmd = Command::new(program);
        if name == "kv" {
            cmd.args([
                "--no-persist",
                "--log-level",
                "warn",
                "--port",
                &port.to_string(),
            ]);
        } else {
            cmd.args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                &port.to_string(),
            ]);
        }
        let child = cmd
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { child, addr, name }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = vec![0u8; kv_nostd::resp::encoded_request_len(args)];
    kv_nostd::resp::encode_request(args, &mut bytes).expect("sized");
    bytes
}

/// Reads frames from `stream` until `count` of them satisfied `is_one`.
fn read_frames(stream: &mut TcpStream, count: u64, is_one: impl Fn(&Reply<'_>) -> bool) {
    let mut buf = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    let mut seen = 0;
    while seen < count {
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        while let Some((reply, len)) = decode_reply(&buf[used..], &Limits::REDIS).expect("valid") {
            used += len;
            if is_one(&reply) {
                seen += 1;
            }
        }
        buf.drain(..used);
    }
}

/// One round: `subscribers` subscribers, `messages` messages; returns deliveries per second.
fn round(addr: SocketAddr, subscribers: usize, messages: u64) -> f64 {
    let channel = b"bench".as_slice();
    let start = Arc::new(Barrier::new(subscribers + PUBLISHERS + 1));
    let mut threads = Vec::new();
    for _ in 0..subscribers {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(&command(&[b"SUBSCRIBE", channel])).unwrap();
        read_frames(&mut s, 1, |_| true);
        let start = Arc::clone(&start);
        threads.push(std::thread::spawn(move || {
            start.wait();
            read_frames(
                &mut s,
                messages,
                |r| matches!(r, Reply::Array(a) if a.len() == 3),
            );
        }));
    }
    for p in 0..PUBLISHERS {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        let start = Arc::clone(&start);
        let share =
            messages / PUBLISHERS as u64 + u64::from((p as u64) < messages % PUBLISHERS as u64);
        threads.push(std::thread::spawn(move || {
            let one = command(&[b"PUBLISH", channel, PAYLOAD]);
            let batch: Vec<u8> = one.repeat(64);
            start.wait();
            let mut sent = 0;
            while sent < share {
                let n = 64.min(share - sent);
                s.write_all(&batch[..one.len() * n as usize]).unwrap();
                read_frames(&mut s, n, |_| true);
                sent += n;
            }
        }));
    }
    start.wait();
    let t0 = Instant::now();
    for t in threads {
        t.join().expect("bench thread");
    }
    (messages * subscribers as u64) as f64 / t0.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut rounds = 5;
    let mut kv_bin = "target/release/kv-server".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--kv-server" => kv_bin = args.next().expect("--kv-server PATH"),
            other => panic!("unknown flag {other}"),
        }
    }
    let kv = Server::start("kv", &kv_bin, &[]);
    let redis = Server::start("redis", "redis-server", &[]);
    println!("| subscribers | messages | kv msgs/s | redis msgs/s | kv/redis |");
    println!("|---|---|---|---|---|");
    for (subscribers, messages) in [(1usize, 1_000_000u64), (200, 20_000)] {
        let mut kv_rates = Vec::new();
        let mut redis_rates = Vec::new();
        let mut ratios = Vec::new();
        for r in 0..rounds {
            let order = if r % 2 == 0 {
                [&kv, &redis]
            } else {
                [&redis, &kv]
            };
            let mut pair = [0.0; 2];
            for server in order {
                let rate = round(server.addr, subscribers, messages);
                eprintln!(
                    "round {r}: {} {subscribers} subscribers: {rate:.0} msgs/s",
                    server.name
                );
                pair[usize::from(server.name != "kv")] = rate;
            }
            kv_rates.push(pair[0]);
            redis_rates.push(pair[1]);
            ratios.push(pair[0] / pair[1]);
        }
        println!(
            "| {subscribers} | {messages} | {:.0} | {:.0} | {:.2} ({:.2}–{:.2}) |",
            median(&mut kv_rates),
            median(&mut redis_rates),
            median(&mut ratios),
            ratios.first().copied().unwrap_or(0.0),
            ratios.last().copied().unwrap_or(0.0),
        );
    }
}
