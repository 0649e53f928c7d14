//! The x87 80-bit extended `long double` that Redis computes `INCRBYFLOAT` in on x86-64: a
//! 64-bit significand and a 15-bit exponent, with subnormals. Rust has no such type, so this is
//! the little of one that `INCRBYFLOAT` needs, each step exactly rounded as glibc and the x87
//! round it (to nearest, ties to even):
//!
//! - [`F80::parse`]: text to the nearest value, accepting what Redis's `string2ld` accepts of
//!   `strtold`: decimal and hexadecimal (`0x1.8p3`) numbers and `inf`/`infinity`, with an
//!   optional sign, no spaces, under 5120 bytes; refusing NaN, and numbers too large (which
//!   `strtold` rounds to infinity) or so small that they round to zero.
//! - `+`: the sum, as the x87 `fadd` rounds it to 64 significant bits.
//! - [`F80::to_human_text`]: `ld2string(LD_STR_HUMAN)`: `printf("%.17Lf")` (exact decimal
//!   expansion rounded to 17 decimals), trailing zeros and then a trailing point removed, and
//!   `-0` written `0`. There is no exponent form: the largest values print all their 4933
//!   integer digits, which fit Redis's 5 KiB buffer, so no value is cut short.
//!
//! Values are kept as `mantissa * 2^exponent`, which makes every step a question about
//! integers; those are answered with [`Big`].

use super::big::Big;

/// The exponent of a subnormal's lowest bit, and of the smallest normal's: `2^-16445`.
const MIN_EXPONENT: i64 = -16445;
/// The largest exponent of a mantissa's lowest bit: the largest value is `(2^64 - 1) * 2^16320`.
const MAX_EXPONENT: i64 = 16320;
/// `string2ld`'s buffer: texts of this many bytes or more are refused.
const MAX_TEXT: usize = 5 * 1024;
/// Decimal digits printed after the point.
const DECIMALS: u32 = 17;

/// An 80-bit extended float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum F80 {
    /// `(-1)^negative * mantissa * 2^exponent`, whatever the two are. The values this module
    /// makes are the format's: normal ones with the mantissa's top bit set and an exponent
    /// from -16445 to 16320, subnormals with the top bit clear and the exponent -16445, and
    /// zeros with mantissa and exponent 0.
    Finite {
        /// The sign, kept for zero too.
        negative: bool,
        /// The 64-bit significand.
        mantissa: u64,
        /// The power of two of the significand's lowest bit.
        exponent: i32,
    },
    /// An infinity.
    Infinite {
        /// The sign.
        negative: bool,
    },
    /// Not a number (from adding infinities of opposite signs).
    Nan,
}

impl F80 {
    /// Positive zero.
    pub const ZERO: F80 = F80::zero(false);

    const fn zero(negative: bool) -> F80 {
        F80::Finite {
            negative,
            mantissa: 0,
            exponent: 0,
        }
    }

    /// Whether this is neither infinite nor NaN.
    pub fn is_finite(self) -> bool {
        matches!(self, F80::Finite { .. })
    }

    /// Reads `text` as Redis's `string2ld` does; `None` when it refuses it.
    pub fn parse(text: &[u8]) -> Option<F80> {
        if text.is_empty() || text.len() >= MAX_TEXT {
            return None;
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(F80::Infinite { negative });
        }
        match body {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(negative, hex),
            _ => parse_decimal(negative, body),
        }
    }

