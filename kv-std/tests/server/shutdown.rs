//! Shutting down: every request a client sent before the server was asked to stop is answered
//! before its connection closes.

use crate::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn requests_sent_before_shutdown_are_answered_before_the_connection_closes() {
    const REQUESTS: usize = 2000;
    for round in 0..3 {
        let server = TestServer::start();
        let mut clients: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(server.addr).expect("connect"))
            .collect();
        for c in &mut clients {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // One round trip first, so the server has taken the connection.
            c.write_all(b"PING\r\n").unwrap();
            let mut pong = [0u8; 7];
            c.read_exact(&mut pong).unwrap();
            assert_eq!(&pong, b"+PONG\r\n");
        }
        // Then requests it has not yet read, on every connection, and at once the shutdown.
        for (i, c) in clients.iter_mut().enumerate() {
            let mut batch = Vec::new();
            for n in 0..REQUESTS {
                let key = format!("r{round}c{i}k{n}");
                batch.extend_from_slice(
                    format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).as_bytes(),
                );
            }
            c.write_all(&batch).unwrap();
        }
        drop(server);
        for (i, c) in clients.iter_mut().enumerate() {
            let mut replies = Vec::new();
            c.read_to_end(&mut replies)
                .expect("read until the server closes");
            assert_eq!(
                replies,
                b"+OK\r\n".repeat(REQUESTS),
                "round {round}, client {i}: {} of {REQUESTS} replies before the close",
                replies.len() / 5
            );
        }
    }
}
