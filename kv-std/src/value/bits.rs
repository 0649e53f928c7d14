//! A string as an array of bits, bit 0 being the most significant bit of the first byte:
//! `GETBIT`, `SETBIT`, `BITCOUNT`, `BITPOS` and `BITOP`.
//!
//! Order of errors, as in Redis 7.0:
//! - `GETBIT` and `SETBIT` check the offset, then `SETBIT` its bit, before the key's type.
//! - `BITCOUNT` looks the key up first: a missing key counts 0 bits whatever the other
//!   arguments, even ones Redis would refuse. So [`parse_bitcount`] cannot fail, and
//!   [`Bitcount::apply`] reports its errors only for a value; the check that both indexes are
//!   negative and `start > end` (counting 0) comes before the `BIT`/`BYTE` keyword is read.
//! - `BITPOS` checks its bit before the key's type, then answers a missing key (-1 for a set
//!   bit, 0 for a clear one) without reading its range; the keyword is read before `end`.
//! - `BITOP` checks the operation and, for `NOT`, that there is one source key, before any
//!   key's type.

use super::keyword;
use super::number::parse_i64;
use super::{Error, Store, Update};

/// Reads a bit offset: an integer from 0 to `max_len * 8 - 1` (`max_len` being
/// `proto-max-bulk-len`). With `width`, as `BITFIELD` reads it, `#n` stands for `n * width`;
/// the product wraps around as Redis's does.
pub fn parse_bit_offset(arg: &[u8], width: Option<u32>, max_len: u64) -> Result<u64, Error> {
    let (digits, multiplier) = match (arg.split_first(), width) {
        (Some((b'#', digits)), Some(width)) => (digits, i64::from(width)),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits)
        .ok_or(Error::BitOffset)?
        .wrapping_mul(multiplier);
    if offset < 0 || (offset >> 3) as u64 >= max_len {
        return Err(Error::BitOffset);
    }
    Ok(offset as u64)
}

/// Bit `offset` of `value`, zero past its end.
fn bit_at(value: &[u8], offset: u64) -> bool {
    usize::try_from(offset >> 3)
        .ok()
        .and_then(|byte| value.get(byte))
        .is_some_and(|byte| byte & (0x80 >> (offset & 7)) != 0)
}

/// `GETBIT key offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Getbit {
    offset: u64,
}

/// Reads `GETBIT`'s offset; `max_len` is `proto-max-bulk-len`.
pub fn parse_getbit(offset: &[u8], max_len: u64) -> Result<Getbit, Error> {
    Ok(Getbit {
        offset: parse_bit_offset(offset, None, max_len)?,
    })
}

impl Getbit {
    /// The bit, 0 past the end of `value` or for a missing key.
    pub fn apply(&self, value: Option<&[u8]>) -> i64 {
        i64::from(bit_at(value.unwrap_or_default(), self.offset))
    }
}

/// `SETBIT key offset value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setbit {
    offset: u64,
    on: bool,
}

/// Reads `SETBIT`'s offset and bit; `max_len` is `proto-max-bulk-len`.
pub fn parse_setbit(offset: &[u8], bit: &[u8], max_len: u64) -> Result<Setbit, Error> {
    let offset = parse_bit_offset(offset, None, max_len)?;
    let on = match parse_i64(bit) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(Error::BitValue),
    };
    Ok(Setbit { offset, on })
}

impl Setbit {
    /// Sets or clears the bit, zero-padding `value` up to it: the bit's old value, and the new
    /// value when the key is created, grows or changes.
    pub fn apply(&self, value: Option<&[u8]>) -> Update<i64> {
        let old = value.unwrap_or_default();
        let was = bit_at(old, self.offset);
        let len = (self.offset >> 3) as usize + 1;
        let store = if value.is_none() || old.len() < len || was != self.on {
            let mut new = old.to_vec();
            if new.len() < len {
                new.resize(len, 0);
            }
            let mask = 0x80 >> (self.offset & 7);
            if self.on {
                new[len - 1] |= mask;
            } else {
                new[len - 1] &= !mask;
            }
            Store::Put(new)
        } else {
            Store::Keep
        };
        Update {
            reply: i64::from(was),
            store,
        }
    }
}

