//! The `kv-client` binary against a real server, one module per area: exact stdout, stderr and
//! exit codes.
#![allow(missing_docs)]

mod basic;
mod files;
mod retry;

use assert_cmd::Command;
use kv_std::config::Config;
use kv_std::server::{Server, Shutdown};
use std::net::SocketAddr;
use std::thread::JoinHandle;

/// A server on a loopback port, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Shutdown,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::on_port(0).expect("bind")
    }

    pub fn on_port(port: u16) -> std::io::Result<Self> {
        let mut config = Config::local();
        config.addr.set_port(port);
        let server = Server::bind(config)?;
        let addr = server.local_addr()?;
        let stop = server.shutdown_handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        Ok(Self { addr, stop, thread })
    }

    /// `kv-client --port <this server's port>`, with a short timeout so failures end quickly.
    pub fn client(&self) -> Command {
        client_on(self.addr.port())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server run");
        }
    }
}

pub fn client_on(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv-client"));
    cmd.args(["--port", &port.to_string(), "--timeout", "2"]);
    cmd.timeout(std::time::Duration::from_secs(30));
    cmd
}
