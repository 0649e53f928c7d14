//! What INFO's `commandstats`, `latencystats` and `errorstats` sections count: the calls of each
//! command and subcommand (their time, the calls refused before running, the calls that answered
//! an error), the distribution of each one's latency, and the error replies by code.
//!
//! A worker counts its client's calls in a [`Tally`] of its own and adds them to the shared
//! [`CommandStats`] once per batch of commands, so that clients on different workers do not
//! contend on a counter per call. Errors are rare: each is added to [`ErrorStats`] at once.

use super::histogram::Histogram;
use super::table::COMMANDS;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The most error codes counted apart, as Redis 7.0 (`ERROR_STATS_NUMBER`): past it, errors of a
/// new code still count in `total_error_replies`, but get no line of their own.
const ERROR_CODES: usize = 128;

/// A command's place among the counters: every command of the table, each followed by its
/// subcommands, in table order.
pub type Slot = usize;

/// Where each command's counters start.
fn offsets() -> &'static [Slot] {
    static OFFSETS: OnceLock<Vec<Slot>> = OnceLock::new();
    OFFSETS.get_or_init(|| {
        let mut next = 0;
        COMMANDS
            .iter()
            .map(|spec| {
                let at = next;
                next += 1 + spec.subcommands.len();
                at
            })
            .collect()
    })
}

/// The slot of command `index` of the table, or of its subcommand `sub`.
pub fn slot(index: usize, sub: Option<usize>) -> Slot {
    offsets()[index] + sub.map_or(0, |s| s + 1)
}

/// The slots `name` stands for (any case): a command and its subcommands, or one subcommand
/// (`config|get`); none for a name the table does not have.
fn named_slots(name: &[u8]) -> Vec<Slot> {
    let (container, sub) = match name.iter().position(|&b| b == b'|') {
        Some(at) => (&name[..at], Some(&name[at + 1..])),
        None => (name, None),
    };
    let Some(index) = COMMANDS
        .iter()
        .position(|s| s.name.as_bytes().eq_ignore_ascii_case(container))
    else {
        return Vec::new();
    };
    let spec = &COMMANDS[index];
    match sub {
        None => (0..=spec.subcommands.len())
            .map(|j| slot(index, j.checked_sub(1)))
            .collect(),
        Some(sub) => spec
            .subcommands
            .iter()
            .position(|s| {
                s.name
                    .split_once('|')
                    .is_some_and(|(_, n)| n.as_bytes().eq_ignore_ascii_case(sub))
            })
            .map(|j| slot(index, Some(j)))
            .into_iter()
            .collect(),
    }
}

/// The name Redis gives the command in `slot` (`get`, `config|get`).
fn name(slot: Slot) -> &'static str {
    let index = offsets().partition_point(|&at| at <= slot) - 1;
    let spec = &COMMANDS[index];
    match slot - offsets()[index] {
        0 => spec.name,
        sub => spec.subcommands[sub - 1].name,
    }
}

/// One command's counters.
#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// Redis's default `latency-tracking-info-percentiles`.
const PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// Every command's counters.
pub struct CommandStats {
    counters: Box<[Counters]>,
    /// Each command's latencies, made at its first call while `latency-tracking` is on.
    latencies: Box<[OnceLock<Histogram>]>,
    tracking: AtomicBool,
    percentiles: Mutex<Vec<f64>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        let last = COMMANDS.len() - 1;
        let len = slot(last, None) + 1 + COMMANDS[last].subcommands.len();
        Self {
            counters: (0..len).map(|_| Counters::default()).collect(),
            latencies: (0..len).map(|_| OnceLock::new()).collect(),
            tracking: AtomicBool::new(true),
            percentiles: Mutex::new(PERCENTILES.to_vec()),
        }
    }
}

