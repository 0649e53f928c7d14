//! The string commands' value operations (`kv_std::value`) checked against redis-server 7.0.15
//! itself: thousands of generated cases per command, each run on a real server over a raw RESP
//! socket, in RESP2 and again after `HELLO 3`, and its reply bytes compared with the bytes our
//! functions write through `Out`. Commands that write are followed by a `GET` of each key they
//! may write, compared with what our functions said to store.
//!
//! Cases come from a seeded generator, so a run is repeatable; a failure prints the case's
//! commands and both replies. Each area starts its own redis-server on a free loopback port,
//! with nothing kept on disk, killed when the test ends or fails.
//!
//! redis-server must be on the PATH (Debian: `apt-get install redis-server`).
#![allow(missing_docs)]

mod bitfield;
mod bits;
mod lcs;
mod number;
mod range;
mod redis;

use kv_std::reply::{Out, Resp};
use kv_std::value::{Store, WriteReply};
use redis::{encode, Redis};
use std::collections::HashMap;

/// Cases sent to the server before reading their replies.
const BATCH: usize = 200;

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.word() % (hi.abs_diff(lo) + 1)) as i64
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    /// `len` bytes drawn from `alphabet`.
    pub fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len).map(|_| self.pick(alphabet)).collect()
    }

    /// `len` bytes of any value.
    pub fn binary(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.word() as u8).collect()
    }
}

/// Text as bytes, for building commands.
pub fn b(text: impl AsRef<[u8]>) -> Vec<u8> {
    text.as_ref().to_vec()
}

/// A command: its name and arguments.
type Command = Vec<Vec<u8>>;

/// One case: commands that set keys up (their replies are not compared), then the command
/// under test and reads of what it wrote, whose replies are compared with ours.
#[derive(Default)]
struct Case {
    setup: Vec<Command>,
    checked: Vec<Command>,
    /// Our replies to `checked`, in RESP2 and in RESP3.
    ours: [Vec<u8>; 2],
}

/// Cases for one server, with the keys' values as our functions have left them.
pub struct Suite {
    name: &'static str,
    cases: Vec<Case>,
    case: Case,
    model: HashMap<Vec<u8>, Vec<u8>>,
}

