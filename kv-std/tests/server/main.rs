//! The server over real sockets, one module per area.
#![allow(missing_docs)]

mod abuse;
mod accept;
mod auth;
mod binary;
mod busy_poll;
mod clients;
mod concurrency;
mod evict;
mod expiry;
mod faults;
mod idle;
mod introspection;
mod large;
mod migrate;
mod native;
mod protected;
mod protocol_errors;
mod resp;
mod resp3;
mod shutdown;
mod transaction;

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/counter.rs"]
mod counter;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
pub use support::TestServer;

/// A raw connection to the server.
pub trait Connect {
    fn connect(&self) -> Conn;
}

impl Connect for TestServer {
    fn connect(&self) -> Conn {
        Conn::new(self.addr)
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

/// A child process killed and reaped when dropped, so a failing test leaves no server behind.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
