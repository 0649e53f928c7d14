//! Commands: decoding what a Redis client sends, and encoding a command as clients send it.
//!
//! Two forms reach a Redis server, told apart by the first byte:
//! - an array of bulk strings, `*<argc>\r\n` then `$<len>\r\n<bytes>\r\n` per argument, which
//!   every client library sends;
//! - an inline command, one line of arguments separated by whitespace and ended by `\n` or
//!   `\r\n`, which telnet users and `redis-benchmark -t ping` send.
//!
//! Both decode into a [`Request`] that keeps the validated bytes and walks them again for each
//! argument, so decoding allocates nothing whatever the argument count.
//!
//! Edge cases follow Redis: `*0\r\n`, `*-1\r\n` (any negative count) and empty or all-blank inline
//! lines decode to an empty request ([`Request::is_empty`]) that a server skips without replying.
//!
//! Inline quoting differs from Redis's `sdssplitargs`, which reads `"..."` with C escapes and
//! `'...'` as one argument each: here quotes and backslashes are ordinary bytes, because an
//! argument must be a slice of the input and an escape would have to be rewritten. A line such as
//! `SET k "a b"` therefore has four arguments (`"a` and `b"` among them). Clients that need spaces
//! or binary data in an argument send the array form, as every client library does.

use super::{crlf_at, scan_number, wire_len, write_header, BufferTooSmall, DecodeError, Limits};
use super::{int_len, Number};

/// A decoded command: its arguments, borrowed from the input.
///
/// Two requests are equal when their arguments are, whichever form they arrived in.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    form: Form,
    /// Multibulk: the arguments' `$<len>\r\n<bytes>\r\n` sections. Inline: the line without its
    /// line ending.
    body: &'a [u8],
    argc: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Multibulk,
    Inline,
}

impl<'a> Request<'a> {
    /// The number of arguments, the command name included.
    pub const fn argc(&self) -> usize {
        self.argc
    }

    /// Whether the request has no arguments (`*0`, a negative count, or a blank inline line); a
    /// server skips it without replying, as Redis does.
    pub const fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Whether the request arrived as an inline command.
    pub fn is_inline(&self) -> bool {
        self.form == Form::Inline
    }

    /// The arguments in order, the command name first.
    pub fn args(&self) -> Args<'a> {
        Args {
            form: self.form,
            rest: self.body,
            remaining: self.argc,
        }
    }

    /// The argument at `index` (0 is the command name), if there are that many.
    pub fn arg(&self, index: usize) -> Option<&'a [u8]> {
        self.args().nth(index)
    }

    /// The command name: the first argument, as sent.
    pub fn command(&self) -> Option<&'a [u8]> {
        self.args().next()
    }

    /// Whether the command name is `name`, compared ASCII case-insensitively as Redis does.
    pub fn is_command(&self, name: &[u8]) -> bool {
        self.command()
            .is_some_and(|command| command.eq_ignore_ascii_case(name))
    }

    /// The length of this request encoded as an array of bulk strings.
    pub fn encoded_len(&self) -> usize {
        args_len(self.args(), self.argc)
    }

    /// Writes this request as an array of bulk strings, the form clients send, to the start of
    /// `out`; returns the byte count. Writes nothing when it does not fit.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        encode_args(self.args(), self.argc, out)
    }
}

impl PartialEq for Request<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.argc == other.argc && self.args().eq(other.args())
    }
}

impl Eq for Request<'_> {}

/// The arguments of a [`Request`], in order.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    form: Form,
    rest: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (arg, rest) = match self.form {
            Form::Multibulk => next_bulk(self.rest),
            Form::Inline => next_word(self.rest),
        };
        self.rest = rest;
        Some(arg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Args<'_> {}

/// The first `$<len>\r\n<bytes>\r\n` section of bytes the decoder validated, and what follows it.
/// Written without indexing so that even bytes it did not validate could not make it panic.
fn next_bulk(bytes: &[u8]) -> (&[u8], &[u8]) {
    let digits = bytes.get(1..).unwrap_or_default();
    let (len, used) = match scan_number(digits) {
        Number::Done(len, used) => (usize::try_from(len).unwrap_or(0), used),
        _ => (0, digits.len()),
    };
    let rest = digits.get(used..).unwrap_or_default();
    let arg = rest.get(..len).unwrap_or(rest);
    let after = rest.get(arg.len().saturating_add(2)..).unwrap_or_default();
    (arg, after)
}

/// Inline arguments are separated by the bytes C's `isspace` accepts, as in `sdssplitargs` (a
/// line holds no `\n`).
fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | 0x0B | 0x0C)
}

