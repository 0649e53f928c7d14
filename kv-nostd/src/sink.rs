//! Where a read puts a value: the caller supplies a buffer of exactly the value's length.
//!
//! A value may be megabytes, and the table copies it straight into the caller's memory (a reply
//! buffer, a file buffer) with no copy of its own. Because a lock-free read may be disturbed by a
//! writer and start again, [`Sink::buffer`] may be called more than once for one read, perhaps
//! with different lengths (each no larger than a page, until the read is validated, for a
//! small item); only the buffer of the last call holds the value when the read returns it.
//!
//! A closure cannot lend out a buffer it owns (each call's borrow would have to outlive the
//! call), hence a trait rather than `FnMut(usize) -> Option<&mut [u8]>`.

/// A destination for one value.
pub trait Sink {
    /// A buffer of exactly `len` bytes to copy the value into, or `None` if this sink cannot take
    /// a value that long (the read then answers
    /// [`Error::BufferTooSmall`](crate::Error::BufferTooSmall)).
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]>;

    /// The longest value this sink can take, for the error; the default says nothing (0).
    fn room(&self) -> usize {
        0
    }
}

impl Sink for [u8] {
    #[inline]
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
    }

    fn room(&self) -> usize {
        self.len()
    }
}

impl<const N: usize> Sink for [u8; N] {
    #[inline]
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.get_mut(..len)
    }

    fn room(&self) -> usize {
        N
    }
}

impl<const N: usize> Sink for heapless::Vec<u8, N> {
    #[inline]
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        self.clear();
        self.resize(len, 0).ok()?;
        Some(self)
    }

    fn room(&self) -> usize {
        N
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        (**self).buffer(len)
    }

    fn room(&self) -> usize {
        (**self).room()
    }
}
