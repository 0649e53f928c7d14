//! The server over real sockets, one module per area.
#![allow(missing_docs)]

mod abuse;
mod auth;
mod binary;
mod clients;
mod concurrency;
mod idle;
mod native;
mod protected;
mod protocol_errors;
mod resp;

use kv_std::config::Config;
use kv_std::server::{Server, Shutdown};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// A server on a free loopback port, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Shutdown,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::with(Config::local())
    }

    pub fn with(config: Config) -> Self {
        let server = Server::bind(config).expect("bind");
        let addr = server.local_addr().expect("addr");
        let stop = server.shutdown_handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        Self { addr, stop, thread }
    }

    pub fn connect(&self) -> Conn {
        Conn::new(self.addr)
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

/// A raw client connection for exact-byte tests.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream }
    }

    /// Sends `request` and asserts the reply is exactly `reply`.
    pub fn expect(&mut self, request: &[u8], reply: &[u8]) {
        self.stream.write_all(request).expect("write");
        let got = self.read_exact(reply.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(reply),
            "reply to {:?}",
            String::from_utf8_lossy(request)
        );
    }

    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf).expect("read reply");
        buf
    }

    /// Asserts the server closes the connection (after any bytes already expected).
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected close, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected close, got {e}"),
        }
    }
}
