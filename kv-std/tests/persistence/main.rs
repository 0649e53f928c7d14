//! Persistence through the real `kv-server` binary: restarts, damaged files, crashes.
#![allow(missing_docs)]

mod crash;
mod evict;
mod expiry;
mod failure;
mod files;
mod multikey;
mod rmw;
mod transaction;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `kv-server` process persisting into a directory; killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `kv-server` in `dir` with `extra` flags; returns once it accepts connections, or the
/// exit status and log if it stopped first.
pub fn try_start(dir: &Path, port: u16, extra: &[&str]) -> Result<Server, (Option<i32>, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .current_dir(dir)
        .args([
            "--port",
            &port.to_string(),
            "--reserve",
            "1gb",
            "--log-level",
            "info",
        ])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kv-server");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(50));
            return Err((status.code(), log.lock().unwrap().clone()));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // The startup lines are read by another thread: wait until they are in.
            while !log.lock().unwrap().contains("listening on") {
                assert!(start.elapsed() < Duration::from_secs(20), "no startup line");
                std::thread::sleep(Duration::from_millis(5));
            }
            return Ok(Server { child, port, log });
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn start(dir: &Path, port: u16, extra: &[&str]) -> Server {
    try_start(dir, port, extra)
        .unwrap_or_else(|(code, log)| panic!("server exited ({code:?}): {log}"))
}

impl Server {
    /// SIGTERM, and the exit code.
    pub fn stop(mut self) -> Option<i32> {
        // SAFETY: kill(2) with our child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        status.code()
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one raw request and returns the reply bytes (read until `want` bytes).
pub fn raw_roundtrip(s: &mut TcpStream, request: &[u8], want: usize) -> Vec<u8> {
    s.write_all(request).unwrap();
    let mut buf = vec![0u8; want];
    s.read_exact(&mut buf).unwrap();
    buf
}
