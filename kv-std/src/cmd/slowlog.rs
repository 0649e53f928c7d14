//! The slow log: commands that ran for at least `slowlog-log-slower-than` microseconds, the
//! latest `slowlog-max-len` of them, and `SLOWLOG GET|LEN|RESET|HELP`.
//!
//! Entries are as Redis 7.0 keeps them: an id that only grows, the Unix time, the duration, the
//! arguments (at most 32, each cut to 128 bytes, passwords redacted), the client's address and
//! name. The log is locked only to add an entry, so a threshold that logs nothing costs a load.

use super::parse_int;
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Redis's default `slowlog-log-slower-than`, in microseconds.
pub const DEFAULT_SLOWER_THAN: i64 = 10_000;
/// Redis's default `slowlog-max-len`.
pub const DEFAULT_MAX_LEN: usize = 128;
/// Arguments kept of a command; the last one kept says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes kept of an argument.
const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    unix_secs: u64,
    usec: u64,
    args: Vec<Vec<u8>>,
    peer: String,
    name: Vec<u8>,
}

/// The slow log and its two parameters.
pub struct Slowlog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
    slower_than: AtomicI64,
    max_len: AtomicUsize,
}

impl Default for Slowlog {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            next_id: AtomicU64::new(0),
            slower_than: AtomicI64::new(DEFAULT_SLOWER_THAN),
            max_len: AtomicUsize::new(DEFAULT_MAX_LEN),
        }
    }
}

impl Slowlog {
    /// `slowlog-log-slower-than`: microseconds; negative turns the log off, 0 logs every
    /// command.
    pub fn slower_than(&self) -> i64 {
        self.slower_than.load(Ordering::Relaxed)
    }

    /// Sets `slowlog-log-slower-than`.
    pub fn set_slower_than(&self, usec: i64) {
        self.slower_than.store(usec, Ordering::Relaxed);
    }

    /// `slowlog-max-len`.
    pub fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }

    /// Sets `slowlog-max-len`; older entries past it go at the next entry, as in Redis.
    pub fn set_max_len(&self, len: usize) {
        self.max_len.store(len, Ordering::Relaxed);
    }

    /// Whether a command that ran `usec` microseconds is logged.
    pub fn wants(&self, usec: u64) -> bool {
        let threshold = self.slower_than();
        threshold >= 0 && self.max_len() > 0 && usec >= threshold as u64
    }

    /// Logs a command: its arguments (already redacted), how long it ran, and who ran it.
    pub fn add<'a>(
        &self,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
        usec: u64,
        peer: String,
        name: Vec<u8>,
    ) {
        let argc = args.len();
        let kept = argc.min(MAX_ARGS);
        let args = args
            .take(kept)
            .enumerate()
            .map(|(i, arg)| {
                if kept != argc && i == kept - 1 {
                    format!("... ({} more arguments)", argc - kept + 1).into_bytes()
                } else if arg.len() > MAX_STRING {
                    let mut cut = arg[..MAX_STRING].to_vec();
                    cut.extend_from_slice(
                        format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes(),
                    );
                    cut
                } else {
                    arg.to_vec()
                }
            })
            .collect();
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs: crate::db::unix_ms() / 1000,
            usec,
            args,
            peer,
            name,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push_front(entry);
        entries.truncate(self.max_len());
    }

    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn reset(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The newest `count` entries, newest first.
    fn newest(&self, count: usize) -> Vec<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().take(count).cloned().collect()
    }
}

/// `SLOWLOG GET [count]`, `SLOWLOG LEN`, `SLOWLOG RESET`, `SLOWLOG HELP`; `given` is the
/// subcommand as typed.
pub fn slowlog(sub: &str, given: &[u8], mut args: Args<'_>, log: &Slowlog, out: &mut Out) {
    match sub {
        "get" if args.len() > 1 => out.error_fmt(format_args!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(&given[..given.len().min(128)])
        )),
        "get" => {
            let count = match args.next() {
                None => 10,
                Some(arg) => match parse_int(arg) {
                    Some(-1) => usize::MAX,
                    Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => return out.error("ERR count should be greater than or equal to -1"),
                },
            };
            let entries = log.newest(count);
            out.array(entries.len());
            for e in entries {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.unix_secs as i64);
                out.int(e.usec as i64);
                out.array(e.args.len());
                for arg in &e.args {
                    out.bulk(arg);
                }
                out.bulk(e.peer.as_bytes());
                out.bulk(&e.name);
            }
        }
        "len" => out.int(log.len() as i64),
        "reset" => {
            log.reset();
            out.ok();
        }
        _ => {
            const LINES: &[&str] = &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(log: &Slowlog, args: &[&[u8]]) {
        log.add(args.iter().copied(), 5, "1.2.3.4:5".into(), b"n".to_vec());
    }

    #[test]
    fn long_commands_are_cut_as_redis_cuts_them() {
        let log = Slowlog::default();
        let long = vec![b'x'; 130];
        let many: Vec<&[u8]> = std::iter::repeat_n(&b"a"[..], 40).collect();
        add(&log, &[b"set", &long]);
        add(&log, &many);
        let entries = log.newest(10);
        assert_eq!(
            entries[1].args[1],
            [&[b'x'; 128][..], b"... (2 more bytes)"].concat()
        );
        assert_eq!(entries[0].args.len(), 32);
        assert_eq!(entries[0].args[31], b"... (9 more arguments)");
        assert_eq!((entries[0].id, entries[1].id), (1, 0));
    }

    #[test]
    fn the_log_keeps_the_newest_max_len_entries() {
        let log = Slowlog::default();
        log.set_max_len(2);
        for _ in 0..3 {
            add(&log, &[b"ping"]);
        }
        let ids: Vec<u64> = log.newest(usize::MAX).iter().map(|e| e.id).collect();
        assert_eq!(ids, [2, 1]);
        assert!(log.wants(10_000) && !log.wants(9_999));
        log.set_slower_than(-1);
        assert!(!log.wants(u64::MAX));
    }
}
