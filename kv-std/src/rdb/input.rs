//! The loader's input: exact reads that count the bytes, checksum them, and turn an early end
//! into [`ErrorKind::Truncated`] at the offset where the read began.

use super::crc64::Crc64;
use super::error::{ErrorKind, LoadError};
use std::io::{self, Read};

/// Reads of a length taken from the file grow their buffer by at most this much (or by what
/// was already read, whichever is more), so a file claiming a huge length makes the loader
/// allocate no more than about twice what the file really holds.
const FIRST_CHUNK: usize = 64 * 1024;

/// A reader that counts and checksums what it reads.
#[derive(Debug)]
pub(crate) struct Input<R> {
    inner: R,
    offset: u64,
    crc: Crc64,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            crc: Crc64::new(),
        }
    }

    /// Bytes read so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The checksum of the bytes read so far (but those of [`Input::unchecked`]).
    pub(crate) fn crc(&self) -> u64 {
        self.crc.value()
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// An error of `kind` at `offset`.
    pub(crate) fn error<T>(&self, offset: u64, kind: ErrorKind) -> Result<T, LoadError> {
        Err(LoadError::new(offset, kind))
    }

    /// Fills `buf`, leaving it out of the checksum.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.error(self.offset, ErrorKind::Truncated)
            }
            Err(e) => self.error(self.offset, ErrorKind::Io(e)),
        }
    }

    /// Fills `buf`.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        self.fill(buf)?;
        self.crc.update(buf);
        Ok(())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let mut buf = [0; N];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, LoadError> {
        Ok(self.array::<1>()?[0])
    }

    /// `N` bytes that are not part of the checksum: the checksum itself.
    pub(crate) fn unchecked<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let mut buf = [0; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    /// Appends exactly `len` bytes to `out`. The buffer grows as bytes arrive, never by more
    /// than it already holds, so memory follows what the input really contains.
    pub(crate) fn read_vec(&mut self, len: u64, out: &mut Vec<u8>) -> Result<(), LoadError> {
        let begin = self.offset;
        let Ok(len) = usize::try_from(len) else {
            return self.error(begin, ErrorKind::Truncated);
        };
        let end = out.len().checked_add(len);
        let Some(end) = end else {
            return self.error(begin, ErrorKind::Truncated);
        };
        while out.len() < end {
            let start = out.len();
            let step = (end - start).min(start.max(FIRST_CHUNK));
            out.reserve_exact(step);
            out.resize(start + step, 0);
            if let Err(e) = self.read_exact(&mut out[start..]) {
                return Err(if matches!(e.kind(), ErrorKind::Truncated) {
                    LoadError::new(begin, ErrorKind::Truncated)
                } else {
                    e
                });
            }
        }
        Ok(())
    }

    /// Reads and drops `len` bytes (still checksummed).
    pub(crate) fn skip(&mut self, len: u64) -> Result<(), LoadError> {
        let begin = self.offset;
        let mut buf = [0u8; 8192];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            if let Err(e) = self.read_exact(&mut buf[..n]) {
                return Err(if matches!(e.kind(), ErrorKind::Truncated) {
                    LoadError::new(begin, ErrorKind::Truncated)
                } else {
                    e
                });
            }
            left -= n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_count_and_checksum() {
        let data = b"123456789";
        let mut input = Input::new(&data[..]);
        assert_eq!(input.array::<4>().unwrap(), *b"1234");
        let mut rest = Vec::new();
        input.read_vec(5, &mut rest).unwrap();
        assert_eq!(rest, b"56789");
        assert_eq!(input.offset(), 9);
        assert_eq!(input.crc(), super::super::crc64::crc64(data));
    }

    #[test]
    fn a_huge_claimed_length_is_truncation_not_an_allocation() {
        // Were the length trusted, this would try to allocate 2^62 bytes and abort.
        let mut input = Input::new(&b"abc"[..]);
        input.u8().unwrap();
        let mut out = Vec::new();
        let e = input.read_vec(1 << 62, &mut out).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Truncated));
        assert_eq!(e.offset(), 1);
        assert!(out.capacity() <= 2 * FIRST_CHUNK);
        let e = Input::new(&b"abc"[..]).skip(u64::MAX).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Truncated));
    }

    #[test]
    fn a_long_read_grows_to_exactly_its_length() {
        let data = vec![7u8; 3 * FIRST_CHUNK + 5];
        let mut out = Vec::new();
        Input::new(&data[..])
            .read_vec(data.len() as u64, &mut out)
            .unwrap();
        assert_eq!(out, data);
        assert!(out.capacity() < data.len() + FIRST_CHUNK);
    }
}