    /// `self + other`, rounded to the nearest extended value.
    fn sum(self, other: F80) -> F80 {
        match (self, other) {
            (F80::Nan, _) | (_, F80::Nan) => F80::Nan,
            (F80::Infinite { negative: a }, F80::Infinite { negative: b }) if a != b => F80::Nan,
            (infinite @ F80::Infinite { .. }, _) | (_, infinite @ F80::Infinite { .. }) => infinite,
            (
                F80::Finite {
                    negative: a_negative,
                    mantissa: a,
                    exponent: a_exponent,
                },
                F80::Finite {
                    negative: b_negative,
                    mantissa: b,
                    exponent: b_exponent,
                },
            ) => {
                if a == 0 && b == 0 {
                    return F80::zero(a_negative && b_negative);
                }
                if b == 0 {
                    return self;
                }
                if a == 0 {
                    return other;
                }
                let low = a_exponent.min(b_exponent);
                let a_big = Big::from_u128(a.into()).shl((a_exponent - low) as u64);
                let b_big = Big::from_u128(b.into()).shl((b_exponent - low) as u64);
                let (negative, sum) = if a_negative == b_negative {
                    (a_negative, a_big.add(&b_big))
                } else if a_big >= b_big {
                    (a_negative, a_big.sub(&b_big))
                } else {
                    (b_negative, b_big.sub(&a_big))
                };
                if sum.is_zero() {
                    // An exact zero sum of opposite signs is +0 when rounding to nearest.
                    return F80::ZERO;
                }
                round(negative, &sum, &Big::from_u128(1), i64::from(low))
            }
        }
    }

    /// The text `ld2string(LD_STR_HUMAN)` makes of a finite value: `%.17Lf` with trailing zeros
    /// and point removed, `-0` as `0`. Infinities print as `inf`/`-inf` and NaN as `nan`, which
    /// `INCRBYFLOAT` never stores.
    pub fn to_human_text(self) -> Vec<u8> {
        let (negative, mantissa, exponent) = match self {
            F80::Finite {
                negative,
                mantissa,
                exponent,
            } => (negative, mantissa, exponent),
            F80::Infinite { negative: false } => return b"inf".to_vec(),
            F80::Infinite { negative: true } => return b"-inf".to_vec(),
            F80::Nan => return b"nan".to_vec(),
        };
        let digits = scaled_decimal_digits(mantissa, exponent);
        let mut text = Vec::with_capacity(digits.len() + 3);
        if negative {
            text.push(b'-');
        }
        let width = DECIMALS as usize + 1;
        let padded: Vec<u8> = core::iter::repeat_n(b'0', width.saturating_sub(digits.len()))
            .chain(digits)
            .collect();
        let (whole, fraction) = padded.split_at(padded.len() - DECIMALS as usize);
        text.extend_from_slice(whole);
        text.push(b'.');
        text.extend_from_slice(fraction);
        while text.last() == Some(&b'0') {
            text.pop();
        }
        if text.last() == Some(&b'.') {
            text.pop();
        }
        if text == b"-0" {
            text.remove(0);
        }
        text
    }
}

impl core::ops::Add for F80 {
    type Output = F80;

    /// The sum, rounded to the nearest extended value (ties to even), as the x87 `fadd` does.
    fn add(self, other: F80) -> F80 {
        self.sum(other)
    }
}

/// The decimal digits of `mantissa * 2^exponent * 10^17`, rounded to an integer (ties to even):
/// the value's `%.17Lf` digits without the point.
fn scaled_decimal_digits(mantissa: u64, exponent: i32) -> Vec<u8> {
    const TEN_17: u128 = 100_000_000_000_000_000;
    if exponent >= 0 {
        let mut scaled = Big::from_u128(mantissa.into()).shl(exponent as u64);
        scaled.mul_add_small(TEN_17 as u64, 0);
        return scaled.to_decimal();
    }
    // Below 2^121, so a shift of 122 or more leaves less than half: it rounds to 0.
    let product = u128::from(mantissa) * TEN_17;
    let shift = exponent.unsigned_abs();
    if shift >= 122 {
        return b"0".to_vec();
    }
    let quotient = product >> shift;
    let rest = product & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    let rounded = if rest > half || (rest == half && quotient & 1 == 1) {
        quotient + 1
    } else {
        quotient
    };
    rounded.to_string().into_bytes()
}

