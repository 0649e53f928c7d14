//! Any bytes: decoding never panics, consumes at most its input, ignores what follows the frame,
//! and a decoded command re-encoded (as an array) decodes to the same arguments; an oversized
//! command is dropped by its `Discard` without a panic, using at most the input, the same
//! however the input is split.
#![no_main]

use kv_nostd::resp::{decode_request, DecodeError, Limits};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that every limit is reachable by short inputs.
const LIMITS: Limits = Limits::new(256, 16, 1024);

fuzz_target!(|data: &[u8]| {
    if let Err(DecodeError::Oversized(discard)) = decode_request(data, &LIMITS) {
        let mut whole = discard;
        let used = whole.feed(data);
        if let Ok(n) = used {
            assert!(n <= data.len());
        }
        let mut split = discard;
        let half = data.len() / 2;
        let in_two = split.feed(&data[..half]).and_then(|a| {
            split.feed(&data[a..]).map(|b| a + b)
        });
        if let (Ok(a), Ok(b)) = (used, in_two) {
            assert_eq!((a, whole.is_done()), (b, split.is_done()));
        }
        return;
    }
    let Ok(Some((request, n))) = decode_request(data, &LIMITS) else {
        return;
    };
    assert!(n > 0 && n <= data.len());
    assert_eq!(request.args().count(), request.argc());
    assert_eq!(decode_request(&data[..n], &LIMITS), Ok(Some((request, n))));
    assert_eq!(decode_request(&data[..n - 1], &LIMITS), Ok(None));
    let mut buf = vec![0u8; request.encoded_len()];
    assert_eq!(request.encode(&mut buf), Ok(buf.len()));
    let again = decode_request(&buf, &Limits::REDIS);
    assert_eq!(again, Ok(Some((request, buf.len()))));
});