/// The first word of a line, and the rest of the line after it.
fn next_word(line: &[u8]) -> (&[u8], &[u8]) {
    let start = line
        .iter()
        .position(|&b| !is_separator(b))
        .unwrap_or(line.len());
    let line = &line[start..];
    let end = line
        .iter()
        .position(|&b| is_separator(b))
        .unwrap_or(line.len());
    line.split_at(end)
}

/// Decodes one command from the start of `input`.
///
/// `Ok(None)` means `input` is a valid prefix and more bytes are needed; `Ok(Some((request,
/// consumed)))` means the first `consumed` bytes hold `request`. A length beyond `limits` is
/// rejected as soon as its digits are read; an inline line as soon as it is longer than
/// [`Limits::max_inline`]. After an error the stream has no framing left: answer the error's text
/// and close, as Redis does.
pub fn decode_request<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, DecodeError> {
    match input.first() {
        None => Ok(None),
        Some(b'*') => decode_multibulk(input, limits),
        Some(_) => decode_inline(input, limits),
    }
}

fn decode_multibulk<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, DecodeError> {
    let over = |count: i64| usize::try_from(count).map_or(true, |n| n > limits.max_args);
    let (count, mut pos) = match scan_number(&input[1..]) {
        Number::Done(count, used) => (count, 1 + used),
        Number::Partial(count) if count > 0 && over(count) => return Err(limits.multibulk_error()),
        Number::Partial(_) => return Ok(None),
        Number::Invalid => return Err(DecodeError::InvalidMultibulkLength),
    };
    if count <= 0 {
        let empty = Request {
            form: Form::Multibulk,
            body: &[],
            argc: 0,
        };
        return Ok(Some((empty, pos)));
    }
    let argc = match usize::try_from(count) {
        Ok(argc) if argc <= limits.max_args => argc,
        _ => return Err(limits.multibulk_error()),
    };
    let start = pos;
    for index in 0..argc {
        let Some((&kind, digits)) = input.get(pos..).and_then(<[u8]>::split_first) else {
            return Ok(None);
        };
        if kind != b'$' {
            return Err(DecodeError::ExpectedBulk { got: kind });
        }
        let over = |len: i64| usize::try_from(len).map_or(true, |n| n > limits.max_bulk);
        let (len, used) = match scan_number(digits) {
            Number::Done(len, _) | Number::Partial(len) if len < 0 => {
                return Err(DecodeError::InvalidBulkLength)
            }
            // An authenticated peer's oversized string is skipped, not fatal: its whole length
            // is needed to know where the command ends.
            Number::Partial(len) if over(len) && !limits.unauthenticated => return Ok(None),
            Number::Done(len, used) if over(len) && !limits.unauthenticated => {
                return Err(DecodeError::Oversized(Discard {
                    skip: pos + 1 + used,
                    payload: u64::try_from(len).unwrap_or(u64::MAX),
                    terminator: 2,
                    bulks: argc - 1 - index,
                }))
            }
            Number::Done(len, _) | Number::Partial(len) if over(len) => {
                return Err(limits.bulk_error())
            }
            Number::Done(len, used) => (len, used),
            Number::Partial(_) => return Ok(None),
            Number::Invalid => return Err(DecodeError::InvalidBulkLength),
        };
        // Not over the limit, so it fits usize; the fallback is never taken.
        let len = usize::try_from(len).map_err(|_| limits.bulk_error())?;
        // `pos + 1 + used` is within `input`; only the announced length can overflow.
        let payload = pos + 1 + used;
        let Some(end) = payload.checked_add(len) else {
            return Err(limits.bulk_error());
        };
        match crlf_at(input, end) {
            None => return Ok(None),
            Some(false) => return Err(DecodeError::BulkNotTerminated),
            Some(true) => pos = end + 2,
        }
    }
    let request = Request {
        form: Form::Multibulk,
        body: &input[start..pos],
        argc,
    };
    Ok(Some((request, pos)))
}

