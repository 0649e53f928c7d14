//! LZF, the compression of RDB strings, compatible with liblzf 3.6 as Redis builds it.
//!
//! The format is a sequence of commands, each starting with a control byte:
//!
//! ```text
//! 000LLLLL <L+1 literal bytes>    a run of 1..=32 literal bytes
//! LLLooooo oooooooo               copy L+2 bytes (L in 1..=6) from `offset+1` bytes back
//! 111ooooo LLLLLLLL oooooooo      copy L+9 bytes (up to 264) from `offset+1` bytes back
//! ```
//!
//! where the offset is 13 bits, so a copy reaches at most 8192 bytes back. A copy may overlap
//! the bytes it produces (`"aaaa…"` is one literal and one copy).
//!
//! The compressor makes the same choices as Redis's liblzf (`HLOG` 16, `VERY_FAST`, its hash
//! of three bytes): it finds the same matches and so writes the same bytes, which the tests
//! check against `DUMP` from a real redis-server. Like liblzf it never refers back to the
//! first input byte, and it gives up, writing nothing, when the output would not fit the
//! space allowed.

use std::fmt;

/// log2 of the number of hash slots.
const HLOG: u32 = 16;
/// The number of hash slots.
const SLOTS: usize = 1 << HLOG;
/// The longest literal run.
const MAX_LITERALS: usize = 1 << 5;
/// The farthest back a copy reaches.
const MAX_OFFSET: usize = 1 << 13;
/// The longest copy.
const MAX_COPY: usize = (1 << 8) + (1 << 3);

/// The most output one input byte can stand for: a three-byte copy command yields 264 bytes.
/// A stated length above `88 ×` the compressed length cannot be right.
pub const MAX_EXPANSION: u64 = (MAX_COPY / 3) as u64;

/// liblzf's hash of the (up to four) bytes accumulated in `h`; only the three latest matter.
fn slot(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (SLOTS - 1)
}

/// An LZF compressor. It keeps its 256 KiB hash table between calls, so compressing many
/// small strings does not clear or allocate one each time.
#[derive(Debug, Default)]
pub struct Compressor {
    /// For each hash slot, where its three bytes were last seen, as `base + position`. Values
    /// at or below `base` belong to earlier calls (or to position 0): no match.
    table: Vec<u32>,
    /// Positions of the current call are stored above this.
    base: u32,
}

impl Compressor {
    /// A compressor; its table is allocated on first use.
    pub const fn new() -> Self {
        Self {
            table: Vec::new(),
            base: 0,
        }
    }

    /// Appends `input`, compressed, to `out` if that takes at most `max_len` bytes, and returns
    /// whether it did. Otherwise `out` is left as it was. Inputs of 4 GiB and more are not
    /// compressed (liblzf's lengths are 32-bit).
    pub fn compress(&mut self, input: &[u8], max_len: usize, out: &mut Vec<u8>) -> bool {
        let Ok(len) = u32::try_from(input.len()) else {
            return false;
        };
        if len == 0 || max_len == 0 {
            return false;
        }
        // Incompressible input takes a control byte per 32 bytes; room beyond that (and
        // liblzf's few bytes of margin) is never used, so it is not set aside.
        let max_len = max_len.min(input.len() + input.len() / MAX_LITERALS + 8);
        if self.table.is_empty() {
            self.table = vec![0; SLOTS];
        }
        if u32::MAX - self.base < len {
            self.table.fill(0);
            self.base = 0;
        }
        let base = self.base;
        self.base += len;

        let start = out.len();
        out.resize(start + max_len, 0);
        match self.compress_into(input, base, &mut out[start..]) {
            Some(written) => {
                out.truncate(start + written);
                true
            }
            None => {
                out.truncate(start);
                false
            }
        }
    }

