//! Which of several independent servers holds a key, when the keys are split between them by
//! the client (the servers know nothing of each other). Two schemes, both reproducible by any
//! client from the key's bytes and the server list in the order given:
//!
//! - **hash**: the 64-bit FNV-1a hash of the key's bytes, modulo the number of servers. FNV-1a
//!   starts from `h = 0xcbf29ce484222325` and, for each byte `b` of the key in order, sets
//!   `h = (h ^ b) * 0x100000001b3` (multiplication wrapping at 2⁶⁴). The key `user1` hashes to
//!   `0x4228c671628ca359`, which is 1 modulo 3: with three servers it lives on the second.
//! - **range**: `range:LO-HI,LO-HI,...`, one range per server, in order. A key is placed by its
//!   first byte (the empty key by 0x00), with ASCII lowercase letters read as uppercase; each
//!   bound is one character (or `\xHH`), folded the same way. The first range reaches down to
//!   0x00 whatever its low bound, and the last up to 0xFF whatever its high bound, so
//!   `range:A-M,N-Z` sends the empty key, digits, `a`…`m` and `A`…`M` to the first server and
//!   `n`…`z`, `N`…`Z`, punctuation after `Z` and bytes from 0x7B up to the second. Each range
//!   must start one byte after the previous one ends: a gap or an overlap is refused, so every
//!   key has exactly one server.

use core::fmt;

/// FNV-1a's 64-bit starting value.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit multiplier.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The 64-bit FNV-1a hash of `key`.
pub fn fnv1a64(key: &[u8]) -> u64 {
    key.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// How keys are split between servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partition {
    /// [`fnv1a64`] of the key, modulo the number of servers.
    Hash,
    /// One inclusive range of first bytes (case-folded) per server, together covering every
    /// byte exactly once.
    Range(Vec<(u8, u8)>),
}

/// Why a partition scheme was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionError {
    /// Neither `hash` nor `range:...`.
    UnknownScheme(String),
    /// A range not of the form `LO-HI`, each bound one character or `\xHH`.
    BadRange(String),
    /// A range whose low bound is above its high one.
    Backwards {
        /// The low bound, case-folded.
        lo: u8,
        /// The high bound, case-folded.
        hi: u8,
    },
    /// First bytes, between two ranges, that no range covers.
    Gap {
        /// The first byte left out.
        from: u8,
        /// The last byte left out.
        to: u8,
    },
    /// First bytes that two ranges cover.
    Overlap {
        /// The first byte covered twice.
        from: u8,
        /// The last byte covered twice.
        to: u8,
    },
    /// Not one range per server.
    Count {
        /// How many ranges the scheme has.
        ranges: usize,
        /// How many servers were given.
        servers: usize,
    },
}

/// A byte as a range bound is written.
fn shown(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("'\\x{b:02x}'")
    }
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownScheme(s) => {
                write!(f, "unknown scheme '{s}' (expected hash or range:LO-HI,...)")
            }
            Self::BadRange(s) => write!(
                f,
                "bad range '{s}' (expected LO-HI, each bound one character or \\xHH)"
            ),
            Self::Backwards { lo, hi } => {
                write!(
                    f,
                    "range {}-{} ends before it starts",
                    shown(*lo),
                    shown(*hi)
                )
            }
            Self::Gap { from, to } => write!(
                f,
                "gap: keys starting with {}..={} are in no range",
                shown(*from),
                shown(*to)
            ),
            Self::Overlap { from, to } => write!(
                f,
                "overlap: keys starting with {}..={} are in two ranges",
                shown(*from),
                shown(*to)
            ),
            Self::Count { ranges, servers } => write!(
                f,
                "{ranges} ranges for {servers} servers (one range per server, in order)"
            ),
        }
    }
}

impl core::error::Error for PartitionError {}

/// A key's first byte as ranges compare it: 0x00 for the empty key, ASCII letters uppercase.
fn first_byte(key: &[u8]) -> u8 {
    key.first().map_or(0, u8::to_ascii_uppercase)
}

/// One bound at the start of `s`: a character or `\xHH`, and what follows it.
fn bound(s: &str) -> Option<(u8, &str)> {
    if let Some(hex) = s.strip_prefix("\\x") {
        let digits = hex.get(..2)?;
        let b = u8::from_str_radix(digits, 16).ok()?;
        return Some((b.to_ascii_uppercase(), &hex[2..]));
    }
    let c = s.chars().next()?;
    if !c.is_ascii() {
        return None;
    }
    Some(((c as u8).to_ascii_uppercase(), &s[1..]))
}

