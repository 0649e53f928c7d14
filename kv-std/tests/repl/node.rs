//! One server process, kv-server or redis-server, on a loopback port in a directory of its own.
//!
//! Both take the replication flags under Redis's names (`--replicaof HOST PORT`,
//! `--repl-backlog-size 16kb`, ...), so a test passes the same flags whichever server it runs;
//! only persistence differs, and [`Persist`] names what a test needs rather than a flag.

use crate::resp::{Client, Reply};
use std::fs::File;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Which server a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Kv,
    Redis,
}

impl Kind {
    /// The program's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kv => "kv-server",
            Kind::Redis => "redis-server",
        }
    }
}

/// What a node keeps on disk.
#[derive(Clone, Copy, Debug)]
pub enum Persist {
    /// Nothing.
    None,
    /// Every write, in a log synced at this policy (`always`, `everysec`, `no`): a restart after
    /// `kill -9` loads it.
    Log(&'static str),
    /// Enough for a replica to restart with its replication id and offset and ask for a partial
    /// resync. kv keeps them with its log. Redis 7.0 takes them back only from an RDB file, not
    /// from its AOF, so the Redis node writes one in [`Node::checkpoint`].
    Resumable(&'static str),
}

/// A running server; dropping it kills the process (also when a test panics).
pub struct Node {
    pub kind: Kind,
    pub port: u16,
    persist: Persist,
    dir: TempDir,
    args: Vec<String>,
    child: Option<Child>,
    starts: u32,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    // Kept beside `redis` for tests that run kv alone, though the current tests take a `Kind`.
    #[allow(dead_code)]
    pub fn kv(args: &[&str]) -> Node {
        Node::start(Kind::Kv, Persist::None, args)
    }

    pub fn redis(args: &[&str]) -> Node {
        Node::start(Kind::Redis, Persist::None, args)
    }

    /// Starts `kind` on a free port with `args` (Redis's flag names) and waits until it answers
    /// PING.
    pub fn start(kind: Kind, persist: Persist, args: &[&str]) -> Node {
        let mut node = Node {
            kind,
            port: free_port(),
            persist,
            dir: tempfile::tempdir().unwrap(),
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
            starts: 0,
        };
        node.spawn();
        node
    }

    fn command_line(&self) -> Command {
        let dir = self.dir.path();
        let mut cmd;
        match self.kind {
            Kind::Kv => {
                cmd = Command::new(env!("CARGO_BIN_EXE_kv-server"));
                cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]);
                cmd.args(["--reserve", "2gb", "--log-level", "info"]);
                match self.persist {
                    Persist::None => {
                        cmd.arg("--no-persist");
                    }
                    Persist::Log(fsync) | Persist::Resumable(fsync) => {
                        cmd.arg("--backup").arg(dir.join("kv-backup.txt"));
                        cmd.arg("--aof").arg(dir.join("kv.aof"));
                        cmd.args(["--fsync", fsync]);
                    }
                }
            }
            Kind::Redis => {
                cmd = Command::new("redis-server");
                cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]);
                cmd.arg("--dir").arg(dir);
                cmd.args(["--save", "", "--daemonize", "no", "--protected-mode", "no"]);
                // kv starts a full sync at once; Redis waits 5 s for more replicas by default.
                cmd.args(["--repl-diskless-sync-delay", "0"]);
                match self.persist {
                    Persist::None | Persist::Resumable(_) => {
                        cmd.args(["--appendonly", "no"]);
                    }
                    Persist::Log(fsync) => {
                        cmd.args(["--appendonly", "yes", "--appendfsync", fsync]);
                    }
                }
            }
        }
        cmd.args(&self.args);
        cmd.current_dir(dir);
        cmd
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join(format!("server.{}.log", self.starts))
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.kind.name());
        self.starts += 1;
        let log = File::create(self.log_path()).unwrap();
        let mut cmd = self.command_line();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", self.kind.name())),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!(
                    "{} on port {} exited ({status}) at start:\n{}",
                    self.kind.name(),
                    self.port,
                    self.log()
                );
            }
            let pong = Client::connect(self.port).and_then(|mut c| c.try_cmd(&["PING"]));
            // A replica loading a data set answers -LOADING: it is up, just not ready.
            if let Ok(Reply::Status(_) | Reply::Error(_)) = pong {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} on port {} does not answer PING:\n{}",
                self.kind.name(),
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process wrote since its last start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        self.client_checked()
            .unwrap_or_else(|e| panic!("connect to {} on {}: {e}", self.kind.name(), self.port))
    }

    /// A connection, or why there is none (the process is down).
    pub fn client_checked(&self) -> std::io::Result<Client> {
        Client::connect(self.port)
    }

    /// SIGKILL, and waits for the process to be gone: a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same port, directory and flags, and waits until it has
    /// loaded its files: PING answers PONG, not -LOADING.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.client().cmd(&["PING"]) != Reply::Status("PONG".into()) {
            assert!(
                Instant::now() < deadline,
                "{} on port {} still loading:\n{}",
                self.kind.name(),
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Puts on disk what a restart needs to resume replication (see [`Persist::Resumable`]).
    pub fn checkpoint(&self) {
        if let (Kind::Redis, Persist::Resumable(_)) = (self.kind, self.persist) {
            let reply = self.client().cmd(&["SAVE"]);
            assert_eq!(reply, Reply::Status("OK".into()), "SAVE");
        }
    }

    /// `INFO section`, as (field, value) pairs in the server's order, without the headers.
    pub fn info(&self, section: &str) -> Vec<(String, String)> {
        parse_info(&self.client().cmd(&["INFO", section]).text())
    }

    /// One field of `INFO section`; panics when it is missing.
    pub fn info_field(&self, section: &str, field: &str) -> String {
        self.info(section)
            .into_iter()
            .find(|(k, _)| k == field)
            .unwrap_or_else(|| panic!("no {field} in INFO {section} of {}", self.kind.name()))
            .1
    }

    pub fn info_int(&self, section: &str, field: &str) -> i64 {
        let v = self.info_field(section, field);
        v.parse()
            .unwrap_or_else(|_| panic!("{field}:{v} is not an integer"))
    }

    /// `REPLICAOF 127.0.0.1 <primary's port>`.
    pub fn replicate(&self, primary: &Node) {
        self.replicate_port(primary.port);
    }

    pub fn replicate_port(&self, port: u16) {
        let reply = self
            .client()
            .cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()]);
        assert_eq!(reply, Reply::Status("OK".into()), "REPLICAOF");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            // What the server said is the first thing to read when a test fails.
            eprintln!(
                "--- log of the server on port {} ---\n{}",
                self.port,
                self.log()
            );
        }
    }
}

pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
