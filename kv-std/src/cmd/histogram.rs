//! A latency histogram as Redis 7.0 keeps one per command (an HdrHistogram from 1 ns to 1 s with
//! two significant digits), so that `INFO latencystats` gives its percentiles from the same
//! buckets: every value is counted in a bucket no wider than 1/128 of it, and a percentile is
//! answered with the highest value of its bucket.

use std::sync::atomic::{AtomicU64, Ordering};

/// The least value recorded, in nanoseconds; less counts as this.
const LOWEST: u64 = 1;
/// The greatest value recorded, in nanoseconds; more counts as this.
const HIGHEST: u64 = 1_000_000_000;
/// Buckets of each power of two, past the first 256 values (two significant digits).
const HALF: u64 = 128;
/// Buckets in all: enough for [`HIGHEST`].
const BUCKETS: usize = bucket(HIGHEST) + 1;

/// The bucket of `nanos` (within [`LOWEST`]..=[`HIGHEST`]).
const fn bucket(nanos: u64) -> usize {
    let magnitude = (63 - (nanos | (2 * HALF - 1)).leading_zeros()) as u64 - 7;
    let sub = nanos >> magnitude;
    ((magnitude + 1) * HALF + sub - HALF) as usize
}

/// The least value of bucket `index`, and the width of its range.
fn range(index: usize) -> (u64, u64) {
    let index = index as u64;
    let (magnitude, sub) = match (index / HALF).checked_sub(1) {
        Some(magnitude) => (magnitude, index % HALF + HALF),
        None => (0, index),
    };
    (sub << magnitude, 1 << magnitude)
}

/// Counts of values by bucket; recorded from any thread.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    /// The bucket a duration of `nanos` is counted in.
    pub fn bucket_of(nanos: u64) -> u16 {
        bucket(nanos.clamp(LOWEST, HIGHEST)) as u16
    }

    /// Counts `n` values in bucket `index` (from [`Histogram::bucket_of`]).
    pub fn add(&self, index: u16, n: u64) {
        self.counts[usize::from(index)].fetch_add(n, Ordering::Relaxed);
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| c.load(Ordering::Relaxed) == 0)
    }

    /// Forgets every value counted.
    pub fn clear(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The value at `percentile` (0 to 100) of what was counted, in nanoseconds, as
    /// HdrHistogram's `hdr_value_at_percentile` gives it; 0 when nothing was.
    pub fn percentile(&self, percentile: f64) -> u64 {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let wanted = ((percentile.min(100.0) / 100.0) * total as f64 + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let index = counts
            .iter()
            .position(|&c| {
                seen += c;
                seen >= wanted
            })
            .unwrap_or(BUCKETS - 1);
        let (lowest, width) = range(index);
        if percentile == 0.0 {
            lowest
        } else {
            lowest + width - 1
        }
    }
}

/// The highest value counted in the same bucket as `nanos`, however large.
fn highest_equivalent(nanos: u64) -> u64 {
    let magnitude = (63 - (nanos | (2 * HALF - 1)).leading_zeros()) - 7;
    ((nanos >> magnitude) << magnitude) + (1 << magnitude) - 1
}

impl Histogram {
    /// The cumulative distribution `LATENCY HISTOGRAM` gives, as Redis takes it from
    /// HdrHistogram's logarithmic iterator (from 1,024 ns, doubling): for each power of two at
    /// which the count grew, the highest value of its bucket in microseconds, and the count of
    /// values up to that bucket.
    pub fn distribution(&self) -> Vec<(u64, u64)> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let mut points = Vec::new();
        let (mut level, mut index, mut seen, mut reported) = (1024u64, 0, 0, 0);
        while seen < total {
            let last = if level <= HIGHEST {
                bucket(level)
            } else {
                BUCKETS - 1
            };
            while index <= last {
                seen += counts[index];
                index += 1;
            }
            if seen > reported {
                points.push((highest_equivalent(level) / 1000, seen));
                reported = seen;
            }
            level *= 2;
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_two_significant_digits() {
        for nanos in [
            1,
            2,
            255,
            256,
            257,
            4015,
            1_000,
            123_456,
            999_999_999,
            HIGHEST,
        ] {
            let (lowest, width) = range(usize::from(Histogram::bucket_of(nanos)));
            assert!(lowest <= nanos && nanos < lowest + width, "{nanos}");
            assert!(
                width == 1 || width * HALF <= nanos,
                "{nanos}: width {width}"
            );
        }
        assert_eq!(Histogram::bucket_of(0), Histogram::bucket_of(1));
        assert_eq!(
            Histogram::bucket_of(u64::MAX),
            Histogram::bucket_of(HIGHEST)
        );
    }

    #[test]
    fn percentiles_are_the_highest_value_of_their_bucket() {
        let h = Histogram::default();
        assert_eq!(h.percentile(50.0), 0);
        // 4,000 ns falls in a bucket 16 wide: 4,000..=4,015, as Redis's `p50=4.015`.
        h.add(Histogram::bucket_of(4_000), 1);
        assert_eq!(h.percentile(50.0), 4_015);
        h.add(Histogram::bucket_of(100), 99);
        assert_eq!(h.percentile(50.0), 100);
        assert_eq!(h.percentile(99.0), 100);
        assert_eq!(h.percentile(99.9), 4_015);
        assert_eq!(h.percentile(100.0), 4_015);
    }

    #[test]
    fn the_distribution_doubles_from_a_microsecond() {
        let h = Histogram::default();
        assert!(h.distribution().is_empty());
        // Redis's reply for three SETs of about 3.5, 5 and 6 µs: `4 => 1, 8 => 3`.
        for nanos in [3_500, 5_000, 6_000] {
            h.add(Histogram::bucket_of(nanos), 1);
        }
        assert_eq!(h.distribution(), [(4, 1), (8, 3)]);
        h.add(Histogram::bucket_of(10), 2);
        h.add(Histogram::bucket_of(u64::MAX), 1);
        let points = h.distribution();
        assert_eq!(points[0], (1, 2));
        assert_eq!(points.last().unwrap().1, 6);
    }
}