fn decode_inline<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, DecodeError> {
    // A longer line is refused whatever follows, so there is no need to look further.
    let window = &input[..input.len().min(limits.max_inline.saturating_add(2))];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        // The line will hold at least these bytes, less a `\r` that may turn out to end it.
        let shortest = window.len() - usize::from(window.last() == Some(&b'\r'));
        if shortest > limits.max_inline {
            return Err(DecodeError::TooBigInlineRequest);
        }
        return Ok(None);
    };
    let line = &input[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > limits.max_inline {
        return Err(DecodeError::TooBigInlineRequest);
    }
    let mut argc = 0;
    let mut rest = line;
    loop {
        let (word, after) = next_word(rest);
        if word.is_empty() {
            break;
        }
        argc += 1;
        if argc > limits.max_args {
            return Err(DecodeError::TooManyInlineArguments);
        }
        rest = after;
    }
    let request = Request {
        form: Form::Inline,
        body: line,
        argc,
    };
    Ok(Some((request, newline + 1)))
}

/// What is left of a command whose bulk string was longer than [`Limits::max_bulk`]
/// ([`DecodeError::Oversized`]): the bytes to drop, then the bulk strings that follow, each
/// checked only for its framing. A server feeds it input until it is done, answers the error,
/// and goes on with the next command; nothing of the command is buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discard {
    /// Bytes to drop before the current payload (the command's head, at first).
    skip: usize,
    /// Bytes of the current payload still to drop.
    payload: u64,
    /// Bytes of the current payload's `\r\n` still to check, 2 or fewer.
    terminator: u8,
    /// Bulk strings after the current one.
    bulks: usize,
}

impl Discard {
    /// Whether the whole command has been dropped.
    pub const fn is_done(&self) -> bool {
        self.skip == 0 && self.payload == 0 && self.terminator == 0 && self.bulks == 0
    }

    /// Drops what `input` holds of the command; returns how many bytes it used. An error
    /// means the rest is not a command's framing: answer it and close.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            if self.skip > 0 {
                let n = self.skip.min(rest.len());
                self.skip -= n;
                pos += n;
            } else if self.payload > 0 {
                let n = usize::try_from(self.payload)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                self.payload -= n as u64;
                pos += n;
            } else if self.terminator > 0 {
                let Some(&byte) = rest.first() else {
                    return Ok(pos);
                };
                let expected = if self.terminator == 2 { b'\r' } else { b'\n' };
                if byte != expected {
                    return Err(DecodeError::BulkNotTerminated);
                }
                self.terminator -= 1;
                pos += 1;
            } else if self.bulks > 0 {
                let Some((&kind, digits)) = rest.split_first() else {
                    return Ok(pos);
                };
                if kind != b'$' {
                    return Err(DecodeError::ExpectedBulk { got: kind });
                }
                match scan_number(digits) {
                    Number::Done(len, used) if len >= 0 => {
                        self.bulks -= 1;
                        self.payload = len as u64;
                        self.terminator = 2;
                        pos += 1 + used;
                    }
                    Number::Partial(len) if len >= 0 => return Ok(pos),
                    _ => return Err(DecodeError::InvalidBulkLength),
                }
            } else {
                return Ok(pos);
            }
            if pos == input.len() && !self.is_done() {
                return Ok(pos);
            }
        }
    }
}

/// The length of `args` encoded as an array of bulk strings (saturating at `usize::MAX`, which
/// no buffer holds).
pub fn encoded_request_len(args: &[&[u8]]) -> usize {
    args_len(args.iter().copied(), args.len())
}

