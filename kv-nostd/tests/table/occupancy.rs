//! How full the table gets before the first "no space".

use crate::table;
use kv_nostd::Error;

/// A small deterministic generator (splitmix64), so each run sees the same keys.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Inserts distinct random 16-byte keys until the first NoSpace; returns the fill ratio then.
fn fill_until_full(slots: usize, hash_key: [u8; 16], seed: u64) -> f64 {
    let t = table::<8>(slots / 8, hash_key);
    let mut state = seed;
    let mut inserted = 0usize;
    loop {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&splitmix(&mut state).to_le_bytes());
        key[8..].copy_from_slice(&splitmix(&mut state).to_le_bytes());
        match t.put(&key, &inserted.to_le_bytes()) {
            Ok(_) => inserted += 1,
            Err(Error::NoSpace) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
        assert!(inserted <= slots, "more entries than slots");
    }
    assert_eq!(t.len(), inserted);
    inserted as f64 / slots as f64
}

#[test]
fn at_least_95_percent_of_slots_fill_before_no_space() {
    let hash_keys = [[1u8; 16], [0x5a; 16], *b"kv occupancy key"];
    for slots in [1 << 10, 1 << 16] {
        for (i, hk) in hash_keys.iter().enumerate() {
            let ratio = fill_until_full(slots, *hk, 0xfeed + i as u64);
            println!(
                "occupancy: {slots} slots, hash key #{i}: {:.2}%",
                ratio * 100.0
            );
            assert!(
                ratio >= 0.95,
                "only {:.2}% of {slots} slots filled",
                ratio * 100.0
            );
        }
    }
}

#[test]
fn a_full_table_refuses_new_keys_and_keeps_old_ones() {
    let t = table::<4>(4, [3; 16]);
    let mut stored = Vec::new();
    for i in 0u32.. {
        let key = format!("key-{i}");
        match t.put(key.as_bytes(), &i.to_le_bytes()) {
            Ok(_) => stored.push((key, i)),
            Err(Error::NoSpace) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // Overwriting a present key still works when the table is full.
    let (k0, _) = &stored[0];
    assert_eq!(t.put(k0.as_bytes(), b"new"), Ok(kv_nostd::Put::Replaced));
    assert_eq!(t.put(b"one more", b"x"), Err(Error::NoSpace));
    let mut buf = [0u8; 64];
    for (i, (key, v)) in stored.iter().enumerate() {
        let n = t
            .get_into(key.as_bytes(), &mut buf)
            .unwrap()
            .expect("still present");
        if i == 0 {
            assert_eq!(&buf[..n], b"new");
        } else {
            assert_eq!(&buf[..n], &v.to_le_bytes());
        }
    }
    assert_eq!(t.len(), stored.len());
}
