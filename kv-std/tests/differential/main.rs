//! The differential test: the same command scripts run against redis-server 7 and against kv,
//! and every reply compared byte for byte, in RESP2 and after `HELLO 3`.
//!
//! Each script under `scripts/` runs on a fresh redis-server (from the OS packages, on a free
//! loopback port, with nothing kept on disk and one database, as kv has) and a fresh kv server.
//! The end of each command's reply is marked by a `PING` sent behind it, so a command may answer
//! with any number of frames (pub/sub confirmations, pushes) and a read on another connection
//! collects what was delivered to it. What may differ by nature (ids, addresses, times, INFO's
//! fields) is masked by the reviewed list in `mask.rs`; what differs by design is marked `~` in
//! the script with kv's exact reply. A failure prints both byte strings.
//!
//! redis-server must be on the PATH: the README's test command installs it.
#![allow(missing_docs)]

mod command_table;
mod frame;
mod mask;
mod script;

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use frame::{show, Frame};
use script::{Action, Step};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::TestServer;

/// The payload of the PING that marks the end of a reply.
const SENTINEL: &[u8] = b"end-of-reply-7f3a";

/// A redis-server process on a free loopback port, killed when dropped.
struct RedisServer {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// On a free port. The port is free when chosen but may be taken by another test's server
    /// before redis-server binds it; then redis-server exits and, as the one answering there
    /// may be that other server, it is tried again on another port.
    fn start(password: Option<&str>, extra: &[&str]) -> Self {
        for _ in 0..5 {
            if let Some(server) = Self::try_start(password, extra) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 ports");
    }

    fn try_start(password: Option<&str>, extra: &[&str]) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--databases", "1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--logfile", "redis.log"]);
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        cmd.args(extra);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the README's test command installs it)");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Self {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if server.child.try_wait().expect("wait").is_some() {
                return None;
            }
            if let Ok(stream) = TcpStream::connect(addr) {
                return server.answers_itself(stream, password).then_some(server);
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the server answering on `stream` is this process: `INFO server`'s `process_id`.
    fn answers_itself(&self, mut stream: TcpStream, password: Option<&str>) -> bool {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if let Some(p) = password {
            let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{p}\r\n", p.len());
            stream.write_all(auth.as_bytes()).unwrap();
        }
        stream
            .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
            .unwrap();
        let needle = format!("process_id:{}\r\n", self.child.id());
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains(&needle) {
                return true;
            }
            if text.contains("tcp_port:") {
                return false;
            }
        }
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client connection of a script run.
struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
    id: Option<Vec<u8>>,
    closed: bool,
}

impl Peer {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            stream,
            buf: Vec::new(),
            id: None,
            closed: false,
        }
    }

    fn send(&mut self, args: &[Vec<u8>]) {
        let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            bytes.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            bytes.extend_from_slice(a);
            bytes.extend_from_slice(b"\r\n");
        }
        if self.stream.write_all(&bytes).is_err() {
            self.closed = true;
        }
    }

    /// The next frame, or `None` once the server has closed the connection.
    fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = frame::take(&mut self.buf) {
                return Some(f);
            }
            if self.closed {
                return None;
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => self.closed = true,
                Err(e) => panic!("reading a reply: {e} (what came: {})", show(&self.buf)),
            }
        }
    }

    /// Frames up to the reply to the marking PING, which is left out.
    fn until_sentinel(&mut self) -> Vec<Frame> {
        self.send(&[b"PING".to_vec(), SENTINEL.to_vec()]);
        let mut frames = Vec::new();
        while let Some(f) = self.frame() {
            if is_sentinel(&f) {
                break;
            }
            frames.push(f);
        }
        frames
    }

    /// This connection's client id, asked for once.
    fn id(&mut self) -> Vec<u8> {
        if self.id.is_none() {
            self.send(&[b"CLIENT".to_vec(), b"ID".to_vec()]);
            match self.frame() {
                Some(Frame::Int(n)) => self.id = Some(n.to_string().into_bytes()),
                other => panic!("CLIENT ID answered {other:?}"),
            }
        }
        self.id.clone().unwrap()
    }
}

fn is_sentinel(frame: &Frame) -> bool {
    match frame {
        Frame::Text {
            prefix: b'$', text, ..
        } => text == SENTINEL,
        Frame::Aggregate { items, .. } => matches!(
            items.as_slice(),
            [Frame::Text { text: pong, .. }, Frame::Text { text, .. }]
                if pong == b"pong" && text == SENTINEL
        ),
        _ => false,
    }
}

/// What one step got back from one server: the masked frames as bytes, and the raw bytes.
struct Outcome {
    masked: Vec<u8>,
    raw: Vec<u8>,
}

