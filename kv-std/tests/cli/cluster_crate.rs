//! The `redis` crate's cluster client, as a user runs it, against the cluster of [`super::cluster`]:
//! 100,000 operations (SET, GET, INCR, DEL, EXPIRE, TTL, MGET and MSET of keys sharing a hash
//! tag, and cluster pipelines), each reply checked against a model of what the cluster holds.

use crate::cluster::{both_servers, Cluster, Kind};
use redis::cluster::{cluster_pipe, ClusterClient, ClusterConnection};
use redis::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

both_servers! {
    cluster_crate_mixed_workload, cluster_crate_mixed_workload_reference_redis => mixed_workload;
}

/// Operations the workload runs, each command of a pipeline counted as one.
const OPERATIONS: usize = 100_000;
/// Hash tags: each tag's keys share a slot, and the tags spread over every primary.
const TAGS: usize = 40;
/// String keys, and counters, per tag.
const STRINGS: usize = 6;
const COUNTERS: usize = 3;
/// Commands in one cluster pipeline.
const PIPELINE: usize = 12;
/// The longest the workload may take before the test fails.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// What a key holds, in the model.
#[derive(Clone, Debug, PartialEq)]
enum Held {
    Bytes(Vec<u8>),
    Counter(i64),
}

#[derive(Clone, Debug)]
struct Entry {
    held: Held,
    /// Whether EXPIRE gave it a deadline since it was last set.
    expiring: bool,
}

/// xorshift64*: a fixed sequence, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn string_key(tag: usize, i: usize) -> Vec<u8> {
    format!("{{tag{tag}}}:s{i}").into_bytes()
}

fn counter_key(tag: usize, i: usize) -> Vec<u8> {
    format!("{{tag{tag}}}:c{i}").into_bytes()
}

/// A value of 0 to 300 bytes, binary ones among them.
fn value(rng: &mut Rng, n: usize) -> Vec<u8> {
    let len = rng.below(300);
    let mut v = format!("v{n}:").into_bytes();
    v.extend((0..len).map(|_| rng.next() as u8));
    v
}

/// The model and the command's expected reply, for one single-key command.
struct Model {
    keys: HashMap<Vec<u8>, Entry>,
}

fn bulk_or_nil(e: Option<&Entry>) -> Value {
    match e.map(|e| &e.held) {
        Some(Held::Bytes(b)) => Value::BulkString(b.clone()),
        Some(Held::Counter(n)) => Value::BulkString(n.to_string().into_bytes()),
        None => Value::Nil,
    }
}

impl Model {
    /// A command on one key, chosen by `rng`, with the reply the model expects; the model is
    /// updated as the cluster will be.
    fn single(&mut self, rng: &mut Rng, n: usize, in_pipeline: bool) -> (redis::Cmd, Value) {
        let tag = rng.below(TAGS);
        let s = string_key(tag, rng.below(STRINGS));
        let c = counter_key(tag, rng.below(COUNTERS));
        let any = if rng.below(2) == 0 {
            s.clone()
        } else {
            c.clone()
        };
        // A pipeline holds SET, GET and INCR; alone, every single-key command is drawn.
        let pick = if in_pipeline {
            rng.below(60)
        } else {
            rng.below(100)
        };
        let mut cmd;
        let reply = match pick {
            0..=24 => {
                let v = value(rng, n);
                cmd = redis::cmd("SET");
                cmd.arg(&s).arg(&v);
                self.keys.insert(
                    s,
                    Entry {
                        held: Held::Bytes(v),
                        expiring: false,
                    },
                );
                Value::Okay
            }
            25..=44 => {
                cmd = redis::cmd("GET");
                cmd.arg(&s);
                bulk_or_nil(self.keys.get(&s))
            }
            45..=59 => {
                cmd = redis::cmd("INCR");
                cmd.arg(&c);
                let entry = self.keys.entry(c).or_insert(Entry {
                    held: Held::Counter(0),
                    expiring: false,
                });
                let Held::Counter(count) = &mut entry.held else {
                    unreachable!("counters hold only counts");
                };
                *count += 1;
                Value::Int(*count)
            }
            60..=74 => {
                cmd = redis::cmd("DEL");
                cmd.arg(&any);
                Value::Int(i64::from(self.keys.remove(&any).is_some()))
            }
            75..=87 => {
                cmd = redis::cmd("EXPIRE");
                cmd.arg(&any).arg(100_000);
                match self.keys.get_mut(&any) {
                    Some(e) => {
                        e.expiring = true;
                        Value::Int(1)
                    }
                    None => Value::Int(0),
                }
            }
            _ => {
                cmd = redis::cmd("GET");
                cmd.arg(&c);
                bulk_or_nil(self.keys.get(&c))
            }
        };
        (cmd, reply)
    }
}