/// A percentile as Redis writes it (`%f` without its trailing zeros): `50`, `99.9`.
pub fn percentile_text(p: f64) -> String {
    let text = format!("{p:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl CommandStats {
    /// `latency-tracking`: whether each command's latencies are kept.
    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    /// Sets `latency-tracking`.
    pub fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    /// `latency-tracking-info-percentiles`: the percentiles `INFO latencystats` gives.
    pub fn percentiles(&self) -> Vec<f64> {
        self.percentiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets `latency-tracking-info-percentiles`.
    pub fn set_percentiles(&self, percentiles: Vec<f64>) {
        *self.percentiles.lock().unwrap_or_else(|e| e.into_inner()) = percentiles;
    }

    /// INFO's `latencystats` lines, by name: the chosen percentiles of each command's latency,
    /// in microseconds.
    pub fn latency_info(&self) -> String {
        if !self.tracking() {
            return String::new();
        }
        let percentiles = self.percentiles();
        let mut lines: Vec<(&str, String)> = Vec::new();
        for (slot, histogram) in self.latencies.iter().enumerate() {
            let Some(h) = histogram.get().filter(|h| !h.is_empty()) else {
                continue;
            };
            let values: Vec<String> = percentiles
                .iter()
                .map(|&p| {
                    let usec = h.percentile(p) as f64 / 1000.0;
                    format!("p{}={usec:.3}", percentile_text(p))
                })
                .collect();
            lines.push((name(slot), values.join(",")));
        }
        lines.sort_unstable_by_key(|(name, _)| *name);
        let mut text = String::new();
        for (name, values) in lines {
            let _ = write!(text, "latency_percentiles_usec_{name}:{values}\r\n");
        }
        text
    }

    /// `LATENCY HISTOGRAM [command ...]`: for each command named (a container with its
    /// subcommands), or every command, that has latencies, its name, calls and cumulative
    /// distribution of latencies, as Redis answers it.
    pub fn latency_histogram(&self, names: &[&[u8]], out: &mut crate::reply::Out) {
        let slots: Vec<Slot> = if names.is_empty() {
            (0..self.latencies.len()).collect()
        } else {
            names.iter().flat_map(|name| named_slots(name)).collect()
        };
        let with_data: Vec<(Slot, &Histogram)> = slots
            .into_iter()
            .filter_map(|slot| {
                let h = self.latencies[slot].get().filter(|h| !h.is_empty())?;
                Some((slot, h))
            })
            .collect();
        out.map(with_data.len());
        for (slot, h) in with_data {
            let points = h.distribution();
            out.bulk(name(slot).as_bytes());
            out.map(2);
            out.bulk(b"calls");
            out.int(points.last().map_or(0, |p| p.1) as i64);
            out.bulk(b"histogram_usec");
            out.map(points.len());
            for (usec, count) in points {
                out.int(usec as i64);
                out.int(count as i64);
            }
        }
    }

    /// Adds what `tally` counted, and empties it.
    pub fn add(&self, tally: &mut Tally) {
        if self.tracking() {
            for (slot, bucket, n) in tally.latencies.drain(..) {
                self.latencies[slot]
                    .get_or_init(Histogram::default)
                    .add(bucket, u64::from(n));
            }
        } else {
            tally.latencies.clear();
        }
        for (slot, counts) in tally.pending.drain(..) {
            let c = &self.counters[slot];
            for (counter, n) in [
                (&c.calls, counts.calls),
                (&c.usec, counts.usec),
                (&c.rejected, counts.rejected),
                (&c.failed, counts.failed),
            ] {
                if n > 0 {
                    counter.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }

    /// Sets every counter back to zero (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for c in self.counters.iter() {
            for counter in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                counter.store(0, Ordering::Relaxed);
            }
        }
        for h in self.latencies.iter().filter_map(OnceLock::get) {
            h.clear();
        }
    }

    /// INFO's `commandstats` lines, by name, for the commands called, refused or failed since
    /// the counters were last reset.
    pub fn info(&self) -> String {
        let mut lines: Vec<(&str, [u64; 4])> = self
            .counters
            .iter()
            .enumerate()
            .map(|(slot, c)| {
                let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
                let counts = [
                    load(&c.calls),
                    load(&c.usec),
                    load(&c.rejected),
                    load(&c.failed),
                ];
                (name(slot), counts)
            })
            .filter(|(_, [calls, _, rejected, failed])| calls + rejected + failed > 0)
            .collect();
        lines.sort_unstable_by_key(|(name, _)| *name);
        let mut text = String::new();
        for (name, [calls, usec, rejected, failed]) in lines {
            let per_call = if calls > 0 {
                usec as f64 / calls as f64
            } else {
                0.0
            };
            let _ = write!(
                text,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
                 rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
        text
    }
}

/// A client's calls not yet added to the shared counters.
#[derive(Default, Debug)]
pub struct Tally {
    pending: Vec<(Slot, Counts)>,
    /// Calls by latency bucket, a run of calls in one bucket counted once.
    latencies: Vec<(Slot, u16, u32)>,
}

/// Latency entries a tally holds before it wants adding, so a long pipeline does not grow it.
const TALLY_LATENCIES: usize = 256;

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    calls: u64,
    usec: u64,
    rejected: u64,
    failed: u64,
}

impl Tally {
    fn counts(&mut self, slot: Slot) -> &mut Counts {
        // A client uses a handful of commands: a short list searched in order does.
        let at = match self.pending.iter().position(|(s, _)| *s == slot) {
            Some(at) => at,
            None => {
                self.pending.push((slot, Counts::default()));
                self.pending.len() - 1
            }
        };
        &mut self.pending[at].1
    }

    /// A call of the command in `slot` that ran for `nanos` nanoseconds, and answered an error
    /// if `failed`; its latency is kept if `tracking`.
    pub fn call(&mut self, slot: Slot, nanos: u64, failed: bool, tracking: bool) {
        let c = self.counts(slot);
        c.calls += 1;
        c.usec += nanos / 1000;
        c.failed += u64::from(failed);
        if !tracking {
            return;
        }
        let bucket = Histogram::bucket_of(nanos);
        match self.latencies.last_mut() {
            Some((s, b, n)) if *s == slot && *b == bucket && *n < u32::MAX => *n += 1,
            _ => self.latencies.push((slot, bucket, 1)),
        }
    }

    /// Whether the tally holds enough to be added now rather than at the end of the batch.
    pub fn is_full(&self) -> bool {
        self.latencies.len() >= TALLY_LATENCIES
    }

    /// A call of the command in `slot` refused before it ran (arity, authentication, context).
    pub fn reject(&mut self, slot: Slot) {
        self.counts(slot).rejected += 1;
    }

    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.latencies.is_empty()
    }
}

/// Error replies, by code.
#[derive(Default)]
pub struct ErrorStats {
    codes: Mutex<BTreeMap<Box<str>, u64>>,
    total: AtomicU64,
}

impl ErrorStats {
    /// Counts error replies with these codes.
    pub fn add(&self, codes: Vec<Box<str>>) {
        if codes.is_empty() {
            return;
        }
        self.total.fetch_add(codes.len() as u64, Ordering::Relaxed);
        let mut map = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        for code in codes {
            if let Some(n) = map.get_mut(&code) {
                *n += 1;
            } else if map.len() < ERROR_CODES {
                map.insert(code, 1);
            }
        }
    }

    /// Every error reply since the counters were last reset (`total_error_replies`).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Sets every count back to zero (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        self.codes.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.total.store(0, Ordering::Relaxed);
    }

    /// INFO's `errorstats` lines, by code.
    pub fn info(&self) -> String {
        let map = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        for (code, count) in map.iter() {
            let _ = write!(text, "errorstat_{code}:count={count}\r\n");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_subcommand_has_its_own_slot() {
        let mut names = Vec::new();
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert_eq!(name(slot(i, None)), spec.name);
            names.push(spec.name);
            for (j, sub) in spec.subcommands.iter().enumerate() {
                assert_eq!(name(slot(i, Some(j))), sub.name);
                names.push(sub.name);
            }
        }
        assert_eq!(CommandStats::default().counters.len(), names.len());
    }

    #[test]
    fn tallies_add_up_and_reset() {
        let stats = CommandStats::default();
        let get = COMMANDS.iter().position(|s| s.name == "get").unwrap();
        let mut tally = Tally::default();
        tally.call(slot(get, None), 3_000, false, true);
        tally.call(slot(get, None), 4_999, true, true);
        tally.reject(slot(get, None));
        stats.add(&mut tally);
        assert!(tally.is_empty());
        assert_eq!(
            stats.info(),
            "cmdstat_get:calls=2,usec=7,usec_per_call=3.50,rejected_calls=1,failed_calls=1\r\n"
        );
        assert_eq!(
            stats.latency_info(),
            "latency_percentiles_usec_get:p50=3.007,p99=5.023,p99.9=5.023\r\n"
        );
        stats.set_percentiles(vec![100.0, 0.5]);
        assert_eq!(
            stats.latency_info(),
            "latency_percentiles_usec_get:p100=5.023,p0.5=3.007\r\n"
        );
        stats.reset();
        assert_eq!(stats.info(), "");
        assert_eq!(stats.latency_info(), "");
    }

    #[test]
    fn errors_count_by_code() {
        let errors = ErrorStats::default();
        errors.add(vec!["ERR".into(), "WRONGPASS".into(), "ERR".into()]);
        assert_eq!(errors.total(), 3);
        assert_eq!(
            errors.info(),
            "errorstat_ERR:count=2\r\nerrorstat_WRONGPASS:count=1\r\n"
        );
    }
}
