//! The native-protocol step: a buffer of requests, as a client sends them, decoded, applied to
//! the table and answered into an output buffer; the answers are then decoded and compared with
//! what the client expects.

use kv_nostd::native::{
    decode_request, decode_response, Limits, Request, Response, Status, Version,
};
use kv_nostd::{Memory, Table};

use crate::checks::Checks;

/// Requests and responses of this step fit easily: the longest frame is 8 + 17 + 16 bytes.
const BUF: usize = 256;

/// The device speaks version 1, whose 16-bit key lengths are plenty for its keys.
const VERSION: Version = Version::V1;
const MAGIC: u8 = VERSION.magic();

/// Runs the step against `table`, which must not hold the keys `sensor-*`.
pub fn run<A: Memory, I: Memory>(table: &Table<A, I>, checks: &mut Checks) {
    let limits = Limits::new(table.max_key(), table.max_value());
    let long_key = [b'k'; 17];
    let mut input = [0u8; BUF];
    // A PING spelled out byte by byte pins the wire format: magic, op, key and value lengths.
    input[..8].copy_from_slice(&[MAGIC, 0x01, 0, 0, 0, 0, 0, 0]);
    let mut len = 8;
    for request in [
        Request::Put {
            key: b"sensor-1",
            value: b"21.5C",
        },
        Request::Get { key: b"sensor-1" },
        Request::Put {
            key: b"sensor-1",
            value: b"22.0C",
        },
        Request::Get { key: b"sensor-1" },
        Request::Delete { key: b"sensor-1" },
        Request::Get { key: b"sensor-1" },
        Request::Delete { key: b"sensor-1" },
        Request::Put {
            key: &long_key,
            value: b"v",
        },
    ] {
        len += request
            .encode(VERSION, &mut input[len..])
            .expect("requests fit");
    }
    // An op no version of the protocol defines: skipped and answered, not fatal.
    input[len..len + 8].copy_from_slice(&[MAGIC, 0x7f, 0, 0, 0, 0, 0, 0]);
    len += 8;
    checks.eq(
        decode_request(&input[8..len - 1], &limits).map(|r| r.map(|(_, n)| n)),
        Ok(Some(8 + 8 + 5)),
        "decode one request from the front of a buffer",
    );
    checks.eq(
        decode_request(&input[8..8 + 12], &limits),
        Ok(None),
        "a partial request asks for more bytes",
    );

    let mut output = [0u8; BUF];
    let mut out_len = 0;
    let mut at = 0;
    let mut value = [0u8; BUF];
    while at < len {
        let (response, used) = match decode_request(&input[at..len], &limits) {
            Ok(Some((request, used))) => (apply(table, request, &mut value), used),
            Ok(None) => break,
            Err(e) => match e.frame_len() {
                Some(used) => (Response::status(e.status()), used),
                None => break,
            },
        };
        out_len += response
            .encode(VERSION, &mut output[out_len..])
            .expect("responses fit");
        at += used;
    }
    checks.eq(at, len, "every request decoded");

    let expected: [(Status, &[u8]); 10] = [
        (Status::Success, b""),
        (Status::Success, b""),
        (Status::Success, b"21.5C"),
        (Status::Success, b""),
        (Status::Success, b"22.0C"),
        (Status::Success, b""),
        (Status::NotFound, b""),
        (Status::NotFound, b""),
        (Status::KeyTooLong, b""),
        (Status::BadRequest, b""),
    ];
    // The first GET's answer, spelled out: magic, status, payload length, payload.
    checks.eq(
        &output[12..23],
        &[MAGIC, 0x00, 0, 0, 0, 5, b'2', b'1', b'.', b'5', b'C'][..],
        "a GET response's bytes",
    );
    let mut at = 0;
    let mut answered = 0;
    for (status, payload) in expected {
        match decode_response(&output[at..out_len], &limits) {
            Ok(Some((response, used))) => {
                checks.eq(
                    (response.status, response.payload),
                    (status, payload),
                    "response",
                );
                at += used;
                answered += 1;
            }
            _ => {
                checks.check(false, "a response decodes");
                break;
            }
        }
    }
    checks.eq(
        (answered, at),
        (expected.len(), out_len),
        "one response per request",
    );
    checks.eq(
        table.contains(b"sensor-1"),
        Ok(false),
        "the step left no key",
    );
}

/// What a device serving the native protocol answers `request` with. It has no storage to save
/// to and no users, so `SAVE` and `AUTH` are refused, and its responses are built in one small
/// buffer, too small for a `SCAN` step, which is refused too.
fn apply<'v, A: Memory, I: Memory>(
    table: &Table<A, I>,
    request: Request<'_>,
    value: &'v mut [u8],
) -> Response<'v> {
    match request {
        Request::Ping => Response::ok(),
        Request::Get { key } => match table.get_into(key, value) {
            Ok(Some(n)) => Response::value(&value[..n]),
            Ok(None) => Response::status(Status::NotFound),
            Err(e) => Response::status(e.into()),
        },
        Request::Put { key, value } => match table.put(key, value) {
            Ok(_) => Response::ok(),
            Err(e) => Response::status(e.into()),
        },
        Request::Delete { key } => match table.delete(key) {
            Ok(true) => Response::ok(),
            Ok(false) => Response::status(Status::NotFound),
            Err(e) => Response::status(e.into()),
        },
        Request::Save | Request::Auth { .. } | Request::Scan { .. } => {
            Response::status(Status::BadRequest)
        }
    }
}
