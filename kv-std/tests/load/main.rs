//! Load tests against a kv-server process: heavy enough to run in release builds only, so they
//! are ignored by a plain `cargo test` and run by the README's test command with
//! `cargo test --release -p kv-std --test load -- --ignored`.
#![allow(missing_docs)]

#[path = "../support/counter.rs"]
mod counter;
mod expiry;
mod incr;
mod pubsub;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A kv-server process on a free loopback port, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    pub fn start(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args([
                "--no-persist",
                "--port",
                &port.to_string(),
                "--log-level",
                "warn",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kv-server");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let server = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "kv-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    /// The process's resident memory in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("VmRSS");
        kb * 1024
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
