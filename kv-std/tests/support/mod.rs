//! What the integration test binaries share: an in-process server on a loopback port.

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
    /// On a free port, with `Config::local()`.
    pub fn start() -> Self {
        Self::with(Config::local())
    }

    /// With `config`.
    pub fn with(config: Config) -> Self {
        Self::try_with(config).expect("bind")
    }

    /// On `port` (0: a free one).
    pub fn on_port(port: u16) -> std::io::Result<Self> {
        let mut config = Config::local();
        config.addr.set_port(port);
        Self::try_with(config)
    }

    fn try_with(config: Config) -> std::io::Result<Self> {
        let server = Server::bind(config)?;
        let addr = server.local_addr()?;
        let stop = server.shutdown_handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        Ok(Self { addr, stop, thread })
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
