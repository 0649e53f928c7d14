//! `BITFIELD` and `BITFIELD_RO`: integers of 1 to 64 bits at any bit offset of a string, read,
//! written and incremented, with a choice of what an overflow does.
//!
//! Order of errors, as in Redis: every subcommand is read and checked, in order, before the
//! key's type; then `BITFIELD_RO` refuses a write. A write makes room up to the farthest bit
//! any write reaches before the first operation runs, so a missing key is created (zero-filled)
//! even when every write fails with `OVERFLOW FAIL`.

use super::bits::parse_bit_offset;
use super::keyword;
use super::number::parse_i64;
use super::{Error, Store, Update, WriteReply};
use crate::reply::Out;

/// What an `INCRBY` or `SET` does with a result its field cannot hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Keep the low bits (two's complement for signed fields). The default.
    #[default]
    Wrap,
    /// Saturate at the field's least or greatest value.
    Sat,
    /// Change nothing and reply nil.
    Fail,
}

/// A field's type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Signed (`i`) or unsigned (`u`).
    pub signed: bool,
    /// Its width in bits.
    pub bits: u32,
}

impl Field {
    /// Reads a type as Redis does: `i` or `u` (lower case), then an integer, read as a C
    /// string (up to a NUL byte).
    pub fn parse(arg: &[u8]) -> Result<Field, Error> {
        let signed = match arg.first() {
            Some(b'i') => true,
            Some(b'u') => false,
            _ => return Err(Error::BitfieldType),
        };
        let bits = parse_i64(keyword::c_str(&arg[1..])).ok_or(Error::BitfieldType)?;
        let most = if signed { 64 } else { 63 };
        if !(1..=most).contains(&bits) {
            return Err(Error::BitfieldType);
        }
        Ok(Field {
            signed,
            bits: bits as u32,
        })
    }
}

/// One subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `GET type offset`.
    Get,
    /// `SET type offset value`: replies the old value.
    Set(i64),
    /// `INCRBY type offset increment`: replies the new value.
    Incrby(i64),
}

/// A subcommand with its field and the overflow rule in force where it appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// What it does.
    pub action: Action,
    /// The field's type.
    pub field: Field,
    /// The field's first bit.
    pub offset: u64,
    /// The `OVERFLOW` rule for it.
    pub overflow: Overflow,
}

/// A parsed `BITFIELD` or `BITFIELD_RO`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitfield {
    operations: Vec<Operation>,
    /// The byte length a value must have for every write to fit; 0 without writes.
    write_len: u64,
}

