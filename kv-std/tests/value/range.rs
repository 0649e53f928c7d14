//! `GETRANGE`, `SUBSTR`, `SETRANGE`, `APPEND` and `STRLEN`, at the default length limit and at
//! the least one Redis allows (1 MiB), where the limit can be reached cheaply.

use crate::{b, Rng, Suite};
use kv_std::value::range::{append, parse_getrange, parse_setrange, strlen};
use kv_std::value::PROTO_MAX_BULK_LEN;

/// The least `proto-max-bulk-len` Redis accepts.
const SMALL_LIMIT: u64 = 1024 * 1024;

/// An index: mostly near the string, sometimes extreme or not an integer.
fn index(rng: &mut Rng) -> Vec<u8> {
    match rng.below(12) {
        0 => b(rng.pick(&["x", "", "1.0", "+1", "-0", "01", " 1"])),
        1 => b(rng
            .pick(&[i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1])
            .to_string()),
        _ => b(rng.range(-25, 25).to_string()),
    }
}

fn value(rng: &mut Rng) -> Option<Vec<u8>> {
    match rng.below(10) {
        0 => None,
        1 => Some(Vec::new()),
        _ => {
            let len = rng.below(20) as usize;
            Some(rng.binary(len))
        }
    }
}

#[test]
fn ranges_match_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0003);
    let mut suite = Suite::new("GETRANGE/SETRANGE/APPEND/STRLEN");
    let mut limit = PROTO_MAX_BULK_LEN;
    for i in 0..4000 {
        if i == 3000 {
            // From here on, values near the limit: lower it so they stay small.
            suite.setup(&[b("CONFIG"), b("SET"), b("proto-max-bulk-len"), b("1048576")]);
            limit = SMALL_LIMIT;
        }
        let v = value(&mut rng);
        suite.set(b"k", v.as_deref());
        match rng.below(4) {
            0 => {
                let name = rng.pick(&["GETRANGE", "SUBSTR", "getrange"]);
                let (start, end) = (index(&mut rng), index(&mut rng));
                let command = vec![b(name), b("k"), start.clone(), end.clone()];
                match parse_getrange(&start, &end) {
                    Ok(op) => suite.check(&command, &op.apply(v.as_deref())),
                    Err(e) => suite.check(&command, &e),
                }
            }
            1 => {
                let offset = if limit == SMALL_LIMIT && rng.one_in(4) {
                    b((limit as i64 + rng.range(-30, 5)).to_string())
                } else {
                    match rng.below(10) {
                        0 => index(&mut rng),
                        // Past the default limit (with an empty value, no check at all).
                        1 => b(rng.pick(&[536870912i64, 536870913, i64::MAX]).to_string()),
                        _ => b(rng.range(0, 30).to_string()),
                    }
                };
                let any = rng.below(8);
                let len = rng.pick(&[0, 1, 2, 5, any]) as usize;
                let patch = rng.binary(len);
                let command = vec![b("SETRANGE"), b("k"), offset.clone(), patch.clone()];
                match parse_setrange(&offset, &patch).and_then(|op| op.apply(v.as_deref(), limit)) {
                    Ok(update) => {
                        suite.check(&command, &update);
                        suite.store(b"k", &update.store);
                    }
                    Err(e) => suite.check(&command, &e),
                }
                suite.read_back(b"k");
            }
            2 => {
                let len = rng.below(6) as usize;
                let suffix = rng.binary(len);
                let command = vec![b("APPEND"), b("k"), suffix.clone()];
                match append(v.as_deref(), &suffix, limit) {
                    Ok(update) => {
                        suite.check(&command, &update);
                        suite.store(b"k", &update.store);
                    }
                    Err(e) => suite.check(&command, &e),
                }
                suite.read_back(b"k");
            }
            _ => suite.check(&[b("STRLEN"), b("k")], &strlen(v.as_deref())),
        }
        suite.finish();
    }
    // APPEND up to and past the limit, on a value grown by SETRANGE to just under it.
    for extra in [0, 1, 2, 3, 100] {
        let grown = SMALL_LIMIT as usize - 2;
        suite.set(b"k", None);
        suite.setup(&[b("SETRANGE"), b("k"), b((grown - 1).to_string()), b("z")]);
        let mut near = vec![0u8; grown];
        near[grown - 1] = b'z';
        suite.model_put(b"k", near.clone());
        let suffix = vec![b'a'; extra];
        let command = vec![b("APPEND"), b("k"), suffix.clone()];
        match append(Some(&near), &suffix, SMALL_LIMIT) {
            Ok(update) => {
                suite.check(&command, &update);
                suite.store(b"k", &update.store);
            }
            Err(e) => suite.check(&command, &e),
        }
        suite.check(
            &[b("STRLEN"), b("k")],
            &strlen(suite.value(b"k").as_deref()),
        );
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("ranges: {cases} cases, {compared} replies compared");
}
