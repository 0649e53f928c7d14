//! A million keys with TTLs and nobody reading them: active expiry removes them all, and the
//! memory they took goes back.

use crate::ServerProcess;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const KEYS: usize = 1_000_000;
const BATCH: usize = 10_000;

/// Sends `command` and reads one reply line (with a bulk body if it has one).
fn ask(conn: &mut BufReader<TcpStream>, command: &str) -> String {
    let args: Vec<&str> = command.split(' ').collect();
    let mut req = format!("*{}\r\n", args.len());
    for a in &args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.get_mut().write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    if let Some(len) = line.strip_prefix('$') {
        let len: usize = len.trim().parse().unwrap();
        let mut body = vec![0; len + 2];
        conn.read_exact(&mut body).unwrap();
        return String::from_utf8_lossy(&body[..len]).into_owned();
    }
    line.trim_end().to_string()
}

fn used_memory(conn: &mut BufReader<TcpStream>) -> u64 {
    let info = ask(conn, "INFO memory");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in {info:?}"))
}

fn dbsize(conn: &mut BufReader<TcpStream>) -> usize {
    let reply = ask(conn, "DBSIZE");
    reply
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"))
}

#[test]
#[ignore = "load test: run in release with --ignored"]
fn a_million_keys_with_ttls_expire_unread_and_their_memory_goes_back() {
    let server = ServerProcess::start(&[]);
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut conn = BufReader::new(stream);
    let empty = used_memory(&mut conn);
    let rss_empty = server.rss();

    // TTLs uniform in 1–10 s (a fixed stride through the range), pipelined in batches.
    let mut req = Vec::new();
    for start in (0..KEYS).step_by(BATCH) {
        req.clear();
        for i in start..start + BATCH {
            let key = format!("session:{i:07}");
            let ttl = (1_000 + i * 7_919 % 9_001).to_string();
            for part in [
                "*5\r\n$3\r\nSET\r\n".to_string(),
                format!("${}\r\n{key}\r\n", key.len()),
                "$16\r\nvalue-of-a-key-0\r\n$2\r\nPX\r\n".to_string(),
                format!("${}\r\n{ttl}\r\n", ttl.len()),
            ] {
                req.extend_from_slice(part.as_bytes());
            }
        }
        conn.get_mut().write_all(&req).unwrap();
        let mut replies = vec![0; BATCH * 5];
        conn.read_exact(&mut replies).unwrap();
        assert!(replies.chunks(5).all(|r| r == b"+OK\r\n"), "a SET failed");
    }
    let loaded = Instant::now();
    let full = used_memory(&mut conn);
    let rss_full = server.rss();
    assert!(dbsize(&mut conn) > KEYS / 2, "most keys are still there");

    // Nobody reads them; 12 s after the last was set, every one is gone and so is its memory.
    let (mut keys, mut used) = (dbsize(&mut conn), used_memory(&mut conn));
    while (keys > 0 || used * 10 > empty * 11) && loaded.elapsed() < Duration::from_secs(12) {
        std::thread::sleep(Duration::from_millis(100));
        (keys, used) = (dbsize(&mut conn), used_memory(&mut conn));
    }
    let took = loaded.elapsed();
    println!(
        "mass expiry: used_memory {empty} empty, {full} with {KEYS} keys, {used} after {took:.1?}; \
         RSS {rss_empty}, {rss_full}, {}",
        server.rss()
    );
    assert_eq!(keys, 0, "keys left after {took:?}");
    assert!(
        used * 10 <= empty * 11,
        "used_memory {used} is not within 10% of the empty server's {empty} after {took:?}"
    );
}
