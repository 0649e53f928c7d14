//! Passwords: every path to the data is closed until AUTH, in both protocols.

use crate::{Conn, Connect, TestServer};
use kv_nostd::native::{decode_response, Limits, Request, Status, Version};
use kv_std::config::Config;
use std::io::{Read, Write};

fn with_password() -> TestServer {
    let mut config = Config::local();
    config.password = Some(b"s3cret pass".to_vec());
    TestServer::with(config)
}

#[test]
fn resp_commands_wait_for_auth() {
    let s = with_password();
    let mut c = s.connect();
    c.expect(
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"-NOAUTH Authentication required.\r\n",
    );
    c.expect(b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    c.expect(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        b"-NOAUTH Authentication required.\r\n",
    );
    c.expect(
        b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.expect(
        b"*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$11\r\ns3cret pass\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.expect(b"*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n", b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n");
    c.expect(b"*2\r\n$4\r\nAUTH\r\n$11\r\ns3cret pass\r\n", b"+OK\r\n");
    c.expect(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n");
    // AUTH default <password>, and HELLO ... AUTH, on fresh connections.
    let mut c2 = s.connect();
    c2.expect(
        b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$11\r\ns3cret pass\r\n",
        b"+OK\r\n",
    );
    c2.expect(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n");
    let mut c3 = s.connect();
    c3.stream.write_all(b"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$11\r\ns3cret pass\r\n").unwrap();
    assert_eq!(c3.read_exact(4), b"*14\r");
    let mut c4 = s.connect();
    c4.expect(b"*1\r\n$4\r\nQUIT\r\n", b"+OK\r\n");
    c4.expect_closed();
}

#[test]
fn before_auth_only_small_requests_are_read() {
    let s = with_password();
    let mut c = s.connect();
    // Redis's limits for unauthenticated clients (CVE-2021-32675): 10 arguments, 16 KiB bulks.
    c.expect(
        b"*11\r\n",
        b"-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    c.expect_closed();
    let mut c = s.connect();
    c.expect(
        b"*2\r\n$16385\r\n",
        b"-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    c.expect_closed();
    // The same sizes are fine once authenticated.
    let mut c = s.connect();
    c.expect(b"*2\r\n$4\r\nAUTH\r\n$11\r\ns3cret pass\r\n", b"+OK\r\n");
    let del = format!("*11\r\n$3\r\nDEL\r\n{}", "$1\r\nk\r\n".repeat(10));
    c.expect(del.as_bytes(), b":0\r\n");
    let big = "x".repeat(20_000);
    let echo = format!("*2\r\n$4\r\nECHO\r\n$20000\r\n{big}\r\n");
    c.expect(echo.as_bytes(), format!("$20000\r\n{big}\r\n").as_bytes());
}

fn native(c: &mut Conn, req: Request<'_>) -> (Status, Vec<u8>) {
    let mut buf = vec![0u8; req.encoded_len(Version::LATEST)];
    req.encode(Version::LATEST, &mut buf).unwrap();
    c.stream.write_all(&buf).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        if let Some((r, _)) = decode_response(&got, &Limits::new(64, 1024)).unwrap() {
            return (r.status, r.payload.to_vec());
        }
        let n = c.stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed");
        got.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn native_requests_wait_for_auth() {
    let s = with_password();
    let mut c = s.connect();
    assert_eq!(
        native(&mut c, Request::Get { key: b"k" }),
        (
            Status::AuthRequired,
            b"NOAUTH Authentication required.".to_vec()
        )
    );
    assert_eq!(native(&mut c, Request::Ping).0, Status::AuthRequired);
    assert_eq!(
        native(
            &mut c,
            Request::Auth {
                user: b"",
                password: b"nope"
            }
        )
        .0,
        Status::AuthFailed
    );
    assert_eq!(
        native(
            &mut c,
            Request::Put {
                key: b"k",
                value: b"v"
            }
        )
        .0,
        Status::AuthRequired
    );
    assert_eq!(
        native(
            &mut c,
            Request::Auth {
                user: b"",
                password: b"s3cret pass"
            }
        )
        .0,
        Status::Success
    );
    assert_eq!(
        native(
            &mut c,
            Request::Put {
                key: b"k",
                value: b"v"
            }
        )
        .0,
        Status::Success
    );
    assert_eq!(
        native(&mut c, Request::Get { key: b"k" }),
        (Status::Success, b"v".to_vec())
    );
}
