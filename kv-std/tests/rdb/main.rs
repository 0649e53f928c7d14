//! kv's RDB module against the real thing: files kv writes checked by `redis-check-rdb` and
//! loaded by `redis-server`, files `redis-server` saves read by kv, `DUMP`/`RESTORE` payloads
//! both ways (as bytes, and between a kv server and a redis-server), the replication payload
//! framings from a real master, arbitrary input, and `kv-server --rdb-import` on a file
//! redis-server saved.
//!
//! redis-server, redis-cli and redis-check-rdb 7.0 must be on the PATH (the README's test
//! command installs them). Every process a test starts is killed when the test ends, however
//! it ends, and every wait has a deadline.
#![allow(missing_docs)]

mod dump;
mod framing;
mod fuzz;
mod import;
mod read_redis;
mod write_redis;

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A redis-server process on a free loopback port, killed when dropped.
pub struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl RedisServer {
    /// Starts redis-server in `dir`, loading `dir/dump.rdb` if it exists, with `extra` flags;
    /// returns once it answers PING (it has loaded the file), or the log if it stopped first.
    pub fn start(dir: &Path, extra: &[&str]) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .args(["--dbfilename", "dump.rdb", "--logfile", "redis.log"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the README's test command installs it)");
        let mut server = Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("redis-server exited ({status}):\n{}", server.log()));
            }
            if let Ok(mut c) = Client::connect(server.addr) {
                if c.call(&[b"PING"]) == Reply::Simple(b"PONG".to_vec()) {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server did not start:\n{}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr).expect("connect to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply, as RESP2 has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn bulk(self) -> Option<Vec<u8>> {
        match self {
            Reply::Bulk(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    pub fn int(self) -> i64 {
        match self {
            Reply::Int(i) => i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    pub fn array(self) -> Vec<Reply> {
        match self {
            Reply::Array(a) => a,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    pub fn error(self) -> String {
        match self {
            Reply::Error(e) => String::from_utf8_lossy(&e).into_owned(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub fn ok(self) {
        assert_eq!(self, Reply::Simple(b"OK".to_vec()));
    }
}

/// A RESP2 client over a socket, with a 20 s timeout on every read.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.get_mut().write_all(&out).expect("send");
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Reply {
        self.send(args);
        self.reply()
    }

    pub fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line).expect("read");
        assert!(
            line.ends_with(b"\r\n"),
            "bad line {:?}",
            line.escape_ascii().to_string()
        );
        line.truncate(line.len() - 2);
        line
    }

    pub fn reply(&mut self) -> Reply {
        let line = self.line();
        let rest = || line[1..].to_vec();
        let number = || -> i64 { String::from_utf8_lossy(&line[1..]).parse().expect("number") };
        match line[0] {
            b'+' => Reply::Simple(rest()),
            b'-' => Reply::Error(rest()),
            b':' => Reply::Int(number()),
            b'$' => match number() {
                -1 => Reply::Bulk(None),
                n => {
                    let mut data = vec![0; n as usize + 2];
                    self.stream.read_exact(&mut data).expect("read bulk");
                    data.truncate(n as usize);
                    Reply::Bulk(Some(data))
                }
            },
            b'*' => Reply::Array((0..number()).map(|_| self.reply()).collect()),
            other => panic!("unexpected reply type {other}"),
        }
    }

    /// The buffered stream, for reading what is not RESP (a replication payload).
    pub fn stream(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.stream
    }
}

/// Runs `program args`, killing it if it runs longer than `limit`.
pub fn run_with_timeout(program: &str, args: &[&std::ffi::OsStr], limit: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{program} ran longer than {limit:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A small deterministic generator of test data (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// `len` bytes from a small alphabet: compressible.
    pub fn text(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| b"abcde "[self.below(6) as usize])
            .collect()
    }

    /// `len` bytes of words from a vocabulary of `words` random words: compressible, and with
    /// thousands of distinct three-byte sequences, so LZF's hash table sees collisions.
    pub fn words(&mut self, words: usize, len: usize) -> Vec<u8> {
        let vocabulary: Vec<Vec<u8>> = (0..words)
            .map(|_| {
                let n = 3 + self.below(8) as usize;
                (0..n).map(|_| b'!' + self.below(90) as u8).collect()
            })
            .collect();
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            out.extend_from_slice(&vocabulary[self.below(words as u64) as usize]);
            out.push(b' ');
        }
        out.truncate(len);
        out
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