    /// Compresses `input` into `out`; returns the bytes written, or `None` when they would not
    /// fit. The checks on the space left are liblzf's, so it gives up exactly when liblzf does.
    fn compress_into(&mut self, input: &[u8], base: u32, out: &mut [u8]) -> Option<usize> {
        let n = input.len();
        let end = out.len();
        let mut ip = 0;
        // `out[op - lit - 1]` is the control byte of the literal run being built.
        let mut op = 1;
        let mut lit = 0;
        let mut hval = match input {
            [a, b, ..] => (u32::from(*a) << 8) | u32::from(*b),
            _ => 0,
        };
        while ip + 2 < n {
            hval = (hval << 8) | u32::from(input[ip + 2]);
            let entry = &mut self.table[slot(hval)];
            let seen = *entry;
            // Positions fit: `compress` keeps `base + input.len()` within u32.
            *entry = base + ip as u32;
            let earlier = (seen > base)
                .then(|| (seen - base) as usize)
                .filter(|&r| ip - r - 1 < MAX_OFFSET && input[r..r + 3] == input[ip..ip + 3]);
            let Some(r) = earlier else {
                if op >= end {
                    return None;
                }
                out[op] = input[ip];
                op += 1;
                ip += 1;
                lit += 1;
                if lit == MAX_LITERALS {
                    out[op - lit - 1] = (lit - 1) as u8;
                    lit = 0;
                    op += 1;
                }
                continue;
            };

            // Close the literal run (or drop its empty control byte); a copy takes at most
            // three bytes and the next run's control byte one more.
            let closed = if lit == 0 { op - 1 } else { op };
            if closed + 4 >= end {
                return None;
            }
            if lit > 0 {
                out[op - lit - 1] = (lit - 1) as u8;
            }
            op = closed;

            let max = (n - ip - 2).min(MAX_COPY);
            let mut len = 2;
            'measure: {
                // liblzf compares 16 bytes before it looks at `max` again, so near the end of
                // the input a copy may be a little longer than `max`; it never passes the end.
                if max > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'measure;
                        }
                    }
                }
                loop {
                    len += 1;
                    if len >= max || input[r + len] != input[ip + len] {
                        break;
                    }
                }
            }

            let off = ip - r - 1;
            let stored = len - 2;
            if stored < 7 {
                out[op] = ((off >> 8) + (stored << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (stored - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2;
            lit = 0;
            ip += len;
            if ip + 2 >= n {
                break;
            }
            // Hash the two positions before the next one, as liblzf's VERY_FAST mode does.
            ip -= 2;
            hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
            for _ in 0..2 {
                hval = (hval << 8) | u32::from(input[ip + 2]);
                self.table[slot(hval)] = base + ip as u32;
                ip += 1;
            }
        }

        // At most two input bytes are left, plus perhaps a control byte.
        if op + 3 > end {
            return None;
        }
        while ip < n {
            out[op] = input[ip];
            op += 1;
            ip += 1;
            lit += 1;
            if lit == MAX_LITERALS {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
        if lit > 0 {
            out[op - lit - 1] = (lit - 1) as u8;
        } else {
            op -= 1;
        }
        Some(op)
    }
}

/// Why compressed bytes do not decompress to the stated length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzfError {
    /// The stated length is more than [`MAX_EXPANSION`] times the compressed length.
    ImpossibleLength,
    /// A literal run goes past the end of the compressed bytes.
    LiteralPastEnd,
    /// A copy command is cut off by the end of the compressed bytes.
    CopyPastEnd,
    /// A copy reaches back before the first output byte.
    CopyBeforeStart,
    /// The output would be longer than the stated length.
    TooLong,
    /// The compressed bytes end before the stated length is reached.
    TooShort,
}

impl fmt::Display for LzfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LzfError::ImpossibleLength => "the stated length is more than LZF can expand to",
            LzfError::LiteralPastEnd => "a literal run goes past the end of the data",
            LzfError::CopyPastEnd => "a back reference is cut off by the end of the data",
            LzfError::CopyBeforeStart => "a back reference points before the start",
            LzfError::TooLong => "the data decompresses to more than the stated length",
            LzfError::TooShort => "the data decompresses to less than the stated length",
        })
    }
}

impl std::error::Error for LzfError {}

