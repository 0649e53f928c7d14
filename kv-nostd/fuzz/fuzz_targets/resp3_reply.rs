//! RESP3 replies (maps, sets, pushes, attributes, doubles, verbatim strings...): decoding never
//! panics and consumes at most its input; each aggregate yields exactly the elements its header
//! counts (pairs twice over), attributes aside; every double reads as a number; and a decoded
//! reply re-encodes to exactly the bytes it came from.
#![no_main]

use kv_nostd::resp::{decode_reply, format_double, Kind, Limits, Reply, DOUBLE_TEXT_MAX};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that every limit is reachable by short inputs.
const LIMITS: Limits = Limits::new(256, 16, 1024);

fn check(reply: Reply<'_>) {
    match reply {
        Reply::Array(a) | Reply::Map(a) | Reply::Set(a) | Reply::Push(a) | Reply::Attribute(a) => {
            let pairs = matches!(a.kind(), Kind::Map | Kind::Attribute);
            let expected = if pairs { a.len() * 2 } else { a.len() };
            let mut seen = 0;
            for element in a.iter() {
                assert!(!matches!(element, Reply::Attribute(_)));
                check(element);
                seen += 1;
            }
            assert_eq!(seen, expected);
        }
        Reply::Double(text) => {
            let text = core::str::from_utf8(text).expect("a double is ASCII");
            if !text.ends_with("nan") {
                let value: f64 = text.parse().expect("a double parses");
                // Printing the value and reading it back gives the same number.
                let mut buf = [0u8; DOUBLE_TEXT_MAX];
                let printed = core::str::from_utf8(format_double(value, &mut buf)).unwrap();
                assert_eq!(printed.parse::<f64>().unwrap().to_bits(), value.to_bits());
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some((reply, n))) = decode_reply(data, &LIMITS) else {
        return;
    };
    assert!(n > 0 && n <= data.len());
    check(reply);
    assert_eq!(decode_reply(&data[..n - 1], &LIMITS), Ok(None));
    let mut buf = vec![0u8; reply.encoded_len()];
    assert_eq!(reply.encode(&mut buf), Ok(n));
    assert_eq!(buf, &data[..n]);
});
