//! Size classes: the chunk sizes arena pages are cut into.
//!
//! Small items get a class every 8 bytes up to 128 bytes, so a 16-byte key with a 64-byte value
//! (an 84-byte item) takes an 88-byte chunk and wastes only its alignment. Above 128 bytes each
//! class is about 1.125 times the one before (memcached uses 1.25; finer classes waste less
//! inside chunks and cost only a little more per-class bookkeeping), up to an eighth of a page.
//! From there the classes are a seventh, a sixth, ... a half of a page, so that a page holds a
//! whole number of chunks with nothing left over. Items larger than half a page get whole pages
//! of their own (see `item.rs`).

/// The most classes any page size produces (a 4 MiB page has 93).
pub(crate) const MAX_CLASSES: usize = 96;

/// Classes every 8 bytes up to this size.
const FINE_UP_TO: usize = 128;

/// The chunk sizes of one page size, ascending, each a multiple of 8 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Classes {
    size: [u32; MAX_CLASSES],
    count: usize,
}

impl Classes {
    /// The classes of pages of `page_bytes` bytes (a power of two from 64 to 4 MiB).
    pub(crate) const fn new(page_bytes: usize) -> Self {
        let top = (page_bytes / 2) & !7;
        let mut size = [0u32; MAX_CLASSES];
        let mut count = 0;
        let mut s = 8;
        while s <= FINE_UP_TO && s <= top {
            size[count] = s as u32;
            count += 1;
            s += 8;
        }
        let mut last = size[count - 1] as usize;
        s = round8(last * 9 / 8);
        while s < page_bytes / 8 && s <= top && count < MAX_CLASSES {
            size[count] = s as u32;
            count += 1;
            last = s;
            s = round8(s * 9 / 8);
        }
        let mut d = 7;
        while d >= 2 {
            s = (page_bytes / d) & !7;
            if s > last && s <= top && count < MAX_CLASSES {
                size[count] = s as u32;
                count += 1;
                last = s;
            }
            d -= 1;
        }
        Self { size, count }
    }

    /// How many classes there are.
    #[inline]
    pub(crate) const fn count(&self) -> usize {
        self.count
    }

    /// The chunk size of class `c`, in bytes.
    #[inline]
    pub(crate) const fn size(&self, c: usize) -> usize {
        self.size[c] as usize
    }

    /// The largest chunk size: items above it take whole pages.
    #[inline]
    pub(crate) const fn largest(&self) -> usize {
        self.size[self.count - 1] as usize
    }

    /// The smallest class whose chunks hold `bytes` bytes, if any does.
    #[inline]
    pub(crate) fn of(&self, bytes: usize) -> Option<usize> {
        if bytes <= FINE_UP_TO {
            let c = bytes.max(1).div_ceil(8) - 1;
            return (c < self.count).then_some(c);
        }
        if bytes > self.largest() {
            return None;
        }
        let fine = FINE_UP_TO / 8;
        let coarse = &self.size[fine..self.count];
        Some(fine + coarse.partition_point(|&s| (s as usize) < bytes))
    }
}

const fn round8(n: usize) -> usize {
    (n + 7) & !7
}

#[cfg(all(test, not(kv_loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_rise_in_steps_of_at_most_an_eighth_and_fill_pages() {
        for shift in 6..=22 {
            let page = 1usize << shift;
            let c = Classes::new(page);
            assert!(c.count() <= MAX_CLASSES);
            assert_eq!(c.largest(), (page / 2) & !7, "page {page}");
            for i in 0..c.count() {
                let s = c.size(i);
                assert_eq!(s % 8, 0);
                if i > 0 {
                    assert!(s > c.size(i - 1));
                }
                if s > FINE_UP_TO && s <= page / 8 {
                    assert!(s <= round8(c.size(i - 1) * 9 / 8), "page {page} class {i}");
                }
                if s > FINE_UP_TO && s > page / 8 {
                    // A page holds a whole number of these chunks, less than 8 bytes apart.
                    assert!(page % s < 8 * (page / s), "page {page}: {s}");
                }
            }
        }
    }

    #[test]
    fn each_size_gets_the_smallest_class_that_holds_it() {
        let c = Classes::new(64 * 1024);
        assert_eq!(c.size(c.of(88).unwrap()), 88);
        assert_eq!(c.size(c.of(84).unwrap()), 88);
        assert_eq!(c.size(c.of(1).unwrap()), 8);
        assert_eq!(c.size(c.of(0).unwrap()), 8);
        for bytes in 1..=c.largest() {
            let k = c.of(bytes).unwrap();
            assert!(c.size(k) >= bytes);
            assert!(k == 0 || c.size(k - 1) < bytes, "{bytes}");
        }
        assert_eq!(c.of(c.largest() + 1), None);
    }
}
