//! `GETBIT`, `SETBIT`, `BITCOUNT`, `BITPOS` and `BITOP`.

use crate::{b, Rng, Suite};
use kv_std::value::bits::{parse_bitcount, parse_bitop, parse_bitpos, parse_getbit, parse_setbit};
use kv_std::value::PROTO_MAX_BULK_LEN;

/// A value to look bits up in: often runs of equal bytes, so that clear and set bits are
/// found late or not at all.
fn value(rng: &mut Rng, longest: u64) -> Option<Vec<u8>> {
    match rng.below(12) {
        0 => None,
        1 => Some(Vec::new()),
        2 => {
            let len = rng.below(longest) as usize;
            Some(vec![rng.pick(&[0x00, 0xff]); len])
        }
        3 => {
            let len = rng.below(longest) as usize;
            let mut v = vec![rng.pick(&[0x00, 0xff]); len];
            if len > 0 {
                let at = rng.below(len as u64) as usize;
                v[at] = rng.word() as u8;
            }
            Some(v)
        }
        _ => {
            let len = rng.below(longest) as usize;
            Some(rng.binary(len))
        }
    }
}

/// A range index, mostly around a short string's bit and byte lengths.
fn index(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        0 => b(rng.pick(&["x", "", "1.5", "-0", "01", "+1"])),
        1 => b(rng.pick(&[i64::MIN, i64::MAX]).to_string()),
        2..=5 => b(rng.range(-15, 15).to_string()),
        _ => b(rng.range(-110, 110).to_string()),
    }
}

fn unit(rng: &mut Rng) -> Vec<u8> {
    b(rng.pick(&[
        "BIT", "BYTE", "bit", "byte", "Bit", "bits", "", "x", "BIT\0x", "byte\0",
    ]))
}

/// The arguments of a `BITCOUNT` after the key, or of a `BITPOS` after its bit.
fn range_args(rng: &mut Rng) -> Vec<Vec<u8>> {
    let count = rng.pick(&[0, 1, 2, 2, 3, 3, 3, 4]);
    let mut args = Vec::new();
    for i in 0..count {
        args.push(if i == 2 && !rng.one_in(8) {
            unit(rng)
        } else {
            index(rng)
        });
    }
    args
}

#[test]
fn getbit_and_setbit_match_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0004);
    let mut suite = Suite::new("GETBIT/SETBIT");
    let mut limit = PROTO_MAX_BULK_LEN;
    for i in 0..3000 {
        if i == 2500 {
            suite.setup(&[b("CONFIG"), b("SET"), b("proto-max-bulk-len"), b("1048576")]);
            limit = 1024 * 1024;
        }
        let v = value(&mut rng, 8);
        suite.set(b"k", v.as_deref());
        let getbit = rng.one_in(2);
        let offset = match rng.below(10) {
            0 => b(rng.pick(&["x", "", "-1", "01", "#3", "1.0", "-9223372036854775808"])),
            // Around the limit; for SETBIT at the default limit only past it, as a valid
            // offset there would make values of 512 MiB.
            1 if getbit || limit != PROTO_MAX_BULK_LEN => {
                b((limit as i64 * 8 + rng.range(-3, 2)).to_string())
            }
            1 => b((limit as i64 * 8 + rng.range(0, 2)).to_string()),
            _ => b(rng.range(0, 80).to_string()),
        };
        if getbit {
            let command = vec![b("GETBIT"), b("k"), offset.clone()];
            match parse_getbit(&offset, limit) {
                Ok(op) => suite.check(&command, &op.apply(v.as_deref())),
                Err(e) => suite.check(&command, &e),
            }
        } else {
            let bit = b(rng.pick(&["0", "1", "0", "1", "2", "-1", "x", "", "01"]));
            let command = vec![b("SETBIT"), b("k"), offset.clone(), bit.clone()];
            match parse_setbit(&offset, &bit, limit) {
                Ok(op) => {
                    let update = op.apply(v.as_deref());
                    suite.check(&command, &update);
                    suite.store(b"k", &update.store);
                }
                Err(e) => suite.check(&command, &e),
            }
            suite.read_back(b"k");
        }
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("GETBIT/SETBIT: {cases} cases, {compared} replies compared");
}

#[test]
fn bitcount_and_bitpos_match_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0005);
    let mut suite = Suite::new("BITCOUNT/BITPOS");
    for _ in 0..6000 {
        let v = value(&mut rng, 12);
        suite.set(b"k", v.as_deref());
        let args = range_args(&mut rng);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if rng.one_in(2) {
            let command = [vec![b("BITCOUNT"), b("k")], args.clone()].concat();
            suite.check(&command, &parse_bitcount(&refs).apply(v.as_deref()));
        } else {
            let bit = b(rng.pick(&["0", "1", "0", "1", "0", "1", "2", "-1", "x"]));
            let command = [vec![b("BITPOS"), b("k"), bit.clone()], args.clone()].concat();
            match parse_bitpos(&bit, &refs) {
                Ok(op) => suite.check(&command, &op.apply(v.as_deref())),
                Err(e) => suite.check(&command, &e),
            }
        }
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("BITCOUNT/BITPOS: {cases} cases, {compared} replies compared");
}

#[test]
fn bitop_matches_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0006);
    let mut suite = Suite::new("BITOP");
    let keys: [&[u8]; 5] = [b"d", b"s1", b"s2", b"s3", b"s4"];
    for _ in 0..3000 {
        // Sources long enough, at times, for Redis's word-at-a-time path (32 bytes and more).
        let longest = rng.pick(&[4, 40, 80]);
        for key in keys {
            let v = value(&mut rng, longest);
            suite.set(key, v.as_deref());
        }
        let op = b(rng.pick(&[
            "AND", "OR", "XOR", "NOT", "and", "Or", "xor", "not", "NAND", "", "not\0x", "ANDx",
        ]));
        let count = rng.pick(&[1, 1, 2, 3, 4]);
        let sources: Vec<&[u8]> = (0..count).map(|_| rng.pick(&keys[..])).collect();
        let command: Vec<Vec<u8>> = [b("BITOP"), op.clone(), b("d")]
            .into_iter()
            .chain(sources.iter().map(b))
            .collect();
        match parse_bitop(&op, sources.len()) {
            Ok(bitop) => {
                let values: Vec<Vec<u8>> = sources
                    .iter()
                    .map(|s| suite.value(s).unwrap_or_default())
                    .collect();
                let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                let update = bitop.apply(&refs);
                suite.check(&command, &update);
                suite.store(b"d", &update.store);
            }
            Err(e) => suite.check(&command, &e),
        }
        suite.read_back(b"d");
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("BITOP: {cases} cases, {compared} replies compared");
}