impl Partition {
    /// Parses `hash` or `range:LO-HI,...`, refusing ranges that leave a gap or overlap.
    pub fn parse(s: &str) -> Result<Self, PartitionError> {
        if s == "hash" {
            return Ok(Self::Hash);
        }
        let Some(list) = s.strip_prefix("range:") else {
            return Err(PartitionError::UnknownScheme(s.to_string()));
        };
        let mut ranges = Vec::new();
        for text in list.split(',') {
            let bad = || PartitionError::BadRange(text.to_string());
            let (lo, rest) = bound(text).ok_or_else(bad)?;
            let rest = rest.strip_prefix('-').ok_or_else(bad)?;
            let (hi, rest) = bound(rest).ok_or_else(bad)?;
            if !rest.is_empty() {
                return Err(bad());
            }
            if lo > hi {
                return Err(PartitionError::Backwards { lo, hi });
            }
            ranges.push((lo, hi));
        }
        for pair in ranges.windows(2) {
            let (end, next) = (pair[0].1, pair[1].0);
            if next <= end {
                return Err(PartitionError::Overlap {
                    from: next,
                    to: end.min(pair[1].1),
                });
            }
            if next > end + 1 {
                return Err(PartitionError::Gap {
                    from: end + 1,
                    to: next - 1,
                });
            }
        }
        // `split` yields at least one item, so there is a first and a last range.
        if let Some(first) = ranges.first_mut() {
            first.0 = 0x00;
        }
        if let Some(last) = ranges.last_mut() {
            last.1 = 0xFF;
        }
        Ok(Self::Range(ranges))
    }

    /// Checks the scheme names one server per range.
    pub fn check(&self, servers: usize) -> Result<(), PartitionError> {
        match self {
            Self::Range(ranges) if ranges.len() != servers => Err(PartitionError::Count {
                ranges: ranges.len(),
                servers,
            }),
            _ => Ok(()),
        }
    }

    /// The index, in the server list, of the server holding `key`; `servers` is the list's
    /// length, which [`Partition::check`] has accepted, and not 0.
    pub fn server_of(&self, key: &[u8], servers: usize) -> usize {
        match self {
            Self::Hash => (fnv1a64(key) % servers as u64) as usize,
            Self::Range(ranges) => {
                let b = first_byte(key);
                ranges.iter().position(|&(_, hi)| b <= hi).unwrap_or(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_vectors_and_the_documented_example() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(fnv1a64(b"user1"), 0x4228c671628ca359);
        assert_eq!(Partition::Hash.server_of(b"user1", 3), 1);
    }

    #[test]
    fn a_m_n_z_places_the_boundary_keys() {
        let p = Partition::parse("range:A-M,N-Z").unwrap();
        assert_eq!(p, Partition::Range(vec![(0x00, b'M'), (b'N', 0xFF)]));
        for (key, server) in [
            (&b""[..], 0),
            (b"0", 0),
            (b"A", 0),
            (b"a", 0),
            (b"m", 0),
            (b"Mzz", 0),
            (b"n", 1),
            (b"N", 1),
            (b"zzz", 1),
            (b"[", 1),
            (b"~", 1),
            (b"\xff", 1),
        ] {
            assert_eq!(p.server_of(key, 2), server, "{}", key.escape_ascii());
        }
        assert_eq!(p.check(2), Ok(()));
        assert_eq!(
            p.check(3),
            Err(PartitionError::Count {
                ranges: 2,
                servers: 3
            })
        );
    }

    #[test]
    fn bounds_fold_case_and_take_hex_escapes() {
        assert_eq!(
            Partition::parse("range:a-f,G-p,\\x51-\\xff").unwrap(),
            Partition::Range(vec![(0x00, b'F'), (b'G', b'P'), (b'Q', 0xFF)])
        );
        assert_eq!(
            Partition::parse("range:\\x00-\\xff").unwrap(),
            Partition::Range(vec![(0x00, 0xFF)])
        );
    }

    #[test]
    fn gaps_overlaps_and_bad_ranges_are_refused_by_name() {
        let err = |s| Partition::parse(s).unwrap_err().to_string();
        assert_eq!(
            err("range:A-L,N-Z"),
            "gap: keys starting with 'M'..='M' are in no range"
        );
        assert_eq!(
            err("range:A-M,K-Z"),
            "overlap: keys starting with 'K'..='M' are in two ranges"
        );
        assert_eq!(err("range:M-A"), "range 'M'-'A' ends before it starts");
        assert_eq!(
            err("range:A-M,"),
            "bad range '' (expected LO-HI, each bound one character or \\xHH)"
        );
        assert_eq!(
            err("range:AB-Z"),
            "bad range 'AB-Z' (expected LO-HI, each bound one character or \\xHH)"
        );
        assert_eq!(
            err("modulo"),
            "unknown scheme 'modulo' (expected hash or range:LO-HI,...)"
        );
    }
}