/// Writes `args` as an array of bulk strings, the form clients send, to the start of `out`;
/// returns the byte count. Writes nothing when it does not fit.
pub fn encode_request(args: &[&[u8]], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    encode_args(args.iter().copied(), args.len(), out)
}

fn args_len<'x>(args: impl Iterator<Item = &'x [u8]>, argc: usize) -> usize {
    args.fold(3 + int_len(wire_len(argc)), |total, arg| {
        total
            .saturating_add(5 + int_len(wire_len(arg.len())))
            .saturating_add(arg.len())
    })
}

fn encode_args<'x>(
    args: impl Iterator<Item = &'x [u8]> + Clone,
    argc: usize,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let needed = args_len(args.clone(), argc);
    if out.len() < needed {
        return Err(BufferTooSmall {
            needed,
            len: out.len(),
        });
    }
    // The whole frame fits, so no write below can fail.
    let mut pos = write_header(b'*', wire_len(argc), out)?;
    for arg in args {
        pos += write_header(b'$', wire_len(arg.len()), &mut out[pos..])?;
        out[pos..pos + arg.len()].copy_from_slice(arg);
        out[pos + arg.len()..pos + arg.len() + 2].copy_from_slice(b"\r\n");
        pos += arg.len() + 2;
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    type Owned = Vec<Vec<u8>>;
    /// An input, the arguments it decodes to, and the bytes it takes.
    type Case<'c> = (&'c [u8], &'c [&'c [u8]], usize);

    fn owned(request: &Request<'_>) -> Owned {
        request.args().map(<[u8]>::to_vec).collect()
    }

    fn encoded(args: &[&[u8]]) -> Vec<u8> {
        let mut buf = std::vec![0u8; encoded_request_len(args)];
        let n = encode_request(args, &mut buf).expect("fits");
        assert_eq!(n, buf.len());
        buf
    }

    /// Feeds `chunks` into a connection-style buffer, taking every complete request off its front
    /// after each chunk, as a server does.
    fn feed<'c>(
        chunks: impl IntoIterator<Item = &'c [u8]>,
        limits: &Limits,
    ) -> Result<(Vec<Owned>, usize), DecodeError> {
        let mut buf = Vec::new();
        let mut requests = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some((request, n)) = decode_request(&buf, limits)? {
                assert!(n > 0 && n <= buf.len());
                requests.push(owned(&request));
                buf.drain(..n);
            }
        }
        Ok((requests, buf.len()))
    }

    /// Decoding `stream` whole, split in two at every position and byte by byte gives the same
    /// requests.
    fn assert_incremental(stream: &[u8], expected: &[Owned]) {
        let whole = feed([stream], &Limits::REDIS).expect("valid");
        assert_eq!((&whole.0[..], whole.1), (expected, 0));
        for split in 0..=stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(
                feed([a, b], &Limits::REDIS),
                Ok(whole.clone()),
                "split {split}"
            );
        }
        assert_eq!(feed(stream.chunks(1), &Limits::REDIS), Ok(whole));
    }

    fn args_of(words: &[&[u8]]) -> Owned {
        words.iter().map(|w| w.to_vec()).collect()
    }

    #[test]
    fn valid_requests_decode_to_their_arguments() {
        let cases: [Case<'_>; 16] = [
            (b"*1\r\n$4\r\nPING\r\n", &[b"PING"], 14),
            (b"*2\r\n$3\r\nget\r\n$1\r\nk\r\n*1", &[b"get", b"k"], 20),
            (b"*2\r\n$0\r\n\r\n$3\r\n\r\n\0\r\n", &[b"", b"\r\n\0"], 19),
            (b"PING\r\n", &[b"PING"], 6),
            (b"PING\n", &[b"PING"], 5),
            (b"  SET\tk \x0bv  \r\nGET", &[b"SET", b"k", b"v"], 14),
            (b"SET k \"a b\"\n", &[b"SET", b"k", b"\"a", b"b\""], 12),
            (b"$1\r\n", &[b"$1"], 4),
            (b"*0\r\n", &[], 4),
            (b"*-1\r\n", &[], 5),
            (b"*-10\r\n", &[], 6),
            (b"\r\n", &[], 2),
            (b"\n", &[], 1),
            (b" \t \r\n", &[], 5),
            (b"a\rb\r\n", &[b"a", b"b"], 5),
            (b"*1\r\n$2\r\nab\r\n", &[b"ab"], 12),
        ];
        for (input, args, consumed) in cases {
            let (request, n) = decode_request(input, &Limits::REDIS)
                .expect("valid")
                .expect("complete");
            assert_eq!((owned(&request), n), (args_of(args), consumed), "{input:?}");
            assert_eq!(request.argc(), args.len());
            assert_eq!(request.is_empty(), args.is_empty());
        }
    }

    #[test]
    fn command_names_compare_case_insensitively() {
        let (request, _) = decode_request(b"*2\r\n$3\r\nsEt\r\n$1\r\nk\r\n", &Limits::REDIS)
            .expect("valid")
            .expect("complete");
        assert!(request.is_command(b"SET") && !request.is_command(b"SETX"));
        assert_eq!(request.command(), Some(&b"sEt"[..]));
        assert_eq!((request.arg(1), request.arg(2)), (Some(&b"k"[..]), None));
        assert!(!request.is_inline());
        let (inline, _) = decode_request(b"sEt k\r\n", &Limits::REDIS)
            .expect("valid")
            .expect("complete");
        assert!(inline.is_inline());
        assert_eq!(inline, request);
    }

    #[test]
    fn invalid_requests_fail_with_redis_errors() {
        let small = Limits::new(8, 2, 4);
        let cases: [(&[u8], Limits, DecodeError); 22] = [
            (
                b"*1\r\n$4\r\nPINGxx",
                Limits::REDIS,
                DecodeError::BulkNotTerminated,
            ),
            (
                b"*1\r\n$4\r\nPING\rx",
                Limits::REDIS,
                DecodeError::BulkNotTerminated,
            ),
            (
                b"*x\r\n",
                Limits::REDIS,
                DecodeError::InvalidMultibulkLength,
            ),
            (b"*\r\n", Limits::REDIS, DecodeError::InvalidMultibulkLength),
            (
                b"*01\r\n",
                Limits::REDIS,
                DecodeError::InvalidMultibulkLength,
            ),
            (b"*1\n", Limits::REDIS, DecodeError::InvalidMultibulkLength),
            (b"*1\rx", Limits::REDIS, DecodeError::InvalidMultibulkLength),
            (
                b"*20000000\r\n",
                Limits::REDIS,
                DecodeError::InvalidMultibulkLength,
            ),
            // Rejected from its digits, before the line ends.
            (
                b"*2000000",
                Limits::REDIS,
                DecodeError::InvalidMultibulkLength,
            ),
            (
                b"*9223372036854775808\r\n",
                Limits::REDIS,
                DecodeError::InvalidMultibulkLength,
            ),
            (
                b"*1\r\nx",
                Limits::REDIS,
                DecodeError::ExpectedBulk { got: b'x' },
            ),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
                Limits::REDIS,
                DecodeError::ExpectedBulk { got: b'f' },
            ),
            (
                b"*1\r\n$-1\r\n",
                Limits::REDIS,
                DecodeError::InvalidBulkLength,
            ),
            (b"*1\r\n$-1", Limits::REDIS, DecodeError::InvalidBulkLength),
            (
                b"*1\r\n$x\r\n",
                Limits::REDIS,
                DecodeError::InvalidBulkLength,
            ),
            (b"*1\r\n$1\n", Limits::REDIS, DecodeError::InvalidBulkLength),
            (
                b"*1\r\n$536870913\r\n",
                Limits::UNAUTHENTICATED,
                DecodeError::UnauthenticatedBulkLength,
            ),
            (
                b"*1\r\n$9223372036854775808\r\n",
                Limits::REDIS,
                DecodeError::InvalidBulkLength,
            ),
            (b"*3\r\n", small, DecodeError::InvalidMultibulkLength),
            (
                b"*1\r\n$5",
                Limits::UNAUTHENTICATED.with_max_bulk(4),
                DecodeError::UnauthenticatedBulkLength,
            ),
            (b"a b c\r\n", small, DecodeError::TooManyInlineArguments),
            (b"123456789", small, DecodeError::TooBigInlineRequest),
        ];
        for (input, limits, error) in cases {
            assert_eq!(decode_request(input, &limits), Err(error), "{input:?}");
        }
    }

    #[test]
    fn unauthenticated_limits_report_as_redis_does() {
        let limits = Limits::UNAUTHENTICATED;
        let cases: [(&[u8], DecodeError); 4] = [
            (b"*11\r\n", DecodeError::UnauthenticatedMultibulkLength),
            (b"*1\r\n$16385\r\n", DecodeError::UnauthenticatedBulkLength),
            (b"*x\r\n", DecodeError::InvalidMultibulkLength),
            (b"*1\r\n$-5\r\n", DecodeError::InvalidBulkLength),
        ];
        for (input, error) in cases {
            assert_eq!(decode_request(input, &limits), Err(error), "{input:?}");
        }
        let mut ok = std::vec![b'*', b'1', b'\r', b'\n'];
        ok.extend_from_slice(b"$16384\r\n");
        ok.extend_from_slice(&[b'x'; 16384]);
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(decode_request(&ok, &limits), Ok(Some((_, n))) if n == ok.len()));
    }

    #[test]
    fn inline_lines_are_bounded_at_exactly_the_limit() {
        let max = Limits::REDIS.max_inline;
        let mut line = std::vec![b'a'; max];
        assert_eq!(decode_request(&line, &Limits::REDIS), Ok(None));
        line.push(b'\r');
        assert_eq!(decode_request(&line, &Limits::REDIS), Ok(None));
        line.push(b'\n');
        assert!(matches!(decode_request(&line, &Limits::REDIS), Ok(Some((_, n))) if n == max + 2));
        let mut long = std::vec![b'a'; max + 1];
        assert_eq!(
            decode_request(&long, &Limits::REDIS),
            Err(DecodeError::TooBigInlineRequest)
        );
        long.push(b'\n');
        assert_eq!(
            decode_request(&long, &Limits::REDIS),
            Err(DecodeError::TooBigInlineRequest)
        );
    }

    #[test]
    fn bulk_strings_are_bounded_at_exactly_the_limit() {
        let limits = Limits::REDIS.with_max_bulk(3);
        let ok: &[u8] = b"*1\r\n$3\r\nabc\r\n";
        assert!(matches!(decode_request(ok, &limits), Ok(Some((_, 13)))));
        assert!(matches!(
            decode_request(b"*1\r\n$4\r\n", &limits),
            Err(DecodeError::Oversized(_))
        ));
        // Its length is needed whole before the command can be skipped.
        assert_eq!(decode_request(b"*1\r\n$4", &limits), Ok(None));
    }

    /// Decodes `stream` as a server does, dropping oversized commands with their `Discard`:
    /// each request's arguments, or `None` for a dropped command, fed in chunks of `chunk`.
    fn serve(
        stream: &[u8],
        limits: &Limits,
        chunk: usize,
    ) -> Result<Vec<Option<Vec<Vec<u8>>>>, DecodeError> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut discard: Option<Discard> = None;
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                if let Some(d) = discard.as_mut() {
                    let used = d.feed(&buf)?;
                    buf.drain(..used);
                    if !d.is_done() {
                        break;
                    }
                    discard = None;
                    out.push(None);
                }
                match decode_request(&buf, limits) {
                    Ok(Some((request, n))) => {
                        out.push(Some(request.args().map(<[u8]>::to_vec).collect()));
                        buf.drain(..n);
                    }
                    Ok(None) => break,
                    Err(DecodeError::Oversized(d)) => discard = Some(d),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn an_oversized_command_is_dropped_and_the_next_one_served() {
        let limits = Limits::REDIS.with_max_bulk(4);
        let stream: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n\
            *4\r\n$9\r\n123456789\r\n$1\r\nk\r\n$0\r\n\r\n$20\r\n01234567890123456789\r\n\
            *1\r\n$4\r\nPING\r\n";
        let expected = std::vec![None, None, Some(std::vec![b"PING".to_vec()])];
        for chunk in [1, 2, 3, 7, stream.len()] {
            assert_eq!(
                serve(stream, &limits, chunk).as_ref(),
                Ok(&expected),
                "chunks of {chunk}"
            );
        }
        // A payload not ended by CRLF, or a later argument that is not a bulk string: no framing.
        assert_eq!(
            serve(b"*1\r\n$5\r\n01234xx", &limits, 3),
            Err(DecodeError::BulkNotTerminated)
        );
        assert_eq!(
            serve(b"*2\r\n$5\r\n01234\r\n:1\r\n", &limits, 1),
            Err(DecodeError::ExpectedBulk { got: b':' })
        );
        assert_eq!(
            serve(b"*2\r\n$5\r\n01234\r\n$-1\r\n", &limits, 1),
            Err(DecodeError::InvalidBulkLength)
        );
    }

    #[test]
    fn a_pipeline_decodes_the_same_however_it_is_split() {
        let stream: &[u8] = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n\r\n\
            *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\r\n\n\r\n*-1\r\nget  k\n";
        let expected = [
            args_of(&[b"GET", b"k"]),
            args_of(&[b"PING"]),
            args_of(&[]),
            args_of(&[]),
            args_of(&[b"SET", b"k", b"\r\n\n"]),
            args_of(&[]),
            args_of(&[b"get", b"k"]),
        ];
        assert_incremental(stream, &expected);
    }

    #[test]
    fn encoders_write_nothing_when_the_frame_does_not_fit() {
        let args: [&[u8]; 2] = [b"GET", b"key"];
        let needed = encoded_request_len(&args);
        assert_eq!(needed, 22);
        let mut buf = [0xEEu8; 21];
        assert_eq!(
            encode_request(&args, &mut buf),
            Err(BufferTooSmall { needed, len: 21 })
        );
        assert_eq!(buf, [0xEE; 21]);
    }

    fn word() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("not a separator", |&b| b != b'\n' && !is_separator(b)),
            1..12,
        )
    }

    proptest! {
        #[test]
        fn arrays_round_trip_at_every_split(
            args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..24), 0..6),
        ) {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let bytes = encoded(&refs);
            let expected = if args.is_empty() { std::vec![] } else { args.clone() };
            assert_incremental(&bytes, &[expected]);
            let (request, _) = decode_request(&bytes, &Limits::REDIS).unwrap().unwrap();
            prop_assert_eq!(request.encoded_len(), bytes.len());
        }

        #[test]
        fn inline_lines_round_trip_at_every_split(
            words in proptest::collection::vec(word(), 0..6),
            gaps in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 1..3),
                7,
            ),
            crlf in any::<bool>(),
        ) {
            let mut line = Vec::new();
            for (word, gap) in words.iter().zip(&gaps) {
                line.extend_from_slice(gap);
                line.extend_from_slice(word);
            }
            line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            assert_incremental(&line, core::slice::from_ref(&words));
            // Re-encoded, an inline command becomes the equal array form.
            let (request, _) = decode_request(&line, &Limits::REDIS).unwrap().unwrap();
            let mut buf = std::vec![0u8; request.encoded_len()];
            let n = request.encode(&mut buf).unwrap();
            let (again, m) = decode_request(&buf, &Limits::REDIS).unwrap().unwrap();
            prop_assert_eq!((again, m), (request, n));
        }

        #[test]
        fn arbitrary_bytes_decode_safely(
            input in proptest::collection::vec(
                prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'1'), any::<u8>()],
                0..48,
            ),
        ) {
            if let Ok(Some((request, n))) = decode_request(&input, &Limits::REDIS) {
                prop_assert!(n <= input.len());
                let mut buf = std::vec![0u8; request.encoded_len()];
                let m = request.encode(&mut buf).unwrap();
                let (again, used) = decode_request(&buf, &Limits::REDIS).unwrap().unwrap();
                prop_assert_eq!((again, used), (request, m));
            }
        }
    }
}