/// The nearest extended value to `(-1)^negative * num / den * 2^scale`, for `num > 0`: infinite
/// past the largest finite value, and a zero of that sign below half the least subnormal.
fn round(negative: bool, num: &Big, den: &Big, scale: i64) -> F80 {
    // Shift so that the quotient has 66 or 67 bits: 64 for the mantissa and at least two below.
    let shift = 66 - (num.bits() as i64 - den.bits() as i64);
    let (quotient, inexact) = if shift >= 0 {
        num.shl(shift as u64).short_quotient(den, 67)
    } else {
        num.short_quotient(&den.shl(shift.unsigned_abs()), 67)
    };
    // value = (quotient + a fraction if inexact) * 2^low
    let low = scale - shift;
    let width = i64::from(128 - quotient.leading_zeros());
    let mut drop = width - 64;
    if low + drop < MIN_EXPONENT {
        drop = MIN_EXPONENT - low;
    }
    let (kept, half, below_half) = if drop >= 128 {
        (0, false, true)
    } else {
        let drop = drop as u32;
        let kept = quotient >> drop;
        let half = (quotient >> (drop - 1)) & 1 == 1;
        let below_half = inexact || quotient & ((1u128 << (drop - 1)) - 1) != 0;
        (kept, half, below_half)
    };
    let mut mantissa = kept;
    if half && (below_half || mantissa & 1 == 1) {
        mantissa += 1;
    }
    let mut exponent = low + drop;
    if mantissa == 1 << 64 {
        mantissa = 1 << 63;
        exponent += 1;
    }
    if exponent > MAX_EXPONENT {
        return F80::Infinite { negative };
    }
    if mantissa == 0 {
        return F80::zero(negative);
    }
    F80::Finite {
        negative,
        mantissa: mantissa as u64,
        exponent: exponent as i32,
    }
}

/// The digits `text` starts with, and the rest.
fn split_digits(text: &[u8], is_digit: fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let end = text.iter().position(|b| !is_digit(b)).unwrap_or(text.len());
    text.split_at(end)
}

/// `text` as an exponent: an optional sign and at least one decimal digit, saturated far beyond
/// any exponent that leaves a finite nonzero value.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |n, d| {
        (n * 10 + i64::from(d - b'0')).min(1_000_000_000)
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// A number's significant digits: the digits before and after the point, and where the
/// exponent part starts. `None` without a single digit.
fn split_significand(text: &[u8], is_digit: fn(&u8) -> bool) -> Option<(&[u8], &[u8], &[u8])> {
    let (whole, rest) = split_digits(text, is_digit);
    let (fraction, rest) = match rest.split_first() {
        Some((b'.', after)) => split_digits(after, is_digit),
        _ => (&rest[..0], rest),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((whole, fraction, rest))
}

/// `digits[.digits][(e|E)[sign]digits]`, all of `text`.
fn parse_decimal(negative: bool, text: &[u8]) -> Option<F80> {
    let (whole, fraction, rest) = split_significand(text, u8::is_ascii_digit)?;
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', exponent)) => parse_exponent(exponent)?,
        Some(_) => return None,
    };
    let mut digits = whole.iter().chain(fraction).skip_while(|&&d| d == b'0');
    let mut value = Big::zero();
    let mut count = 0i64;
    // The digits come 19 at a time, one multiplication each.
    loop {
        let (mut chunk, mut len) = (0u64, 0u32);
        for &d in digits.by_ref().take(19) {
            chunk = chunk * 10 + u64::from(d - b'0');
            len += 1;
        }
        if len == 0 {
            break;
        }
        value.mul_add_small(10u64.pow(len), chunk);
        count += i64::from(len);
    }
    if value.is_zero() {
        return Some(F80::zero(negative));
    }
    // value * 10^power, with 10^(count - 1 + power) <= |number| < 10^(count + power): far
    // outside the range, it is out of range without computing it.
    let power = exponent - fraction.len() as i64;
    if count - 1 + power > 4940 || count + power < -4970 {
        return None;
    }
    in_range(if power >= 0 {
        let num = value.mul(&Big::pow10(power as u32));
        round(negative, &num, &Big::from_u128(1), 0)
    } else {
        round(
            negative,
            &value,
            &Big::pow10(power.unsigned_abs() as u32),
            0,
        )
    })
}

/// A nonzero number's rounded value, or `None` when strtold reports a range error, which
/// string2ld refuses: it rounded to infinity, or to zero.
fn in_range(rounded: F80) -> Option<F80> {
    match rounded {
        F80::Finite { mantissa: 0, .. } | F80::Infinite { .. } | F80::Nan => None,
        finite => Some(finite),
    }
}

