//! The values behind Redis's string commands, as pure functions: arguments parsed into a typed
//! operation or Redis's exact error, the operation applied to a value's bytes, and the result
//! written as Redis 7.0 writes it, in RESP2 or RESP3.
//!
//! Nothing here touches the table. A command reads the key's current value under the key's lock,
//! hands it here (`None` for a missing key), stores what comes back in [`Update::store`] and writes
//! the reply. Redis reports some errors before it looks the key up and others after its type check
//! (`WRONGTYPE`), so each command has two steps: `parse_*` returns the errors Redis finds before
//! the lookup, and `apply` the ones it finds after. Each file's docs give its order.
//!
//! # Modules
//! - [`error`]: every error these commands reply with, as a cause.
//! - [`number`]: Redis's integer parsing, `INCR`, `DECR`, `INCRBY`, `DECRBY` and `INCRBYFLOAT`.
//! - [`f80`]: the x87 80-bit `long double` that `INCRBYFLOAT` computes in: parsing, addition
//!   and printing, exactly rounded.
//! - [`big`]: the unsigned big integers [`f80`] computes with.
//! - [`range`]: `GETRANGE`/`SUBSTR`, `SETRANGE`, `APPEND` and `STRLEN`.
//! - [`bits`]: `GETBIT`, `SETBIT`, `BITCOUNT`, `BITPOS` and `BITOP`.
//! - [`bitfield`]: `BITFIELD` and `BITFIELD_RO`.
//! - [`lcs`]: the longest common subsequence, `LCS`.
//! - [`keyword`]: option keywords compared as Redis compares them.
//!
//! # Example
//! ```
//! use kv_std::reply::{Out, Resp};
//! use kv_std::value::{bits, Store, WriteReply};
//!
//! let mut out = Out::new(Resp::V2);
//!
//! // BITCOUNT key 1 -1 on "foobar": the bits set in "oobar".
//! let op = bits::parse_bitcount(&[b"1", b"-1"]);
//! op.apply(Some(b"foobar")).reply(&mut out);
//! assert_eq!(out.bytes(), b":22\r\n");
//!
//! // SETBIT key 7 1 on a missing key: the old bit, and a value to store.
//! let op = bits::parse_setbit(b"7", b"1", kv_std::value::PROTO_MAX_BULK_LEN)?;
//! let update = op.apply(None);
//! assert_eq!(update.store, Store::Put(vec![0x01]));
//! update.reply(&mut out);
//! assert_eq!(out.bytes(), b":22\r\n:0\r\n");
//! # Ok::<(), kv_std::value::Error>(())
//! ```

pub mod big;
pub mod bitfield;
pub mod bits;
pub mod error;
pub mod f80;
pub mod keyword;
pub mod lcs;
pub mod number;
pub mod range;

pub use error::Error;

use crate::reply::Out;

/// Redis's default `proto-max-bulk-len`: the longest string a command may make, 512 MiB.
pub const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

/// A result that writes itself as a reply.
pub trait WriteReply {
    /// Appends the reply to `out`, shaped for its protocol version.
    fn reply(&self, out: &mut Out);
}

impl WriteReply for i64 {
    fn reply(&self, out: &mut Out) {
        out.int(*self);
    }
}

impl WriteReply for [u8] {
    fn reply(&self, out: &mut Out) {
        out.bulk(self);
    }
}

impl WriteReply for Vec<u8> {
    fn reply(&self, out: &mut Out) {
        out.bulk(self);
    }
}

impl<T: WriteReply + ?Sized> WriteReply for &T {
    fn reply(&self, out: &mut Out) {
        (**self).reply(out);
    }
}

impl WriteReply for Error {
    fn reply(&self, out: &mut Out) {
        out.error(self.text());
    }
}

impl<T: WriteReply> WriteReply for Result<T, Error> {
    fn reply(&self, out: &mut Out) {
        match self {
            Ok(t) => t.reply(out),
            Err(e) => e.reply(out),
        }
    }
}

/// What becomes of a key after a command that may write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    /// The key stays as it was.
    Keep,
    /// The key now holds these bytes (created if it was missing).
    Put(Vec<u8>),
    /// The key is removed (`BITOP` with only empty sources).
    Delete,
}

/// The result of a command that may write: its reply, and what to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update<R> {
    /// The reply to send once the store is done.
    pub reply: R,
    /// What the key becomes.
    pub store: Store,
}

impl<R: WriteReply> WriteReply for Update<R> {
    fn reply(&self, out: &mut Out) {
        self.reply.reply(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Resp;
    use proptest::prelude::*;

    /// Arguments that are often numbers, keywords or near misses, and sometimes any bytes.
    fn arg() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "-?[0-9]{1,4}".prop_map(String::into_bytes),
            "#?-?[0-9]{1,20}".prop_map(String::into_bytes),
            "[-+]?[0-9.]{0,6}([eEpP][-+]?[0-9]{1,5})?".prop_map(String::into_bytes),
            "-?0[xX][0-9a-fA-F.]{0,6}([pP][-+]?[0-9]{1,5})?".prop_map(String::into_bytes),
            "(?i)(bit|byte|get|set|incrby|overflow|wrap|sat|fail|idx|len|withmatchlen|minmatchlen|and|or|xor|not|inf|nan)".prop_map(String::into_bytes),
            "[iu][0-9]{1,2}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    fn write(reply: &dyn WriteReply) {
        for resp in [Resp::V2, Resp::V3] {
            reply.reply(&mut Out::new(resp));
        }
    }

    proptest! {
        #[test]
        fn no_arguments_or_values_make_anything_panic(
            args in proptest::collection::vec(arg(), 0..7),
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
        ) {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let value = value.as_deref();
            let first = refs.first().copied().unwrap_or_default();
            let second = refs.get(1).copied().unwrap_or_default();
            // Small enough that no value made here is large.
            let max = 64;
            write(&number::parse_incrby(first).and_then(|op| op.apply(value)));
            write(&number::parse_decrby(first).and_then(|op| op.apply(value)));
            write(&number::parse_incrbyfloat(first).apply(value));
            write(&number::parse_incrbyfloat(first).apply(Some(second)));
            write(&range::parse_getrange(first, second).map(|op| op.apply(value).to_vec()));
            write(&range::parse_setrange(first, second).and_then(|op| op.apply(value, max)));
            write(&range::append(value, first, max));
            write(&bits::parse_getbit(first, max).map(|op| op.apply(value)));
            write(&bits::parse_setbit(first, second, max).map(|op| op.apply(value)));
            write(&bits::parse_bitcount(&refs).apply(value));
            write(&bits::parse_bitpos(first, refs.get(1..).unwrap_or_default())
                .and_then(|op| op.apply(value)));
            write(&bits::parse_bitop(first, refs.len().saturating_sub(1))
                .map(|op| op.apply(refs.get(1..).unwrap_or_default())));
            write(&bitfield::parse_bitfield(&refs, max).map(|op| op.apply(value)));
            write(&bitfield::parse_bitfield_ro(&refs, max).map(|op| op.apply(value)));
            write(&lcs::parse_lcs(&refs).and_then(|op| op.apply(first, value.unwrap_or_default(), 4096)));
        }
    }
}