/// Reads `BITFIELD`'s arguments after the key; `max_len` is `proto-max-bulk-len`.
pub fn parse_bitfield(args: &[&[u8]], max_len: u64) -> Result<Bitfield, Error> {
    let mut operations = Vec::new();
    let mut overflow = Overflow::default();
    let mut write_len = 0;
    let mut j = 0;
    while j < args.len() {
        let (name, more) = (args[j], args.len() - j - 1);
        let action_at = |i: usize| parse_i64(args[j + i]).ok_or(Error::NotAnInteger);
        let needs_value = if keyword::is(name, "get") && more >= 2 {
            false
        } else if (keyword::is(name, "set") || keyword::is(name, "incrby")) && more >= 3 {
            true
        } else if keyword::is(name, "overflow") && more >= 1 {
            overflow = [
                ("wrap", Overflow::Wrap),
                ("sat", Overflow::Sat),
                ("fail", Overflow::Fail),
            ]
            .into_iter()
            .find(|(word, _)| keyword::is(args[j + 1], word))
            .map(|(_, o)| o)
            .ok_or(Error::OverflowType)?;
            j += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let field = Field::parse(args[j + 1])?;
        let offset = parse_bit_offset(args[j + 2], Some(field.bits), max_len)?;
        let action = if !needs_value {
            Action::Get
        } else {
            let value = action_at(3)?;
            write_len = write_len.max((offset + u64::from(field.bits) - 1) / 8 + 1);
            if keyword::is(name, "set") {
                Action::Set(value)
            } else {
                Action::Incrby(value)
            }
        };
        operations.push(Operation {
            action,
            field,
            offset,
            overflow,
        });
        j += if needs_value { 4 } else { 3 };
    }
    Ok(Bitfield {
        operations,
        write_len,
    })
}

/// Reads `BITFIELD_RO`'s arguments after the key: as `BITFIELD`, but only `GET`.
pub fn parse_bitfield_ro(args: &[&[u8]], max_len: u64) -> Result<Bitfield, Error> {
    let bitfield = parse_bitfield(args, max_len)?;
    if bitfield.writes() {
        return Err(Error::BitfieldReadOnly);
    }
    Ok(bitfield)
}

/// The replies of a `BITFIELD`, one per subcommand other than `OVERFLOW`: a number, or nil for
/// a write that failed with `OVERFLOW FAIL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields(pub Vec<Option<i64>>);

impl WriteReply for Fields {
    fn reply(&self, out: &mut Out) {
        out.array(self.0.len());
        for field in &self.0 {
            match field {
                Some(n) => out.int(*n),
                None => out.null(),
            }
        }
    }
}

impl Bitfield {
    /// The subcommands, in order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Whether any subcommand is a `SET` or `INCRBY`: the key is then written (or created)
    /// and must be looked up for writing.
    pub fn writes(&self) -> bool {
        self.write_len > 0
    }

    /// Runs the subcommands in order on `value` (a missing key is empty, and reads as zeros
    /// past its end): their replies, and the new value when a write creates, grows or changes
    /// it.
    pub fn apply(&self, value: Option<&[u8]>) -> Update<Fields> {
        let mut bytes = value.unwrap_or_default().to_vec();
        let mut changed = false;
        if self.writes() && (bytes.len() as u64) < self.write_len {
            bytes.resize(self.write_len as usize, 0);
            changed = true;
        }
        let mut replies = Vec::with_capacity(self.operations.len());
        for op in &self.operations {
            let Field { signed, bits } = op.field;
            let old = read(&bytes, op.offset, bits);
            let (new, reply) = match op.action {
                Action::Get => {
                    replies.push(Some(as_field_value(old, op.field)));
                    continue;
                }
                Action::Set(v) if signed => {
                    let checked = signed_overflow(v, 0, bits, op.overflow);
                    (
                        checked.map(|new| new as u64),
                        Some(as_field_value(old, op.field)),
                    )
                }
                Action::Set(v) => {
                    let checked = unsigned_overflow(v as u64, 0, bits, op.overflow);
                    (checked, Some(old as i64))
                }
                Action::Incrby(by) if signed => {
                    let checked =
                        signed_overflow(as_field_value(old, op.field), by, bits, op.overflow);
                    (checked.map(|new| new as u64), checked)
                }
                Action::Incrby(by) => {
                    let checked = unsigned_overflow(old, by, bits, op.overflow);
                    (checked, checked.map(|new| new as i64))
                }
            };
            match new {
                Some(new) => {
                    write(&mut bytes, op.offset, bits, new);
                    changed |= new & mask_of(bits) != old;
                    replies.push(reply);
                }
                None => replies.push(None),
            }
        }
        // A missing key grows to hold any write, so it counts as changed.
        let store = if changed {
            Store::Put(bytes)
        } else {
            Store::Keep
        };
        Update {
            reply: Fields(replies),
            store,
        }
    }
}

/// The `bits`-bit field at `offset`, unsigned, zeros past the end.
fn read(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + u64::from(bits)).fold(0, |acc, i| {
        let bit = bytes
            .get((i >> 3) as usize)
            .is_some_and(|byte| byte & (0x80 >> (i & 7)) != 0);
        (acc << 1) | u64::from(bit)
    })
}

