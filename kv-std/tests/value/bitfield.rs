//! `BITFIELD` and `BITFIELD_RO`.

use crate::{b, Rng, Suite};
use kv_std::value::bitfield::{parse_bitfield, parse_bitfield_ro};
use kv_std::value::PROTO_MAX_BULK_LEN;

/// A field type, and its width when it is valid.
fn field_type(rng: &mut Rng) -> (Vec<u8>, Option<u32>) {
    if rng.one_in(20) {
        let odd = rng.pick(&[
            "u64", "i65", "i0", "u0", "I8", "U8", "x8", "", "i", "i08", "i-1", "u 8", "i8\0x",
            "u63\0",
        ]);
        let width = match odd {
            "i8\0x" => Some(8),
            "u63\0" => Some(63),
            _ => None,
        };
        return (b(odd), width);
    }
    let signed = rng.one_in(2);
    let bits = rng.range(1, if signed { 64 } else { 63 }) as u32;
    let name = format!("{}{bits}", if signed { 'i' } else { 'u' });
    (b(name), Some(bits))
}

#[rustfmt::skip]
const ODD_OFFSETS: &[&str] = &["x", "", "-1", "#-1", "#", "#x", "01", "4294967296", "#4294967296"];

/// An offset; a write's stays small unless it is invalid, or Redis would make a value of up to
/// 512 MiB.
fn offset(rng: &mut Rng, write: bool) -> Vec<u8> {
    match rng.below(30) {
        0 => b(rng.pick(ODD_OFFSETS)),
        // #n wraps around: times 8 it is negative, times 16 it is small again.
        1 => b(rng.pick(&[
            "#1152921504606846976",
            "#1152921504606846977",
            "#2305843009213693952",
            "#-2305843009213693952",
        ])),
        2 if !write => b(rng.pick(&["4294967295", "4294967232", "#67108863"])),
        3..=6 => b(format!("#{}", rng.range(0, 10))),
        _ => b(rng.range(0, 80).to_string()),
    }
}

/// A `SET` value or `INCRBY` increment: around the field's bounds, small, any, or invalid.
fn number(rng: &mut Rng, width: Option<u32>) -> Vec<u8> {
    let bits = width.unwrap_or(8);
    match rng.below(20) {
        0 => b(rng.pick(&["x", "1.5", "", "+1", "-0"])),
        1 => b(rng
            .pick(&[i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1])
            .to_string()),
        2 => b(((1i128 << bits) + i128::from(rng.range(-2, 2))).to_string()),
        3 => b(((1i128 << (bits - 1)) + i128::from(rng.range(-2, 2))).to_string()),
        4 => b((-(1i128 << (bits - 1)) + i128::from(rng.range(-2, 2))).to_string()),
        5 => b((rng.word() as i64).to_string()),
        _ => b(rng.range(-300, 300).to_string()),
    }
}

/// The subcommands of one `BITFIELD`, now and then cut short or misspelt.
fn subcommands(rng: &mut Rng, read_only: bool) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    for _ in 0..rng.pick(&[0, 1, 1, 2, 3, 4, 5]) {
        let (ty, width) = field_type(rng);
        match rng.below(if read_only { 12 } else { 5 }) {
            0 => {
                let kind =
                    rng.pick(&["WRAP", "SAT", "FAIL", "wrap", "sat", "fail", "up", "fail\0"]);
                args.extend([b(rng.pick(&["OVERFLOW", "overflow"])), b(kind)]);
            }
            1 => {
                let write_offset = offset(rng, true);
                let value = number(rng, width);
                args.extend([b(rng.pick(&["SET", "set"])), ty, write_offset, value]);
            }
            2 => {
                let write_offset = offset(rng, true);
                let value = number(rng, width);
                args.extend([b(rng.pick(&["INCRBY", "incrby"])), ty, write_offset, value]);
            }
            3 if rng.one_in(20) => args.push(b(rng.pick(&["GETX", "get\0", "bogus"]))),
            _ => {
                let read_offset = offset(rng, false);
                args.extend([b(rng.pick(&["GET", "get"])), ty, read_offset]);
            }
        }
    }
    if !args.is_empty() && rng.one_in(30) {
        args.pop();
    }
    args
}

#[test]
fn bitfield_matches_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0007);
    let mut suite = Suite::new("BITFIELD/BITFIELD_RO");
    let (mut writes, mut errors) = (0, 0);
    for _ in 0..5000 {
        let v = if rng.one_in(6) {
            None
        } else {
            let len = rng.below(12) as usize;
            Some(rng.binary(len))
        };
        suite.set(b"k", v.as_deref());
        let read_only = rng.one_in(5);
        let args = subcommands(&mut rng, read_only);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let name = if read_only { "BITFIELD_RO" } else { "BITFIELD" };
        let command = [vec![b(name), b("k")], args.clone()].concat();
        let parsed = if read_only {
            parse_bitfield_ro(&refs, PROTO_MAX_BULK_LEN)
        } else {
            parse_bitfield(&refs, PROTO_MAX_BULK_LEN)
        };
        match parsed {
            Ok(op) => {
                writes += usize::from(op.writes());
                let update = op.apply(v.as_deref());
                suite.check(&command, &update);
                suite.store(b"k", &update.store);
            }
            Err(e) => {
                errors += 1;
                suite.check(&command, &e);
            }
        }
        suite.read_back(b"k");
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!(
        "BITFIELD: {cases} cases ({writes} writing, {errors} errors), {compared} replies compared"
    );
}
