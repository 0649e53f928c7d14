//! Many clients incrementing one key, for the test binaries that check `INCR`'s atomicity.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

/// Increments in one pipelined batch.
const BATCH: usize = 1_000;

/// `clients` connections each send `each` `INCR counter` (pipelined, a thousand at a time);
/// asserts that the replies are every number from 1 to `clients * each` exactly once (no two
/// increments saw the same value), that each client's replies rise in the order it sent them,
/// and that the key ends at `clients * each`.
pub fn increment_together(addr: SocketAddr, clients: usize, each: usize) {
    assert_eq!(each % BATCH, 0, "whole batches");
    let handles: Vec<_> = (0..clients)
        .map(|_| std::thread::spawn(move || increments(addr, each)))
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    let total = (clients * each) as u64;
    assert!(
        all.iter().copied().eq(1..=total),
        "some increments saw the same value"
    );
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let end: u64 = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
    assert_eq!(end, total);
}

/// One client's increments: the replies, in order.
fn increments(addr: SocketAddr, each: usize) -> Vec<u64> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let batch = b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n".repeat(BATCH);
    let mut seen = Vec::with_capacity(each);
    let mut line = String::new();
    for _ in 0..each / BATCH {
        writer.write_all(&batch).unwrap();
        for _ in 0..BATCH {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let n = line
                .strip_prefix(':')
                .and_then(|l| l.trim_end().parse().ok());
            seen.push(n.unwrap_or_else(|| panic!("not an integer reply: {line:?}")));
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "one client's increments took effect out of order"
    );
    seen
}