/// `hexdigits[.hexdigits][(p|P)[sign]digits]`, all of `text` (after `0x`).
fn parse_hex(negative: bool, text: &[u8]) -> Option<F80> {
    let (whole, fraction, rest) = split_significand(text, u8::is_ascii_hexdigit)?;
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'p' | b'P', exponent)) => parse_exponent(exponent)?,
        Some(_) => return None,
    };
    let mut value = Big::zero();
    for &d in whole.iter().chain(fraction).skip_while(|&&d| d == b'0') {
        value.mul_add_small(16, u64::from(hex_value(d)));
    }
    if value.is_zero() {
        return Some(F80::zero(negative));
    }
    let scale = exponent - 4 * fraction.len() as i64;
    let top = value.bits() as i64 - 1 + scale;
    if !(-16500..=16400).contains(&top) {
        return None;
    }
    in_range(round(negative, &value, &Big::from_u128(1), scale))
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn human(text: &str) -> String {
        let value = F80::parse(text.as_bytes()).expect(text);
        String::from_utf8(value.to_human_text()).unwrap()
    }

    fn sum(a: &str, b: &str) -> String {
        let a = F80::parse(a.as_bytes()).expect(a);
        let b = F80::parse(b.as_bytes()).expect(b);
        String::from_utf8((a + b).to_human_text()).unwrap()
    }

    #[test]
    fn accepts_what_strtold_reads_in_full() {
        for (text, printed) in [
            ("0", "0"),
            ("-0", "0"),
            ("+1", "1"),
            ("1.", "1"),
            (".5", "0.5"),
            ("00012.500", "12.5"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("1.5e-3", "0.0015"),
            ("0x10", "16"),
            ("0X1.8p1", "3"),
            ("0x.8", "0.5"),
            ("-0x1p-2", "-0.25"),
            ("0e999999999999999999999", "0"),
            ("0.1", "0.1"),
            ("3.0000000000000000001", "3"),
        ] {
            assert_eq!(human(text), printed, "{text}");
        }
        assert_eq!(F80::parse(b"INF"), Some(F80::Infinite { negative: false }));
        assert_eq!(
            F80::parse(b"-Infinity"),
            Some(F80::Infinite { negative: true })
        );
    }

    #[test]
    fn refuses_what_string2ld_refuses() {
        for text in [
            "",
            " 1",
            "1 ",
            "\t1",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.5.",
            "0x",
            "0x.",
            "0xp1",
            "0x1p",
            "1e5x",
            "nan",
            "-nan",
            "NaN(1)",
            "infin",
            "1\u{0}",
            "1,5",
            "++1",
            "--1",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "0x1p16384",
            "0x1p-16446",
        ] {
            assert_eq!(F80::parse(text.as_bytes()), None, "{text:?}");
        }
        let long = format!("1.{}", "0".repeat(MAX_TEXT - 2));
        assert_eq!(long.len(), MAX_TEXT);
        assert_eq!(F80::parse(long.as_bytes()), None);
        assert_eq!(human(&long[..MAX_TEXT - 1]), "1");
    }

    #[test]
    fn the_range_ends_where_the_x87_format_ends() {
        // The largest finite value and the least subnormal, and just past them.
        let largest = F80::parse(b"0x1.fffffffffffffffep16383").unwrap();
        assert_eq!(
            largest,
            F80::Finite {
                negative: false,
                mantissa: u64::MAX,
                exponent: MAX_EXPONENT as i32
            }
        );
        assert_eq!(F80::parse(b"0x1.ffffffffffffffffp16383"), None);
        let least = F80::parse(b"0x1p-16445").unwrap();
        assert_eq!(
            least,
            F80::Finite {
                negative: false,
                mantissa: 1,
                exponent: MIN_EXPONENT as i32
            }
        );
        assert_eq!(F80::parse(b"0x1.0000001p-16446"), Some(least));
        assert_eq!(F80::parse(b"0x1p-16446"), None);
        assert_eq!(F80::parse(b"3.6e-4951"), Some(least));
        assert_eq!(F80::parse(b"1.8e-4951"), None);
        assert!(F80::parse(b"1.18973149535723176e4932").is_some());
        assert_eq!(F80::parse(b"1.18973149535723177e4932"), None);
        assert_eq!(largest + largest, F80::Infinite { negative: false });
        let minus_least = F80::parse(b"-0x1p-16445").unwrap();
        assert_eq!(least + minus_least, F80::ZERO);
        assert_eq!((least + least).to_human_text(), b"0");
    }

    #[test]
    fn sums_round_to_64_bits_ties_to_even() {
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("-0", "-0"), "0");
        assert_eq!(sum("10.5", "0.1"), "10.6");
        // 2^64 + 1 is a tie between 2^64 and 2^64 + 2: to even, 2^64.
        assert_eq!(sum("18446744073709551616", "1"), "18446744073709551616");
        assert_eq!(sum("18446744073709551616", "3"), "18446744073709551620");
        assert_eq!(sum("18446744073709551615", "1"), "18446744073709551616");
        assert_eq!(sum("1e20", "-1e20"), "0");
        assert_eq!(sum("1", "1e-30"), "1");
    }

    #[test]
    fn printing_rounds_the_exact_value_to_17_decimals() {
        // 2^-18 = 0.000003814697265625: a tie at the 17th decimal, to even.
        assert_eq!(human("0x1p-18"), "0.00000381469726562");
        assert_eq!(human("0x3p-18"), "0.00001144409179688");
        assert_eq!(human("1.5"), "1.5");
        assert_eq!(human("-1e-18"), "0");
        assert_eq!(human("-6e-18"), "-0.00000000000000001");
        // These three as redis-server 7.0.15 on x86-64 prints them.
        assert_eq!(human("1e30"), "1000000000000000000024696061952");
        assert_eq!(human("123456789.123456789"), "123456789.12345678899873747");
        assert_eq!(human("-5e-18"), "0");
        assert_eq!(human("0.30000000000000004"), "0.30000000000000004");
        assert_eq!(human("0x1p64"), "18446744073709551616");
        assert_eq!(human("0x1p-1"), "0.5");
    }

    proptest! {
        #[test]
        fn short_decimals_print_back_as_written(
            negative: bool,
            whole in 0u64..10,
            fraction in proptest::collection::vec(0u8..10, 0..=17),
        ) {
            let digits: String = fraction.iter().map(|d| char::from(b'0' + d)).collect();
            let text = format!("{}{whole}.{digits}", if negative { "-" } else { "" });
            let mut expected = text.trim_end_matches('0').trim_end_matches('.').to_string();
            if expected == "-0" || expected.is_empty() {
                expected = "0".into();
            }
            prop_assert_eq!(human(&text), expected);
        }

        #[test]
        fn dyadic_sums_are_exact(a in -(1i64 << 40)..(1i64 << 40), b in -(1i64 << 40)..(1i64 << 40), k in 0u32..20) {
            // a / 2^k + b / 2^k, exactly, in decimals: at most 20 digits after the point.
            let text = |n: i64| format!("{}0x{:x}p-{k}", if n < 0 { "-" } else { "" }, n.unsigned_abs());
            let exact = i128::from(a) + i128::from(b);
            let scaled = (exact.unsigned_abs() * 10u128.pow(20)) >> k;
            let digits = format!("{scaled:021}");
            let (int, frac) = digits.split_at(digits.len() - 20);
            let frac17 = &frac[..17];
            // Round to 17 decimals, ties to even, as printf does.
            let tail: u128 = frac[17..].parse().unwrap();
            let mut n: u128 = format!("{int}{frac17}").parse().unwrap();
            if tail > 500 || (tail == 500 && n % 2 == 1) {
                n += 1;
            }
            let n = format!("{n:018}");
            let (int, frac) = n.split_at(n.len() - 17);
            let mut expected = format!("{}{int}.{frac}", if exact < 0 { "-" } else { "" });
            expected = expected.trim_end_matches('0').trim_end_matches('.').to_string();
            if expected == "-0" {
                expected = "0".into();
            }
            prop_assert_eq!(sum(&text(a), &text(b)), expected);
        }
    }
}
