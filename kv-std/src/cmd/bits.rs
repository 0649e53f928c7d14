//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITFIELD and BITFIELD_RO: a string value as an array of
//! bits. The writes change the value atomically (`rewrite.rs`) and keep the key's deadline.

use super::range::max_len;
use super::rewrite::{read, rewrite};
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::{bitfield, bits, WriteReply};
use kv_nostd::resp::Args;

/// `SETBIT key offset value`: the bit's old value.
pub fn setbit(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let offset = args.next().unwrap_or_default();
    let bit = args.next().unwrap_or_default();
    match bits::parse_setbit(offset, bit, max_len(db)) {
        Ok(op) => {
            rewrite(key, 1, client, db, out, |value| Ok(op.apply(value)));
        }
        Err(e) => e.reply(out),
    }
}

/// `GETBIT key offset`: the bit, 0 past the end or for a missing key.
pub fn getbit(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    match bits::parse_getbit(args.next().unwrap_or_default(), max_len(db)) {
        Ok(op) => out.int(op.apply(read(key, client, db).as_deref())),
        Err(e) => e.reply(out),
    }
}

/// `BITCOUNT key [start end [BYTE|BIT]]`: the bits set in the range.
pub fn bitcount(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    let op = bits::parse_bitcount(&rest);
    op.apply(read(key, client, db).as_deref()).reply(out);
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`: the first bit set or clear in the range.
pub fn bitpos(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let bit = args.next().unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    match bits::parse_bitpos(bit, &rest) {
        Ok(op) => op.apply(read(key, client, db).as_deref()).reply(out),
        Err(e) => e.reply(out),
    }
}

/// `BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET|INCRBY type offset value]
/// ...`: one reply per subcommand. Only reads (and counts a hit or miss) when every
/// subcommand is a `GET`.
pub fn bitfield(read_only: bool, mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let key = args.next().unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    let parsed = match read_only {
        true => bitfield::parse_bitfield_ro(&rest, max_len(db)),
        false => bitfield::parse_bitfield(&rest, max_len(db)),
    };
    let op = match parsed {
        Ok(op) => op,
        Err(e) => return e.reply(out),
    };
    if op.writes() {
        // A write makes room up to the farthest bit written: at most 8 bytes past it.
        let grows = op.operations().len() * 8;
        rewrite(key, grows, client, db, out, |value| Ok(op.apply(value)));
    } else {
        op.apply(read(key, client, db).as_deref()).reply(out);
    }
}
