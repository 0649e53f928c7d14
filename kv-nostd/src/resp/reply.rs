//! Replies: encoding what a Redis server sends, and decoding it for clients and tests.
//!
//! The encodings are byte-identical to redis-server 7's RESP2 replies: `+OK\r\n`, `-ERR ...\r\n`,
//! `:1\r\n`, `$5\r\nhello\r\n`, `$-1\r\n` (null), `*2\r\n...` (array), `*-1\r\n` (null array).
//!
//! Decoding is iterative, never recursive: a reply of nested arrays is checked with one counter of
//! elements still expected, so no input can exhaust the stack.

use super::{crlf_at, int_len, scan_number, wire_len, write_header};
use super::{BufferTooSmall, DecodeError, Limits, Number};

/// One RESP2 reply, borrowing its bytes.
///
/// Every value has exactly one encoding and the decoder accepts only that one, so two arrays are
/// equal exactly when their bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply<'a> {
    /// `+<text>\r\n`, such as `+OK`. CR and LF in the text are written as spaces, as Redis does,
    /// so the reply stays one line.
    Simple(&'a [u8]),
    /// `-<text>\r\n`, such as `-ERR unknown command`. CR and LF are written as spaces.
    Error(&'a [u8]),
    /// `:<n>\r\n`.
    Integer(i64),
    /// `$<len>\r\n<bytes>\r\n`.
    Bulk(&'a [u8]),
    /// `$-1\r\n`, the null bulk string: a `GET` of a missing key.
    Null,
    /// `*-1\r\n`, the null array.
    NullArray,
    /// `*<n>\r\n` followed by `n` replies.
    Array(Array<'a>),
}

impl Reply<'static> {
    /// `+OK\r\n`.
    pub const OK: Reply<'static> = Reply::Simple(b"OK");
    /// `+PONG\r\n`.
    pub const PONG: Reply<'static> = Reply::Simple(b"PONG");
}

impl<'a> Reply<'a> {
    /// The encoded reply's length in bytes (saturating at `usize::MAX`, which no buffer holds).
    pub fn encoded_len(&self) -> usize {
        match *self {
            Reply::Simple(text) | Reply::Error(text) => text.len().saturating_add(3),
            Reply::Integer(n) => int_len(n) + 3,
            Reply::Bulk(bytes) => (int_len(wire_len(bytes.len())) + 5).saturating_add(bytes.len()),
            Reply::Null | Reply::NullArray => 5,
            Reply::Array(array) => {
                (int_len(wire_len(array.len)) + 3).saturating_add(array.bytes.len())
            }
        }
    }

    /// Writes the reply to the start of `out` and returns its length; writes nothing when it does
    /// not fit.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = self.encoded_len();
        let Some(out) = out.get_mut(..needed) else {
            return Err(BufferTooSmall {
                needed,
                len: out.len(),
            });
        };
        // `out` is exactly the frame's length from here on, so no write below can fail.
        match *self {
            Reply::Simple(text) => write_line(b'+', text, out),
            Reply::Error(text) => write_line(b'-', text, out),
            Reply::Integer(n) => {
                write_header(b':', n, out)?;
            }
            Reply::Bulk(bytes) => {
                let n = write_header(b'$', wire_len(bytes.len()), out)?;
                let (payload, crlf) = out[n..].split_at_mut(bytes.len());
                payload.copy_from_slice(bytes);
                crlf.copy_from_slice(b"\r\n");
            }
            Reply::Null => out.copy_from_slice(b"$-1\r\n"),
            Reply::NullArray => out.copy_from_slice(b"*-1\r\n"),
            Reply::Array(array) => {
                let n = write_header(b'*', wire_len(array.len), out)?;
                out[n..].copy_from_slice(array.bytes);
            }
        }
        Ok(needed)
    }
}

/// Writes `prefix`, `text` with CR and LF as spaces, and CRLF into `out`, which is exactly long
/// enough.
fn write_line(prefix: u8, text: &[u8], out: &mut [u8]) {
    out[0] = prefix;
    for (slot, &byte) in out[1..].iter_mut().zip(text) {
        *slot = if byte == b'\r' || byte == b'\n' {
            b' '
        } else {
            byte
        };
    }
    let end = out.len();
    out[end - 2..].copy_from_slice(b"\r\n");
}

/// Writes an array header, `*<len>\r\n`, to the start of `out`; the caller then encodes the `len`
/// elements. Writes nothing when it does not fit.
pub fn encode_array_header(len: usize, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    write_header(b'*', wire_len(len), out)
}

/// Writes a bulk string header, `$<len>\r\n`, to the start of `out`, so a server can copy a value
/// straight behind it and finish with `\r\n`. Writes nothing when it does not fit.
pub fn encode_bulk_header(len: usize, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    write_header(b'$', wire_len(len), out)
}

/// A decoded array reply: its element count and their validated bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Array<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> Array<'a> {
    /// The number of elements.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements (`*0\r\n`).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in order.
    pub fn iter(&self) -> Elements<'a> {
        Elements {
            rest: self.bytes,
            remaining: self.len,
        }
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Reply<'a>;
    type IntoIter = Elements<'a>;

    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

/// The elements of an [`Array`], in order.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [u8],
    remaining: usize,
}