/// Runs `steps` against the server at `addr`.
fn run(addr: SocketAddr, steps: &[Step]) -> Vec<Option<Outcome>> {
    let mut peers: HashMap<String, Peer> = HashMap::new();
    let mut outcomes = Vec::new();
    for step in steps {
        if std::env::var_os("DIFF_TRACE").is_some() {
            eprintln!("{addr} line {}: {}", step.line, step.text);
        }
        let frames = match &step.action {
            Action::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(*ms));
                outcomes.push(None);
                continue;
            }
            Action::Close => {
                peers.remove(&step.conn);
                outcomes.push(None);
                continue;
            }
            Action::Read => {
                let peer = peers
                    .entry(step.conn.clone())
                    .or_insert_with(|| Peer::connect(addr));
                peer.until_sentinel()
            }
            Action::Command(args) => {
                let args = substitute(args, &mut peers, addr);
                let peer = peers
                    .entry(step.conn.clone())
                    .or_insert_with(|| Peer::connect(addr));
                peer.send(&args);
                let frames = match step.frames {
                    Some(n) => (0..n).filter_map(|_| peer.frame()).collect(),
                    None => peer.until_sentinel(),
                };
                if peer.closed && peer.buf.is_empty() {
                    peers.remove(&step.conn);
                }
                frames
            }
        };
        let mut raw = Vec::new();
        for f in &frames {
            f.encode(&mut raw);
        }
        let mut frames = frames;
        if let Action::Command(args) = &step.action {
            mask::apply(args, &mut frames);
        }
        mask::apply_monitor(&mut frames);
        if step.pairs {
            frames.iter_mut().for_each(Frame::sort_pairs);
        }
        if step.sort {
            frames.iter_mut().for_each(Frame::sort);
            frames.sort();
        }
        let mut masked = Vec::new();
        for f in &frames {
            f.encode(&mut masked);
        }
        outcomes.push(Some(Outcome { masked, raw }));
    }
    outcomes
}

/// `args` with `$id(c)` and `$addr(c)` replaced by connection `c`'s id and address.
fn substitute(
    args: &[Vec<u8>],
    peers: &mut HashMap<String, Peer>,
    addr: SocketAddr,
) -> Vec<Vec<u8>> {
    args.iter()
        .map(|arg| {
            let text = String::from_utf8_lossy(arg);
            for (kind, open) in [("id", "$id("), ("addr", "$addr(")] {
                if let Some(start) = text.find(open) {
                    let tail = &text[start + open.len()..];
                    let end = tail.find(')').expect("closing )");
                    let peer = peers
                        .entry(tail[..end].to_string())
                        .or_insert_with(|| Peer::connect(addr));
                    let value = if kind == "id" {
                        peer.id()
                    } else {
                        peer.stream.local_addr().unwrap().to_string().into_bytes()
                    };
                    let mut out = text.as_bytes()[..start].to_vec();
                    out.extend_from_slice(&value);
                    out.extend_from_slice(&tail.as_bytes()[end + 1..]);
                    return out;
                }
            }
            arg.clone()
        })
        .collect()
}

/// Runs script `name` against both servers and fails listing every step whose replies differ.
fn check(name: &str) {
    let path = format!(
        "{}/tests/differential/scripts/{name}.redis",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("#! requirepass "))
        .map(str::trim);
    // Settings redis-server needs to behave as kv does by design (`enable-debug-command yes`).
    let extra: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#! redis-server "))
        .flat_map(str::split_whitespace)
        .collect();
    let steps = script::parse(&text);
    let redis = RedisServer::start(password, &extra);
    let redis_outcomes = run(redis.addr, &steps);
    drop(redis);
    let mut config = kv_std::config::Config::local();
    config.password = password.map(|p| p.as_bytes().to_vec());
    let kv = TestServer::with(config);
    let kv_outcomes = run(kv.addr, &steps);
    let mut failures = Vec::new();
    for ((step, r), k) in steps.iter().zip(&redis_outcomes).zip(&kv_outcomes) {
        let (Some(r), Some(k)) = (r, k) else {
            continue;
        };
        let ok = match &step.expect_kv {
            Some(expected) => &k.raw == expected,
            None => r.masked == k.masked,
        };
        if !ok {
            let expected = step.expect_kv.as_deref().unwrap_or(&r.masked);
            failures.push(format!(
                "{name}.redis:{} `{}`\n  redis: {}\n  want:  {}\n  kv:    {}",
                step.line,
                step.text,
                show(&r.raw),
                show(expected),
                show(if step.expect_kv.is_some() {
                    &k.raw
                } else {
                    &k.masked
                }),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} steps differ:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

scripts!(
    connection,
    hello,
    client,
    pubsub,
    pubsub_resp3,
    strings,
    keyspace,
    server,
    info,
    config,
    slowlog,
    monitor,
    diagnostics,
    auth,
    command,
    expire,
    evict,
    multikey,
    rmw,
    transaction,
    keyspace_more,
    replication
);
