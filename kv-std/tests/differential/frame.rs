//! Reply frames as the harness compares them: decoded with kv-nostd's reply decoder, masked where
//! the two servers may differ by nature, and encoded back to bytes for comparison and display.

use kv_nostd::resp::{decode_reply, Limits, Reply};

/// One reply frame, owned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Frame {
    /// A string-like frame: `+`, `-`, `$`, `!` or `=` (with its format).
    Text {
        prefix: u8,
        format: Option<[u8; 3]>,
        text: Vec<u8>,
    },
    /// `:n`.
    Int(i64),
    /// Any other leaf, as its exact bytes (nulls, booleans, doubles, big numbers).
    Other(Vec<u8>),
    /// An aggregate: its type byte, wire length and elements.
    Aggregate {
        prefix: u8,
        len: usize,
        items: Vec<Frame>,
    },
}

/// Takes one frame off the front of `buf`, if a whole one is there.
pub fn take(buf: &mut Vec<u8>) -> Option<Frame> {
    let (reply, n) = decode_reply(buf, &Limits::REDIS)
        .unwrap_or_else(|e| panic!("undecodable reply ({e}): {}", show(buf)))?;
    let frame = from_reply(reply);
    buf.drain(..n);
    Some(frame)
}

fn from_reply(reply: Reply<'_>) -> Frame {
    let text = |prefix, text: &[u8]| Frame::Text {
        prefix,
        format: None,
        text: text.to_vec(),
    };
    match reply {
        Reply::Simple(t) => text(b'+', t),
        Reply::Error(t) => text(b'-', t),
        Reply::Bulk(t) => text(b'$', t),
        Reply::BlobError(t) => text(b'!', t),
        Reply::Verbatim { format, text } => Frame::Text {
            prefix: b'=',
            format: Some(format),
            text: text.to_vec(),
        },
        Reply::Integer(n) => Frame::Int(n),
        Reply::Array(a) | Reply::Map(a) | Reply::Set(a) | Reply::Push(a) | Reply::Attribute(a) => {
            let mut bytes = vec![0u8; reply.encoded_len()];
            reply.encode(&mut bytes).expect("sized");
            Frame::Aggregate {
                prefix: bytes[0],
                len: a.len(),
                items: a.iter().map(from_reply).collect(),
            }
        }
        other => {
            let mut bytes = vec![0u8; other.encoded_len()];
            other.encode(&mut bytes).expect("sized");
            Frame::Other(bytes)
        }
    }
}

impl Frame {
    /// The frame's bytes on the wire.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Text {
                prefix,
                format,
                text,
            } => match prefix {
                b'+' | b'-' => {
                    out.push(*prefix);
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                }
                _ => {
                    let extra = if format.is_some() { 4 } else { 0 };
                    out.push(*prefix);
                    out.extend_from_slice(format!("{}\r\n", text.len() + extra).as_bytes());
                    if let Some(f) = format {
                        out.extend_from_slice(f);
                        out.push(b':');
                    }
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                }
            },
            Frame::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
            Frame::Other(bytes) => out.extend_from_slice(bytes),
            Frame::Aggregate { prefix, len, items } => {
                out.push(*prefix);
                out.extend_from_slice(format!("{len}\r\n").as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// Sorts the top-level elements by pairs (key, value), for maps whose order is unspecified,
    /// whether sent as a map or as a RESP2 flat array.
    pub fn sort_pairs(&mut self) {
        if let Frame::Aggregate { items, .. } = self {
            let mut pairs: Vec<Vec<Frame>> = items.chunks(2).map(<[Frame]>::to_vec).collect();
            pairs.sort();
            *items = pairs.concat();
        }
    }

    /// Sorts the elements of every aggregate, for replies whose order is unspecified.
    pub fn sort(&mut self) {
        if let Frame::Aggregate { items, .. } = self {
            for item in items.iter_mut() {
                item.sort();
            }
            items.sort();
        }
    }
}

/// Bytes as a readable one-line string: printable ASCII as is, the rest escaped.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
