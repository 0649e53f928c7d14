//! Arbitrary and damaged input: the loader and the RESTORE check return an error or entries,
//! never panic, and never make an allocation out of proportion to the input.
//!
//! This test binary counts, per thread, the largest single allocation made, through a global
//! allocator that wraps the system's.

use kv_std::rdb::{dump, LoadOptions, Loader, WriteOptions, Writer};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations made while the thread is torn down are not counted.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call is passed on unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counting touches a const-initialised thread-local `Cell`, which
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's guarantees for `layout` are `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` and `layout` come from `System`, and the caller's guarantees for
        // `new_size` are `System.realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest allocation `f` makes on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|l| l.set(0));
    f();
    LARGEST.with(|l| l.get())
}

/// What an input of `len` bytes may make the loader allocate at once: a first chunk of
/// 64 KiB for a string, or 88 times the input for a compressed string (LZF cannot expand
/// more), plus small change.
fn bound(len: usize) -> usize {
    64 * 1024 + 88 * len + 4096
}

fn load(input: &[u8], skip_unsupported: bool) {
    let options = LoadOptions {
        skip_unsupported,
        ..LoadOptions::default()
    };
    if let Ok(loader) = Loader::new(input, options) {
        for entry in loader {
            if entry.is_err() {
                break;
            }
        }
    }
    let _ = dump::decode(input);
}

fn sample_file() -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    w.write_entry(b"a", b"1", Some(1_700_000_000_000)).unwrap();
    w.write_entry(b"text", &b"to be or not to be ".repeat(40), None)
        .unwrap();
    w.write_entry(b"bin", &[0, 255, 13, 10], None).unwrap();
    w.finish().unwrap()
}

#[test]
fn the_bound_holds_for_a_valid_file() {
    let file = sample_file();
    assert!(largest_allocation(|| load(&file, false)) <= bound(file.len()));
}

#[test]
fn huge_claimed_lengths_allocate_nothing_huge() {
    // A 4 GiB string, a 2^60-byte string, an LZF string of 2^40 bytes from 3: each claimed by
    // a file of a few bytes. Trusting any of them would abort the test.
    let cases: [&[u8]; 4] = [
        b"REDIS0010\x00\x01k\x80\xff\xff\xff\xffabc",
        b"REDIS0010\x00\x01k\x81\x10\x00\x00\x00\x00\x00\x00\x00abc",
        b"REDIS0010\x00\x01k\xc3\x03\x81\x00\x00\x01\x00\x00\x00\x00\x00\x01aa",
        b"REDIS0010\x00\x01k\xc3\x81\x00\x00\x01\x00\x00\x00\x00\x00\x01aa",
    ];
    for case in cases {
        let largest = largest_allocation(|| load(case, false));
        assert!(largest <= bound(case.len()), "{largest} bytes for {case:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_after_a_header(tail in proptest::collection::vec(any::<u8>(), 0..600), skip in any::<bool>()) {
        let input = [&b"REDIS0010"[..], &tail].concat();
        let largest = largest_allocation(|| load(&input, skip));
        prop_assert!(largest <= bound(input.len()), "{} bytes", largest);
    }

    #[test]
    fn damaged_files(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(), skip in any::<bool>()) {
        let mut file = sample_file();
        for (at, byte) in flips {
            let i = at.index(file.len());
            file[i] = byte;
        }
        let keep = cut.index(file.len() + 1);
        for input in [&file[..], &file[..keep]] {
            let largest = largest_allocation(|| load(input, skip));
            prop_assert!(largest <= bound(input.len()), "{} bytes", largest);
        }
    }
}