/// Writes the low `bits` bits of `value` at `offset`, within `bytes`.
fn write(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let i = offset + j;
        let mask = 0x80 >> (i & 7);
        let byte = &mut bytes[(i >> 3) as usize];
        if value & (1 << (u64::from(bits) - 1 - j)) != 0 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// The low `bits` bits set.
fn mask_of(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// A field's raw bits as the integer it holds: sign-extended when signed.
fn as_field_value(raw: u64, field: Field) -> i64 {
    if field.signed && field.bits < 64 && raw & (1 << (field.bits - 1)) != 0 {
        (raw | !mask_of(field.bits)) as i64
    } else {
        raw as i64
    }
}

/// `value + increment` in an unsigned field of `bits` bits, under `overflow`; `None` when it
/// fails. A value the field cannot hold (a `SET`) overflows upward, as in Redis, even when it
/// came from a negative argument.
fn unsigned_overflow(value: u64, increment: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = mask_of(bits);
    let room_up = max.wrapping_sub(value) as i64;
    let room_down = value.wrapping_neg() as i64;
    let limit = if value > max || (increment > 0 && increment > room_up) {
        max
    } else if increment < 0 && increment < room_down {
        0
    } else {
        return Some(value.wrapping_add(increment as u64));
    };
    match overflow {
        Overflow::Wrap => Some(value.wrapping_add(increment as u64) & max),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

/// `value + increment` in a signed field of `bits` bits, under `overflow`; `None` when it
/// fails.
fn signed_overflow(value: i64, increment: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = (mask_of(bits) >> 1) as i64;
    let min = -max - 1;
    let room_up = (max as u64).wrapping_sub(value as u64) as i64;
    let room_down = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && increment > room_up)
        || (value >= 0 && increment > 0 && increment > room_up)
    {
        max
    } else if value < min
        || (bits != 64 && increment < room_down)
        || (value < 0 && increment < 0 && increment < room_down)
    {
        min
    } else {
        return Some(value.wrapping_add(increment));
    };
    match overflow {
        Overflow::Wrap => {
            let sum = (value as u64).wrapping_add(increment as u64);
            Some(as_field_value(
                sum & mask_of(bits),
                Field { signed: true, bits },
            ))
        }
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Resp;
    use crate::value::PROTO_MAX_BULK_LEN;
    use proptest::prelude::*;

    const MAX: u64 = PROTO_MAX_BULK_LEN;

    fn run(args: &[&[u8]], value: Option<&[u8]>) -> Result<Update<Fields>, Error> {
        parse_bitfield(args, MAX).map(|op| op.apply(value))
    }

    fn replies(args: &[&[u8]], value: Option<&[u8]>) -> Vec<Option<i64>> {
        run(args, value).unwrap().reply.0
    }

    #[test]
    fn types_are_i1_to_i64_and_u1_to_u63() {
        assert_eq!(
            Field::parse(b"i64"),
            Ok(Field {
                signed: true,
                bits: 64
            })
        );
        assert_eq!(
            Field::parse(b"u63"),
            Ok(Field {
                signed: false,
                bits: 63
            })
        );
        assert_eq!(
            Field::parse(b"u1"),
            Ok(Field {
                signed: false,
                bits: 1
            })
        );
        assert_eq!(
            Field::parse(b"i8\0junk"),
            Ok(Field {
                signed: true,
                bits: 8
            })
        );
        for bad in [
            &b"u64"[..],
            b"i65",
            b"i0",
            b"u",
            b"I8",
            b"U8",
            b"8",
            b"",
            b"i-1",
            b"i08",
            b"i 8",
        ] {
            assert_eq!(Field::parse(bad), Err(Error::BitfieldType), "{:?}", bad);
        }
    }

    #[test]
    fn subcommands_and_their_errors() {
        assert_eq!(run(&[b"get", b"u8"], None), Err(Error::Syntax));
        assert_eq!(run(&[b"set", b"u8", b"0"], None), Err(Error::Syntax));
        assert_eq!(run(&[b"nope"], None), Err(Error::Syntax));
        assert_eq!(run(&[b"overflow"], None), Err(Error::Syntax));
        assert_eq!(run(&[b"overflow", b"up"], None), Err(Error::OverflowType));
        assert_eq!(run(&[b"get", b"x8", b"0"], None), Err(Error::BitfieldType));
        assert_eq!(run(&[b"get", b"u8", b"-1"], None), Err(Error::BitOffset));
        assert_eq!(
            run(&[b"get", b"u8", b"4294967296"], None),
            Err(Error::BitOffset)
        );
        assert_eq!(
            run(&[b"get", b"u8", b"#536870912"], None),
            Err(Error::BitOffset)
        );
        assert_eq!(
            run(&[b"set", b"u8", b"0", b"x"], None),
            Err(Error::NotAnInteger)
        );
        // Errors come in the order of the arguments, after earlier subcommands parsed.
        assert_eq!(
            run(&[b"get", b"u8", b"0", b"set", b"i8", b"x", b"1"], None),
            Err(Error::BitOffset)
        );
        assert_eq!(
            parse_bitfield_ro(&[b"get", b"u8", b"0", b"incrby", b"u8", b"0", b"1"], MAX),
            Err(Error::BitfieldReadOnly)
        );
        assert_eq!(
            parse_bitfield_ro(&[b"set", b"u8", b"0", b"1", b"get", b"x", b"0"], MAX),
            Err(Error::BitfieldType)
        );
        assert!(parse_bitfield_ro(&[b"GET", b"u8", b"0", b"overflow", b"sat"], MAX).is_ok());
        assert_eq!(replies(&[], None), Vec::new());
    }

    #[test]
    fn gets_read_zeros_past_the_end() {
        let v = Some(&b"\xff\x00\x80"[..]);
        assert_eq!(replies(&[b"get", b"u4", b"0"], v), [Some(15)]);
        assert_eq!(replies(&[b"get", b"i4", b"0"], v), [Some(-1)]);
        assert_eq!(replies(&[b"get", b"i8", b"4"], v), [Some(-16)]);
        assert_eq!(replies(&[b"get", b"u8", b"#2"], v), [Some(128)]);
        assert_eq!(replies(&[b"get", b"i64", b"16"], v), [Some(i64::MIN)]);
        assert_eq!(replies(&[b"get", b"u63", b"100"], v), [Some(0)]);
        assert_eq!(
            run(&[b"get", b"u8", b"0"], None).unwrap().store,
            Store::Keep
        );
    }

    #[test]
    fn overflow_wraps_saturates_or_fails() {
        let incr = |ty: &[u8], by: &[u8], how: &[u8], value: &[u8]| {
            replies(&[b"overflow", how, b"incrby", ty, b"0", by], Some(value))[0]
        };
        assert_eq!(incr(b"u8", b"1", b"wrap", b"\xff"), Some(0));
        assert_eq!(incr(b"u8", b"1", b"sat", b"\xff"), Some(255));
        assert_eq!(incr(b"u8", b"1", b"fail", b"\xff"), None);
        assert_eq!(incr(b"u8", b"-1", b"sat", b"\x00"), Some(0));
        assert_eq!(incr(b"u8", b"-1", b"wrap", b"\x00"), Some(255));
        assert_eq!(incr(b"i8", b"1", b"wrap", b"\x7f"), Some(-128));
        assert_eq!(incr(b"i8", b"1", b"sat", b"\x7f"), Some(127));
        assert_eq!(incr(b"i8", b"-1", b"sat", b"\x80"), Some(-128));
        assert_eq!(incr(b"i8", b"-1", b"fail", b"\x80"), None);
        assert_eq!(incr(b"i8", b"200", b"wrap", b"\x00"), Some(-56));
        assert_eq!(
            incr(b"i64", b"1", b"wrap", b"\x7f\xff\xff\xff\xff\xff\xff\xff"),
            Some(i64::MIN)
        );
        assert_eq!(
            incr(
                b"i64",
                b"-9223372036854775808",
                b"sat",
                b"\x80\x00\x00\x00\x00\x00\x00\x00"
            ),
            Some(i64::MIN)
        );
        let set = |ty: &[u8], v: &[u8], how: &[u8]| {
            let update = run(
                &[b"overflow", how, b"set", ty, b"0", v, b"get", ty, b"0"],
                None,
            )
            .unwrap();
            update.reply.0
        };
        assert_eq!(set(b"u8", b"256", b"wrap"), [Some(0), Some(0)]);
        assert_eq!(set(b"u8", b"257", b"wrap"), [Some(0), Some(1)]);
        assert_eq!(set(b"u8", b"-1", b"sat"), [Some(0), Some(255)]);
        assert_eq!(set(b"i8", b"-129", b"sat"), [Some(0), Some(-128)]);
        assert_eq!(set(b"i8", b"128", b"fail"), [None, Some(0)]);
    }

    #[test]
    fn writes_grow_the_value_and_say_whether_to_store() {
        let update = run(&[b"set", b"u8", b"#1", b"255"], None).unwrap();
        assert_eq!(update.store, Store::Put(vec![0, 255]));
        // Every write failing still creates the key, zero-filled, as Redis does.
        let update = run(&[b"overflow", b"fail", b"incrby", b"u2", b"0", b"5"], None).unwrap();
        assert_eq!(
            (update.reply.0, update.store),
            (vec![None], Store::Put(vec![0]))
        );
        let update = run(
            &[b"overflow", b"fail", b"incrby", b"u2", b"0", b"5"],
            Some(b"\0"),
        )
        .unwrap();
        assert_eq!(update.store, Store::Keep);
        let update = run(&[b"set", b"u8", b"0", b"7"], Some(b"\x07")).unwrap();
        assert_eq!((update.reply.0, update.store), (vec![Some(7)], Store::Keep));
        let update = run(
            &[b"set", b"u8", b"0", b"7", b"get", b"u8", b"0"],
            Some(b"\x01\x02"),
        )
        .unwrap();
        assert_eq!(
            (update.reply.0, update.store),
            (vec![Some(1), Some(7)], Store::Put(vec![7, 2]))
        );
        assert!(!parse_bitfield(&[b"get", b"u8", b"0"], MAX)
            .unwrap()
            .writes());
    }

    #[test]
    fn fails_reply_nil_in_either_protocol() {
        for (resp, expected) in [
            (Resp::V2, &b"*2\r\n$-1\r\n:3\r\n"[..]),
            (Resp::V3, &b"*2\r\n_\r\n:3\r\n"[..]),
        ] {
            let mut out = Out::new(resp);
            Fields(vec![None, Some(3)]).reply(&mut out);
            assert_eq!(out.bytes(), expected);
        }
    }

    proptest! {
        #[test]
        fn fields_read_back_what_was_written(
            value in proptest::collection::vec(any::<u8>(), 0..10),
            signed: bool,
            bits in 1u32..=63,
            offset in 0u64..80,
            n: i64,
        ) {
            let ty = format!("{}{bits}", if signed { 'i' } else { 'u' });
            let (offset_text, n_text) = (offset.to_string(), n.to_string());
            let args: [&[u8]; 8] = [
                b"set", ty.as_bytes(), offset_text.as_bytes(), n_text.as_bytes(),
                b"get", ty.as_bytes(), offset_text.as_bytes(), b"x",
            ];
            let update = run(&args[..7], Some(&value)).unwrap();
            let wrapped = n & mask_of(bits) as i64;
            let expected = if signed { as_field_value(wrapped as u64, Field { signed, bits }) } else { wrapped };
            prop_assert_eq!(update.reply.0[1], Some(expected));
            let stored = match update.store { Store::Put(v) => v, _ => value.clone() };
            // Bits outside the field are untouched.
            for i in 0..stored.len() as u64 * 8 {
                if !(offset..offset + u64::from(bits)).contains(&i) {
                    prop_assert_eq!(read(&stored, i, 1), read(&value, i, 1), "bit {}", i);
                }
            }
        }

        #[test]
        fn increments_saturate_at_the_bounds(signed: bool, bits in 1u32..=63, start: i64, by: i64) {
            let field = Field { signed, bits };
            let (min, max) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            let start = i128::from(start).rem_euclid(max - min + 1) + min;
            let exact = start + i128::from(by);
            let raw = (start as u64) & mask_of(bits);
            let got = if signed {
                signed_overflow(as_field_value(raw, field), by, bits, Overflow::Sat).map(i128::from)
            } else {
                unsigned_overflow(raw, by, bits, Overflow::Sat).map(i128::from)
            };
            prop_assert_eq!(got, Some(exact.clamp(min, max)));
            let fails = if signed {
                signed_overflow(as_field_value(raw, field), by, bits, Overflow::Fail).is_none()
            } else {
                unsigned_overflow(raw, by, bits, Overflow::Fail).is_none()
            };
            prop_assert_eq!(fails, exact < min || exact > max);
            let wrapped = if signed {
                i128::from(signed_overflow(as_field_value(raw, field), by, bits, Overflow::Wrap).unwrap())
            } else {
                i128::from(unsigned_overflow(raw, by, bits, Overflow::Wrap).unwrap())
            };
            prop_assert_eq!((wrapped - exact).rem_euclid(1i128 << bits), 0);
            prop_assert!(min <= wrapped && wrapped <= max);
        }
    }
}
