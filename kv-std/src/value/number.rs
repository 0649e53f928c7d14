//! Numbers in string values: Redis's integer parsing, `INCR`, `DECR`, `INCRBY`, `DECRBY` and
//! `INCRBYFLOAT`.
//!
//! Redis reads an integer with `string2ll`: an optional `-`, then `0` alone or a digit 1-9 and
//! more digits, at most 20 bytes, in `i64` range. No `+`, no spaces, no leading zeros, no `-0`.
//!
//! Order of errors, as in Redis: `INCRBY` and `DECRBY` check their argument before the key's
//! type ([`parse_incrby`], [`parse_decrby`]), then the stored value ([`Increment::apply`]).
//! `INCRBYFLOAT` checks the key's type first, then the stored value, then its argument, so
//! [`parse_incrbyfloat`] keeps the argument's error for [`FloatIncrement::apply`] to report.

use super::f80::F80;
use super::{Error, Store, Update};

/// The longest integer text Redis reads: `LONG_STR_SIZE` (21) less one.
pub const MAX_INTEGER_LEN: usize = 20;

/// Reads `text` as Redis's `string2ll` does; `None` for anything else.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_INTEGER_LEN {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// The decimal text of `n`, as Redis stores a counter.
pub fn integer_text(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// `INCR`, `DECR`, `INCRBY` or `DECRBY`: the amount added to the stored integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Increment(pub i64);

impl Increment {
    /// `INCR`.
    pub const INCR: Increment = Increment(1);
    /// `DECR`.
    pub const DECR: Increment = Increment(-1);

    /// Adds the amount to `value` (a missing key counts as 0): the new counter, its reply and
    /// the text to store.
    pub fn apply(self, value: Option<&[u8]>) -> Result<Update<i64>, Error> {
        let old = match value {
            None => 0,
            Some(text) => parse_i64(text).ok_or(Error::NotAnInteger)?,
        };
        let new = old.checked_add(self.0).ok_or(Error::IncrementOverflow)?;
        Ok(Update {
            reply: new,
            store: Store::Put(integer_text(new)),
        })
    }
}

/// `INCRBY key increment`.
pub fn parse_incrby(increment: &[u8]) -> Result<Increment, Error> {
    parse_i64(increment)
        .map(Increment)
        .ok_or(Error::NotAnInteger)
}

/// `DECRBY key decrement`.
pub fn parse_decrby(decrement: &[u8]) -> Result<Increment, Error> {
    let n = parse_i64(decrement).ok_or(Error::NotAnInteger)?;
    n.checked_neg()
        .map(Increment)
        .ok_or(Error::DecrementOverflow)
}

/// `INCRBYFLOAT key increment`: the increment, read as `long double`; an unreadable one is
/// reported by [`FloatIncrement::apply`], after the stored value, as Redis does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatIncrement(Option<F80>);

/// Reads `INCRBYFLOAT`'s increment; it never fails here (see [`FloatIncrement`]).
pub fn parse_incrbyfloat(increment: &[u8]) -> FloatIncrement {
    FloatIncrement(F80::parse(increment))
}

impl FloatIncrement {
    /// Adds the increment to `value` (a missing key counts as 0) in 80-bit extended precision:
    /// the new value's text, which is both the reply and what to store.
    pub fn apply(self, value: Option<&[u8]>) -> Result<Update<Vec<u8>>, Error> {
        let old = match value {
            None => F80::ZERO,
            Some(text) => F80::parse(text).ok_or(Error::NotAFloat)?,
        };
        let increment = self.0.ok_or(Error::NotAFloat)?;
        let sum = old + increment;
        if !sum.is_finite() {
            return Err(Error::NanOrInfinity);
        }
        let text = sum.to_human_text();
        Ok(Update {
            reply: text.clone(),
            store: Store::Put(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{Out, Resp};
    use crate::value::WriteReply;
    use proptest::prelude::*;

    #[test]
    fn integers_are_read_as_string2ll_reads_them() {
        let accepted: [(&[u8], i64); 8] = [
            (b"0", 0),
            (b"7", 7),
            (b"-7", -7),
            (b"10", 10),
            (b"9223372036854775807", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
            (b"-1000000000000000000", -1_000_000_000_000_000_000),
            (b"1000000000000000000", 1_000_000_000_000_000_000),
        ];
        for (text, n) in accepted {
            assert_eq!(
                parse_i64(text),
                Some(n),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        let refused: [&[u8]; 17] = [
            b"",
            b"-",
            b"+1",
            b"-0",
            b"00",
            b"01",
            b"-01",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"0x10",
            b"1\0",
            b"99999999999999999999",
        ];
        for text in refused {
            assert_eq!(parse_i64(text), None, "{:?}", String::from_utf8_lossy(text));
        }
        assert_eq!(parse_i64(b"-09223372036854775808"), None);
    }

    #[test]
    fn counters_add_and_refuse_to_overflow() {
        let bump = |inc: Increment, value: Option<&[u8]>| inc.apply(value).map(|u| u.reply);
        assert_eq!(bump(Increment::INCR, None), Ok(1));
        assert_eq!(bump(Increment::DECR, None), Ok(-1));
        assert_eq!(bump(Increment(5), Some(b"-5")), Ok(0));
        assert_eq!(
            bump(Increment::INCR, Some(b"9223372036854775807")),
            Err(Error::IncrementOverflow)
        );
        assert_eq!(
            bump(Increment::DECR, Some(b"-9223372036854775808")),
            Err(Error::IncrementOverflow)
        );
        assert_eq!(
            bump(Increment(i64::MIN), Some(b"9223372036854775807")),
            Ok(-1)
        );
        assert_eq!(bump(Increment::INCR, Some(b"")), Err(Error::NotAnInteger));
        assert_eq!(bump(Increment::INCR, Some(b" 1")), Err(Error::NotAnInteger));
        assert_eq!(
            bump(Increment::INCR, Some(b"1.5")),
            Err(Error::NotAnInteger)
        );
        let update = Increment(-3).apply(Some(b"1")).unwrap();
        assert_eq!(update.store, Store::Put(b"-2".to_vec()));
    }

    #[test]
    fn incrby_and_decrby_arguments() {
        assert_eq!(parse_incrby(b"-5"), Ok(Increment(-5)));
        assert_eq!(parse_incrby(b"x"), Err(Error::NotAnInteger));
        assert_eq!(parse_decrby(b"5"), Ok(Increment(-5)));
        assert_eq!(
            parse_decrby(b"-9223372036854775808"),
            Err(Error::DecrementOverflow)
        );
        assert_eq!(
            parse_decrby(b"9223372036854775808"),
            Err(Error::NotAnInteger)
        );
    }

    #[test]
    fn incrbyfloat_adds_in_extended_precision() {
        let add = |value: Option<&[u8]>, inc: &[u8]| {
            parse_incrbyfloat(inc)
                .apply(value)
                .map(|u| String::from_utf8(u.reply).unwrap())
        };
        assert_eq!(add(None, b"10.5").as_deref(), Ok("10.5"));
        assert_eq!(add(Some(b"10.50"), b"0.1").as_deref(), Ok("10.6"));
        assert_eq!(add(Some(b"5.0e3"), b"2.0e2").as_deref(), Ok("5200"));
        assert_eq!(add(Some(b"-0"), b"0").as_deref(), Ok("0"));
        assert_eq!(add(Some(b"1"), b"-1").as_deref(), Ok("0"));
        assert_eq!(add(None, b"-1e-30").as_deref(), Ok("0"));
        assert_eq!(add(Some(b"abc"), b"1"), Err(Error::NotAFloat));
        assert_eq!(add(Some(b"1"), b"abc"), Err(Error::NotAFloat));
        assert_eq!(add(Some(b"1"), b" 1"), Err(Error::NotAFloat));
        assert_eq!(add(Some(b"1"), b"nan"), Err(Error::NotAFloat));
        assert_eq!(add(Some(b"1"), b"inf"), Err(Error::NanOrInfinity));
        assert_eq!(add(Some(b"inf"), b"-inf"), Err(Error::NanOrInfinity));
        assert_eq!(add(Some(b"1e4932"), b"1e4932"), Err(Error::NanOrInfinity));
        assert_eq!(add(Some(b"1"), b"1e5000"), Err(Error::NotAFloat));
    }

    #[test]
    fn replies_are_an_integer_and_a_bulk_string() {
        let mut out = Out::new(Resp::V3);
        Increment::INCR.apply(Some(b"41")).reply(&mut out);
        parse_incrbyfloat(b"0.25").apply(Some(b"1")).reply(&mut out);
        Increment::INCR.apply(Some(b"x")).reply(&mut out);
        assert_eq!(
            out.bytes(),
            b":42\r\n$4\r\n1.25\r\n-ERR value is not an integer or out of range\r\n"
        );
    }

    proptest! {
        #[test]
        fn every_i64_reads_back_from_its_text(n: i64) {
            prop_assert_eq!(parse_i64(n.to_string().as_bytes()), Some(n));
        }

        #[test]
        fn text_is_read_only_when_it_is_canonical(text in "-?[0-9]{0,21}") {
            let canonical = text.parse::<i64>().ok().filter(|n| n.to_string() == text);
            prop_assert_eq!(parse_i64(text.as_bytes()), canonical);
        }
    }
}
