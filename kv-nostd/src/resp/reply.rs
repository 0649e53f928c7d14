//! Replies: encoding what a Redis server sends, and decoding it for clients and tests.
//!
//! Every type of both protocol versions is here. RESP2's: `+OK\r\n`, `-ERR ...\r\n`, `:1\r\n`,
//! `$5\r\nhello\r\n`, `$-1\r\n` (null bulk string), `*2\r\n...` (array), `*-1\r\n` (null array).
//! RESP3's: `_\r\n` (null), `#t\r\n` (boolean), `,1.5\r\n` (double), `(123\r\n` (big number),
//! `!5\r\nERR x\r\n` (blob error), `=8\r\ntxt:text\r\n` (verbatim string), and the aggregates
//! `%` (map, counted in pairs), `~` (set), `>` (push) and `|` (attribute, counted in pairs). The
//! encodings are byte-identical to redis-server 7's.
//!
//! An attribute describes the reply or element that follows it and is not counted as an element:
//! at the top level [`decode_reply`] returns it as a reply of its own (the next call returns the
//! reply it describes), and the iterator over an aggregate's elements steps over nested ones.
//!
//! Decoding is iterative, never recursive: a reply of nested aggregates is checked with one
//! counter of elements still expected, so no input can exhaust the stack.

use super::double::is_double;
use super::{crlf_at, int_len, scan_number, wire_len, write_header};
use super::{BufferTooSmall, DecodeError, Limits, Number};