fn query(con: &mut ClusterConnection, cmd: &redis::Cmd, what: &str) -> Value {
    cmd.query(con).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn mixed_workload(kind: Kind) {
    let cluster = Cluster::start(kind);
    let urls: Vec<String> = cluster
        .ports()
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    // With reads allowed on replicas (there are none), the client sends READONLY on every
    // connection it opens, primaries included, as earlier versions always did.
    let client = ClusterClient::builder(urls)
        .read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy)
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut con = client.get_connection().unwrap();
    let mut model = Model {
        keys: HashMap::new(),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let mut done = 0usize;
    let mut counts = [0usize; 5];
    while done < OPERATIONS {
        assert!(
            started.elapsed() < TIME_LIMIT,
            "{done} operations in {TIME_LIMIT:?}"
        );
        match rng.below(100) {
            // One command on one key, TTL among them.
            0..=59 => {
                let (cmd, expected) = if rng.below(10) == 0 {
                    let tag = rng.below(TAGS);
                    let key = if rng.below(2) == 0 {
                        string_key(tag, rng.below(STRINGS))
                    } else {
                        counter_key(tag, rng.below(COUNTERS))
                    };
                    let mut cmd = redis::cmd("TTL");
                    cmd.arg(&key);
                    let expected = match model.keys.get(&key) {
                        None => Some(-2),
                        Some(e) if !e.expiring => Some(-1),
                        Some(_) => None,
                    };
                    let got = query(&mut con, &cmd, "TTL");
                    match (expected, got) {
                        (Some(n), Value::Int(got)) => assert_eq!(got, n, "TTL at {done}"),
                        (None, Value::Int(got)) => {
                            assert!((99_000..=100_000).contains(&got), "TTL {got} at {done}")
                        }
                        (_, other) => panic!("TTL answered {other:?}"),
                    }
                    done += 1;
                    counts[0] += 1;
                    continue;
                } else {
                    model.single(&mut rng, done, false)
                };
                let got = query(&mut con, &cmd, "a single command");
                assert_eq!(got, expected, "operation {done}");
                done += 1;
                counts[0] += 1;
            }
            // MGET of 2 to 5 keys sharing a tag.
            60..=74 => {
                let tag = rng.below(TAGS);
                let keys: Vec<Vec<u8>> = (0..2 + rng.below(4))
                    .map(|_| string_key(tag, rng.below(STRINGS)))
                    .collect();
                let mut cmd = redis::cmd("MGET");
                for k in &keys {
                    cmd.arg(k);
                }
                let expected = Value::Array(
                    keys.iter()
                        .map(|k| bulk_or_nil(model.keys.get(k)))
                        .collect(),
                );
                assert_eq!(query(&mut con, &cmd, "MGET"), expected, "MGET at {done}");
                done += 1;
                counts[1] += 1;
            }
            // MSET of 2 to 4 keys sharing a tag.
            75..=84 => {
                let tag = rng.below(TAGS);
                let mut cmd = redis::cmd("MSET");
                for _ in 0..2 + rng.below(3) {
                    let key = string_key(tag, rng.below(STRINGS));
                    let v = value(&mut rng, done);
                    cmd.arg(&key).arg(&v);
                    model.keys.insert(
                        key,
                        Entry {
                            held: Held::Bytes(v),
                            expiring: false,
                        },
                    );
                }
                assert_eq!(query(&mut con, &cmd, "MSET"), Value::Okay, "MSET at {done}");
                done += 1;
                counts[2] += 1;
            }
            // A cluster pipeline of commands on keys of any tag, so of several primaries.
            _ => {
                let mut pipe = cluster_pipe();
                let mut expected = Vec::with_capacity(PIPELINE);
                for i in 0..PIPELINE {
                    let (cmd, reply) = model.single(&mut rng, done + i, true);
                    pipe.add_command(cmd);
                    expected.push(reply);
                }
                let got: Vec<Value> = pipe
                    .query(&mut con)
                    .unwrap_or_else(|e| panic!("pipeline at {done}: {e}"));
                assert_eq!(got, expected, "pipeline at {done}");
                done += PIPELINE;
                counts[3] += 1;
            }
        }
    }
    // Every key as the model has it, read back.
    for tag in 0..TAGS {
        let keys = (0..STRINGS)
            .map(|i| string_key(tag, i))
            .chain((0..COUNTERS).map(|i| counter_key(tag, i)));
        for key in keys {
            let mut cmd = redis::cmd("GET");
            cmd.arg(&key);
            assert_eq!(
                query(&mut con, &cmd, "GET"),
                bulk_or_nil(model.keys.get(&key)),
                "final value of {}",
                key.escape_ascii()
            );
            counts[4] += 1;
        }
    }
    // Each kind of operation ran many times, against every primary.
    assert!(counts[..4].iter().all(|&n| n > 1000), "{counts:?}");
    for port in cluster.ports() {
        match crate::process::call(port, &[b"DBSIZE"]) {
            kv_std::client::resp::Value::Int(n) => assert!(n > 0, "node {port} holds no key"),
            other => panic!("DBSIZE answered {other:?}"),
        }
    }
}
