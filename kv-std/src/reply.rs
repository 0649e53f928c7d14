//! A connection's reply encoder: commands write each reply once, and the encoder gives it the
//! shape of the protocol version the connection speaks (RESP2 or RESP3, chosen by `HELLO`).
//!
//! The shapes follow Redis 7.0's `networking.c`: a null is `$-1` or `*-1` in RESP2 and `_` in
//! RESP3; a map is a flat array of twice its length in RESP2; a set is an array; a push (pub/sub
//! messages) is an array in RESP2; a verbatim string (`INFO`, `CLIENT LIST`) is a bulk string
//! in RESP2; a double is a bulk string of its text in RESP2; a boolean is `:1`/`:0` in RESP2.

use kv_nostd::resp::{
    encode_aggregate_header, encode_bulk_header, format_double, Kind, Reply, DOUBLE_TEXT_MAX,
};
use kv_nostd::Sink;

/// A protocol version a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resp {
    /// RESP2, which every connection starts with.
    #[default]
    V2,
    /// RESP3, after `HELLO 3`.
    V3,
}

impl Resp {
    /// The version's number, as `HELLO` and `CLIENT LIST` show it.
    pub fn number(self) -> i64 {
        match self {
            Resp::V2 => 2,
            Resp::V3 => 3,
        }
    }
}

/// The replies a connection has yet to send, in the shape of its protocol version.
#[derive(Debug, Default)]
pub struct Out {
    buf: Vec<u8>,
    /// The protocol version replies are shaped for.
    pub resp: Resp,
    /// The code (first word) of each error reply written since the last
    /// [`take_errors`](Self::take_errors), for INFO's error counts.
    errors: Vec<Box<str>>,
}

impl Out {
    /// An empty buffer for a connection speaking `resp`.
    pub fn new(resp: Resp) -> Self {
        Self {
            buf: Vec::new(),
            resp,
            errors: Vec::new(),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the buffer can hold without growing.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The byte buffer itself, for a protocol of its own (the native one) or for the
    /// connection that sends and trims it.
    pub fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Appends `reply` as it is, whatever the protocol version.
    pub fn reply(&mut self, reply: Reply<'_>) {
        if let Reply::Error(text) = reply {
            self.note_error(text);
        }
        let start = self.buf.len();
        self.buf.resize(start + reply.encoded_len(), 0);
        // The buffer was sized by `encoded_len`, so the encoder always fits.
        let written = reply.encode(&mut self.buf[start..]).unwrap_or(0);
        self.buf.truncate(start + written);
    }

    /// Remembers an error reply's code: its text up to the first space, as Redis counts it.
    fn note_error(&mut self, text: &[u8]) {
        let code = text.split(|&b| b == b' ').next().unwrap_or_default();
        self.errors
            .push(String::from_utf8_lossy(code).into_owned().into_boxed_str());
    }

    /// How many error replies were written since the last [`take_errors`](Self::take_errors).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The code of the last error reply written since the last
    /// [`take_errors`](Self::take_errors).
    pub fn last_error(&self) -> Option<&str> {
        self.errors.last().map(|code| &**code)
    }

    /// The codes of the error replies written since the last call.
    pub fn take_errors(&mut self) -> Vec<Box<str>> {
        std::mem::take(&mut self.errors)
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.reply(Reply::OK);
    }

    /// A simple string.
    pub fn simple(&mut self, text: &[u8]) {
        self.reply(Reply::Simple(text));
    }

    /// An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(&mut self, text: &str) {
        self.reply(Reply::Error(text.as_bytes()));
    }

    /// An error reply of arbitrary bytes.
    pub fn error_bytes(&mut self, text: &[u8]) {
        self.reply(Reply::Error(text));
    }

    /// An error reply built with `format!`, for the texts that quote the request.
    pub fn error_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let text = std::fmt::format(args);
        self.reply(Reply::Error(text.as_bytes()));
    }

    /// An integer.
    pub fn int(&mut self, n: i64) {
        self.reply(Reply::Integer(n));
    }

