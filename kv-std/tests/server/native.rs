//! The native protocol over a real socket.

use crate::{Connect, TestServer};
use kv_nostd::native::{decode_response, Limits, Request, Status};
use std::io::{Read, Write};

fn encode(req: Request<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; req.encoded_len()];
    let n = req.encode(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Reads responses from a stream, keeping what arrives beyond the one asked for.
struct Responses {
    buf: Vec<u8>,
}

impl Responses {
    fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// The next response's status and payload.
    fn next(&mut self, stream: &mut std::net::TcpStream) -> (Status, Vec<u8>) {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((resp, used)) = decode_response(&self.buf, &Limits::new(64, 1024)).unwrap()
            {
                let out = (resp.status, resp.payload.to_vec());
                self.buf.drain(..used);
                return out;
            }
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "server closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Reads exactly one response, asserting nothing else was sent with it.
fn read_response(stream: &mut std::net::TcpStream) -> (Status, Vec<u8>) {
    let mut r = Responses::new();
    let out = r.next(stream);
    assert!(r.buf.is_empty(), "one response at a time");
    out
}

#[test]
fn put_get_delete_ping() {
    let s = TestServer::start();
    let mut c = s.connect();
    let st = &mut c.stream;
    st.write_all(&encode(Request::Ping)).unwrap();
    assert_eq!(read_response(st), (Status::Success, vec![]));
    st.write_all(&encode(Request::Put {
        key: b"user1",
        value: "John Doe, ✓\n".as_bytes(),
    }))
    .unwrap();
    assert_eq!(read_response(st), (Status::Success, vec![]));
    st.write_all(&encode(Request::Get { key: b"user1" }))
        .unwrap();
    assert_eq!(
        read_response(st),
        (Status::Success, "John Doe, ✓\n".as_bytes().to_vec())
    );
    st.write_all(&encode(Request::Delete { key: b"user1" }))
        .unwrap();
    assert_eq!(read_response(st), (Status::Success, vec![]));
    st.write_all(&encode(Request::Get { key: b"user1" }))
        .unwrap();
    assert_eq!(read_response(st).0, Status::NotFound);
    st.write_all(&encode(Request::Delete { key: b"user1" }))
        .unwrap();
    assert_eq!(read_response(st).0, Status::NotFound);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = TestServer::start();
    let mut c = s.connect();
    let mut batch = Vec::new();
    for i in 0..500u32 {
        batch.extend(encode(Request::Put {
            key: format!("k{i}").as_bytes(),
            value: &i.to_be_bytes(),
        }));
    }
    for i in 0..500u32 {
        batch.extend(encode(Request::Get {
            key: format!("k{i}").as_bytes(),
        }));
    }
    c.stream.write_all(&batch).unwrap();
    let mut responses = Responses::new();
    for _ in 0..500 {
        assert_eq!(responses.next(&mut c.stream).0, Status::Success);
    }
    for i in 0..500u32 {
        assert_eq!(
            responses.next(&mut c.stream),
            (Status::Success, i.to_be_bytes().to_vec())
        );
    }
}

#[test]
fn an_oversized_key_is_refused_and_the_connection_goes_on() {
    let mut config = kv_std::config::Config::local();
    config.proto_max_bulk_len = 64;
    let s = TestServer::with(config);
    let mut c = s.connect();
    let key = vec![b'k'; 65];
    let mut frame = vec![0u8; 8 + 65 + 1];
    // Built by hand: the encoder itself would accept it, the server must not.
    frame[0] = kv_nostd::native::MAGIC;
    frame[1] = 0x03;
    frame[2..4].copy_from_slice(&65u16.to_be_bytes());
    frame[4..8].copy_from_slice(&1u32.to_be_bytes());
    frame[8..73].copy_from_slice(&key);
    frame[73] = b'v';
    c.stream.write_all(&frame).unwrap();
    let (status, message) = read_response(&mut c.stream);
    assert_eq!(status, Status::KeyTooLong);
    assert_eq!(message, b"key of 65 bytes exceeds the maximum of 64 bytes");
    c.stream.write_all(&encode(Request::Ping)).unwrap();
    assert_eq!(read_response(&mut c.stream).0, Status::Success);
}

#[test]
fn an_unknown_version_is_refused_and_closed() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.stream.write_all(&[0xA7, 0x01, 0, 0, 0, 0, 0, 0]).unwrap();
    let (status, _) = read_response(&mut c.stream);
    assert_eq!(status, Status::BadRequest);
    c.expect_closed();
}
