//! The data the tests replicate: a bulk fill of keys, and a writer thread that goes on changing
//! them while replicas sync, crash and reconnect.
//!
//! Values are 10 B to 20 KB of every byte value, most of them small. A third of the keys expire:
//! most in 100 to 1000 s, which outlives a test and so must arrive with the same deadline, some in
//! 1 to 3 s, which expire on the primary during the test and must disappear on the replicas.

use crate::resp::{Client, Reply};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// xorshift64*: the same seed gives the same keys, values and deadlines.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn key(n: u64) -> Vec<u8> {
    format!("key:{n}").into_bytes()
}

/// 10 B to 20 KB: nine in ten under 200 B, one in a hundred over 2 KB.
pub fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.next() % 100 {
        0 => rng.range(2_000, 20_000),
        1..=9 => rng.range(200, 2_000),
        _ => rng.range(10, 200),
    } as usize;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A SET of `key` with a fresh value; one in three with a deadline, written in each of the four
/// forms a client may use (the primary propagates them all as an absolute deadline).
pub fn set(rng: &mut Rng, key: Vec<u8>) -> Vec<Vec<u8>> {
    let mut cmd = vec![b"SET".to_vec(), key, value(rng)];
    if rng.chance(33) {
        let ms = if rng.chance(10) {
            rng.range(1_000, 3_000)
        } else {
            rng.range(100_000, 1_000_000)
        } as i64;
        let (unit, amount) = match rng.next() % 4 {
            0 => ("EX", ms / 1000),
            1 => ("PX", ms),
            2 => ("EXAT", (now_ms() + ms) / 1000),
            _ => ("PXAT", now_ms() + ms),
        };
        cmd.push(unit.as_bytes().to_vec());
        cmd.push(amount.to_string().into_bytes());
    }
    cmd
}

/// Writes keys `first..first + count` in pipelined batches.
pub fn fill(port: u16, seed: u64, first: u64, count: u64) {
    let mut client = Client::connect(port).unwrap();
    let mut rng = Rng::new(seed);
    let mut n = first;
    while n < first + count {
        let batch: Vec<_> = (n..(n + 500).min(first + count))
            .map(|i| set(&mut rng, key(i)))
            .collect();
        for reply in client.pipeline(&batch) {
            assert_eq!(reply, Reply::Status("OK".into()), "fill");
        }
        n += batch.len() as u64;
    }
}

/// What a [`Writer`] did.
#[derive(Debug)]
pub struct Written {
    /// Commands acknowledged.
    pub commands: u64,
    /// The first error reply, if any.
    pub error: Option<Reply>,
    /// Whether it stopped because the connection broke (or could not be made again).
    pub broken: bool,
}

/// A thread changing keys `0..keys` until stopped: SETs (with and without deadlines), DELs,
/// PEXPIREs, PERSISTs and APPENDs, in pipelined batches of 50 at about `per_second` commands.
pub struct Writer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<JoinHandle<Written>>,
}

/// The most a writer sends, whatever the test: every loop in this suite is bounded.
const WRITER_MAX_COMMANDS: u64 = 5_000_000;

impl Writer {
    pub fn start(port: u16, seed: u64, keys: u64, per_second: u64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (flag, count) = (stop.clone(), done.clone());
        let thread = std::thread::spawn(move || write(port, seed, keys, per_second, &flag, &count));
        Writer {
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Commands acknowledged so far.
    pub fn progress(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops the thread and returns what it did.
    pub fn stop(mut self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("writer thread")
    }

    /// Stops the thread and checks it wrote without an error.
    pub fn finish(self) -> u64 {
        let written = self.stop();
        assert!(
            written.error.is_none() && !written.broken,
            "writer: {written:?}"
        );
        written.commands
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write(
    port: u16,
    seed: u64,
    keys: u64,
    per_second: u64,
    stop: &AtomicBool,
    done: &AtomicU64,
) -> Written {
    let mut written = Written {
        commands: 0,
        error: None,
        broken: false,
    };
    let Ok(mut client) = Client::connect(port) else {
        written.broken = true;
        return written;
    };
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && written.commands < WRITER_MAX_COMMANDS {
        let batch: Vec<Vec<Vec<u8>>> = (0..50).map(|_| change(&mut rng, keys)).collect();
        let Ok(replies) = client.try_pipeline(&batch) else {
            written.broken = true;
            break;
        };
        if let Some(e) = replies.into_iter().find(Reply::is_error) {
            written.error.get_or_insert(e);
            break;
        }
        written.commands += batch.len() as u64;
        done.store(written.commands, Ordering::Relaxed);
        let due = Duration::from_secs_f64(written.commands as f64 / per_second as f64);
        if let Some(ahead) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    written
}

fn change(rng: &mut Rng, keys: u64) -> Vec<Vec<u8>> {
    let k = key(rng.next() % keys);
    let b = |s: &str| s.as_bytes().to_vec();
    match rng.next() % 100 {
        0..=69 => set(rng, k),
        70..=79 => vec![b("DEL"), k],
        80..=87 => vec![
            b("PEXPIRE"),
            k,
            rng.range(100_000, 1_000_000).to_string().into_bytes(),
        ],
        88..=92 => vec![b("PERSIST"), k],
        _ => {
            let mut tail = value(rng);
            tail.truncate(64);
            vec![b("APPEND"), k, tail]
        }
    }
}
