//! Malformed input over a real socket: the exact error, the connection closed, everyone else
//! unaffected.

use crate::{Connect, TestServer};

#[test]
fn each_protocol_error_is_answered_then_the_connection_closes() {
    let s = TestServer::start();
    let mut bystander = s.connect();
    bystander.expect(
        b"*3\r\n$3\r\nSET\r\n$4\r\nkeep\r\n$4\r\nsafe\r\n",
        b"+OK\r\n",
    );
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*99999999999\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n:1\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$99999999999999999999\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            b"-ERR Protocol error: expected '\\r\\n' after bulk string\r\n",
        ),
    ];
    for &(bad, reply) in cases {
        let mut c = s.connect();
        c.expect(bad, reply);
        c.expect_closed();
    }
    // A good command after the errors, on the same server.
    bystander.expect(b"*2\r\n$3\r\nGET\r\n$4\r\nkeep\r\n", b"$4\r\nsafe\r\n");
}

#[test]
fn an_oversized_inline_line_is_refused() {
    let s = TestServer::start();
    let mut c = s.connect();
    let line = vec![b'a'; 70 * 1024];
    use std::io::Write;
    // The server may close before it has read everything; that is its answer.
    let _ = c.stream.write_all(&line);
    let got = c.read_exact(b"-ERR Protocol error: too big inline request\r\n".len());
    assert_eq!(got, b"-ERR Protocol error: too big inline request\r\n");
}
