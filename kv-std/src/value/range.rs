//! Ranges of a string: `GETRANGE` (and its old name `SUBSTR`), `SETRANGE`, `APPEND` and
//! `STRLEN`.
//!
//! Order of errors, as in Redis: `GETRANGE` and `SETRANGE` check their integer arguments (and
//! `SETRANGE` a negative offset) before the key's type; the length limit comes after it.
//!
//! The quirks kept from Redis 7.0: `GETRANGE` with both indexes negative and `start > end` is
//! empty before any clamping (so `-1 -9` on a 5-byte string is empty, but `-9 -7` is its first
//! byte, both indexes having been clamped to 0); `SETRANGE` with an empty value changes nothing
//! and replies the current length, without checking the offset against the length limit;
//! `APPEND` to a missing key stores the argument without checking it against the limit (the
//! protocol bounds the argument already).

use super::number::parse_i64;
use super::{Error, Store, Update};

/// `GETRANGE key start end`: inclusive byte indexes, negative ones counted from the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Getrange {
    start: i64,
    end: i64,
}

/// Reads `GETRANGE`'s (or `SUBSTR`'s) indexes.
pub fn parse_getrange(start: &[u8], end: &[u8]) -> Result<Getrange, Error> {
    Ok(Getrange {
        start: parse_i64(start).ok_or(Error::NotAnInteger)?,
        end: parse_i64(end).ok_or(Error::NotAnInteger)?,
    })
}

impl Getrange {
    /// The bytes of `value` in the range; empty for a missing key.
    pub fn apply<'v>(&self, value: Option<&'v [u8]>) -> &'v [u8] {
        let value = value.unwrap_or_default();
        let (mut start, mut end) = (self.start, self.end);
        if start < 0 && end < 0 && start > end {
            return &[];
        }
        let len = value.len() as i64;
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        let start = start.max(0);
        let end = end.max(0).min(len - 1);
        if start > end {
            return &[];
        }
        &value[start as usize..=end as usize]
    }
}

/// `SETRANGE key offset value`: bytes to write at an offset, zero-padding what lies between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setrange<'a> {
    offset: u64,
    patch: &'a [u8],
}

/// Reads `SETRANGE`'s offset and keeps its value.
pub fn parse_setrange<'a>(offset: &[u8], patch: &'a [u8]) -> Result<Setrange<'a>, Error> {
    let offset = parse_i64(offset).ok_or(Error::NotAnInteger)?;
    let offset = u64::try_from(offset).map_err(|_| Error::OffsetOutOfRange)?;
    Ok(Setrange { offset, patch })
}

impl Setrange<'_> {
    /// Writes the bytes into `value` (a missing key is empty): the new length, and the new
    /// value unless the bytes to write are empty. `max_len` is `proto-max-bulk-len`.
    pub fn apply(&self, value: Option<&[u8]>, max_len: u64) -> Result<Update<i64>, Error> {
        let old = value.unwrap_or_default();
        if self.patch.is_empty() {
            return Ok(Update {
                reply: old.len() as i64,
                store: Store::Keep,
            });
        }
        let end = check_length(self.offset, self.patch.len(), max_len)?;
        let mut new = Vec::with_capacity(old.len().max(end));
        new.extend_from_slice(old);
        if new.len() < end {
            new.resize(end, 0);
        }
        let offset = self.offset as usize;
        new[offset..end].copy_from_slice(self.patch);
        Ok(Update {
            reply: new.len() as i64,
            store: Store::Put(new),
        })
    }
}

/// `APPEND key value`: the new length and value. A missing key becomes the argument, with no
/// length check, as in Redis.
pub fn append(value: Option<&[u8]>, suffix: &[u8], max_len: u64) -> Result<Update<i64>, Error> {
    let new = match value {
        None => suffix.to_vec(),
        Some(old) => {
            check_length(old.len() as u64, suffix.len(), max_len)?;
            [old, suffix].concat()
        }
    };
    Ok(Update {
        reply: new.len() as i64,
        store: Store::Put(new),
    })
}