/// The unit of a `BITCOUNT` or `BITPOS` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Byte,
    Bit,
}

/// Reads the optional `BYTE`/`BIT` keyword.
fn parse_unit(arg: Option<&[u8]>) -> Result<Unit, Error> {
    match arg {
        None => Ok(Unit::Byte),
        Some(arg) if keyword::is(arg, "bit") => Ok(Unit::Bit),
        Some(arg) if keyword::is(arg, "byte") => Ok(Unit::Byte),
        Some(_) => Err(Error::Syntax),
    }
}

/// An inclusive range of a `BITCOUNT` or `BITPOS`, negative indexes counting from the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: i64,
    end: i64,
    unit: Unit,
}

impl Span {
    /// The whole string.
    const WHOLE: Span = Span {
        start: 0,
        end: i64::MAX,
        unit: Unit::Byte,
    };

    /// The first and last bit of the range in a string of `len` bytes; `None` when empty.
    fn bits(self, len: usize) -> Option<(u64, u64)> {
        let total = match self.unit {
            Unit::Byte => len as i64,
            Unit::Bit => len as i64 * 8,
        };
        let from_end = |i: i64| if i < 0 { i + total } else { i };
        let start = from_end(self.start).max(0);
        let end = from_end(self.end).max(0).min(total - 1);
        if start > end {
            return None;
        }
        let (start, end) = (start as u64, end as u64);
        Some(match self.unit {
            Unit::Byte => (start * 8, end * 8 + 7),
            Unit::Bit => (start, end),
        })
    }
}

/// The bytes holding bits `first..=last`: each byte's index, and the byte with the bits
/// outside the range cleared, after `flip` (to look for clear bits as set ones).
fn bytes_in_range(
    value: &[u8],
    first: u64,
    last: u64,
    flip: bool,
) -> impl Iterator<Item = (u64, u8)> + '_ {
    let (first_byte, last_byte) = (first >> 3, last >> 3);
    value[first_byte as usize..=last_byte as usize]
        .iter()
        .zip(first_byte..)
        .map(move |(&byte, index)| {
            let mut mask = 0xffu8;
            if index == first_byte {
                mask &= 0xff >> (first & 7);
            }
            if index == last_byte {
                mask &= 0xff << (7 - (last & 7));
            }
            let byte = if flip { !byte } else { byte };
            (index, byte & mask)
        })
}

/// `BITCOUNT key [start end [BYTE|BIT]]`, its errors kept for a value (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bitcount(Result<Option<Span>, Error>);

/// Reads `BITCOUNT`'s arguments after the key.
pub fn parse_bitcount(args: &[&[u8]]) -> Bitcount {
    Bitcount(match args {
        [] => Ok(Some(Span::WHOLE)),
        [start, end] => bitcount_range(start, end, None),
        [start, end, unit] => bitcount_range(start, end, Some(unit)),
        _ => Err(Error::Syntax),
    })
}

/// `BITCOUNT`'s range, in Redis's order: the indexes, the case of both negative and in the
/// wrong order (an empty range whatever the keyword), then the keyword.
fn bitcount_range(start: &[u8], end: &[u8], unit: Option<&[u8]>) -> Result<Option<Span>, Error> {
    let start = parse_i64(start).ok_or(Error::NotAnInteger)?;
    let end = parse_i64(end).ok_or(Error::NotAnInteger)?;
    if start < 0 && end < 0 && start > end {
        return Ok(None);
    }
    let unit = parse_unit(unit)?;
    Ok(Some(Span { start, end, unit }))
}

