//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITFIELD, BITFIELD_RO and BITOP: a string value as an
//! array of bits. The writes to one key change the value atomically (`rewrite.rs`) and keep the
//! key's deadline; `BITOP` reads its sources and writes its destination with all of them
//! locked at once (`Db::locked`).

use super::range::max_len;
use super::rewrite::{read, rewrite};
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::{bitfield, bits, Store, WriteReply};
use kv_nostd::resp::Args;
use kv_nostd::Removed;

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

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]`: the length of the result, stored in `destkey`
/// without a deadline, or `destkey` deleted when every source is empty or missing. The sources
/// are read and the destination (which may be one of them) written with every key locked, so
/// no client sees the destination half done, or a result of sources from different moments.
/// Logged as the value it left, as every write is (`rewrite.rs`).
pub fn bitop(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let operation = args.next().unwrap_or_default();
    let keys: Vec<&[u8]> = args.collect();
    let op = match bits::parse_bitop(operation, keys.len() - 1) {
        Ok(op) => op,
        Err(e) => return e.reply(out),
    };
    // A hint for eviction: the sources may change before the locks are taken.
    let longest = keys[1..]
        .iter()
        .filter_map(|k| db.table.value_len(k).ok().flatten())
        .max()
        .unwrap_or(0);
    let needed = db.table.item_bytes(keys[0].len(), longest);
    let mut lsn = 0;
    let mut found = Vec::new();
    let result = db.with_room(needed, || {
        db.locked(&keys, true, |l| {
            let sources: Vec<Option<Vec<u8>>> = (1..keys.len())
                .map(|i| {
                    l.entry(i).map(|e| {
                        let mut value = vec![0; e.value_len()];
                        e.read_value(0, &mut value);
                        value
                    })
                })
                .collect();
            found = sources.iter().map(Option::is_some).collect();
            let values: Vec<&[u8]> = sources
                .iter()
                .map(|v| v.as_deref().unwrap_or_default())
                .collect();
            let update = op.apply(&values);
            match &update.store {
                Store::Put(value) => {
                    let item = l.prepare(0, value, None)?;
                    l.link(item)?;
                    lsn = db.log(&[b"SET", keys[0], value]);
                }
                Store::Delete => {
                    if l.delete(0) != Removed::Nothing {
                        lsn = db.log(&[b"DEL", keys[0]]);
                    }
                }
                Store::Keep => {}
            }
            Ok(update.reply)
        })?
    });
    for hit in found {
        client.read(hit);
    }
    let start = out.len();
    match result {
        Ok(len) => out.int(len),
        Err(e) => super::strings::table_error(e, out),
    }
    client.logged(lsn, start, out.len());
}
