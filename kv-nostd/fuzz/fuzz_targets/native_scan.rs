//! Any bytes as a `SCAN` payload, in either version (the first byte picks it): decoding never
//! panics, the entries it vouches for iterate without fail and stay inside the payload, and
//! re-encoding them gives back exactly the payload.
#![no_main]

use kv_nostd::native::{decode_scan_payload, encode_scan_entry, scan_entry_len, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let version = if pick & 1 == 0 {
        Version::V1
    } else {
        Version::V2
    };
    let Ok((cursor, entries)) = decode_scan_payload(version, payload) else {
        return;
    };
    let mut encoded = cursor.to_be_bytes().to_vec();
    for (key, value) in entries {
        let at = encoded.len();
        encoded.resize(at + scan_entry_len(version, key.len(), value.len()), 0);
        let n = encode_scan_entry(version, key, value, &mut encoded[at..]).expect("sized");
        assert_eq!(at + n, encoded.len());
        assert!(encoded.len() <= payload.len());
    }
    assert_eq!(encoded, payload);
});
