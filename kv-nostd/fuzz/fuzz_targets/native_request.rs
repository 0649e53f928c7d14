//! Any bytes: decoding never panics, consumes at most its input, ignores what follows the frame,
//! and a decoded request re-encodes, in the version its first byte names, to exactly the bytes it
//! came from.
#![no_main]

use kv_nostd::native::{decode_request, Limits, Version};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits::new(64, 1024);

fuzz_target!(|data: &[u8]| {
    let Ok(Some((request, n))) = decode_request(data, &LIMITS) else {
        return;
    };
    assert!(n > 0 && n <= data.len());
    assert_eq!(decode_request(&data[..n], &LIMITS), Ok(Some((request, n))));
    assert_eq!(decode_request(&data[..n - 1], &LIMITS), Ok(None));
    let version = Version::of(data).expect("decoded").expect("not empty");
    let mut buf = vec![0u8; request.encoded_len(version)];
    assert_eq!(request.encode(version, &mut buf), Ok(n));
    assert_eq!(buf, &data[..n]);
    assert_eq!(decode_request(&buf, &LIMITS), Ok(Some((request, n))));
});