    /// A bulk string.
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.reply(Reply::Bulk(bytes));
    }

    /// The null that stands for a missing string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.reply(match self.resp {
            Resp::V2 => Reply::NullBulk,
            Resp::V3 => Reply::Null,
        });
    }

    /// The null that stands for a missing array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.reply(match self.resp {
            Resp::V2 => Reply::NullArray,
            Resp::V3 => Reply::Null,
        });
    }

    /// An array header for `len` elements; the caller writes them.
    pub fn array(&mut self, len: usize) {
        self.header(Kind::Array, len);
    }

    /// A map header for `len` pairs; the caller writes each key, then its value. A flat array of
    /// `2 * len` elements in RESP2.
    pub fn map(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.header(Kind::Array, len.saturating_mul(2)),
            Resp::V3 => self.header(Kind::Map, len),
        }
    }

    /// A set header for `len` elements; an array in RESP2.
    pub fn set(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.header(Kind::Array, len),
            Resp::V3 => self.header(Kind::Set, len),
        }
    }

    /// A push header for `len` elements (pub/sub messages and confirmations); an array in RESP2.
    pub fn push(&mut self, len: usize) {
        match self.resp {
            Resp::V2 => self.header(Kind::Array, len),
            Resp::V3 => self.header(Kind::Push, len),
        }
    }

    /// Text for people (`INFO`, `CLIENT LIST`): a verbatim string of format `txt` in RESP3, a
    /// bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.resp {
            Resp::V2 => self.bulk(text),
            Resp::V3 => self.reply(Reply::Verbatim {
                format: *b"txt",
                text,
            }),
        }
    }

    /// A double, printed as Redis 7.0 prints it; a bulk string of that text in RESP2.
    pub fn double(&mut self, value: f64) {
        let mut buf = [0u8; DOUBLE_TEXT_MAX];
        let text = format_double(value, &mut buf);
        match self.resp {
            Resp::V2 => self.bulk(text),
            Resp::V3 => self.reply(Reply::Double(text)),
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, value: bool) {
        match self.resp {
            Resp::V2 => self.int(i64::from(value)),
            Resp::V3 => self.reply(Reply::Boolean(value)),
        }
    }

    /// A `HELP` reply: an array of simple strings, one a line.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for line in lines {
            self.simple(line.as_bytes());
        }
    }

    fn header(&mut self, kind: Kind, len: usize) {
        let start = self.buf.len();
        self.buf.resize(start + 24, 0);
        let written = encode_aggregate_header(kind, len, &mut self.buf[start..]).unwrap_or(0);
        self.buf.truncate(start + written);
    }
}

/// Reads a value from the table straight into the reply buffer, as a bulk string: no copy of
/// its own, however large the value. The table may ask for a buffer more than once (a read a
/// writer disturbed starts again); each time the bulk string is started afresh.
pub struct BulkSink<'o> {
    out: &'o mut Out,
    start: usize,
}

impl<'o> BulkSink<'o> {
    /// A sink writing at the end of `out`.
    pub fn new(out: &'o mut Out) -> Self {
        let start = out.len();
        Self { out, start }
    }

    /// Ends the bulk string: the read returned the value.
    pub fn finish(self) {
        self.out.buf.extend_from_slice(b"\r\n");
    }

    /// Takes back what the read wrote: it returned no value.
    pub fn abandon(self) {
        self.out.buf.truncate(self.start);
    }
}

impl Sink for BulkSink<'_> {
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        let buf = &mut self.out.buf;
        buf.truncate(self.start);
        buf.resize(self.start + 24, 0);
        let header = encode_bulk_header(len, &mut buf[self.start..]).unwrap_or(0);
        let at = self.start + header;
        buf.truncate(at);
        buf.resize(at + len, 0);
        Some(&mut buf[at..])
    }

    fn room(&self) -> usize {
        usize::MAX
    }
}

/// `args` as a RESP array of bulk strings, the form a client (or a primary, to its replicas)
/// sends a command in.
pub fn request_bytes(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = vec![0; kv_nostd::resp::encoded_request_len(args)];
    // Sized by `encoded_request_len`, so it fits.
    let _ = kv_nostd::resp::encode_request(args, &mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(write: impl Fn(&mut Out)) -> (Vec<u8>, Vec<u8>) {
        let mut two = Out::new(Resp::V2);
        let mut three = Out::new(Resp::V3);
        write(&mut two);
        write(&mut three);
        (two.bytes().to_vec(), three.bytes().to_vec())
    }

    /// A reply written through the encoder, and its bytes in RESP2 and in RESP3.
    type Case = (fn(&mut Out), &'static [u8], &'static [u8]);

    #[test]
    fn each_reply_takes_the_shape_of_its_protocol() {
        let cases: [Case; 8] = [
            (|o| o.null(), b"$-1\r\n", b"_\r\n"),
            (|o| o.null_array(), b"*-1\r\n", b"_\r\n"),
            (|o| o.map(7), b"*14\r\n", b"%7\r\n"),
            (|o| o.set(2), b"*2\r\n", b"~2\r\n"),
            (|o| o.push(3), b"*3\r\n", b">3\r\n"),
            (
                |o| o.verbatim(b"# Server"),
                b"$8\r\n# Server\r\n",
                b"=12\r\ntxt:# Server\r\n",
            ),
            (|o| o.double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
            (|o| o.boolean(true), b":1\r\n", b"#t\r\n"),
        ];
        for (write, v2, v3) in cases {
            assert_eq!(
                both(write),
                (v2.to_vec(), v3.to_vec()),
                "{:?}",
                String::from_utf8_lossy(v2)
            );
        }
        assert_eq!(both(|o| o.int(-1)).0, both(|o| o.int(-1)).1);
        assert_eq!(both(|o| o.bulk(b"x")).0, b"$1\r\nx\r\n");
    }

    #[test]
    fn a_bulk_sink_keeps_only_the_last_read() {
        let mut out = Out::default();
        out.ok();
        let mut sink = BulkSink::new(&mut out);
        sink.buffer(5).unwrap().copy_from_slice(b"torn!");
        sink.buffer(3).unwrap().copy_from_slice(b"abc");
        sink.finish();
        assert_eq!(out.bytes(), b"+OK\r\n$3\r\nabc\r\n");
        let mut sink = BulkSink::new(&mut out);
        sink.buffer(2).unwrap().copy_from_slice(b"xx");
        sink.abandon();
        assert_eq!(out.bytes(), b"+OK\r\n$3\r\nabc\r\n");
    }
}
