//! A redis-server process on a free loopback port, and raw RESP connections to it.

use kv_nostd::resp::{decode_reply, Limits};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any wait on the server may last before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A redis-server with nothing kept on disk, killed when dropped (also when a test fails).
pub struct Redis {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--databases", "1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let redis = Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            _dir: dir,
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(redis.addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        redis
    }

    /// A connection speaking RESP2, or RESP3 after `HELLO 3`.
    pub fn connect(&self, resp3: bool) -> Conn {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
        };
        if resp3 {
            conn.send(&[b"HELLO".to_vec(), b"3".to_vec()]);
            conn.flush();
            conn.reply();
        }
        let version = conn.call(&[b"INFO".to_vec(), b"server".to_vec()]);
        assert!(
            version.windows(20).any(|w| w == b"redis_version:7.0.15"),
            "the cross-check is written against redis-server 7.0.15"
        );
        conn
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that pipelines: commands are queued, sent together, and their replies read in
/// order.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

/// A command as RESP: an array of bulk strings.
pub fn encode(args: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Conn {
    /// Sends `bytes`, encoded commands.
    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to redis-server");
    }

    fn send(&mut self, args: &[Vec<u8>]) {
        let mut bytes = Vec::new();
        encode(args, &mut bytes);
        self.write(&bytes);
    }

    fn flush(&mut self) {
        self.stream.flush().expect("flush");
    }

    /// One command and its reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        self.send(args);
        self.reply()
    }

    /// The bytes of the next reply, whole.
    pub fn reply(&mut self) -> Vec<u8> {
        loop {
            let pending = &self.buf[self.pos..];
            match decode_reply(pending, &Limits::REDIS) {
                Ok(Some((_, n))) => {
                    let reply = pending[..n].to_vec();
                    self.pos += n;
                    if self.pos == self.buf.len() {
                        self.buf.clear();
                        self.pos = 0;
                    }
                    return reply;
                }
                Ok(None) => {}
                Err(e) => panic!("redis-server sent a reply that does not decode: {e}"),
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("redis-server closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("reading from redis-server: {e}"),
            }
        }
    }
}
