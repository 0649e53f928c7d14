//! Servers run as processes (redis-server, and any server speaking its protocol), killed when
//! the test ends, and Redis protocol calls to them.

use kv_std::client::resp::{RespConn, Value};
use kv_std::client::ClientConfig;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start one kind of server: its program, and its flags for a port, a directory to
/// keep files in, and the primary to replicate (`--replicaof`), if any.
pub struct ServerKind {
    pub program: &'static str,
    pub flags: fn(port: u16, dir: &Path, replica_of: Option<u16>) -> Vec<String>,
}

/// redis-server, saving nothing, logging to `dir/redis.log`.
pub const REDIS: ServerKind = ServerKind {
    program: "redis-server",
    flags: |port, dir, replica_of| {
        let mut flags: Vec<String> = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            .map(String::from)
            .to_vec();
        flags.extend(["--port".into(), port.to_string()]);
        flags.extend(["--dir".into(), dir.display().to_string()]);
        flags.extend(["--logfile".into(), "redis.log".into()]);
        if let Some(primary) = replica_of {
            flags.extend([
                "--replicaof".into(),
                "127.0.0.1".into(),
                primary.to_string(),
            ]);
        }
        flags
    },
};

/// kv-server, keeping its files in `dir`.
pub const KV: ServerKind = ServerKind {
    program: env!("CARGO_BIN_EXE_kv-server"),
    flags: |port, dir, replica_of| {
        let mut flags: Vec<String> = vec!["--port".into(), port.to_string()];
        flags.extend([
            "--backup".into(),
            dir.join("kv-backup.txt").display().to_string(),
            "--log-level".into(),
            "warn".into(),
        ]);
        if let Some(primary) = replica_of {
            flags.extend([
                "--replicaof".into(),
                "127.0.0.1".into(),
                primary.to_string(),
            ]);
        }
        flags
    },
};

/// A server process on a loopback port, killed when dropped.
pub struct Process {
    child: Child,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Process {
    /// Starts `kind` in `dir` with `extra` flags; returns once it answers PING.
    pub fn start(kind: &ServerKind, dir: &Path, replica_of: Option<u16>, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(kind.program)
            .current_dir(dir)
            .args((kind.flags)(port, dir, replica_of))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} must be installed: {e}", kind.program));
        let mut process = Self { child, port };
        wait_for(
            &format!("{} on {port} to answer PING", kind.program),
            || {
                if let Ok(Some(status)) = process.child.try_wait() {
                    panic!("{} exited: {status}", kind.program);
                }
                matches!(try_call(port, &[b"PING"]), Some(Value::Simple(p)) if p == b"PONG")
            },
        );
        process
    }

    pub fn call(&self, args: &[&[u8]]) -> Value {
        call(self.port, args)
    }

    /// `host:port`, as `--servers` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn try_call(port: u16, args: &[&[u8]]) -> Option<Value> {
    let config = ClientConfig::new("127.0.0.1", port);
    let mut conn = RespConn::open("127.0.0.1", port, &config).ok()?;
    conn.call(args).ok()
}

/// One Redis protocol call on a new connection.
pub fn call(port: u16, args: &[&[u8]]) -> Value {
    try_call(port, args).unwrap_or_else(|| panic!("no answer from port {port}"))
}

/// Waits up to 20 s for `done`, naming `what` if it never is.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn bulk(s: &[u8]) -> Value {
    Value::Bulk(s.to_vec())
}