/// Limits that every already validated element passes.
const UNLIMITED: Limits = Limits::new(usize::MAX, usize::MAX, usize::MAX);

impl<'a> Iterator for Elements<'a> {
    type Item = Reply<'a>;

    fn next(&mut self) -> Option<Reply<'a>> {
        if self.remaining == 0 {
            return None;
        }
        // The bytes were validated when the array was decoded, so this succeeds; should it not,
        // the iteration ends rather than panicking.
        let Ok(Some((reply, used))) = decode_reply(self.rest, &UNLIMITED) else {
            self.remaining = 0;
            return None;
        };
        self.remaining -= 1;
        self.rest = self.rest.get(used..).unwrap_or_default();
        Some(reply)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// One element's type and header, as read by [`element`].
enum Head<'a> {
    /// A complete reply that is not a non-null array.
    Leaf(Reply<'a>),
    /// The header of an array of this many elements.
    Array(usize),
}

/// Decodes one reply from the start of `input`.
///
/// `Ok(None)` means `input` is a valid prefix and more bytes are needed; `Ok(Some((reply,
/// consumed)))` means the first `consumed` bytes hold `reply`. Bulk strings are bounded by
/// [`Limits::max_bulk`], array lengths by [`Limits::max_args`] and simple strings and errors by
/// [`Limits::max_inline`].
pub fn decode_reply<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Reply<'a>, usize)>, DecodeError> {
    let Some((head, mut pos)) = element(input, 0, limits)? else {
        return Ok(None);
    };
    let len = match head {
        Head::Leaf(reply) => return Ok(Some((reply, pos))),
        Head::Array(len) => len,
    };
    let start = pos;
    let mut pending = len;
    while pending > 0 {
        let Some((head, next)) = element(input, pos, limits)? else {
            return Ok(None);
        };
        pending -= 1;
        if let Head::Array(len) = head {
            pending = pending
                .checked_add(len)
                .ok_or(DecodeError::InvalidMultibulkLength)?;
        }
        pos = next;
    }
    let array = Array {
        bytes: &input[start..pos],
        len,
    };
    Ok(Some((Reply::Array(array), pos)))
}

