//! Bytes per key: loads N keys of 16 bytes with 64-byte values into a table over reserved host
//! memory (`kv_std::storage`), and prints what the table counts (arena pages and index segments,
//! Redis's `used_memory`) and what the process's resident set grew by.
//!
//! ```sh
//! cargo run --release -p kv-std --example bytes_per_key -- 1000000
//! ```

use kv_std::storage::{self, resident_bytes, StorageConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let rss_before = resident_bytes()?;
    let table = storage::open(
        StorageConfig::default(),
        kv_nostd::HashKey(*b"bytes-per-key!!!"),
    )?;
    let rss_open = resident_bytes()?;
    let used_open = table.used_bytes();
    let mut key = [0u8; 16];
    let mut value = [0u8; 64];
    // Each put timed; the puts during which the index grew (a split) apart from the others.
    let (mut plain, mut plain_ns, mut splits, mut split_ns, mut split_max) = (0u64, 0u128, 0, 0, 0);
    let started = std::time::Instant::now();
    for i in 0..n as u64 {
        key[..8].copy_from_slice(&i.to_le_bytes());
        key[8..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
        value[..8].copy_from_slice(&i.to_le_bytes());
        let segments = table.stats().segments;
        let t = std::time::Instant::now();
        table.put(&key, &value)?;
        let ns = t.elapsed().as_nanos();
        let grown = table.stats().segments - segments;
        if grown > 0 {
            splits += grown;
            split_ns += ns;
            split_max = split_max.max(ns);
        } else {
            plain += 1;
            plain_ns += ns;
        }
    }
    let elapsed = started.elapsed();
    let rss_full = resident_bytes()?;
    let s = table.stats();
    assert_eq!(s.len, n);
    println!("keys                      {n}");
    println!(
        "resident at open          {} bytes (before opening: {rss_before})",
        rss_open
    );
    println!(
        "used_bytes                {} ({:.1} bytes/key; {} at open)",
        s.used_bytes,
        (s.used_bytes - used_open) as f64 / n as f64,
        used_open
    );
    println!(
        "  arena pages             {} of {} bytes ({:.1} bytes/key)",
        s.pages_in_use,
        s.page_bytes,
        (s.pages_in_use * s.page_bytes) as f64 / n as f64
    );
    println!(
        "  index                   {} segments of {} bytes, directory depth {} ({:.1} bytes/key, \
         load {:.1}%)",
        s.segments,
        s.segment_bytes,
        s.global_depth,
        (s.segments * s.segment_bytes + (8 << s.global_depth)) as f64 / n as f64,
        100.0 * n as f64 / s.slots as f64
    );
    println!(
        "resident growth (RSS)     {} bytes ({:.1} bytes/key)",
        rss_full - rss_open,
        (rss_full - rss_open) as f64 / n as f64
    );
    println!(
        "puts                      {:.2} s in all; {:.0} ns on average without a split; {} \
         splits, {:.1} us on average for a put that split, {:.1} us at most",
        elapsed.as_secs_f64(),
        plain_ns as f64 / plain.max(1) as f64,
        splits,
        split_ns as f64 / splits.max(1) as f64 / 1000.0,
        split_max as f64 / 1000.0
    );
    Ok(())
}