impl Suite {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            cases: Vec::new(),
            case: Case::default(),
            model: HashMap::new(),
        }
    }

    /// Sets `key` to `value`, or deletes it.
    pub fn set(&mut self, key: &[u8], value: Option<&[u8]>) {
        match value {
            Some(v) => {
                self.setup(&[b("SET"), b(key), b(v)]);
                self.model.insert(b(key), b(v));
            }
            None => {
                self.setup(&[b("DEL"), b(key)]);
                self.model.remove(key);
            }
        }
    }

    /// A command run before the checked one, its reply ignored; it must not change the keys
    /// the model tracks.
    pub fn setup(&mut self, command: &[Vec<u8>]) {
        self.case.setup.push(command.to_vec());
    }

    /// Notes that a setup command left `value` in `key`.
    pub fn model_put(&mut self, key: &[u8], value: Vec<u8>) {
        self.model.insert(b(key), value);
    }

    /// What `key` holds.
    pub fn value(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.model.get(key).cloned()
    }

    /// The command under test, and our reply to it.
    pub fn check(&mut self, command: &[Vec<u8>], ours: &dyn WriteReply) {
        self.case.checked.push(command.to_vec());
        for (resp, bytes) in [Resp::V2, Resp::V3].into_iter().zip(&mut self.case.ours) {
            let mut out = Out::new(resp);
            ours.reply(&mut out);
            bytes.extend_from_slice(out.bytes());
        }
    }

    /// Applies what our function said to store into `key`.
    pub fn store(&mut self, key: &[u8], store: &Store) {
        match store {
            Store::Keep => {}
            Store::Put(v) => {
                self.model.insert(b(key), v.clone());
            }
            Store::Delete => {
                self.model.remove(key);
            }
        }
    }

    /// Reads `key` back from the server, to be compared with what we stored: whole when
    /// short, else its length and its first and last bytes.
    pub fn read_back(&mut self, key: &[u8]) {
        let value = self.value(key);
        let reads: Vec<(Command, Option<Vec<u8>>)> = match &value {
            Some(v) if v.len() > 4096 => vec![
                (vec![b("STRLEN"), b(key)], None),
                (
                    vec![b("GETRANGE"), b(key), b("0"), b("63")],
                    Some(v[..64].to_vec()),
                ),
                (
                    vec![b("GETRANGE"), b(key), b("-64"), b("-1")],
                    Some(v[v.len() - 64..].to_vec()),
                ),
            ],
            _ => vec![(vec![b("GET"), b(key)], value.clone())],
        };
        for (command, bytes) in reads {
            self.case.checked.push(command);
            for (resp, ours) in [Resp::V2, Resp::V3].into_iter().zip(&mut self.case.ours) {
                let mut out = Out::new(resp);
                match (&bytes, &value) {
                    (Some(part), _) => out.bulk(part),
                    (None, Some(v)) if v.len() > 4096 => out.int(v.len() as i64),
                    (None, _) => out.null(),
                }
                ours.extend_from_slice(out.bytes());
            }
        }
    }

    /// Ends the current case.
    pub fn finish(&mut self) {
        let case = std::mem::take(&mut self.case);
        assert!(!case.checked.is_empty(), "a case checks a command");
        self.cases.push(case);
    }

    /// How many cases there are.
    pub fn cases(&self) -> usize {
        self.cases.len()
    }

    /// Runs every case on `redis`, in RESP2 and in RESP3, and fails at the first reply that
    /// differs from ours. Returns how many commands were compared.
    pub fn run(self, redis: &Redis) -> usize {
        assert!(self.case.checked.is_empty(), "finish the last case");
        let mut compared = 0;
        for (protocol, resp3) in [(0, false), (1, true)] {
            let mut conn = redis.connect(resp3);
            // Both runs start from the same state: no keys, the default length limit.
            conn.call(&[b("FLUSHALL")]);
            conn.call(&[
                b("CONFIG"),
                b("SET"),
                b("proto-max-bulk-len"),
                b("536870912"),
            ]);
            for (batch_index, batch) in self.cases.chunks(BATCH).enumerate() {
                let mut bytes = Vec::new();
                for case in batch {
                    for command in case.setup.iter().chain(&case.checked) {
                        encode(command, &mut bytes);
                    }
                }
                conn.write(&bytes);
                for (i, case) in batch.iter().enumerate() {
                    for _ in &case.setup {
                        conn.reply();
                    }
                    let theirs: Vec<u8> = case.checked.iter().flat_map(|_| conn.reply()).collect();
                    compared += case.checked.len();
                    if theirs != case.ours[protocol] {
                        panic!(
                            "{} case {} in RESP{}:\n{}\nredis-server: {}\nours:         {}",
                            self.name,
                            batch_index * BATCH + i,
                            protocol + 2,
                            case.setup
                                .iter()
                                .chain(&case.checked)
                                .map(|c| show_command(c))
                                .collect::<Vec<_>>()
                                .join("\n"),
                            show(&theirs),
                            show(&case.ours[protocol]),
                        );
                    }
                }
            }
        }
        compared
    }
}

/// Bytes as an escaped string, cut if long.
fn show(bytes: &[u8]) -> String {
    let text: String = bytes.escape_ascii().to_string();
    if text.len() > 600 {
        format!("{}... ({} bytes)", &text[..600], bytes.len())
    } else {
        text
    }
}

fn show_command(command: &[Vec<u8>]) -> String {
    command
        .iter()
        .map(|a| format!("\"{}\"", show(a)))
        .collect::<Vec<_>>()
        .join(" ")
}
