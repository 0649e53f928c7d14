//! Ten thousand idle connections do not keep a new client waiting.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Raises this test process's open-file limit to its hard limit.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the valid `lim`.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the valid `lim`.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    lim.rlim_cur
}

use crate::Killed;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn ten_thousand_idle_connections_and_a_new_client_is_served() {
    // The server runs as its own process so that each side holds 10,000 descriptors.
    let limit = raise_fd_limit();
    assert!(
        limit >= 10_100,
        "open-file hard limit {limit} is below 10,100"
    );
    for threads in ["1", "2"] {
        let port = free_port();
        let server = Killed(
            Command::new(env!("CARGO_BIN_EXE_kv-server"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--threads",
                    threads,
                    "--reserve",
                    "1gb",
                ])
                .args([
                    "--max-clients",
                    "10100",
                    "--log-level",
                    "warn",
                    "--no-persist",
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("start kv-server"),
        );
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A well-behaved client keeps being answered while the connections pile up.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let steady = {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut answered = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.write_all(b"PING\r\n").unwrap();
                    let mut pong = [0u8; 7];
                    c.read_exact(&mut pong)
                        .expect("answered while connections pile up");
                    assert_eq!(&pong, b"+PONG\r\n");
                    answered += 1;
                }
                answered
            })
        };
        let idle: Vec<TcpStream> = (0..10_000)
            .map(|i| TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let answered = steady.join().unwrap();
        assert!(answered > 0);
        let mut fresh = TcpStream::connect(&addr).unwrap();
        fresh
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let asked = Instant::now();
        fresh
            .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
            .unwrap();
        let mut reply = [0u8; 12];
        fresh
            .read_exact(&mut reply)
            .expect("answered despite 10,000 idle connections");
        assert_eq!(&reply, b"+OK\r\n$1\r\nv\r\n");
        println!(
            "{threads} thread(s): {answered} PINGs answered while 10,000 connections opened; \
             a new client answered in {:?}",
            asked.elapsed()
        );
        drop(idle);
        drop(server);
    }
}
