//! `kv-server --rdb-import`: a file redis-server saved, refused for its list key, imported
//! without it with `--rdb-skip-unsupported`, and still there after a crash and a restart without
//! the flag.

use crate::{Client, RedisServer, Reply};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A kv-server process, killed (SIGKILL: no final snapshot) when dropped.
struct KvServer {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

/// How a kv-server that did not start ended: its exit code and its log.
type Refused = (Option<i32>, String);

impl KvServer {
    /// Starts kv-server persisting in `dir` with `extra` flags; returns once it listens, or its
    /// exit code and log if it stopped first.
    fn start(dir: &Path, extra: &[&std::ffi::OsStr]) -> Result<Self, Refused> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .current_dir(dir)
            .args(["--port", &port.to_string(), "--reserve", "1gb"])
            .args(["--threads", "2", "--log-level", "info"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kv-server");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut server = Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.try_wait().expect("wait") {
                // The reader thread may still be taking in the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Err((status.code(), server.log()));
            }
            if TcpStream::connect(server.addr).is_ok() {
                return Ok(server);
            }
            assert!(
                Instant::now() < deadline,
                "kv-server did not start:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn client(&self) -> Client {
        Client::connect(self.addr).expect("connect to kv-server")
    }
}

impl Drop for KvServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What kv must hold after the import: key, value, and PEXPIRETIME as redis-server answered it.
type Expected = Vec<(&'static [u8], &'static [u8], i64)>;

/// Has redis-server save string keys with and without an expiry, and a list, into
/// `dir/dump.rdb`; returns the string keys with their expiry times.
fn redis_file(dir: &Path) -> Expected {
    let redis = RedisServer::start(dir, &[]).expect("redis-server");
    let mut c = redis.client();
    c.call(&[b"SET", b"plain", b"hello"]).ok();
    c.call(&[b"SET", b"\x00binary\xff", b"\r\n\x00"]).ok();
    c.call(&[b"SET", b"session", b"12345", b"PX", b"100000000"])
        .ok();
    c.call(&[b"SET", b"token", b"abc", b"EX", b"7200"]).ok();
    assert_eq!(c.call(&[b"RPUSH", b"queue", b"a", b"b"]), Reply::Int(2));
    c.call(&[b"SAVE"]).ok();
    let mut expected: Expected = vec![
        (b"plain", b"hello", -1),
        (b"\x00binary\xff", b"\r\n\x00", -1),
        (b"session", b"12345", 0),
        (b"token", b"abc", 0),
    ];
    for (key, _, at) in &mut expected {
        *at = c.call(&[b"PEXPIRETIME", key]).int();
    }
    assert!(expected[2].2 > 0 && expected[3].2 > 0, "{expected:?}");
    expected
}

fn holds_exactly(kv: &KvServer, expected: &Expected) {
    let mut c = kv.client();
    assert_eq!(
        c.call(&[b"DBSIZE"]).int(),
        expected.len() as i64,
        "{}",
        kv.log()
    );
    for (key, value, at) in expected {
        assert_eq!(c.call(&[b"GET", key]).bulk().as_deref(), Some(*value));
        assert_eq!(c.call(&[b"PEXPIRETIME", key]).int(), *at);
    }
    assert_eq!(c.call(&[b"EXISTS", b"queue"]).int(), 0);
}

#[test]
fn an_rdb_import_refuses_other_types_or_skips_them_and_persists_the_strings() {
    let redis_dir = tempfile::tempdir().unwrap();
    let expected = redis_file(redis_dir.path());
    let rdb = redis_dir.path().join("dump.rdb");
    let kv_dir = tempfile::tempdir().unwrap();
    let import = [std::ffi::OsStr::new("--rdb-import"), rdb.as_os_str()];

    let Err((code, log)) = KvServer::start(kv_dir.path(), &import) else {
        panic!("kv-server started on a file holding a list");
    };
    assert_ne!(code, Some(0), "{log}");
    assert!(
        log.contains("key \"queue\" is a list (RDB type"),
        "the error names the key and its type:\n{log}"
    );
    assert!(log.contains(&rdb.display().to_string()), "{log}");

    let mut flags = import.to_vec();
    flags.push("--rdb-skip-unsupported".as_ref());
    let kv = KvServer::start(kv_dir.path(), &flags).expect("kv-server with skipping");
    holds_exactly(&kv, &expected);
    let log = kv.log();
    assert!(log.contains("imported 4 keys from"), "{log}");
    assert!(log.contains("skipped 1 keys"), "{log}");
    assert!(log.contains("(1 list)"), "{log}");
    // A crash: only what reached the disk before the server listened survives.
    drop(kv);

    let kv = KvServer::start(kv_dir.path(), &[]).expect("kv-server without the import");
    holds_exactly(&kv, &expected);
}

#[test]
fn a_missing_rdb_file_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.rdb");
    let flags = [std::ffi::OsStr::new("--rdb-import"), missing.as_os_str()];
    let Err((code, log)) = KvServer::start(dir.path(), &flags) else {
        panic!("kv-server started without its RDB file");
    };
    assert_ne!(code, Some(0), "{log}");
    assert!(
        log.contains(&format!("--rdb-import {}: No such file", missing.display())),
        "{log}"
    );
}
