//! Careless and hostile clients: garbage, mutations, slow writers, readers that never read.
//! The server stays up, everyone else is served, nothing written is lost.

use crate::{Conn, Connect, TestServer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Valid frames of both protocols, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let v1 = kv_nostd::native::Version::V1.magic();
    let v2 = kv_nostd::native::Version::V2.magic();
    vec![
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n".to_vec(),
        b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n".to_vec(),
        b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n".to_vec(),
        b"PING\r\n".to_vec(),
        b"*4\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nCOUNT\r\n$2\r\n10\r\n".to_vec(),
        vec![v1, 0x03, 0, 1, 0, 0, 0, 2, b'k', b'v', b'v'],
        vec![v1, 0x02, 0, 1, 0, 0, 0, 0, b'k'],
        vec![v2, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, b'k', b'v', b'v'],
        vec![v2, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, b'k'],
    ]
}

fn mutate(frame: &[u8], rng: &mut u64) -> Vec<u8> {
    let mut f = frame.to_vec();
    for _ in 0..=next(rng) % 4 {
        let at = (next(rng) as usize) % f.len().max(1);
        match next(rng) % 6 {
            0 if !f.is_empty() => f[at] ^= 1 << (next(rng) % 8),
            1 if !f.is_empty() => f[at] = (next(rng) % 256) as u8,
            2 => f.insert(at.min(f.len()), (next(rng) % 256) as u8),
            3 if !f.is_empty() => {
                f.remove(at);
            }
            4 => f.truncate(at),
            _ => f.extend((0..next(rng) % 16).map(|_| (next(rng) % 256) as u8)),
        }
    }
    f
}

#[test]
fn random_abuse_leaves_the_server_up_and_other_data_intact() {
    let s = TestServer::start();
    let addr = s.addr;
    let mut good = s.connect();
    for i in 0..100 {
        let req = format!("*3\r\n$3\r\nSET\r\n$6\r\nkeep{i:02}\r\n$5\r\nv{i:04}\r\n");
        good.expect(req.as_bytes(), b"+OK\r\n");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let attackers: Vec<_> = (0..16u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (t + 1);
                let seeds = seeds();
                let mut sent = 0u64;
                while Instant::now() < deadline {
                    let Ok(mut c) = TcpStream::connect(addr) else {
                        continue;
                    };
                    c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                    for _ in 0..50 {
                        let frame = if next(&mut rng).is_multiple_of(5) {
                            (0..next(&mut rng) % 64)
                                .map(|_| (next(&mut rng) % 256) as u8)
                                .collect()
                        } else {
                            mutate(&seeds[(next(&mut rng) as usize) % seeds.len()], &mut rng)
                        };
                        if c.write_all(&frame).is_err() {
                            break;
                        }
                        sent += 1;
                        let mut sink = [0u8; 4096];
                        let _ = c.read(&mut sink);
                    }
                }
                sent
            })
        })
        .collect();
    // The well-behaved client is served throughout.
    let mut answered = 0;
    while Instant::now() < deadline {
        good.expect(b"*2\r\n$3\r\nGET\r\n$6\r\nkeep42\r\n", b"$5\r\nv0042\r\n");
        answered += 1;
    }
    let sent: u64 = attackers.into_iter().map(|a| a.join().unwrap()).sum();
    for i in 0..100 {
        let req = format!("*2\r\n$3\r\nGET\r\n$6\r\nkeep{i:02}\r\n");
        good.expect(req.as_bytes(), format!("$5\r\nv{i:04}\r\n").as_bytes());
    }
    good.expect(b"PING\r\n", b"+PONG\r\n");
    println!(
        "abuse: {sent} hostile frames from 16 threads; {answered} good requests answered meanwhile"
    );
    assert!(sent > 1000 && answered > 0);
}

#[test]
fn a_slow_client_does_not_delay_others() {
    let s = TestServer::start();
    let mut slow = TcpStream::connect(s.addr).unwrap();
    let request = b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$4\r\ndone\r\n";
    let writer = std::thread::spawn(move || {
        for &b in request.iter() {
            slow.write_all(&[b]).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut reply = [0u8; 5];
        slow.read_exact(&mut reply).unwrap();
        reply
    });
    let mut fast = s.connect();
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        fast.expect(b"PING\r\n", b"+PONG\r\n");
        worst = worst.max(t.elapsed());
    }
    assert_eq!(&writer.join().unwrap(), b"+OK\r\n");
    fast.expect(b"*2\r\n$3\r\nGET\r\n$4\r\nslow\r\n", b"$4\r\ndone\r\n");
    println!("slow client: slowest PING meanwhile took {worst:?}");
    // A server that waited for the slow client's frame would stall a PING for the 3.4 s the
    // frame takes to arrive; the bound leaves room for a loaded machine.
    assert!(worst < Duration::from_millis(1500), "a PING took {worst:?}");
}

/// Resident memory of process `pid`, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = crate::Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args([
                "--port",
                &port.to_string(),
                "--reserve",
                "1gb",
                "--no-persist",
                "--log-level",
                "warn",
            ])
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = Conn::new(addr.parse().unwrap());
    let value = "v".repeat(256);
    c.expect(
        format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$256\r\n{value}\r\n").as_bytes(),
        b"+OK\r\n",
    );
    let before = rss_bytes(server.0.id());
    // 1,000,000 GETs of a 256-byte value: 263 MB of replies if the server buffered them all.
    let mut hog = TcpStream::connect(&addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let batch = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(10_000);
    let mut sent = 0;
    for _ in 0..100 {
        if hog.write_all(&batch).is_err() {
            break; // The server stopped reading: its buffers and the kernel's are full.
        }
        sent += 10_000;
    }
    let after = rss_bytes(server.0.id());
    // Others are still served.
    c.expect(
        b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n",
        format!("$256\r\n{value}\r\n").as_bytes(),
    );
    let growth = after.saturating_sub(before);
    println!("never-reading client: {sent} GETs sent before the server stopped reading; RSS {before} -> {after} (+{growth} bytes)");
    assert!(growth < 32 << 20, "RSS grew by {growth} bytes");
    drop(server);
}
