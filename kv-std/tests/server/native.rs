//! The native protocol over a real socket, in both versions.

use crate::{Connect, TestServer};
use kv_nostd::native::{decode_response, decode_scan_payload, Limits, Request, Status, Version};
use std::io::{Read, Write};

const VERSIONS: [Version; 2] = [Version::V1, Version::V2];

fn encode(version: Version, req: Request<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; req.encoded_len(version)];
    let n = req.encode(version, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Reads responses from a stream, keeping what arrives beyond the one asked for.
struct Responses {
    buf: Vec<u8>,
    limits: Limits,
}

impl Responses {
    fn new() -> Self {
        Self::with(Limits::new(64, 1024))
    }

    fn with(limits: Limits) -> Self {
        Self {
            buf: Vec::new(),
            limits,
        }
    }

    /// The next response's version, status and payload.
    fn next_versioned(&mut self, stream: &mut std::net::TcpStream) -> (Version, Status, Vec<u8>) {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((resp, used)) = decode_response(&self.buf, &self.limits).unwrap() {
                let version = Version::of(&self.buf).unwrap().unwrap();
                let out = (version, resp.status, resp.payload.to_vec());
                self.buf.drain(..used);
                return out;
            }
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "server closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Reads exactly one response in `version`, asserting nothing else was sent with it.
fn read_response_in(version: Version, stream: &mut std::net::TcpStream) -> (Status, Vec<u8>) {
    let mut r = Responses::new();
    let (answered, status, payload) = r.next_versioned(stream);
    assert_eq!(answered, version, "answered in the request's version");
    assert!(r.buf.is_empty(), "one response at a time");
    (status, payload)
}

fn read_response(stream: &mut std::net::TcpStream) -> (Status, Vec<u8>) {
    read_response_in(Version::V1, stream)
}

#[test]
fn put_get_delete_ping_in_each_version() {
    let s = TestServer::start();
    for version in VERSIONS {
        let mut c = s.connect();
        let st = &mut c.stream;
        let mut call = |req: Request<'_>| {
            st.write_all(&encode(version, req)).unwrap();
            read_response_in(version, st)
        };
        assert_eq!(call(Request::Ping), (Status::Success, vec![]));
        let value = "John Doe, ✓\n".as_bytes();
        assert_eq!(
            call(Request::Put {
                key: b"user1",
                value
            }),
            (Status::Success, vec![])
        );
        assert_eq!(
            call(Request::Get { key: b"user1" }),
            (Status::Success, value.to_vec())
        );
        assert_eq!(
            call(Request::Delete { key: b"user1" }),
            (Status::Success, vec![])
        );
        assert_eq!(call(Request::Get { key: b"user1" }).0, Status::NotFound);
        assert_eq!(call(Request::Delete { key: b"user1" }).0, Status::NotFound);
    }
}

#[test]
fn each_request_is_answered_in_its_own_version_byte_for_byte() {
    let s = TestServer::start();
    let mut c = s.connect();
    // Version 1 first (it picks the protocol), then version 2, then 1 again on one connection.
    c.stream
        .write_all(b"\xA1\x03\x00\x01\x00\x00\x00\x02kvv")
        .unwrap();
    c.stream
        .write_all(b"\xA2\x02\x00\x00\x00\x01\x00\x00\x00\x00k")
        .unwrap();
    c.stream
        .write_all(b"\xA1\x02\x00\x01\x00\x00\x00\x00k")
        .unwrap();
    c.stream
        .write_all(b"\xA2\x02\x00\x00\x00\x01\x00\x00\x00\x00x")
        .unwrap();
    let expected: &[u8] = b"\xA1\x00\x00\x00\x00\x00\
                            \xA2\x00\x00\x00\x00\x02vv\
                            \xA1\x00\x00\x00\x00\x02vv\
                            \xA2\x01\x00\x00\x00\x00";
    let mut got = vec![0u8; expected.len()];
    c.stream.read_exact(&mut got).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = TestServer::start();
    let mut c = s.connect();
    let mut batch = Vec::new();
    for i in 0..500u32 {
        batch.extend(encode(
            VERSIONS[i as usize % 2],
            Request::Put {
                key: format!("k{i}").as_bytes(),
                value: &i.to_be_bytes(),
            },
        ));
    }
    for i in 0..500u32 {
        batch.extend(encode(
            VERSIONS[i as usize % 3 % 2],
            Request::Get {
                key: format!("k{i}").as_bytes(),
            },
        ));
    }
    c.stream.write_all(&batch).unwrap();
    let mut responses = Responses::new();
    for i in 0..500 {
        let (version, status, _) = responses.next_versioned(&mut c.stream);
        assert_eq!((version, status), (VERSIONS[i % 2], Status::Success));
    }
    for i in 0..500u32 {
        assert_eq!(
            responses.next_versioned(&mut c.stream),
            (
                VERSIONS[i as usize % 3 % 2],
                Status::Success,
                i.to_be_bytes().to_vec()
            )
        );
    }
}

#[test]
fn a_key_over_65535_bytes_round_trips_in_version_2() {
    let s = TestServer::start();
    let mut c = s.connect();
    let st = &mut c.stream;
    let key: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let value = b"long-key value".as_slice();
    st.write_all(&encode(Version::V2, Request::Put { key: &key, value }))
        .unwrap();
    assert_eq!(read_response_in(Version::V2, st), (Status::Success, vec![]));
    st.write_all(&encode(Version::V2, Request::Get { key: &key }))
        .unwrap();
    assert_eq!(
        read_response_in(Version::V2, st),
        (Status::Success, value.to_vec())
    );
    // A shorter key sharing its first 65,535 bytes is another key.
    st.write_all(&encode(
        Version::V2,
        Request::Get {
            key: &key[..65_535],
        },
    ))
    .unwrap();
    assert_eq!(read_response_in(Version::V2, st).0, Status::NotFound);

    // A version-2 scan returns it whole; a version-1 scan cannot frame it and leaves it out.
    st.write_all(&encode(
        Version::V2,
        Request::Put {
            key: b"short",
            value: b"v",
        },
    ))
    .unwrap();
    assert_eq!(read_response_in(Version::V2, st).0, Status::Success);
    let scan = |version: Version, st: &mut std::net::TcpStream| {
        let mut found = Vec::new();
        let mut cursor = 0;
        let mut responses = Responses::with(Limits::new(0, 1 << 20));
        loop {
            st.write_all(&encode(version, Request::Scan { cursor }))
                .unwrap();
            let (answered, status, payload) = responses.next_versioned(st);
            assert_eq!((answered, status), (version, Status::Success));
            let (next, entries) = decode_scan_payload(version, &payload).unwrap();
            found.extend(entries.map(|(k, v)| (k.to_vec(), v.to_vec())));
            if next == 0 {
                return found;
            }
            cursor = next;
        }
    };
    let mut v2 = scan(Version::V2, st);
    v2.sort();
    assert_eq!(
        v2,
        [
            (key.clone(), value.to_vec()),
            (b"short".to_vec(), b"v".to_vec())
        ]
    );
    assert_eq!(scan(Version::V1, st), [(b"short".to_vec(), b"v".to_vec())]);

    st.write_all(&encode(Version::V2, Request::Delete { key: &key }))
        .unwrap();
    assert_eq!(read_response_in(Version::V2, st).0, Status::Success);
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
    frame[0] = Version::V1.magic();
    frame[1] = 0x03;
    frame[2..4].copy_from_slice(&65u16.to_be_bytes());
    frame[4..8].copy_from_slice(&1u32.to_be_bytes());
    frame[8..73].copy_from_slice(&key);
    frame[73] = b'v';
    c.stream.write_all(&frame).unwrap();
    let (status, message) = read_response(&mut c.stream);
    assert_eq!(status, Status::KeyTooLong);
    assert_eq!(message, b"key of 65 bytes exceeds the maximum of 64 bytes");
    c.stream
        .write_all(&encode(Version::V1, Request::Ping))
        .unwrap();
    assert_eq!(read_response(&mut c.stream).0, Status::Success);
}

#[test]
fn an_oversized_version_2_frame_is_skipped_as_it_arrives() {
    let mut config = kv_std::config::Config::local();
    config.proto_max_bulk_len = 64;
    let s = TestServer::with(config);
    let mut c = s.connect();
    // A key over the limit announced in a 32-bit field, and a body far larger than any buffer
    // the server keeps for this connection, sent in pieces after the answer came.
    let key_len = 3_000_000u32;
    let mut header = vec![Version::V2.magic(), 0x03];
    header.extend_from_slice(&key_len.to_be_bytes());
    header.extend_from_slice(&2u32.to_be_bytes());
    c.stream.write_all(&header).unwrap();
    let (status, message) = read_response_in(Version::V2, &mut c.stream);
    assert_eq!(status, Status::KeyTooLong);
    assert_eq!(
        message,
        b"key of 3000000 bytes exceeds the maximum of 64 bytes"
    );
    let piece = vec![0xA2u8; 64 * 1024];
    let mut left = key_len as usize + 2;
    while left > 0 {
        let n = left.min(piece.len());
        c.stream.write_all(&piece[..n]).unwrap();
        left -= n;
    }
    // The next frame after the skipped body is a request again.
    c.stream
        .write_all(&encode(Version::V2, Request::Ping))
        .unwrap();
    assert_eq!(
        read_response_in(Version::V2, &mut c.stream),
        (Status::Success, vec![])
    );
}

#[test]
fn an_unknown_version_is_refused_in_version_1_and_closed() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.stream.write_all(&[0xA7, 0x01, 0, 0, 0, 0, 0, 0]).unwrap();
    let (status, message) = read_response(&mut c.stream);
    assert_eq!(status, Status::BadRequest);
    assert_eq!(
        message,
        b"unsupported protocol version 7 (this end speaks 1 and 2)"
    );
    c.expect_closed();
}

#[test]
fn a_frame_larger_than_the_query_buffer_is_refused_in_its_version_and_closed() {
    let mut config = kv_std::config::Config::local();
    config.client_query_buffer_limit = 64 * 1024;
    let s = TestServer::with(config);
    let mut c = s.connect();
    // Key and value are each within proto-max-bulk-len; together they pass the buffer limit.
    let key = vec![b'k'; 40 * 1024];
    let value = vec![b'v'; 40 * 1024];
    let frame = encode(
        Version::V2,
        Request::Put {
            key: &key,
            value: &value,
        },
    );
    // The server may close before the whole frame is written.
    let _ = c.stream.write_all(&frame);
    let (status, message) = read_response_in(Version::V2, &mut c.stream);
    assert_eq!(status, Status::BadRequest);
    assert_eq!(
        message,
        b"request larger than the client-query-buffer-limit of 65536 bytes"
    );
    c.expect_closed();
}