/// Reads the element starting at `input[pos]`: a whole leaf reply, or only an array's header.
/// Returns the element and where it ends.
fn element<'a>(
    input: &'a [u8],
    pos: usize,
    limits: &Limits,
) -> Result<Option<(Head<'a>, usize)>, DecodeError> {
    let Some((&kind, rest)) = input.get(pos..).and_then(<[u8]>::split_first) else {
        return Ok(None);
    };
    // `pos + 1 + used` below stays within `input`: `used` counts bytes of `rest`.
    let start = pos + 1;
    match kind {
        b'+' | b'-' => {
            let Some(len) = line(rest, limits.max_inline)? else {
                return Ok(None);
            };
            let text = &rest[..len];
            let reply = if kind == b'+' {
                Reply::Simple(text)
            } else {
                Reply::Error(text)
            };
            Ok(Some((Head::Leaf(reply), start + len + 2)))
        }
        b':' => match scan_number(rest) {
            Number::Done(n, used) => Ok(Some((Head::Leaf(Reply::Integer(n)), start + used))),
            Number::Partial(_) => Ok(None),
            Number::Invalid => Err(DecodeError::InvalidInteger),
        },
        b'$' => {
            let over = |len: i64| usize::try_from(len).map_or(true, |n| n > limits.max_bulk);
            let (len, used) = match scan_number(rest) {
                Number::Done(-1, used) => return Ok(Some((Head::Leaf(Reply::Null), start + used))),
                Number::Done(len, _) | Number::Partial(len) if len < -1 => {
                    return Err(DecodeError::InvalidBulkLength)
                }
                Number::Done(len, _) | Number::Partial(len) if len >= 0 && over(len) => {
                    return Err(limits.bulk_error())
                }
                Number::Done(len, used) => (len, used),
                Number::Partial(_) => return Ok(None),
                Number::Invalid => return Err(DecodeError::InvalidBulkLength),
            };
            let len = usize::try_from(len).map_err(|_| DecodeError::InvalidBulkLength)?;
            let payload = start + used;
            let end = payload
                .checked_add(len)
                .ok_or(DecodeError::InvalidBulkLength)?;
            match crlf_at(input, end) {
                None => Ok(None),
                Some(false) => Err(DecodeError::BulkNotTerminated),
                Some(true) => Ok(Some((
                    Head::Leaf(Reply::Bulk(&input[payload..end])),
                    end + 2,
                ))),
            }
        }
        b'*' => {
            let over = |len: i64| usize::try_from(len).map_or(true, |n| n > limits.max_args);
            match scan_number(rest) {
                Number::Done(-1, used) => Ok(Some((Head::Leaf(Reply::NullArray), start + used))),
                Number::Done(len, _) | Number::Partial(len) if len < -1 => {
                    Err(DecodeError::InvalidMultibulkLength)
                }
                Number::Done(len, _) | Number::Partial(len) if len >= 0 && over(len) => {
                    Err(limits.multibulk_error())
                }
                Number::Done(len, used) => {
                    let len =
                        usize::try_from(len).map_err(|_| DecodeError::InvalidMultibulkLength)?;
                    Ok(Some((Head::Array(len), start + used)))
                }
                Number::Partial(_) => Ok(None),
                Number::Invalid => Err(DecodeError::InvalidMultibulkLength),
            }
        }
        got => Err(DecodeError::UnknownReplyType { got }),
    }
}

