//! The table over reserved host memory: what becomes resident, and what goes back. In a test
//! binary of its own, so no other test's allocations move the process's resident set meanwhile.

use kv_nostd::{Config, HashKey, Memory};
use kv_std::storage::{self, resident_bytes, StorageConfig};

#[test]
fn reserved_memory_becomes_resident_only_when_used_and_goes_back_when_freed() {
    let config = StorageConfig {
        arena_bytes: 1 << 30,
        index_bytes: 16 << 20,
        table: Config::HOST,
    };
    let before = resident_bytes().unwrap();
    let t = storage::open(config, HashKey([4; 16])).unwrap();
    let opened = resident_bytes().unwrap();
    assert!(
        opened.saturating_sub(before) < 1 << 20,
        "opening a 1 GiB table made {} bytes resident",
        opened - before
    );
    // 64 values of 1 MiB: 64 MiB resident, then given back.
    let value = vec![9u8; 1 << 20];
    let with_value = resident_bytes().unwrap();
    for i in 0..64u8 {
        t.put(&[i], &value).unwrap();
    }
    let full = resident_bytes().unwrap();
    assert!(
        full - with_value >= 60 << 20,
        "{} bytes resident",
        full - with_value
    );
    for i in 0..64u8 {
        t.delete(&[i]).unwrap();
    }
    let emptied = resident_bytes().unwrap();
    assert!(
        emptied < with_value + (4 << 20),
        "{} bytes still resident after deleting everything",
        emptied - with_value
    );
    let (arena, _) = t.memory();
    assert_eq!(arena.words().len(), (1 << 30) / kv_nostd::WORD);
}