impl Bitcount {
    /// The number of set bits in the range; 0 for a missing key.
    pub fn apply(&self, value: Option<&[u8]>) -> Result<i64, Error> {
        let Some(value) = value else { return Ok(0) };
        let Some((first, last)) = self.0?.and_then(|span| span.bits(value.len())) else {
            return Ok(0);
        };
        Ok(bytes_in_range(value, first, last, false)
            .map(|(_, byte)| i64::from(byte.count_ones()))
            .sum())
    }
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`, its range's errors kept for a value (see the
/// module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bitpos {
    bit: bool,
    range: Result<(Span, bool), Error>,
}

/// Reads `BITPOS`'s bit and the arguments after it.
pub fn parse_bitpos(bit: &[u8], args: &[&[u8]]) -> Result<Bitpos, Error> {
    let bit = match parse_i64(bit).ok_or(Error::NotAnInteger)? {
        0 => false,
        1 => true,
        _ => return Err(Error::BitArgument),
    };
    let range = match args {
        [] => Ok((Span::WHOLE, false)),
        [start] => bitpos_range(start, None, None),
        [start, end] => bitpos_range(start, Some(end), None),
        [start, end, unit] => bitpos_range(start, Some(end), Some(unit)),
        _ => Err(Error::Syntax),
    };
    Ok(Bitpos { bit, range })
}

/// `BITPOS`'s range, in Redis's order: `start`, the keyword, then `end`; and whether `end` was
/// given.
fn bitpos_range(
    start: &[u8],
    end: Option<&[u8]>,
    unit: Option<&[u8]>,
) -> Result<(Span, bool), Error> {
    let start = parse_i64(start).ok_or(Error::NotAnInteger)?;
    let unit = parse_unit(unit)?;
    let end = match end {
        Some(end) => Some(parse_i64(end).ok_or(Error::NotAnInteger)?),
        None => None,
    };
    let span = Span {
        start,
        end: end.unwrap_or(i64::MAX),
        unit,
    };
    Ok((span, end.is_some()))
}

impl Bitpos {
    /// The first bit equal to the one sought, within the range. A missing key is all clear
    /// bits: 0 for a clear bit, -1 for a set one. Not found: -1, except for a clear bit with no
    /// `end` given, where the string counts as zero-padded and the answer is its length in bits.
    pub fn apply(&self, value: Option<&[u8]>) -> Result<i64, Error> {
        let Some(value) = value else {
            return Ok(if self.bit { -1 } else { 0 });
        };
        let (span, end_given) = self.range?;
        let Some((first, last)) = span.bits(value.len()) else {
            return Ok(-1);
        };
        let found = bytes_in_range(value, first, last, !self.bit)
            .find(|&(_, byte)| byte != 0)
            .map(|(index, byte)| index * 8 + u64::from(byte.leading_zeros()));
        Ok(match found {
            Some(pos) => pos as i64,
            None if self.bit || end_given => -1,
            None => (last + 1) as i64,
        })
    }
}

/// A `BITOP` operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bitop {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
    /// `NOT`, of one source.
    Not,
}

/// Reads `BITOP`'s operation, given how many source keys follow the destination.
pub fn parse_bitop(operation: &[u8], sources: usize) -> Result<Bitop, Error> {
    let op = [
        ("and", Bitop::And),
        ("or", Bitop::Or),
        ("xor", Bitop::Xor),
        ("not", Bitop::Not),
    ]
    .into_iter()
    .find(|(name, _)| keyword::is(operation, name))
    .map(|(_, op)| op)
    .ok_or(Error::Syntax)?;
    if op == Bitop::Not && sources != 1 {
        return Err(Error::BitopNotArity);
    }
    Ok(op)
}

impl Bitop {
    /// The operation over `sources` (a missing key is an empty string), each as long as the
    /// longest and zero-padded: its length, and the destination's new value, which is deleted
    /// when every source is empty.
    pub fn apply(&self, sources: &[&[u8]]) -> Update<i64> {
        let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
        if len == 0 {
            return Update {
                reply: 0,
                store: Store::Delete,
            };
        }
        let byte = |source: &[u8], i: usize| source.get(i).copied().unwrap_or(0);
        let result = (0..len)
            .map(|i| {
                let mut bytes = sources.iter().map(|s| byte(s, i));
                let first = bytes.next().unwrap_or(0);
                match self {
                    Bitop::And => bytes.fold(first, |acc, b| acc & b),
                    Bitop::Or => bytes.fold(first, |acc, b| acc | b),
                    Bitop::Xor => bytes.fold(first, |acc, b| acc ^ b),
                    Bitop::Not => !first,
                }
            })
            .collect();
        Update {
            reply: len as i64,
            store: Store::Put(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Out, Resp};
    use crate::value::{WriteReply, PROTO_MAX_BULK_LEN};
    use proptest::prelude::*;

    const MAX: u64 = PROTO_MAX_BULK_LEN;

    #[test]
    fn offsets_are_integers_within_the_length_limit() {
        assert_eq!(parse_bit_offset(b"0", None, MAX), Ok(0));
        assert_eq!(
            parse_bit_offset(b"4294967295", None, MAX),
            Ok(4_294_967_295)
        );
        for bad in [&b"4294967296"[..], b"-1", b"x", b"", b"1.0", b"#1", b"01"] {
            assert_eq!(parse_bit_offset(bad, None, MAX), Err(Error::BitOffset));
        }
        assert_eq!(parse_bit_offset(b"8388607", None, 1048576), Ok(8388607));
        assert_eq!(
            parse_bit_offset(b"8388608", None, 1048576),
            Err(Error::BitOffset)
        );
        assert_eq!(parse_bit_offset(b"#3", Some(8), MAX), Ok(24));
        assert_eq!(parse_bit_offset(b"3", Some(8), MAX), Ok(3));
        assert_eq!(
            parse_bit_offset(b"#-1", Some(8), MAX),
            Err(Error::BitOffset)
        );
        assert_eq!(parse_bit_offset(b"#", Some(8), MAX), Err(Error::BitOffset));
        // The product wraps: 2^60 * 16 is 0.
        assert_eq!(
            parse_bit_offset(b"#1152921504606846976", Some(16), MAX),
            Ok(0)
        );
    }

    #[test]
    fn setbit_and_getbit() {
        assert_eq!(parse_setbit(b"1", b"2", MAX), Err(Error::BitValue));
        assert_eq!(parse_setbit(b"1", b"-1", MAX), Err(Error::BitValue));
        assert_eq!(parse_setbit(b"1", b"x", MAX), Err(Error::BitValue));
        assert_eq!(parse_setbit(b"-1", b"x", MAX), Err(Error::BitOffset));
        let set = |offset: &[u8], bit: &[u8], value: Option<&[u8]>| {
            parse_setbit(offset, bit, MAX).unwrap().apply(value)
        };
        let update = set(b"7", b"1", None);
        assert_eq!((update.reply, update.store), (0, Store::Put(vec![1])));
        let update = set(b"7", b"1", Some(&[1]));
        assert_eq!((update.reply, update.store), (1, Store::Keep));
        let update = set(b"0", b"0", Some(&[0x81]));
        assert_eq!((update.reply, update.store), (1, Store::Put(vec![1])));
        // Clearing a bit past the end still grows the string.
        let update = set(b"17", b"0", Some(&[0xff]));
        assert_eq!(
            (update.reply, update.store),
            (0, Store::Put(vec![0xff, 0, 0]))
        );
        // Clearing a bit of an empty string grows it, though the bit does not change.
        assert_eq!(set(b"0", b"0", Some(b"")).store, Store::Put(vec![0]));
        let get =
            |offset: &[u8], value: Option<&[u8]>| parse_getbit(offset, MAX).unwrap().apply(value);
        assert_eq!(get(b"0", Some(&[0x80])), 1);
        assert_eq!(get(b"1", Some(&[0x80])), 0);
        assert_eq!(get(b"100", Some(&[0xff])), 0);
        assert_eq!(get(b"0", None), 0);
        assert_eq!(parse_getbit(b"4294967296", MAX), Err(Error::BitOffset));
    }

    fn bitcount(args: &[&[u8]], value: Option<&[u8]>) -> Result<i64, Error> {
        parse_bitcount(args).apply(value)
    }

    #[test]
    fn bitcount_ranges_and_errors() {
        let v = Some(&b"foobar"[..]);
        assert_eq!(bitcount(&[], v), Ok(26));
        assert_eq!(bitcount(&[b"0", b"0"], v), Ok(4));
        assert_eq!(bitcount(&[b"1", b"1"], v), Ok(6));
        assert_eq!(bitcount(&[b"1", b"1", b"BYTE"], v), Ok(6));
        assert_eq!(bitcount(&[b"5", b"30", b"bit"], v), Ok(17));
        assert_eq!(bitcount(&[b"-1", b"-2", b"nonsense"], v), Ok(0));
        assert_eq!(bitcount(&[b"0", b"-1", b"nonsense"], v), Err(Error::Syntax));
        assert_eq!(bitcount(&[b"0"], v), Err(Error::Syntax));
        assert_eq!(bitcount(&[b"0", b"1", b"bit", b"x"], v), Err(Error::Syntax));
        assert_eq!(bitcount(&[b"x", b"1"], v), Err(Error::NotAnInteger));
        assert_eq!(bitcount(&[b"1", b"x", b"bit"], v), Err(Error::NotAnInteger));
        // A missing key counts 0 whatever the arguments.
        assert_eq!(bitcount(&[b"0"], None), Ok(0));
        assert_eq!(bitcount(&[b"x", b"y", b"z"], None), Ok(0));
        assert_eq!(bitcount(&[], Some(b"")), Ok(0));
        assert_eq!(bitcount(&[b"BIT\0x", b"0"], v), Err(Error::NotAnInteger));
        assert_eq!(bitcount(&[b"0", b"0", b"BIT\0x"], v), Ok(0));
    }

    fn bitpos(bit: &[u8], args: &[&[u8]], value: Option<&[u8]>) -> Result<i64, Error> {
        parse_bitpos(bit, args)?.apply(value)
    }

    #[test]
    fn bitpos_finds_the_first_bit_or_says_where_it_would_be() {
        let v = Some(&[0xff, 0xf0, 0x00][..]);
        assert_eq!(bitpos(b"0", &[], v), Ok(12));
        assert_eq!(bitpos(b"1", &[b"2"], v), Ok(-1));
        assert_eq!(bitpos(b"1", &[b"7", b"15", b"bit"], v), Ok(7));
        assert_eq!(bitpos(b"0", &[b"0", b"7", b"bit"], v), Ok(-1));
        let ones = Some(&[0xff, 0xff][..]);
        assert_eq!(bitpos(b"0", &[], ones), Ok(16));
        assert_eq!(bitpos(b"0", &[b"1"], ones), Ok(16));
        assert_eq!(
            bitpos(b"0", &[b"3", b"bit"], ones),
            Err(Error::NotAnInteger)
        );
        assert_eq!(bitpos(b"0", &[b"0", b"-1"], ones), Ok(-1));
        assert_eq!(bitpos(b"0", &[b"9"], ones), Ok(-1));
        assert_eq!(bitpos(b"0", &[], Some(b"")), Ok(-1));
        assert_eq!(bitpos(b"1", &[], Some(b"")), Ok(-1));
        assert_eq!(bitpos(b"0", &[], None), Ok(0));
        assert_eq!(bitpos(b"1", &[b"x", b"y", b"z", b"w"], None), Ok(-1));
        assert_eq!(bitpos(b"2", &[], None), Err(Error::BitArgument));
        assert_eq!(bitpos(b"x", &[], None), Err(Error::NotAnInteger));
        assert_eq!(
            bitpos(b"1", &[b"0", b"1", b"2", b"3"], v),
            Err(Error::Syntax)
        );
        // The keyword is read before `end`.
        assert_eq!(bitpos(b"1", &[b"0", b"x", b"y"], v), Err(Error::Syntax));
        assert_eq!(
            bitpos(b"1", &[b"0", b"x", b"bit"], v),
            Err(Error::NotAnInteger)
        );
        assert_eq!(
            bitpos(b"1", &[b"x", b"0", b"y"], v),
            Err(Error::NotAnInteger)
        );
    }

    #[test]
    fn bitop_pads_shorter_sources_with_zeros() {
        assert_eq!(parse_bitop(b"And", 2), Ok(Bitop::And));
        assert_eq!(parse_bitop(b"nand", 2), Err(Error::Syntax));
        assert_eq!(parse_bitop(b"not", 2), Err(Error::BitopNotArity));
        assert_eq!(parse_bitop(b"not\0x", 1), Ok(Bitop::Not));
        let run = |op: Bitop, sources: &[&[u8]]| op.apply(sources);
        let put = |reply, bytes: &[u8]| Update {
            reply,
            store: Store::Put(bytes.to_vec()),
        };
        assert_eq!(
            run(Bitop::And, &[b"\xff\xff", b"\x0f"]),
            put(2, b"\x0f\x00")
        );
        assert_eq!(run(Bitop::Or, &[b"\xf0", b"\x0f\x01"]), put(2, b"\xff\x01"));
        assert_eq!(run(Bitop::Xor, &[b"\x80", b"\x0f", b""]), put(1, b"\x8f"));
        assert_eq!(run(Bitop::Not, &[b"\x0f\x00"]), put(2, b"\xf0\xff"));
        assert_eq!(
            run(Bitop::Or, &[b"", b""]),
            Update {
                reply: 0,
                store: Store::Delete
            }
        );
    }

    #[test]
    fn replies_are_integers() {
        let mut out = Out::new(Resp::V3);
        parse_bitcount(&[]).apply(Some(b"\x03")).reply(&mut out);
        parse_bitcount(&[b"a"]).apply(Some(b"\x03")).reply(&mut out);
        Bitop::Not.apply(&[b"a"]).reply(&mut out);
        assert_eq!(out.bytes(), b":2\r\n-ERR syntax error\r\n:1\r\n");
    }

    /// The bits of `value`, most significant first.
    fn model(value: &[u8]) -> Vec<bool> {
        value
            .iter()
            .flat_map(|byte| (0..8).map(move |i| byte & (0x80 >> i) != 0))
            .collect()
    }

    /// The indexes a range keeps out of `len` units, decided one by one.
    fn kept(len: usize, start: i64, end: i64) -> Vec<usize> {
        let len = len as i64;
        let from_end = |i: i64| if i < 0 { i + len } else { i };
        (0..len)
            .filter(|&i| from_end(start).max(0) <= i && i <= from_end(end).max(0))
            .map(|i| i as usize)
            .collect()
    }

    /// The bits a range selects: whole bytes or single bits.
    fn selected(value: &[u8], start: i64, end: i64, bit: bool) -> Vec<usize> {
        if bit {
            kept(value.len() * 8, start, end)
        } else {
            kept(value.len(), start, end)
                .into_iter()
                .flat_map(|byte| byte * 8..byte * 8 + 8)
                .collect()
        }
    }

    proptest! {
        #[test]
        fn bitcount_counts_the_selected_bits(
            value in proptest::collection::vec(any::<u8>(), 0..12),
            start in -100i64..100,
            end in -100i64..100,
            bit: bool,
        ) {
            let bits = model(&value);
            let expected = if start < 0 && end < 0 && start > end {
                0
            } else {
                selected(&value, start, end, bit).into_iter().filter(|&i| bits[i]).count()
            };
            let unit: &[u8] = if bit { b"BIT" } else { b"BYTE" };
            let (start, end) = (start.to_string(), end.to_string());
            let args: [&[u8]; 3] = [start.as_bytes(), end.as_bytes(), unit];
            prop_assert_eq!(bitcount(&args, Some(&value)), Ok(expected as i64));
        }

        #[test]
        fn bitpos_finds_the_first_selected_bit(
            value in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 0..12),
            start in -100i64..100,
            end in proptest::option::of(-100i64..100),
            bit: bool,
            unit_bit: bool,
        ) {
            let bits = model(&value);
            let selected = selected(&value, start, end.unwrap_or(i64::MAX), unit_bit);
            let expected = match selected.iter().find(|&&i| bits[i] == bit) {
                Some(&i) => i as i64,
                None if bit || end.is_some() || selected.is_empty() => -1,
                None => value.len() as i64 * 8,
            };
            let start = start.to_string();
            let end_text = end.unwrap_or(-1).to_string();
            let unit: &[u8] = if unit_bit { b"bit" } else { b"byte" };
            let args: Vec<&[u8]> = match end {
                Some(_) => vec![start.as_bytes(), end_text.as_bytes(), unit],
                None if unit_bit => {
                    // BIT needs an end: the last bit, given, loses the zero padding.
                    return Ok(());
                }
                None => vec![start.as_bytes()],
            };
            let bit_arg: &[u8] = if bit { b"1" } else { b"0" };
            prop_assert_eq!(bitpos(bit_arg, &args, Some(&value)), Ok(expected));
        }

        #[test]
        fn setbit_then_getbit_agree_with_a_vector_of_bits(
            value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
            offset in 0u64..64,
            on: bool,
        ) {
            let mut bits = model(value.as_deref().unwrap_or_default());
            let was = bits.get(offset as usize).copied().unwrap_or(false);
            if bits.len() <= offset as usize {
                bits.resize((offset as usize / 8 + 1) * 8, false);
            }
            bits[offset as usize] = on;
            let update = parse_setbit(offset.to_string().as_bytes(), if on { b"1" } else { b"0" }, MAX)
                .unwrap()
                .apply(value.as_deref());
            prop_assert_eq!(update.reply, i64::from(was));
            let stored = match update.store {
                Store::Put(new) => new,
                Store::Keep => value.clone().unwrap(),
                Store::Delete => panic!("SETBIT never deletes"),
            };
            prop_assert_eq!(model(&stored), bits.clone());
            for (i, &b) in bits.iter().enumerate() {
                let get = parse_getbit(i.to_string().as_bytes(), MAX).unwrap();
                prop_assert_eq!(get.apply(Some(&stored)), i64::from(b));
            }
        }

        #[test]
        fn bitop_works_bit_by_bit(
            sources in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5), 1..4),
            which in 0usize..4,
        ) {
            let op = [Bitop::And, Bitop::Or, Bitop::Xor, Bitop::Not][which];
            let sources = if op == Bitop::Not { sources[..1].to_vec() } else { sources };
            let len = sources.iter().map(Vec::len).max().unwrap();
            let models: Vec<Vec<bool>> = sources
                .iter()
                .map(|s| { let mut m = model(s); m.resize(len * 8, false); m })
                .collect();
            let expected: Vec<bool> = (0..len * 8)
                .map(|i| {
                    let mut bits = models.iter().map(|m| m[i]);
                    let first = bits.next().unwrap();
                    match op {
                        Bitop::And => bits.fold(first, |a, b| a & b),
                        Bitop::Or => bits.fold(first, |a, b| a | b),
                        Bitop::Xor => bits.fold(first, |a, b| a ^ b),
                        Bitop::Not => !first,
                    }
                })
                .collect();
            let refs: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
            let update = op.apply(&refs);
            prop_assert_eq!(update.reply, len as i64);
            match update.store {
                Store::Put(bytes) => prop_assert_eq!(model(&bytes), expected),
                Store::Delete => prop_assert_eq!(len, 0),
                Store::Keep => panic!("BITOP always writes"),
            }
        }
    }
}