/// Appends the decompression of `input`, which must be exactly `len` bytes, to `out`. On
/// error `out` is left as it was. At most `len` bytes are reserved, and only after `len` was
/// checked against what `input` can expand to.
pub fn decompress(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    if len as u64 > input.len() as u64 * MAX_EXPANSION {
        return Err(LzfError::ImpossibleLength);
    }
    let start = out.len();
    out.reserve_exact(len);
    let result = decompress_into(input, start + len, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decompresses `input` onto `out` until `out.len() == end`.
fn decompress_into(input: &[u8], end: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    let start = out.len();
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < MAX_LITERALS {
            let run = ctrl + 1;
            if out.len() + run > end {
                return Err(LzfError::TooLong);
            }
            let bytes = input.get(ip..ip + run).ok_or(LzfError::LiteralPastEnd)?;
            out.extend_from_slice(bytes);
            ip += run;
            continue;
        }
        let mut run = ctrl >> 5;
        if run == 7 {
            run += usize::from(*input.get(ip).ok_or(LzfError::CopyPastEnd)?);
            ip += 1;
        }
        let low = usize::from(*input.get(ip).ok_or(LzfError::CopyPastEnd)?);
        ip += 1;
        let back = ((ctrl & 0x1f) << 8) + low + 1;
        let run = run + 2;
        if out.len() + run > end {
            return Err(LzfError::TooLong);
        }
        if back > out.len() - start {
            return Err(LzfError::CopyBeforeStart);
        }
        let from = out.len() - back;
        if back >= run {
            out.extend_from_within(from..from + run);
        } else {
            // The copy overlaps its own output: each byte may be one it just wrote.
            for i in from..from + run {
                out.push(out[i]);
            }
        }
    }
    if out.len() == end {
        Ok(())
    } else {
        Err(LzfError::TooShort)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn compress(input: &[u8], max_len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        Compressor::new()
            .compress(input, max_len, &mut out)
            .then_some(out)
    }

    fn decompressed(input: &[u8], len: usize) -> Result<Vec<u8>, LzfError> {
        let mut out = Vec::new();
        decompress(input, len, &mut out).map(|()| out)
    }

    // The LZF bodies of two values DUMPed by redis-server 7.0.15 (`SET k <value>`, `DUMP k`;
    // the bytes after `00 c3 <clen> <len>`).
    const REDIS_A100: &[u8] = b"\x01aa\xe0\x57\x00\x01aa";
    const REDIS_ABCDEFGHIJ30: &[u8] = b"\x0aabcdefghija\xe0\xff\x09\xe1\x0e\x0d\x01ij";

    #[test]
    fn decodes_what_redis_compressed() {
        assert_eq!(decompressed(REDIS_A100, 100).unwrap(), vec![b'a'; 100]);
        assert_eq!(
            decompressed(REDIS_ABCDEFGHIJ30, 300).unwrap(),
            b"abcdefghij".repeat(30)
        );
    }

    #[test]
    fn compresses_as_redis_does() {
        assert_eq!(compress(&[b'a'; 100], 96).unwrap(), REDIS_A100);
        assert_eq!(
            compress(&b"abcdefghij".repeat(30), 296).unwrap(),
            REDIS_ABCDEFGHIJ30
        );
    }

    #[test]
    fn gives_up_without_writing_when_the_output_does_not_fit() {
        let mut out = b"kept".to_vec();
        let mut c = Compressor::new();
        assert!(!c.compress(b"no repetition at all here", 20, &mut out));
        assert_eq!(out, b"kept");
        // REDIS_A100 is 9 bytes, but liblzf's last check keeps a byte in hand.
        assert!(!c.compress(&[b'a'; 100], 9, &mut out));
        assert_eq!(out, b"kept");
        assert!(c.compress(&[b'a'; 100], 10, &mut out));
        assert_eq!(&out[4..], REDIS_A100);
        assert!(!c.compress(b"", 10, &mut out));
        // Room past what any input can need is not set aside.
        let mut out = Vec::new();
        assert!(c.compress(&[b'a'; 100], usize::MAX, &mut out));
        assert_eq!(out, REDIS_A100);
    }

    #[test]
    fn each_malformed_input_is_refused_with_its_cause() {
        assert_eq!(decompressed(b"\x01a", 177), Err(LzfError::ImpossibleLength));
        assert_eq!(decompressed(b"\x05abc", 6), Err(LzfError::LiteralPastEnd));
        assert_eq!(decompressed(b"\x00a\xe0", 10), Err(LzfError::CopyPastEnd));
        assert_eq!(decompressed(b"\x00a\x20", 4), Err(LzfError::CopyPastEnd));
        assert_eq!(
            decompressed(b"\x00a\x20\x01", 4),
            Err(LzfError::CopyBeforeStart)
        );
        assert_eq!(decompressed(b"\x02abc", 2), Err(LzfError::TooLong));
        assert_eq!(decompressed(b"\x00a\x20\x00", 3), Err(LzfError::TooLong));
        assert_eq!(decompressed(b"\x02abc", 4), Err(LzfError::TooShort));
        let mut out = b"kept".to_vec();
        assert!(decompress(b"\x02abc", 4, &mut out).is_err());
        assert_eq!(out, b"kept");
    }

    /// Bytes from a small alphabet, often repeating: inputs that compress.
    fn compressible() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 1..6),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..3000),
        )
            .prop_map(|(alphabet, picks)| picks.iter().map(|i| *i.get(&alphabet)).collect())
    }

    proptest! {
        #[test]
        fn round_trips(input in prop_oneof![compressible(), proptest::collection::vec(any::<u8>(), 0..3000)], slack in 0usize..64) {
            let mut c = Compressor::new();
            // Twice with one compressor: what the table keeps from a call changes nothing.
            for _ in 0..2 {
                let max_len = input.len().saturating_sub(4) + slack;
                let mut out = Vec::new();
                if c.compress(&input, max_len, &mut out) {
                    prop_assert!(out.len() <= max_len);
                    prop_assert_eq!(&decompressed(&out, input.len()).unwrap(), &input);
                    prop_assert_eq!(Some(out), compress(&input, max_len));
                } else {
                    prop_assert!(out.is_empty());
                }
            }
        }

        #[test]
        fn compresses_repetitive_input(input in compressible().prop_filter("long", |v| v.len() > 200)) {
            let out = compress(&input, input.len());
            prop_assert!(out.is_some());
        }

        #[test]
        fn any_input_decompresses_or_fails_cleanly(input in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..20000) {
            if let Ok(out) = decompressed(&input, len) {
                prop_assert_eq!(out.len(), len);
            }
        }
    }
}