/// The length of the text before the CRLF that ends a simple string or error line; `None` when
/// more bytes are needed.
fn line(bytes: &[u8], max: usize) -> Result<Option<usize>, DecodeError> {
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\r' => {
                return match bytes.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(DecodeError::InvalidLine),
                }
            }
            b'\n' => return Err(DecodeError::InvalidLine),
            // The text already holds `i + 1` bytes.
            _ if i >= max => return Err(DecodeError::InvalidLine),
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// An owned reply, to generate and compare nested arrays.
    #[derive(Clone, Debug, PartialEq)]
    enum Tree {
        Simple(Vec<u8>),
        Error(Vec<u8>),
        Integer(i64),
        Bulk(Vec<u8>),
        Null,
        NullArray,
        Array(Vec<Tree>),
    }

    fn encode(reply: &Reply<'_>) -> Vec<u8> {
        let mut buf = std::vec![0u8; reply.encoded_len()];
        let n = reply.encode(&mut buf).expect("fits");
        assert_eq!(n, buf.len());
        buf
    }

    fn encode_tree(tree: &Tree, out: &mut Vec<u8>) {
        let leaf = match tree {
            Tree::Simple(text) => Reply::Simple(text),
            Tree::Error(text) => Reply::Error(text),
            Tree::Integer(n) => Reply::Integer(*n),
            Tree::Bulk(bytes) => Reply::Bulk(bytes),
            Tree::Null => Reply::Null,
            Tree::NullArray => Reply::NullArray,
            Tree::Array(items) => {
                let mut header = [0u8; 24];
                let n = encode_array_header(items.len(), &mut header).expect("fits");
                out.extend_from_slice(&header[..n]);
                for item in items {
                    encode_tree(item, out);
                }
                return;
            }
        };
        out.extend_from_slice(&encode(&leaf));
    }

    fn to_tree(reply: Reply<'_>) -> Tree {
        match reply {
            Reply::Simple(text) => Tree::Simple(text.to_vec()),
            Reply::Error(text) => Tree::Error(text.to_vec()),
            Reply::Integer(n) => Tree::Integer(n),
            Reply::Bulk(bytes) => Tree::Bulk(bytes.to_vec()),
            Reply::Null => Tree::Null,
            Reply::NullArray => Tree::NullArray,
            Reply::Array(array) => {
                assert_eq!(array.iter().count(), array.len());
                Tree::Array(array.iter().map(to_tree).collect())
            }
        }
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let text = proptest::collection::vec(
            any::<u8>().prop_filter("one line", |&b| b != b'\r' && b != b'\n'),
            0..16,
        );
        let leaf = prop_oneof![
            text.clone().prop_map(Tree::Simple),
            text.prop_map(Tree::Error),
            any::<i64>().prop_map(Tree::Integer),
            proptest::collection::vec(any::<u8>(), 0..32).prop_map(Tree::Bulk),
            Just(Tree::Null),
            Just(Tree::NullArray),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            proptest::collection::vec(inner, 0..6).prop_map(Tree::Array)
        })
    }

    /// Feeds `chunks` into a client-style buffer, taking every complete reply off its front.
    fn feed<'c>(chunks: impl IntoIterator<Item = &'c [u8]>) -> Result<Vec<Tree>, DecodeError> {
        let mut buf = Vec::new();
        let mut replies = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some((reply, n)) = decode_reply(&buf, &Limits::REDIS)? {
                assert!(n > 0 && n <= buf.len());
                replies.push(to_tree(reply));
                buf.drain(..n);
            }
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(replies)
    }

    fn assert_incremental(stream: &[u8], expected: &[Tree]) {
        assert_eq!(feed([stream]).as_deref(), Ok(expected));
        for split in 0..=stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(feed([a, b]).as_deref(), Ok(expected), "split {split}");
        }
        assert_eq!(feed(stream.chunks(1)).as_deref(), Ok(expected));
    }

    #[test]
    fn replies_are_byte_identical_to_redis() {
        let mut buf = [0u8; 8];
        let n = encode_array_header(0, &mut buf).expect("fits");
        assert_eq!(&buf[..n], b"*0\r\n");
        let n = encode_bulk_header(5, &mut buf).expect("fits");
        assert_eq!(&buf[..n], b"$5\r\n");
        let cases: [(Reply<'_>, &[u8]); 12] = [
            (Reply::OK, b"+OK\r\n"),
            (Reply::PONG, b"+PONG\r\n"),
            (Reply::Null, b"$-1\r\n"),
            (Reply::NullArray, b"*-1\r\n"),
            (Reply::Integer(1), b":1\r\n"),
            (Reply::Integer(0), b":0\r\n"),
            (Reply::Integer(-1), b":-1\r\n"),
            (Reply::Bulk(b"bar"), b"$3\r\nbar\r\n"),
            (Reply::Bulk(b""), b"$0\r\n\r\n"),
            (
                Reply::Error(b"ERR unknown command 'foo', with args beginning with: "),
                b"-ERR unknown command 'foo', with args beginning with: \r\n",
            ),
            (
                Reply::Error(b"ERR wrong number of arguments for 'get' command"),
                b"-ERR wrong number of arguments for 'get' command\r\n",
            ),
            (Reply::Error(b"ERR a\r\nb"), b"-ERR a  b\r\n"),
        ];
        for (reply, bytes) in cases {
            assert_eq!(encode(&reply), bytes, "{reply:?}");
        }
        // CONFIG GET save, as redis-server 7 answers it with persistence off.
        let config = Tree::Array(std::vec![
            Tree::Bulk(b"save".to_vec()),
            Tree::Bulk(Vec::new())
        ]);
        let mut bytes = Vec::new();
        encode_tree(&config, &mut bytes);
        assert_eq!(bytes, b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
        assert_incremental(&bytes, &[config]);
    }

    #[test]
    fn invalid_replies_fail_with_their_cause() {
        let cases: [(&[u8], DecodeError); 14] = [
            (b"%1\r\n", DecodeError::UnknownReplyType { got: b'%' }),
            (b":1x\r\n", DecodeError::InvalidInteger),
            (b":\r\n", DecodeError::InvalidInteger),
            (b":-0\r\n", DecodeError::InvalidInteger),
            (b":9223372036854775808\r\n", DecodeError::InvalidInteger),
            (b"$-2\r\n", DecodeError::InvalidBulkLength),
            (b"$-12", DecodeError::InvalidBulkLength),
            (b"$536870913", DecodeError::InvalidBulkLength),
            (b"$1\r\nab\r\n", DecodeError::BulkNotTerminated),
            (b"*-2\r\n", DecodeError::InvalidMultibulkLength),
            (b"*1048577\r\n", DecodeError::InvalidMultibulkLength),
            (
                b"*1\r\n*1\r\n!",
                DecodeError::UnknownReplyType { got: b'!' },
            ),
            (b"+a\nb\r\n", DecodeError::InvalidLine),
            (b"-a\rb\r\n", DecodeError::InvalidLine),
        ];
        for (input, error) in cases {
            assert_eq!(decode_reply(input, &Limits::REDIS), Err(error), "{input:?}");
        }
        let short = Limits::new(2, 4, 4);
        assert_eq!(decode_reply(b"+abc", &short), Err(DecodeError::InvalidLine));
        assert!(matches!(decode_reply(b"+ab\r\n", &short), Ok(Some((_, 5)))));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 100_000;
        let mut bytes = b"*1\r\n".repeat(depth);
        assert_eq!(decode_reply(&bytes, &Limits::REDIS), Ok(None));
        bytes.extend_from_slice(b":7\r\n");
        let (reply, n) = decode_reply(&bytes, &Limits::REDIS)
            .expect("valid")
            .expect("complete");
        assert_eq!(n, bytes.len());
        assert_eq!(encode(&reply), bytes);
    }

    #[test]
    fn encoders_write_nothing_when_the_frame_does_not_fit() {
        let mut buf = [0xEEu8; 8];
        assert_eq!(
            Reply::Bulk(b"value").encode(&mut buf),
            Err(BufferTooSmall { needed: 11, len: 8 })
        );
        assert_eq!(buf, [0xEE; 8]);
        assert_eq!(
            encode_array_header(1_000_000_000, &mut buf),
            Err(BufferTooSmall { needed: 13, len: 8 })
        );
        assert_eq!(buf, [0xEE; 8]);
    }

    proptest! {
        #[test]
        fn replies_round_trip_at_every_split(trees in proptest::collection::vec(tree(), 1..4)) {
            let mut stream = Vec::new();
            for tree in &trees {
                encode_tree(tree, &mut stream);
            }
            assert_incremental(&stream, &trees);
            // A decoded reply re-encodes to the bytes it came from.
            let (reply, n) = decode_reply(&stream, &Limits::REDIS).unwrap().unwrap();
            prop_assert_eq!(encode(&reply), &stream[..n]);
        }

        #[test]
        fn arbitrary_bytes_decode_safely(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'*'), Just(b'$'), Just(b':'), Just(b'+'), Just(b'\r'), Just(b'\n'),
                    Just(b'1'), Just(b'-'), any::<u8>(),
                ],
                0..48,
            ),
        ) {
            if let Ok(Some((reply, n))) = decode_reply(&input, &Limits::REDIS) {
                prop_assert!(n <= input.len());
                prop_assert_eq!(encode(&reply), &input[..n]);
            }
        }
    }
}
