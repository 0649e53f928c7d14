//! Doubles as Redis 7.0 prints them, and the RESP3 double grammar.
//!
//! Redis 7.0 formats a double reply with C's `%.17g` (`addReplyDouble` in `networking.c`), after
//! writing infinities itself as `inf` and `-inf`: 17 significant digits, trailing zeros and a
//! bare decimal point dropped, so whole numbers print without a point (`3`), and exponent form
//! for exponents below -4 or from 17 up, with at least two exponent digits (`1e+300`).
//! Rust's exponent formatting is correctly rounded, as glibc's `printf` is, so the digits agree.

use core::fmt::Write;

/// The longest text [`format_double`] writes: sign, 17 digits, point, `e-308`.
pub const DOUBLE_TEXT_MAX: usize = 32;

/// Writes `value` as Redis 7.0 writes a double reply's text into `buf`; returns the text.
///
/// Not-a-number prints as glibc prints it: `nan`, or `-nan` when its sign bit is set.
pub fn format_double(value: f64, buf: &mut [u8; DOUBLE_TEXT_MAX]) -> &[u8] {
    if value.is_nan() {
        let text: &[u8] = if value.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        };
        buf[..text.len()].copy_from_slice(text);
        return &buf[..text.len()];
    }
    if value.is_infinite() {
        let text: &[u8] = if value > 0.0 { b"inf" } else { b"-inf" };
        buf[..text.len()].copy_from_slice(text);
        return &buf[..text.len()];
    }
    // `d.dddddddddddddddde<exp>`: the 17 significant digits, correctly rounded.
    let mut sci = Cursor::default();
    // 17 digits, a point, `e-308` and a sign fit the cursor's 40 bytes.
    let _ = write!(sci, "{:.16e}", value.abs());
    let sci = sci.as_bytes();
    let e = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let mut digits = [0u8; 17];
    let mut n = 0;
    for &b in &sci[..e] {
        if b.is_ascii_digit() && n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let exp = parse_exponent(&sci[(e + 1).min(sci.len())..]);
    // Significant digits without the trailing zeros `%g` drops (at least one).
    let mut sig = n;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }
    let digits = &digits[..sig];
    let mut out = Cursor::default();
    if value.is_sign_negative() {
        out.push(b'-');
    }
    if (-4..17).contains(&exp) {
        if exp >= 0 {
            // The exponent is below 17, so the cast and the indexes are in range.
            let int_digits = exp as usize + 1;
            for i in 0..int_digits {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
            if digits.len() > int_digits {
                out.push(b'.');
                out.extend(&digits[int_digits..]);
            }
        } else {
            out.extend(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend(digits);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let mag = exp.unsigned_abs();
        if mag >= 100 {
            out.push(b'0' + (mag / 100) as u8);
        }
        out.push(b'0' + (mag / 10 % 10) as u8);
        out.push(b'0' + (mag % 10) as u8);
    }
    let text = out.as_bytes();
    buf[..text.len()].copy_from_slice(text);
    &buf[..text.len()]
}

/// The exponent after the `e` of Rust's `{:e}` output (`-5`, `300`).
fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i32, |acc, &b| acc * 10 + i32::from(b - b'0'));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// A fixed buffer that formatting writes into.
struct Cursor {
    buf: [u8; 40],
    len: usize,
}

impl Default for Cursor {
    fn default() -> Self {
        Self {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl Cursor {
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for Cursor {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.extend(s.as_bytes());
        Ok(())
    }
}

/// Whether `text` is a RESP3 double: `inf`, `-inf`, `nan` (and `-nan`, which Redis 7.0 can
/// send), or `[+-]digits[.digits][(e|E)[+-]digits]`.
pub fn is_double(text: &[u8]) -> bool {
    if matches!(text, b"inf" | b"-inf" | b"+inf" | b"nan" | b"-nan") {
        return true;
    }
    let mut rest = match text.split_first() {
        Some((b'+' | b'-', rest)) => rest,
        _ => text,
    };
    let int = digit_run(rest);
    if int == 0 {
        return false;
    }
    rest = &rest[int..];
    if let Some((b'.', frac)) = rest.split_first() {
        let n = digit_run(frac);
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    if let Some((b'e' | b'E', exp)) = rest.split_first() {
        let exp = match exp.split_first() {
            Some((b'+' | b'-', e)) => e,
            _ => exp,
        };
        let n = digit_run(exp);
        return n > 0 && n == exp.len();
    }
    rest.is_empty()
}

/// How many ASCII digits `bytes` starts with.
fn digit_run(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;

    fn text(value: f64) -> std::string::String {
        let mut buf = [0u8; DOUBLE_TEXT_MAX];
        std::string::String::from_utf8(format_double(value, &mut buf).to_vec()).unwrap()
    }

    #[test]
    fn doubles_print_as_c_percent_17g() {
        // Each expectation is what glibc's printf("%.17g") prints.
        let cases: [(f64, &str); 17] = [
            (0.0, "0"),
            (-0.0, "-0"),
            (3.0, "3"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (10.5, "10.5"),
        ];
        for (value, expected) in cases {
            assert_eq!(text(value), expected, "{value:e}");
        }
        assert_eq!(text(f64::NAN), "nan");
        assert_eq!(text(-f64::NAN), "-nan");
    }

    #[test]
    fn the_double_grammar_is_resp3s() {
        for ok in [
            &b"1"[..],
            b"-1",
            b"+1",
            b"1.5",
            b"1e5",
            b"1E-5",
            b"1.25e+300",
            b"inf",
            b"-inf",
            b"nan",
            b"-nan",
        ] {
            assert!(is_double(ok), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b".5",
            b"1.",
            b"1e",
            b"e5",
            b"1.5.5",
            b"- 1",
            b"infinity",
            b"1x",
            b"+",
        ] {
            assert!(!is_double(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn printed_doubles_read_back_exactly(value in any::<f64>()) {
            let mut buf = [0u8; DOUBLE_TEXT_MAX];
            let printed = format_double(value, &mut buf);
            prop_assert!(is_double(printed));
            let s = core::str::from_utf8(printed).unwrap();
            if value.is_nan() {
                prop_assert!(s.ends_with("nan"));
            } else {
                let back: f64 = s.parse().unwrap();
                prop_assert_eq!(back.to_bits(), value.to_bits());
            }
        }
    }
}
