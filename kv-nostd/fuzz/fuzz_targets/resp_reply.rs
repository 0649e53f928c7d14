//! Any bytes: decoding never panics, consumes at most its input, ignores what follows the frame,
//! and a decoded reply re-encodes to exactly the bytes it came from.
#![no_main]

use kv_nostd::resp::{decode_reply, Limits, Reply};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that every limit is reachable by short inputs.
const LIMITS: Limits = Limits::new(256, 16, 1024);

/// Walks every nested element, so the aggregate iterators run over fuzzed bytes too.
fn count(reply: Reply<'_>) -> usize {
    match reply {
        Reply::Array(a) | Reply::Map(a) | Reply::Set(a) | Reply::Push(a) | Reply::Attribute(a) => {
            1 + a.iter().map(count).sum::<usize>()
        }
        _ => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some((reply, n))) = decode_reply(data, &LIMITS) else {
        return;
    };
    assert!(n > 0 && n <= data.len());
    count(reply);
    assert_eq!(decode_reply(&data[..n], &LIMITS), Ok(Some((reply, n))));
    assert_eq!(decode_reply(&data[..n - 1], &LIMITS), Ok(None));
    let mut buf = vec![0u8; reply.encoded_len()];
    assert_eq!(reply.encode(&mut buf), Ok(n));
    assert_eq!(buf, &data[..n]);
    assert_eq!(decode_reply(&buf, &LIMITS), Ok(Some((reply, n))));
});
