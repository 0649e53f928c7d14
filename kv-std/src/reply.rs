//! Writing RESP replies into a connection's output buffer with kv-nostd's encoders.

use kv_nostd::resp::{encode_array_header, Reply};

/// Appends `reply` to `out`.
pub fn push(out: &mut Vec<u8>, reply: Reply<'_>) {
    let start = out.len();
    out.resize(start + reply.encoded_len(), 0);
    // The buffer was sized by `encoded_len`, so the encoder always fits.
    let written = reply.encode(&mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Appends an array header for `len` elements; the caller appends the elements.
pub fn array(out: &mut Vec<u8>, len: usize) {
    let start = out.len();
    out.resize(start + 24, 0);
    let written = encode_array_header(len, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// `+OK`.
pub fn ok(out: &mut Vec<u8>) {
    push(out, Reply::OK);
}

/// A bulk string.
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    push(out, Reply::Bulk(bytes));
}

/// The null bulk string.
pub fn null(out: &mut Vec<u8>) {
    push(out, Reply::Null);
}

/// An integer.
pub fn int(out: &mut Vec<u8>, n: i64) {
    push(out, Reply::Integer(n));
}

/// An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, ...).
pub fn error(out: &mut Vec<u8>, text: &str) {
    push(out, Reply::Error(text.as_bytes()));
}

/// An error reply built with `format!`, for the texts that quote the request.
pub fn error_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    let text = std::fmt::format(args);
    push(out, Reply::Error(text.as_bytes()));
}
