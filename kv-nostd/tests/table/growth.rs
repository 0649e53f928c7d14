//! The index growing through many splits, the memory limit, and memory going back.

use crate::{get, pattern, table, Heap};
use kv_nostd::{Config, Error, HashKey, Memory, Put, ScanCursor, Table, Word};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

fn config(page: usize, buckets: usize) -> Config {
    Config {
        page_bytes: page,
        segment_buckets: buckets,
        max_key: 1024,
        max_value: 1 << 20,
        max_memory: 0,
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    pattern(i as u64, [3, 60, 200, 900, 5000][i % 5])
}

#[test]
fn the_index_grows_through_many_splits_and_keeps_every_key() {
    let t = table(256 << 20, 8 << 20, config(4096, 4), [3; 16]);
    assert_eq!(t.stats().segments, 1);
    let n = 40_000;
    for i in 0..n {
        assert_eq!(t.put(&key(i), &value(i)), Ok(Put::Inserted), "key {i}");
    }
    let s = t.stats();
    println!(
        "growth: {n} keys in {} segments of 4 buckets, global depth {}, load {:.1}%",
        s.segments,
        s.global_depth,
        100.0 * n as f64 / s.slots as f64
    );
    assert!(s.segments > 1000 && s.global_depth >= 10, "{s:?}");
    for i in 0..n {
        assert_eq!(get(&t, &key(i)), Some(value(i)), "key {i}");
    }
    let mut seen = HashSet::new();
    let mut cursor = ScanCursor::START;
    loop {
        cursor = t.scan(cursor, 100, |e| {
            let (k, v) = crate::pair(e);
            let i: usize = std::str::from_utf8(&k[4..]).unwrap().parse().unwrap();
            assert_eq!(v, value(i));
            assert!(seen.insert(i), "key {i} scanned twice");
        });
        if cursor.is_start() {
            break;
        }
    }
    assert_eq!(seen.len(), n);
    for i in (0..n).step_by(2) {
        assert_eq!(t.delete(&key(i)), Ok(true));
    }
    for i in 0..n {
        assert_eq!(get(&t, &key(i)).is_some(), i % 2 == 1);
    }
    assert_eq!(t.len(), n / 2);
}

#[test]
fn a_full_index_refuses_new_keys_and_changes_nothing() {
    // Room for a handful of segments of 2 buckets, and plenty of arena.
    let t = table(1 << 20, 1024, config(1024, 2), [5; 16]);
    let mut stored = Vec::new();
    let refused = loop {
        let i = stored.len();
        match t.put(&key(i), &value(i)) {
            Ok(Put::Inserted) => stored.push(i),
            Err(Error::NoSpace) => break i,
            other => panic!("{other:?}"),
        }
    };
    let used = t.used_bytes();
    assert!(stored.len() >= 7, "only {} keys", stored.len());
    assert_eq!(get(&t, &key(refused)), None, "the refused key is absent");
    assert_eq!(t.len(), stored.len());
    assert_eq!(t.used_bytes(), used, "the refused put took nothing");
    // Overwrites still work, and a delete makes room.
    assert_eq!(t.put(&key(0), b"new"), Ok(Put::Replaced));
    for &i in &stored[1..] {
        assert_eq!(get(&t, &key(i)), Some(value(i)));
    }
    assert_eq!(get(&t, &key(0)).as_deref(), Some(&b"new"[..]));
}

#[test]
fn at_the_memory_limit_writes_are_refused_and_every_key_is_intact() {
    let t = table(64 << 20, 1 << 20, config(4096, 8), [6; 16]);
    t.set_max_memory(t.used_bytes() + 256 * 1024);
    assert!(t.max_memory().is_some());
    let mut stored = 0;
    let refused = loop {
        match t.put(&key(stored), &value(stored)) {
            Ok(_) => stored += 1,
            Err(Error::NoSpace) => break stored,
            Err(e) => panic!("{e}"),
        }
    };
    let limit = t.max_memory().unwrap();
    assert!(t.used_bytes() <= limit, "{} > {limit}", t.used_bytes());
    assert!(
        t.used_bytes() > limit * 3 / 4,
        "stopped early at {}",
        t.used_bytes()
    );
    let used = t.used_bytes();
    assert_eq!(t.put(&key(refused), &value(refused)), Err(Error::NoSpace));
    assert_eq!(t.used_bytes(), used);
    for i in 0..stored {
        assert_eq!(get(&t, &key(i)), Some(value(i)), "key {i}");
    }
    assert_eq!(get(&t, &key(refused)), None);
    // Raising the limit lets writes through again.
    t.set_max_memory(0);
    assert_eq!(t.max_memory(), None);
    assert_eq!(t.put(&key(refused), &value(refused)), Ok(Put::Inserted));
}

/// Memory that counts the words the table gives back.
struct Counted {
    heap: Heap,
    released: AtomicUsize,
}

impl Memory for Counted {
    fn words(&self) -> &[Word] {
        self.heap.words()
    }

    fn release(&self, start: usize, len: usize) {
        assert!(start + len <= self.heap.words().len());
        self.released.fetch_add(len, Ordering::Relaxed);
    }
}

#[test]
fn emptied_pages_go_back_and_large_values_take_and_return_whole_pages() {
    let arena = Counted {
        heap: Heap::new(8 << 20),
        released: AtomicUsize::new(0),
    };
    let t: Table<Counted, Heap> =
        Table::new(arena, Heap::new(1 << 20), HashKey([8; 16]), config(4096, 8)).unwrap();
    let start = t.stats();
    // 2,000 items of 88 bytes: about 43 pages of one class.
    for i in 0..2000 {
        t.put(&key(i), &[1; 72]).unwrap();
    }
    let full = t.stats();
    assert!(full.pages_in_use >= 40, "{full:?}");
    for i in 0..2000 {
        t.delete(&key(i)).unwrap();
    }
    let empty = t.stats();
    assert_eq!(empty.pages_in_use, 1, "one page kept for the class");
    let released_pages = t_arena_released(&t) / (4096 / kv_nostd::WORD);
    assert_eq!(released_pages, full.pages_in_use - 1);
    assert_eq!(
        empty.used_bytes - start.used_bytes,
        (empty.segments - start.segments) * empty.segment_bytes
            + (1 << empty.global_depth) * kv_nostd::WORD
            - kv_nostd::WORD
            + 4096
            + 6 * kv_nostd::WORD,
        "what is left: the index grown so far, and one page"
    );

    // A 100 KiB value: 25 whole pages and its last 7 bytes (4 of header, 3 of key) in a chunk
    // of the 8-byte class, on a page of that class.
    let big = pattern(7, 100 * 1024);
    let before = t.stats().pages_in_use;
    t.put(b"big", &big).unwrap();
    assert_eq!(t.stats().pages_in_use - before, 26);
    assert_eq!(get(&t, b"big"), Some(big.clone()));
    // Replaced by a 16-byte item: the 25 pages go back; the 8-byte class keeps its one page,
    // and the 16-byte class takes one.
    t.put(b"big", b"small now").unwrap();
    assert_eq!(t.stats().pages_in_use - before, 2);
    t.delete(b"big").unwrap();
    assert_eq!(t.stats().pages_in_use - before, 2);
}

fn t_arena_released(t: &Table<Counted, Heap>) -> usize {
    // The table owns its memory; reach the counter through a visit-free path: the stats of a
    // table do not include it, so read it through the memory reference the table was built on.
    t.memory().0.released.load(Ordering::Relaxed)
}

#[test]
fn a_static_table_fixed_at_compile_time_fills_and_refuses() {
    static ARENA: [Word; 4096] = [const { Word::new(0) }; 4096];
    static INDEX: [Word; 512] = [const { Word::new(0) }; 512];
    static TABLE: Table<&[Word], &[Word]> =
        Table::new_static(&ARENA, &INDEX, HashKey([1; 16]), Config::SMALL);
    let mut n = 0;
    while TABLE.put(&key(n), &value(n)).is_ok() {
        n += 1;
    }
    assert!(n > 10, "{n}");
    for i in 0..n {
        assert_eq!(get(&TABLE, &key(i)), Some(value(i)));
    }
}

#[test]
fn a_page_a_class_kept_empty_is_taken_back_when_memory_runs_out() {
    // Five 1 KiB pages; fill them with 24-byte items, delete them all (one page stays with
    // that class, empty), then fill them with 88-byte items: all five pages are usable again.
    let arena = 1024 + 5 * 1024;
    let t = table(arena, 1 << 16, config(1024, 8), [9; 16]);
    assert_eq!(t.stats().pages, 5);
    let fill = |value: &[u8]| {
        let mut n = 0;
        while t.put(&key(n), value).is_ok() {
            n += 1;
        }
        n
    };
    let small = fill(&[1; 8]);
    assert_eq!(t.stats().pages_in_use, 5);
    for i in 0..small {
        t.delete(&key(i)).unwrap();
    }
    assert_eq!(
        t.stats().pages_in_use,
        1,
        "one page kept by the 24-byte class"
    );
    let large = fill(&[2; 72]);
    assert_eq!(t.stats().pages_in_use, 5);
    assert_eq!(large, 5 * (1024 / 88), "every page holds 88-byte chunks");
}
