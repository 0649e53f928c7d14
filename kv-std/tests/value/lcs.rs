//! `LCS`.

use crate::{b, Rng, Suite};
use kv_std::value::lcs::parse_lcs;
use kv_std::value::{Error, PROTO_MAX_BULK_LEN};

/// A key's content: a short string over a small alphabet (so that runs are common), missing,
/// or a list, which LCS refuses.
enum Content {
    Text(Vec<u8>),
    Missing,
    List,
}

fn content(rng: &mut Rng) -> Content {
    match rng.below(25) {
        0 => Content::Missing,
        1 => Content::List,
        2 => Content::Text(Vec::new()),
        _ => {
            let len = rng.below(20) as usize;
            let alphabet = rng.pick(&[&b"ab"[..], b"abc", b"abcd", b"abcdefghij"]);
            Content::Text(rng.bytes(len, alphabet))
        }
    }
}

fn options(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    for _ in 0..rng.pick(&[0, 1, 1, 2, 2, 3, 4]) {
        match rng.below(24) {
            0..=4 => args.push(b(rng.pick(&["IDX", "idx"]))),
            5..=7 => args.push(b(rng.pick(&["LEN", "len"]))),
            8..=11 => args.push(b(rng.pick(&["WITHMATCHLEN", "withmatchlen"]))),
            12..=16 => {
                args.push(b("MINMATCHLEN"));
                args.push(b(rng.range(-2, 5).to_string()));
            }
            17 => args.push(b(rng.pick(&["IDX\0x", "bogus", "LENS", "", "MINMATCHLEN"]))),
            18 => args.extend([b("MINMATCHLEN"), b(rng.pick(&["x", "1.5", "", "01"]))]),
            _ => args.push(b("IDX")),
        }
    }
    args
}

#[test]
fn lcs_matches_redis() {
    let redis = crate::Redis::start();
    let mut rng = Rng::new(0x1ec4_0008);
    let mut suite = Suite::new("LCS");
    for i in 0..4000 {
        let mut strings = Vec::new();
        for key in [&b"a"[..], b"b"] {
            let content = if i % 400 == 399 {
                // Too large a table: (12000 + 1)^2 cells of 4 bytes exceed 512 MiB.
                Content::Text(rng.bytes(12_000, b"ab"))
            } else {
                content(&mut rng)
            };
            match content {
                Content::Text(v) => {
                    suite.set(key, Some(&v));
                    strings.push(Some(v));
                }
                Content::Missing => {
                    suite.set(key, None);
                    strings.push(Some(Vec::new()));
                }
                Content::List => {
                    suite.set(key, None);
                    suite.setup(&[b("RPUSH"), b(key), b("x")]);
                    strings.push(None);
                }
            }
        }
        let args = options(&mut rng);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let command = [vec![b("LCS"), b("a"), b("b")], args.clone()].concat();
        let result = match (&strings[0], &strings[1]) {
            (Some(a), Some(b)) => {
                parse_lcs(&refs).and_then(|op| op.apply(a, b, PROTO_MAX_BULK_LEN))
            }
            _ => Err(Error::LcsNotStrings),
        };
        suite.check(&command, &result);
        suite.finish();
    }
    let cases = suite.cases();
    let compared = suite.run(&redis);
    eprintln!("LCS: {cases} cases, {compared} replies compared");
}