/// `STRLEN key`: the value's length, 0 for a missing key.
pub fn strlen(value: Option<&[u8]>) -> i64 {
    value.map_or(0, |v| v.len() as i64)
}

/// `start + len`, if it is within `max_len`; as in Redis, a sum past `i64::MAX` is too long
/// whatever the limit.
fn check_length(start: u64, len: usize, max_len: u64) -> Result<usize, Error> {
    i64::try_from(start)
        .ok()
        .and_then(|start| start.checked_add(i64::try_from(len).ok()?))
        .map(|end| end as u64)
        .filter(|&end| end <= max_len)
        .and_then(|end| usize::try_from(end).ok())
        .ok_or(Error::StringTooLong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Out, Resp};
    use crate::value::{WriteReply, PROTO_MAX_BULK_LEN};
    use proptest::prelude::*;

    fn getrange(value: Option<&[u8]>, start: i64, end: i64) -> &[u8] {
        Getrange { start, end }.apply(value)
    }

    #[test]
    fn getrange_counts_negative_indexes_from_the_end_and_clamps() {
        let v = Some(&b"Hello"[..]);
        assert_eq!(getrange(v, 0, 0), b"H");
        assert_eq!(getrange(v, 0, -1), b"Hello");
        assert_eq!(getrange(v, -3, -1), b"llo");
        assert_eq!(getrange(v, 1, 100), b"ello");
        assert_eq!(getrange(v, 3, 1), b"");
        assert_eq!(getrange(v, 5, 10), b"");
        assert_eq!(getrange(v, -1, -9), b"");
        assert_eq!(getrange(v, -9, -7), b"H");
        assert_eq!(getrange(v, i64::MIN, i64::MAX), b"Hello");
        assert_eq!(getrange(v, i64::MAX, i64::MIN), b"");
        assert_eq!(getrange(Some(b""), 0, -1), b"");
        assert_eq!(getrange(None, 0, -1), b"");
    }

    #[test]
    fn getrange_arguments_are_integers() {
        assert_eq!(
            parse_getrange(b"1", b"-1"),
            Ok(Getrange { start: 1, end: -1 })
        );
        assert_eq!(parse_getrange(b"a", b"1"), Err(Error::NotAnInteger));
        assert_eq!(parse_getrange(b"1", b"1.0"), Err(Error::NotAnInteger));
    }

    #[test]
    fn setrange_pads_with_zeros_and_checks_the_limit() {
        let set = |value: Option<&[u8]>, offset: &[u8], patch: &[u8], max: u64| {
            parse_setrange(offset, patch).and_then(|op| op.apply(value, max))
        };
        let update = set(Some(b"Hello World"), b"6", b"Redis", PROTO_MAX_BULK_LEN).unwrap();
        assert_eq!(update.reply, 11);
        assert_eq!(update.store, Store::Put(b"Hello Redis".to_vec()));
        let update = set(None, b"3", b"ab", PROTO_MAX_BULK_LEN).unwrap();
        assert_eq!(update.store, Store::Put(b"\0\0\0ab".to_vec()));
        let keep = |reply| {
            Ok(Update {
                reply,
                store: Store::Keep,
            })
        };
        // With the least proto-max-bulk-len Redis allows, 1 MiB.
        let small = 1024 * 1024;
        assert_eq!(set(None, b"9223372036854775807", b"", small), keep(0));
        assert_eq!(set(Some(b"abc"), b"99", b"", small), keep(3));
        assert_eq!(set(None, b"-1", b"x", small), Err(Error::OffsetOutOfRange));
        assert_eq!(set(None, b"x", b"x", small), Err(Error::NotAnInteger));
        assert_eq!(
            set(None, b"1048575", b"x", small).map(|u| u.reply),
            Ok(1048576)
        );
        assert_eq!(
            set(None, b"1048576", b"x", small),
            Err(Error::StringTooLong)
        );
        // Past i64::MAX is too long even with the largest limit.
        assert_eq!(
            set(Some(b"abc"), b"9223372036854775807", b"xy", i64::MAX as u64),
            Err(Error::StringTooLong)
        );
    }

    #[test]
    fn append_checks_the_limit_of_an_existing_value() {
        let update = append(Some(b"Hello"), b" World", PROTO_MAX_BULK_LEN).unwrap();
        assert_eq!(
            (update.reply, update.store),
            (11, Store::Put(b"Hello World".to_vec()))
        );
        let small = 1024 * 1024;
        let near = vec![0u8; 1048571];
        assert_eq!(
            append(Some(&near), b"12345", small).map(|u| u.reply),
            Ok(1048576)
        );
        assert_eq!(
            append(Some(&near), b"123456", small),
            Err(Error::StringTooLong)
        );
        assert_eq!(
            append(None, b"", small).map(|u| u.store),
            Ok(Store::Put(Vec::new()))
        );
        assert_eq!(strlen(Some(b"abc")), 3);
        assert_eq!(strlen(None), 0);
    }

    #[test]
    fn replies_are_a_bulk_string_and_integers() {
        let mut out = Out::new(Resp::V2);
        getrange(Some(b"abc"), 1, 1).reply(&mut out);
        getrange(None, 1, 1).reply(&mut out);
        append(Some(&[0; 1048576]), b"b", 1048576).reply(&mut out);
        strlen(Some(b"abc")).reply(&mut out);
        assert_eq!(
            out.bytes(),
            &b"$1\r\nb\r\n$0\r\n\r\n-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n:3\r\n"[..]
        );
    }

    /// GETRANGE as a list of the indexes it keeps, decided one by one.
    fn kept_indexes(len: usize, start: i64, end: i64) -> Vec<usize> {
        let len = len as i128;
        let from_end = |i: i64| {
            if i < 0 {
                i128::from(i) + len
            } else {
                i128::from(i)
            }
        };
        if start < 0 && end < 0 && start > end {
            return Vec::new();
        }
        let first = from_end(start).max(0);
        let last = from_end(end).max(0);
        (0..len)
            .filter(|&i| first <= i && i <= last)
            .map(|i| i as usize)
            .collect()
    }

    proptest! {
        #[test]
        fn getrange_keeps_the_bytes_between_its_indexes(
            value in proptest::collection::vec(any::<u8>(), 0..20),
            start in -25i64..25,
            end in -25i64..25,
        ) {
            let kept: Vec<u8> = kept_indexes(value.len(), start, end)
                .into_iter()
                .map(|i| value[i])
                .collect();
            prop_assert_eq!(getrange(Some(&value), start, end), &kept[..]);
        }

        #[test]
        fn setrange_writes_the_patch_over_a_zero_padded_value(
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            offset in 0usize..30,
            patch in proptest::collection::vec(any::<u8>(), 0..10),
        ) {
            let op = parse_setrange(offset.to_string().as_bytes(), &patch).unwrap();
            let update = op.apply(value.as_deref(), PROTO_MAX_BULK_LEN).unwrap();
            let old = value.unwrap_or_default();
            if patch.is_empty() {
                prop_assert_eq!(update, Update { reply: old.len() as i64, store: Store::Keep });
                return Ok(());
            }
            let Store::Put(new) = update.store else { panic!("a patch is written") };
            prop_assert_eq!(new.len(), old.len().max(offset + patch.len()));
            prop_assert_eq!(update.reply, new.len() as i64);
            for (i, &b) in new.iter().enumerate() {
                let expected = if (offset..offset + patch.len()).contains(&i) {
                    patch[i - offset]
                } else {
                    old.get(i).copied().unwrap_or(0)
                };
                prop_assert_eq!(b, expected, "byte {}", i);
            }
        }
    }
}