/// One reply, borrowing its bytes.
///
/// Every value has exactly one encoding and the decoder accepts only that one, so two replies are
/// equal exactly when their bytes are. A double is kept as the text it was sent as; see
/// [`format_double`](super::format_double) to make one from an `f64`.
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
    /// `$-1\r\n`, RESP2's null bulk string: a `GET` of a missing key.
    NullBulk,
    /// `*-1\r\n`, RESP2's null array.
    NullArray,
    /// `*<n>\r\n` followed by `n` replies.
    Array(Aggregate<'a>),
    /// `_\r\n`, RESP3's null, which stands for both of RESP2's.
    Null,
    /// `#t\r\n` or `#f\r\n`.
    Boolean(bool),
    /// `,<text>\r\n`: a double as text (`1.5`, `10`, `1e+300`, `inf`, `-inf`, `nan`).
    Double(&'a [u8]),
    /// `(<digits>\r\n`: an integer of any size, as decimal digits with an optional sign.
    BigNumber(&'a [u8]),
    /// `!<len>\r\n<text>\r\n`: an error that may hold any bytes.
    BlobError(&'a [u8]),
    /// `=<len>\r\n<fmt>:<text>\r\n`: text with a three-byte format (`txt`, `mkd`).
    Verbatim {
        /// The format, such as `txt`.
        format: [u8; 3],
        /// The text after the format and its colon.
        text: &'a [u8],
    },
    /// `%<n>\r\n` followed by `n` key and value pairs.
    Map(Aggregate<'a>),
    /// `~<n>\r\n` followed by `n` replies.
    Set(Aggregate<'a>),
    /// `><n>\r\n` followed by `n` replies: out-of-band data such as a pub/sub message, which may
    /// come before or after any reply.
    Push(Aggregate<'a>),
    /// `|<n>\r\n` followed by `n` key and value pairs that describe the next reply.
    Attribute(Aggregate<'a>),
}

impl Reply<'static> {
    /// `+OK\r\n`.
    pub const OK: Reply<'static> = Reply::Simple(b"OK");
    /// `+PONG\r\n`.
    pub const PONG: Reply<'static> = Reply::Simple(b"PONG");
}

/// The kinds of aggregate reply, by their type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `*`: an array.
    Array,
    /// `%`: a map; its length counts pairs.
    Map,
    /// `~`: a set.
    Set,
    /// `>`: a push.
    Push,
    /// `|`: an attribute; its length counts pairs.
    Attribute,
}

impl Kind {
    /// The type byte that starts the aggregate.
    pub const fn prefix(self) -> u8 {
        match self {
            Kind::Array => b'*',
            Kind::Map => b'%',
            Kind::Set => b'~',
            Kind::Push => b'>',
            Kind::Attribute => b'|',
        }
    }

    /// How many elements follow a header of length `len`: twice that for maps and attributes.
    fn elements(self, len: usize) -> Option<usize> {
        match self {
            Kind::Map | Kind::Attribute => len.checked_mul(2),
            _ => Some(len),
        }
    }
}

impl<'a> Reply<'a> {
    /// The encoded reply's length in bytes (saturating at `usize::MAX`, which no buffer holds).
    pub fn encoded_len(&self) -> usize {
        match *self {
            Reply::Simple(text) | Reply::Error(text) => text.len().saturating_add(3),
            Reply::Double(text) | Reply::BigNumber(text) => text.len().saturating_add(3),
            Reply::Integer(n) => int_len(n) + 3,
            Reply::Bulk(bytes) | Reply::BlobError(bytes) => blob_len(bytes.len()),
            Reply::Verbatim { text, .. } => blob_len(text.len().saturating_add(4)),
            Reply::NullBulk | Reply::NullArray => 5,
            Reply::Null => 3,
            Reply::Boolean(_) => 4,
            Reply::Array(a) | Reply::Map(a) | Reply::Set(a) | Reply::Push(a) => a.encoded_len(),
            Reply::Attribute(a) => a.encoded_len(),
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
            Reply::Double(text) => write_line(b',', text, out),
            Reply::BigNumber(text) => write_line(b'(', text, out),
            Reply::Integer(n) => {
                write_header(b':', n, out)?;
            }
            Reply::Bulk(bytes) => write_blob(b'$', &[], bytes, out)?,
            Reply::BlobError(bytes) => write_blob(b'!', &[], bytes, out)?,
            Reply::Verbatim { format, text } => {
                let prefix = [format[0], format[1], format[2], b':'];
                write_blob(b'=', &prefix, text, out)?;
            }
            Reply::NullBulk => out.copy_from_slice(b"$-1\r\n"),
            Reply::NullArray => out.copy_from_slice(b"*-1\r\n"),
            Reply::Null => out.copy_from_slice(b"_\r\n"),
            Reply::Boolean(b) => out.copy_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Array(a) | Reply::Map(a) | Reply::Set(a) | Reply::Push(a) => a.write(out)?,
            Reply::Attribute(a) => a.write(out)?,
        }
        Ok(needed)
    }
}

/// The length of a length-prefixed frame (`$`, `!`, `=`) with a payload of `len` bytes.
fn blob_len(len: usize) -> usize {
    (int_len(wire_len(len)) + 5).saturating_add(len)
}

/// Writes `kind`, the length of `prefix` and `bytes` together, then both and CRLF into `out`,
/// which is exactly long enough.
fn write_blob(kind: u8, prefix: &[u8], bytes: &[u8], out: &mut [u8]) -> Result<(), BufferTooSmall> {
    let n = write_header(kind, wire_len(prefix.len() + bytes.len()), out)?;
    let (head, rest) = out[n..].split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    let (payload, crlf) = rest.split_at_mut(bytes.len());
    payload.copy_from_slice(bytes);
    crlf.copy_from_slice(b"\r\n");
    Ok(())
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
    encode_aggregate_header(Kind::Array, len, out)
}

/// Writes the header of an aggregate of `kind` and length `len` (pairs, for maps and attributes)
/// to the start of `out`; the caller then encodes the elements. Writes nothing when it does not
/// fit.
pub fn encode_aggregate_header(
    kind: Kind,
    len: usize,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    write_header(kind.prefix(), wire_len(len), out)
}

/// Writes a bulk string header, `$<len>\r\n`, to the start of `out`, so a server can copy a value
/// straight behind it and finish with `\r\n`. Writes nothing when it does not fit.
pub fn encode_bulk_header(len: usize, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    write_header(b'$', wire_len(len), out)
}

/// A decoded aggregate reply: its kind, its length and its elements' validated bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Aggregate<'a> {
    kind: Kind,
    bytes: &'a [u8],
    len: usize,
}

impl<'a> Aggregate<'a> {
    /// The kind of aggregate.
    pub const fn kind(&self) -> Kind {
        self.kind
    }

    /// The length on the wire: elements, or pairs for a map or an attribute.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the aggregate has no elements (`*0\r\n`, `%0\r\n`, ...).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in order; a map's or an attribute's alternate keys and values. Attributes
    /// nested among them are stepped over.
    pub fn iter(&self) -> Elements<'a> {
        Elements {
            rest: self.bytes,
            remaining: self.kind.elements(self.len).unwrap_or(0),
        }
    }

    fn encoded_len(&self) -> usize {
        (int_len(wire_len(self.len)) + 3).saturating_add(self.bytes.len())
    }

    fn write(&self, out: &mut [u8]) -> Result<(), BufferTooSmall> {
        let n = encode_aggregate_header(self.kind, self.len, out)?;
        out[n..].copy_from_slice(self.bytes);
        Ok(())
    }
}

impl<'a> IntoIterator for Aggregate<'a> {
    type Item = Reply<'a>;
    type IntoIter = Elements<'a>;

    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

/// The elements of an [`Aggregate`], in order.
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
        while self.remaining > 0 {
            // The bytes were validated when the aggregate was decoded, so this succeeds; should
            // it not, the iteration ends rather than panicking.
            let Ok(Some((reply, used))) = decode_reply(self.rest, &UNLIMITED) else {
                self.remaining = 0;
                return None;
            };
            self.rest = self.rest.get(used..).unwrap_or_default();
            if matches!(reply, Reply::Attribute(_)) {
                continue;
            }
            self.remaining -= 1;
            return Some(reply);
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// One element's type and header, as read by [`element`].
enum Head<'a> {
    /// A complete reply that is not a non-null aggregate.
    Leaf(Reply<'a>),
    /// The header of an aggregate of this kind and length.
    Aggregate(Kind, usize),
}

/// Decodes one reply from the start of `input`.
///
/// `Ok(None)` means `input` is a valid prefix and more bytes are needed; `Ok(Some((reply,
/// consumed)))` means the first `consumed` bytes hold `reply`. Bulk strings, blob errors and
/// verbatim strings are bounded by [`Limits::max_bulk`], aggregate lengths by
/// [`Limits::max_args`] and line types (simple strings, errors, doubles, big numbers) by
/// [`Limits::max_inline`].
pub fn decode_reply<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Reply<'a>, usize)>, DecodeError> {
    let Some((head, mut pos)) = element(input, 0, limits)? else {
        return Ok(None);
    };
    let (kind, len) = match head {
        Head::Leaf(reply) => return Ok(Some((reply, pos))),
        Head::Aggregate(kind, len) => (kind, len),
    };
    let start = pos;
    let mut pending = kind
        .elements(len)
        .ok_or(DecodeError::InvalidMultibulkLength)?;
    while pending > 0 {
        let Some((head, next)) = element(input, pos, limits)? else {
            return Ok(None);
        };
        // An attribute annotates the element after it and does not stand for one.
        let consumed = match head {
            Head::Aggregate(Kind::Attribute, _) => 0,
            _ => 1,
        };
        let added = match head {
            Head::Leaf(_) => 0,
            Head::Aggregate(kind, len) => kind
                .elements(len)
                .ok_or(DecodeError::InvalidMultibulkLength)?,
        };
        pending = (pending - consumed)
            .checked_add(added)
            .ok_or(DecodeError::InvalidMultibulkLength)?;
        pos = next;
    }
    let aggregate = Aggregate {
        kind,
        bytes: &input[start..pos],
        len,
    };
    let reply = match kind {
        Kind::Array => Reply::Array(aggregate),
        Kind::Map => Reply::Map(aggregate),
        Kind::Set => Reply::Set(aggregate),
        Kind::Push => Reply::Push(aggregate),
        Kind::Attribute => Reply::Attribute(aggregate),
    };
    Ok(Some((reply, pos)))
}

/// Reads the element starting at `input[pos]`: a whole leaf reply, or only an aggregate's header.
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
    let leaf = |reply, used: usize| Ok(Some((Head::Leaf(reply), start + used)));
    match kind {
        b'+' | b'-' | b',' | b'(' | b'#' | b'_' => {
            let Some(len) = line(rest, limits.max_inline)? else {
                return Ok(None);
            };
            let text = &rest[..len];
            let reply = match kind {
                b'+' => Reply::Simple(text),
                b'-' => Reply::Error(text),
                b',' if is_double(text) => Reply::Double(text),
                b',' => return Err(DecodeError::InvalidDouble),
                b'(' if is_big_number(text) => Reply::BigNumber(text),
                b'(' => return Err(DecodeError::InvalidBigNumber),
                b'#' => match text {
                    b"t" => Reply::Boolean(true),
                    b"f" => Reply::Boolean(false),
                    _ => return Err(DecodeError::InvalidBoolean),
                },
                _ if text.is_empty() => Reply::Null,
                _ => return Err(DecodeError::InvalidNull),
            };
            leaf(reply, len + 2)
        }
        b':' => match scan_number(rest) {
            Number::Done(n, used) => leaf(Reply::Integer(n), used),
            Number::Partial(_) => Ok(None),
            Number::Invalid => Err(DecodeError::InvalidInteger),
        },
        b'$' | b'!' | b'=' => {
            let over = |len: i64| usize::try_from(len).map_or(true, |n| n > limits.max_bulk);
            let (len, used) = match scan_number(rest) {
                Number::Done(-1, used) if kind == b'$' => return leaf(Reply::NullBulk, used),
                Number::Done(len, _) | Number::Partial(len) if len < 0 && kind != b'$' => {
                    return Err(DecodeError::InvalidBulkLength)
                }
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
            if kind == b'=' {
                // The format and its colon come first; check them as soon as they are here.
                if len < 4 {
                    return Err(DecodeError::InvalidVerbatim);
                }
                if input.get(payload + 3).is_some_and(|&b| b != b':') {
                    return Err(DecodeError::InvalidVerbatim);
                }
            }
            match crlf_at(input, end) {
                None => Ok(None),
                Some(false) => Err(DecodeError::BulkNotTerminated),
                Some(true) => {
                    let bytes = &input[payload..end];
                    let reply = match kind {
                        b'$' => Reply::Bulk(bytes),
                        b'!' => Reply::BlobError(bytes),
                        _ => Reply::Verbatim {
                            format: [bytes[0], bytes[1], bytes[2]],
                            text: &bytes[4..],
                        },
                    };
                    Ok(Some((Head::Leaf(reply), end + 2)))
                }
            }
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let over = |len: i64| usize::try_from(len).map_or(true, |n| n > limits.max_args);
            let aggregate = match kind {
                b'*' => Kind::Array,
                b'%' => Kind::Map,
                b'~' => Kind::Set,
                b'>' => Kind::Push,
                _ => Kind::Attribute,
            };
            match scan_number(rest) {
                Number::Done(-1, used) if kind == b'*' => leaf(Reply::NullArray, used),
                Number::Done(len, _) | Number::Partial(len) if len < 0 && kind != b'*' => {
                    Err(DecodeError::InvalidMultibulkLength)
                }
                Number::Done(len, _) | Number::Partial(len) if len < -1 => {
                    Err(DecodeError::InvalidMultibulkLength)
                }
                Number::Done(len, _) | Number::Partial(len) if len >= 0 && over(len) => {
                    Err(limits.multibulk_error())
                }
                Number::Done(len, used) => {
                    let len =
                        usize::try_from(len).map_err(|_| DecodeError::InvalidMultibulkLength)?;
                    Ok(Some((Head::Aggregate(aggregate, len), start + used)))
                }
                Number::Partial(_) => Ok(None),
                Number::Invalid => Err(DecodeError::InvalidMultibulkLength),
            }
        }
        got => Err(DecodeError::UnknownReplyType { got }),
    }
}

/// Whether `text` is a big number: an optional sign, then at least one digit.
fn is_big_number(text: &[u8]) -> bool {
    let digits = match text.split_first() {
        Some((b'+' | b'-', rest)) => rest,
        _ => text,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// The length of the text before the CRLF that ends a line-type reply; `None` when more bytes
/// are needed.
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
    use std::vec;
    use std::vec::Vec;

    /// An owned reply, to generate and compare nested aggregates.
    #[derive(Clone, Debug, PartialEq)]
    enum Tree {
        Simple(Vec<u8>),
        Error(Vec<u8>),
        Integer(i64),
        Bulk(Vec<u8>),
        NullBulk,
        NullArray,
        Null,
        Boolean(bool),
        Double(Vec<u8>),
        BigNumber(Vec<u8>),
        BlobError(Vec<u8>),
        Verbatim([u8; 3], Vec<u8>),
        Aggregate(Kind, Vec<Tree>),
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
            Tree::NullBulk => Reply::NullBulk,
            Tree::NullArray => Reply::NullArray,
            Tree::Null => Reply::Null,
            Tree::Boolean(b) => Reply::Boolean(*b),
            Tree::Double(text) => Reply::Double(text),
            Tree::BigNumber(text) => Reply::BigNumber(text),
            Tree::BlobError(bytes) => Reply::BlobError(bytes),
            Tree::Verbatim(format, text) => Reply::Verbatim {
                format: *format,
                text,
            },
            Tree::Aggregate(kind, items) => {
                let pairs = matches!(kind, Kind::Map | Kind::Attribute);
                let len = if pairs { items.len() / 2 } else { items.len() };
                let mut header = [0u8; 24];
                let n = encode_aggregate_header(*kind, len, &mut header).expect("fits");
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
            Reply::NullBulk => Tree::NullBulk,
            Reply::NullArray => Tree::NullArray,
            Reply::Null => Tree::Null,
            Reply::Boolean(b) => Tree::Boolean(b),
            Reply::Double(text) => Tree::Double(text.to_vec()),
            Reply::BigNumber(text) => Tree::BigNumber(text.to_vec()),
            Reply::BlobError(bytes) => Tree::BlobError(bytes.to_vec()),
            Reply::Verbatim { format, text } => Tree::Verbatim(format, text.to_vec()),
            Reply::Array(a)
            | Reply::Map(a)
            | Reply::Set(a)
            | Reply::Push(a)
            | Reply::Attribute(a) => {
                let items: Vec<Tree> = a.iter().map(to_tree).collect();
                assert_eq!(items.len(), a.kind().elements(a.len()).unwrap());
                Tree::Aggregate(a.kind(), items)
            }
        }
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let text = proptest::collection::vec(
            any::<u8>().prop_filter("one line", |&b| b != b'\r' && b != b'\n'),
            0..16,
        );
        let bytes = proptest::collection::vec(any::<u8>(), 0..32);
        let leaf = prop_oneof![
            text.clone().prop_map(Tree::Simple),
            text.prop_map(Tree::Error),
            any::<i64>().prop_map(Tree::Integer),
            bytes.clone().prop_map(Tree::Bulk),
            Just(Tree::NullBulk),
            Just(Tree::NullArray),
            Just(Tree::Null),
            any::<bool>().prop_map(Tree::Boolean),
            any::<f64>().prop_map(|d| {
                let mut buf = [0u8; super::super::double::DOUBLE_TEXT_MAX];
                Tree::Double(super::super::format_double(d, &mut buf).to_vec())
            }),
            "-?[0-9]{1,40}".prop_map(|s| Tree::BigNumber(s.into_bytes())),
            bytes.clone().prop_map(Tree::BlobError),
            bytes.prop_map(|b| Tree::Verbatim(*b"txt", b)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let kind = prop_oneof![
                Just(Kind::Array),
                Just(Kind::Map),
                Just(Kind::Set),
                Just(Kind::Push),
            ];
            (kind, proptest::collection::vec(inner, 0..6)).prop_map(|(kind, mut items)| {
                if kind == Kind::Map && items.len() % 2 == 1 {
                    items.pop();
                }
                Tree::Aggregate(kind, items)
            })
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
        let n = encode_aggregate_header(Kind::Map, 7, &mut buf).expect("fits");
        assert_eq!(&buf[..n], b"%7\r\n");
        let n = encode_aggregate_header(Kind::Push, 3, &mut buf).expect("fits");
        assert_eq!(&buf[..n], b">3\r\n");
        let cases: [(Reply<'_>, &[u8]); 21] = [
            (Reply::OK, b"+OK\r\n"),
            (Reply::PONG, b"+PONG\r\n"),
            (Reply::NullBulk, b"$-1\r\n"),
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
            (Reply::Null, b"_\r\n"),
            (Reply::Boolean(true), b"#t\r\n"),
            (Reply::Boolean(false), b"#f\r\n"),
            (Reply::Double(b"1.5"), b",1.5\r\n"),
            (Reply::Double(b"-inf"), b",-inf\r\n"),
            (
                Reply::BigNumber(b"3492890328409238509324850943850943825024385"),
                b"(3492890328409238509324850943850943825024385\r\n",
            ),
            (
                Reply::BlobError(b"SYNTAX invalid syntax"),
                b"!21\r\nSYNTAX invalid syntax\r\n",
            ),
            (
                Reply::Verbatim {
                    format: *b"txt",
                    text: b"Some string",
                },
                b"=15\r\ntxt:Some string\r\n",
            ),
            (
                Reply::Verbatim {
                    format: *b"mkd",
                    text: b"",
                },
                b"=4\r\nmkd:\r\n",
            ),
        ];
        for (reply, bytes) in cases {
            assert_eq!(encode(&reply), bytes, "{reply:?}");
            let (decoded, n) = decode_reply(bytes, &Limits::REDIS).unwrap().unwrap();
            assert_eq!((encode(&decoded).as_slice(), n), (bytes, bytes.len()));
        }
        // CONFIG GET save, as redis-server 7 answers it with persistence off, in both protocols.
        let pair = std::vec![Tree::Bulk(b"save".to_vec()), Tree::Bulk(Vec::new())];
        for (kind, wire) in [
            (Kind::Array, &b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"[..]),
            (Kind::Map, b"%1\r\n$4\r\nsave\r\n$0\r\n\r\n"),
        ] {
            let config = Tree::Aggregate(kind, pair.clone());
            let mut bytes = Vec::new();
            encode_tree(&config, &mut bytes);
            assert_eq!(bytes, wire);
            assert_incremental(&bytes, &[config]);
        }
    }

    #[test]
    fn pushes_and_attributes_decode_where_redis_sends_them() {
        // A pub/sub message as a RESP3 push, between two replies.
        let stream = b":1\r\n>3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$2\r\nhi\r\n+OK\r\n";
        let message = Tree::Aggregate(
            Kind::Push,
            std::vec![
                Tree::Bulk(b"message".to_vec()),
                Tree::Bulk(b"ch1".to_vec()),
                Tree::Bulk(b"hi".to_vec()),
            ],
        );
        assert_incremental(
            stream,
            &[Tree::Integer(1), message, Tree::Simple(b"OK".to_vec())],
        );
        // A top-level attribute is a reply of its own, before the one it describes.
        let stream = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*1\r\n:2\r\n";
        let (first, n) = decode_reply(stream, &Limits::REDIS).unwrap().unwrap();
        assert!(matches!(first, Reply::Attribute(a) if a.len() == 1 && a.iter().count() == 2));
        let (second, m) = decode_reply(&stream[n..], &Limits::REDIS).unwrap().unwrap();
        assert_eq!(n + m, stream.len());
        assert_eq!(
            to_tree(second),
            Tree::Aggregate(Kind::Array, std::vec![Tree::Integer(2)])
        );
        // Nested, it annotates the next element and is not one: this array has two elements.
        let nested = b"*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n";
        let (reply, n) = decode_reply(nested, &Limits::REDIS).unwrap().unwrap();
        assert_eq!(n, nested.len());
        assert_eq!(
            to_tree(reply),
            Tree::Aggregate(Kind::Array, std::vec![Tree::Integer(1), Tree::Integer(2)])
        );
        assert_eq!(encode(&reply), nested);
        assert_eq!(decode_reply(&nested[..n - 1], &Limits::REDIS), Ok(None));
    }

    #[test]
    fn invalid_replies_fail_with_their_cause() {
        let cases: [(&[u8], DecodeError); 26] = [
            (b"@1\r\n", DecodeError::UnknownReplyType { got: b'@' }),
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
                b"*1\r\n*1\r\n@",
                DecodeError::UnknownReplyType { got: b'@' },
            ),
            (b"+a\nb\r\n", DecodeError::InvalidLine),
            (b"-a\rb\r\n", DecodeError::InvalidLine),
            (b"_x\r\n", DecodeError::InvalidNull),
            (b"#x\r\n", DecodeError::InvalidBoolean),
            (b"#tt\r\n", DecodeError::InvalidBoolean),
            (b",1.\r\n", DecodeError::InvalidDouble),
            (b",\r\n", DecodeError::InvalidDouble),
            (b"(1.5\r\n", DecodeError::InvalidBigNumber),
            (b"(\r\n", DecodeError::InvalidBigNumber),
            (b"!-1\r\n", DecodeError::InvalidBulkLength),
            (b"=3\r\ntxt\r\n", DecodeError::InvalidVerbatim),
            (b"=5\r\ntxt-x", DecodeError::InvalidVerbatim),
            (b"%-1\r\n", DecodeError::InvalidMultibulkLength),
            (b"%1048577\r\n", DecodeError::InvalidMultibulkLength),
        ];
        for (input, error) in cases {
            assert_eq!(decode_reply(input, &Limits::REDIS), Err(error), "{input:?}");
        }
        let short = Limits::new(2, 4, 4);
        assert_eq!(decode_reply(b"+abc", &short), Err(DecodeError::InvalidLine));
        assert!(matches!(decode_reply(b"+ab\r\n", &short), Ok(Some((_, 5)))));
        assert_eq!(
            decode_reply(b"=5\r\n", &short),
            Err(DecodeError::InvalidBulkLength)
        );
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 100_000;
        for open in [&b"*1\r\n"[..], b"~1\r\n", b"%1\r\n:0\r\n", b">1\r\n"] {
            let mut bytes = open.repeat(depth);
            assert_eq!(decode_reply(&bytes, &Limits::REDIS), Ok(None));
            bytes.extend_from_slice(b":7\r\n");
            let (reply, n) = decode_reply(&bytes, &Limits::REDIS)
                .expect("valid")
                .expect("complete");
            assert_eq!(n, bytes.len());
            assert_eq!(encode(&reply), bytes);
        }
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
            Reply::Verbatim {
                format: *b"txt",
                text: b"ab"
            }
            .encode(&mut buf),
            Err(BufferTooSmall { needed: 12, len: 8 })
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
                    Just(b'1'), Just(b'-'), Just(b'%'), Just(b'|'), Just(b'>'), Just(b'='),
                    Just(b'_'), Just(b','), Just(b'#'), Just(b'('), Just(b'!'), Just(b'~'),
                    any::<u8>(),
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
