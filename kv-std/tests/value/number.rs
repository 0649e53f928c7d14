//! `INCR`, `DECR`, `INCRBY`, `DECRBY` and `INCRBYFLOAT`.

use crate::{b, Rng, Suite};
use kv_std::value::number::{parse_decrby, parse_incrby, parse_incrbyfloat, Increment};
use kv_std::value::WriteReply;

/// Texts at the edges of what Redis reads as an integer.
#[rustfmt::skip]
const ODD_INTEGERS: &[&str] = &[
    "", "-", "+1", "-0", "00", "01", "-01", " 1", "1 ", "1.0", "1e3", "0x10", "abc",
    "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "99999999999999999999", "-99999999999999999999", "00000000000000000001", "1\u{0}",
];

/// Texts at the edges of what Redis reads as a float: NaN and infinities, the ends of the
/// 80-bit range, half the least subnormal, hexadecimal forms, and near misses.
#[rustfmt::skip]
const ODD_FLOATS: &[&str] = &[
    "", " 1", "1 ", "1e", "1e+", ".", "-", "+", "e5", "1.5.", "nan", "-nan", "NaN", "inf",
    "-inf", "+Infinity", "infinity", "INF", "infin", "0x", "0x1p", "0x.8", "0X1.8P1",
    "0x1p-16445", "0x1p-16446", "0x1.0000001p-16446", "0x1.fffffffffffffffep16383",
    "0x1.ffffffffffffffffp16383", "1e5000", "-1e5000", "1e-5000", "0e-5000", "-0", "0.0",
    "1\u{0}", "1,5", "1_0", "\t1", "3.6e-4951", "1.8e-4951", "1.82e-4951",
    "1.18973149535723176e4932", "1.18973149535723177e4932", "1.189731495357231765e4932",
];

/// Integers Redis may or may not read: canonical ones of every size, the bounds, and texts
/// that are nearly integers.
fn integer_text(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => b(rng.pick(ODD_INTEGERS)),
        1 => b((i64::MAX - rng.range(0, 5)).to_string()),
        2 => b((i64::MIN + rng.range(0, 5)).to_string()),
        3 => b(rng.range(-3, 3).to_string()),
        _ => {
            let digits = rng.range(1, 19) as u32;
            let n = rng.word() % 10u64.pow(digits);
            let sign = if rng.one_in(2) { "-" } else { "" };
            b(format!("{sign}{n}"))
        }
    }
}

#[test]
fn counters_match_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0001);
    let mut suite = Suite::new("INCR/DECR/INCRBY/DECRBY");
    for _ in 0..3000 {
        let value = if rng.one_in(8) {
            None
        } else {
            Some(integer_text(&mut rng))
        };
        suite.set(b"k", value.as_deref());
        let (command, parsed) = match rng.below(4) {
            0 => (vec![b("INCR"), b("k")], Ok(Increment::INCR)),
            1 => (vec![b("DECR"), b("k")], Ok(Increment::DECR)),
            2 => {
                let by = integer_text(&mut rng);
                (vec![b("INCRBY"), b("k"), by.clone()], parse_incrby(&by))
            }
            _ => {
                let by = integer_text(&mut rng);
                (vec![b("DECRBY"), b("k"), by.clone()], parse_decrby(&by))
            }
        };
        match parsed.and_then(|inc| inc.apply(value.as_deref())) {
            Ok(update) => {
                suite.check(&command, &update);
                suite.store(b"k", &update.store);
            }
            Err(e) => suite.check(&command, &e),
        }
        suite.read_back(b"k");
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("INCR family: {cases} cases, {compared} replies compared");
}

/// A decimal number with `digits` significant digits, the point anywhere, and maybe an
/// exponent.
fn decimal(rng: &mut Rng, digits: usize, exponent: Option<i64>) -> String {
    let mut text = String::new();
    if rng.one_in(2) {
        text.push('-');
    } else if rng.one_in(20) {
        text.push('+');
    }
    let mut body: Vec<u8> = rng.bytes(digits, b"0123456789");
    if rng.one_in(3) {
        body[0] = rng.pick(b"123456789");
    }
    let point = rng.below(digits as u64 + 1) as usize;
    let mut body = String::from_utf8(body).unwrap();
    if point < digits || rng.one_in(10) {
        body.insert(point, '.');
    }
    if body == "." {
        body = "0.".into();
    }
    text.push_str(&body);
    if let Some(e) = exponent {
        text.push(rng.pick(&['e', 'E']));
        text.push_str(&e.to_string());
    }
    text
}

/// A float Redis may or may not read: decimals of every size and precision, around the limits
/// of the 80-bit format and of its 64-bit significand, hexadecimal ones, infinities and texts
/// that are nearly numbers.
fn float_text(rng: &mut Rng) -> Vec<u8> {
    match rng.below(16) {
        0 => b(rng.pick(ODD_FLOATS)),
        1 => {
            // Integers around 2^64, where the significand runs out.
            let n = (1u128 << rng.range(60, 66)) as i128 + i128::from(rng.range(-40, 40));
            b(n.to_string())
        }
        2 => {
            let digits = rng.range(18, 24) as usize;
            b(decimal(rng, digits, None))
        }
        3 => {
            let (e, digits) = (rng.range(-4960, 4940), rng.range(1, 22) as usize);
            b(decimal(rng, digits, Some(e)))
        }
        4 => {
            let (e, digits) = (rng.range(-30, 30), rng.range(1, 40) as usize);
            b(decimal(rng, digits, Some(e)))
        }
        5 => {
            let digits = rng.range(1, 16) as usize;
            let hex = String::from_utf8(rng.bytes(digits, b"0123456789abcdefABCDEF")).unwrap();
            let point = rng.below(digits as u64 + 1) as usize;
            let (int, frac) = hex.split_at(point);
            let e = if rng.one_in(2) {
                rng.range(-20, 20)
            } else {
                rng.range(-16500, 16400)
            };
            let sign = if rng.one_in(2) { "-" } else { "" };
            b(format!("{sign}0x{int}.{frac}p{e}"))
        }
        6 => {
            // Long texts, up to string2ld's limit of 5119 bytes and past it.
            let any = rng.range(100, 5200) as usize;
            let len = rng.pick(&[5118usize, 5119, 5120, any]);
            let mut text = b("0.");
            text.extend(rng.bytes(len - 2, b"0000000000123456789"));
            text
        }
        7 => b(rng.range(-1000, 1000).to_string()),
        _ => {
            let digits = rng.range(1, 12) as usize;
            b(decimal(rng, digits, None))
        }
    }
}

#[test]
fn incrbyfloat_matches_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0002);
    let mut suite = Suite::new("INCRBYFLOAT");
    let mut added = 0;
    for _ in 0..6000 {
        // Mostly start afresh; sometimes keep adding to what the last case left.
        if !rng.one_in(4) {
            let value = if rng.one_in(10) {
                None
            } else {
                Some(float_text(&mut rng))
            };
            suite.set(b"k", value.as_deref());
        }
        let increment = float_text(&mut rng);
        let result = parse_incrbyfloat(&increment).apply(suite.value(b"k").as_deref());
        let command = vec![b("INCRBYFLOAT"), b("k"), increment];
        match &result {
            Ok(update) => {
                added += 1;
                suite.check(&command, update as &dyn WriteReply);
                suite.store(b"k", &update.store);
            }
            Err(e) => suite.check(&command, e),
        }
        suite.read_back(b"k");
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!(
        "INCRBYFLOAT: {cases} cases ({added} sums, the rest errors), {compared} replies compared"
    );
}
