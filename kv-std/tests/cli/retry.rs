//! An unreachable server, and a server restarted while the client retries.

use crate::{client_on, ClientCommand, TestServer};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_is_one_line_and_exit_2() {
    let port = free_port();
    let started = Instant::now();
    client_on(port)
        .args(["--retries", "3", "ping"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "kv-client: cannot reach 127.0.0.1:{port}: Connection refused (os error 111) (after 3 retries)\n"
        ));
    // 50 + 100 + 200 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(350));
}

#[test]
fn a_server_restarted_during_the_retries_gets_the_request() {
    let first = TestServer::start();
    let port = first.addr.port();
    first
        .client()
        .args(["put", "user1", "before"])
        .assert()
        .code(0);
    drop(first);
    // The client starts while nothing listens, and retries for 50+100+...+1600+2000×3 ms.
    let child = std::thread::spawn(move || {
        client_on(port)
            .args(["--retries", "10", "put", "user1", "John Doe"])
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(600));
    let second = TestServer::on_port(port).expect("the port is free again");
    let out = child.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "✓ user1 = John Doe\n");
    assert_eq!(out.status.code(), Some(0));
    second
        .client()
        .args(["get", "user1"])
        .assert()
        .code(0)
        .stdout("John Doe\n");
}
