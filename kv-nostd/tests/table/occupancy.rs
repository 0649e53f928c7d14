//! How much of its memory the table fills before the first "no space".

use crate::{get, table};
use kv_nostd::{Config, Error, Put};

/// A small deterministic generator (splitmix64), so each run sees the same keys.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_key(state: &mut u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&splitmix(state).to_le_bytes());
    key[8..].copy_from_slice(&splitmix(state).to_le_bytes());
    key
}

/// 80-byte items: a 4-byte header, a 16-byte key and a 60-byte value.
const VALUE: usize = 60;
const ITEM: usize = 80;

#[test]
fn items_of_80_bytes_fill_90_percent_of_the_arena_before_no_space() {
    // The server's pages (64 KiB) and smaller ones. With 1 KiB pages (a microcontroller's) an
    // 80-byte class leaves 64 bytes of each page unused and the page's metadata costs 48 more:
    // about 89% is all that page size allows, so it is reported, with its own bound.
    for (arena, page, seed, bound) in [
        (8usize << 20, 64 * 1024, 1u64, 0.90),
        (1 << 20, 4096, 2, 0.90),
        (256 << 10, 1024, 3, 0.85),
    ] {
        let t = table(
            arena,
            4 << 20,
            Config {
                page_bytes: page,
                ..Config::HOST
            },
            [seed as u8; 16],
        );
        let mut state = seed;
        let mut inserted = 0usize;
        let refused = loop {
            let key = random_key(&mut state);
            match t.put(&key, &[inserted as u8; VALUE]) {
                Ok(Put::Inserted) => inserted += 1,
                Err(Error::NoSpace) => break key,
                other => panic!("unexpected {other:?}"),
            }
        };
        let ratio = (inserted * ITEM) as f64 / arena as f64;
        println!(
            "occupancy: {inserted} items of {ITEM} bytes in an arena of {arena} bytes ({page}-byte \
             pages): {:.2}% of its bytes; index {} segments",
            ratio * 100.0,
            t.stats().segments
        );
        assert!(
            ratio >= bound,
            "only {:.2}% of the arena filled",
            ratio * 100.0
        );
        assert_eq!(t.len(), inserted);
        assert_eq!(get(&t, &refused), None);
    }
}

#[test]
fn items_of_80_bytes_fill_90_percent_of_a_memory_limit() {
    let t = table(64 << 20, 16 << 20, Config::HOST, [4; 16]);
    let limit = 8 << 20;
    t.set_max_memory(limit);
    let mut state = 9;
    let mut inserted = 0usize;
    while t.put(&random_key(&mut state), &[1; VALUE]).is_ok() {
        inserted += 1;
    }
    let s = t.stats();
    println!(
        "limit: {inserted} items of {ITEM} bytes under a limit of {limit} bytes: {:.2}% of it in \
         items, {:.1} bytes a key in all (index {} of {} slots used, {:.1}%)",
        100.0 * (inserted * ITEM) as f64 / limit as f64,
        s.used_bytes as f64 / inserted as f64,
        inserted,
        s.slots,
        100.0 * inserted as f64 / s.slots as f64
    );
    assert!(s.used_bytes <= limit);
    // The index takes its share of the limit: about 10 bytes a key at typical load.
    assert!((inserted * ITEM) as f64 >= 0.75 * limit as f64);
}

/// A segment splits only when no cuckoo path frees a slot for a key: one that cannot split (its
/// index memory holds no second segment) fills almost all of its slots first.
#[test]
fn a_segment_fills_95_percent_of_its_slots_before_it_must_split() {
    for seed in 0..5u8 {
        // Room for one segment of 64 buckets, in either slot layout (one word or two a slot).
        let t = table(1 << 20, 7872, Config::HOST, [seed; 16]);
        assert_eq!(t.stats().max_segments, 1);
        let mut n = 0u32;
        while t.put(&n.to_le_bytes(), b"v").is_ok() {
            n += 1;
        }
        let slots = t.stats().slots;
        let ratio = f64::from(n) / slots as f64;
        println!(
            "segment: {n} of {slots} slots at the first no space ({:.1}%)",
            100.0 * ratio
        );
        assert!(ratio >= 0.95, "only {:.1}%", 100.0 * ratio);
    }
}

/// `item_bytes` is what the arena takes: two items of three and a half pages take seven pages
/// (their half-page tails share one), a thousand small items a thousand chunks.
#[test]
fn item_bytes_is_what_the_arena_takes() {
    let page = Config::HOST.page_bytes;
    let t = table(64 << 20, 4 << 20, Config::HOST, [5; 16]);
    let slot = 8;
    let big = 3 * page + page / 2 - 64;
    let footprint = t.item_bytes(8, big) - slot;
    assert_eq!(footprint, 3 * page + page / 2);
    let before = t.stats().pages_in_use;
    t.put(b"big-one!", &vec![1; big]).unwrap();
    t.put(b"big-two!", &vec![2; big]).unwrap();
    assert_eq!(t.stats().pages_in_use - before, 7);
    let small = t.item_bytes(16, 64) - slot;
    assert_eq!(small % 8, 0);
    assert!((16 + 64..16 + 64 + 16).contains(&small), "{small}");
    let before = t.stats().pages_in_use;
    let mut state = 11;
    for _ in 0..1000 {
        t.put(&random_key(&mut state), &[3; 64]).unwrap();
    }
    assert_eq!(
        t.stats().pages_in_use - before,
        (1000 * small).div_ceil(page)
    );
}
