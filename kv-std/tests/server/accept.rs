//! Taking connections: the client limit and the connection counts, with one worker (which,
//! under io_uring, accepts its connections itself) and with two (dealt out by the accept
//! thread).

use crate::{Conn, TestServer};
use kv_std::config::Config;
use std::time::{Duration, Instant};

fn info_field(conn: &mut Conn, field: &str) -> u64 {
    use std::io::{Read, Write};
    conn.stream.write_all(b"INFO\r\n").unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 16384];
    // `$len\r\n` then the text and `\r\n`.
    loop {
        let n = conn.stream.read(&mut buf).expect("INFO reply");
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some((header, _)) = text.split_once("\r\n") {
            let len: usize = header[1..].parse().unwrap();
            if reply.len() >= header.len() + 2 + len + 2 {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_client_limit_refuses_the_next_connection_and_admits_one_when_a_client_leaves() {
    for threads in [1, 2] {
        let mut config = Config::local();
        config.threads = threads;
        config.max_clients = 3;
        let server = TestServer::with(config);
        let mut clients: Vec<Conn> = (0..3).map(|_| Conn::new(server.addr)).collect();
        for c in &mut clients {
            c.expect(b"PING\r\n", b"+PONG\r\n");
        }
        let mut refused = Conn::new(server.addr);
        refused.expect(b"PING\r\n", b"-ERR max number of clients reached\r\n");
        refused.expect_closed();
        assert_eq!(info_field(&mut clients[0], "connected_clients"), 3);
        assert_eq!(info_field(&mut clients[0], "rejected_connections"), 1);
        // One leaves; once the server has counted it out, a new client is served.
        drop(clients.pop());
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut clients[0], "connected_clients") != 2 {
            assert!(
                Instant::now() < deadline,
                "{threads} worker(s): the client was not counted out"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut admitted = Conn::new(server.addr);
        admitted.expect(b"SET k v\r\n", b"+OK\r\n");
        clients[1].expect(b"GET k\r\n", b"$1\r\nv\r\n");
        assert_eq!(info_field(&mut clients[0], "total_connections_received"), 5);
    }
}

#[test]
fn many_connections_opened_at_once_are_all_served_by_one_worker() {
    let mut config = Config::local();
    config.threads = 1;
    let server = TestServer::with(config);
    // Connected before any is served: the listener's backlog holds them until they are taken.
    let mut clients: Vec<Conn> = (0..200).map(|_| Conn::new(server.addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let key = format!("c{i}");
        c.expect(format!("SET {key} {i}\r\n").as_bytes(), b"+OK\r\n");
    }
    for (i, c) in clients.iter_mut().enumerate().rev() {
        let value = i.to_string();
        c.expect(
            format!("GET c{i}\r\n").as_bytes(),
            format!("${}\r\n{value}\r\n", value.len()).as_bytes(),
        );
    }
    assert_eq!(info_field(&mut clients[0], "connected_clients"), 200);
}
