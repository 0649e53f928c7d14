//! A client of a Redis Cluster (kv-servers or redis-servers in cluster mode): each command goes
//! to the primary owning its key's slot, and the cluster's redirections are followed.
//!
//! The slot map (16384 slots, each to a primary) is read with `CLUSTER SLOTS` from the first
//! seed that answers with every slot served, then from any node known (failing that, the answer
//! serving the most slots is taken). A key's slot is
//! [`key_slot`]: CRC16 of the key, or of its hash tag. The replies
//! that redirect, as Redis sends them (R70 `cluster.c` `clusterRedirectClient`), and what the
//! client does:
//!
//! - `-MOVED <slot> <host>:<port>`: the slot has a new owner. The whole map is read again, the
//!   slot is given to the node named (the redirection is newer than any map a lagging node may
//!   have answered) and the command is sent there.
//! - `-ASK <slot> <host>:<port>`: the slot is being migrated and the key is not on its owner.
//!   `ASKING` and then the command go to the node named; the map is left as it is.
//! - `-TRYAGAIN` (a multi-key command in a slot half migrated) and `-CLUSTERDOWN`: the client
//!   waits the [`RetryPolicy`](super::RetryPolicy)'s backoff and sends again, reading the map
//!   again after `CLUSTERDOWN`.
//!
//! A command is redirected at most [`MAX_REDIRECTIONS`] times (redis-py's
//! `RedisClusterRequestTTL`); past that it fails, naming the last redirection. A node that
//! cannot be reached is retried with the retry policy, the map being read again before each
//! retry (its slots may have gone to a replica). As with [`Routed`](super::Routed), only
//! commands that are safe to apply twice (`GET`, `SET`, `DEL`, reads) should be sent.
//!
//! An empty endpoint, in `CLUSTER SLOTS` or in a redirection, means the host of the node that
//! answered (a node that does not know its own address), as redis-cli and redis-rs read it; a
//! node whose endpoint is `?` (a hostname asked for and not set) cannot be reached and is left
//! out of the map.

use super::resp::{CallError, RespConn, Value};
use super::{ClientConfig, Error, ProtocolError};
use kv_nostd::keyslot::{key_slot, SLOTS};
use std::collections::BTreeSet;
use std::io;

/// Redirections (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`) followed for one command before it
/// fails: redis-py's `RedisClusterRequestTTL`.
pub const MAX_REDIRECTIONS: u32 = 16;

/// A node's host and port.
pub type Addr = (String, u16);

/// One range of a `CLUSTER SLOTS` answer: slots `start..=end` and the nodes serving them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    /// The first slot.
    pub start: u16,
    /// The last slot (included).
    pub end: u16,
    /// The primary, which takes the commands.
    pub primary: Addr,
    /// The replicas listed, reachable ones only.
    pub replicas: Vec<Addr>,
}

/// A node in a `CLUSTER SLOTS` answer: `[endpoint, port, id, {metadata}]`; `None` for one that
/// cannot be reached (endpoint `?`).
fn slot_node(node: &Value, answered: &str) -> Result<Option<Addr>, String> {
    let Value::Array(parts) = node else {
        return Err(format!("a node is {node:?}, not an array"));
    };
    let host = match parts.first() {
        Some(Value::Bulk(h) | Value::Simple(h)) if h == b"?" => return Ok(None),
        Some(Value::Bulk(h) | Value::Simple(h)) if h.is_empty() => answered.to_string(),
        Some(Value::Bulk(h) | Value::Simple(h)) => String::from_utf8_lossy(h).into_owned(),
        Some(Value::Null) => answered.to_string(),
        other => return Err(format!("a node's endpoint is {other:?}")),
    };
    match parts.get(1) {
        Some(&Value::Int(port)) => match u16::try_from(port) {
            Ok(port) => Ok(Some((host, port))),
            Err(_) => Err(format!("port {port} is out of range")),
        },
        other => Err(format!("a node's port is {other:?}")),
    }
}

/// The slot ranges of a `CLUSTER SLOTS` answer from a node at host `answered`. Elements after
/// the nodes' port are not read (Redis 7 added the node id's metadata map; clients must take
/// more).
pub fn parse_slots(reply: &Value, answered: &str) -> Result<Vec<SlotRange>, ProtocolError> {
    let bad = |why: String| ProtocolError::UnexpectedReply(format!("CLUSTER SLOTS: {why}"));
    let Value::Array(ranges) = reply else {
        return Err(bad(format!("answered {reply:?}")));
    };
    let slot = |v: Option<&Value>| match v {
        Some(&Value::Int(n)) if (0..i64::from(SLOTS)).contains(&n) => Ok(n as u16),
        other => Err(bad(format!("{other:?} is not a slot"))),
    };
    let mut parsed = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(parts) = range else {
            return Err(bad(format!("a range is {range:?}")));
        };
        let (start, end) = (slot(parts.first())?, slot(parts.get(1))?);
        if end < start {
            return Err(bad(format!("range {start}-{end} ends before it starts")));
        }
        let primary = match parts.get(2) {
            Some(node) => slot_node(node, answered).map_err(bad)?,
            None => return Err(bad(format!("range {start}-{end} has no primary"))),
        };
        let Some(primary) = primary else {
            continue;
        };
        let mut replicas = Vec::new();
        for node in &parts[3..] {
            if let Some(replica) = slot_node(node, answered).map_err(bad)? {
                replicas.push(replica);
            }
        }
        parsed.push(SlotRange {
            start,
            end,
            primary,
            replicas,
        });
    }
    Ok(parsed)
}

/// What an error reply tells a cluster client to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `MOVED <slot> <host>:<port>`: the slot belongs to that node now.
    Moved(u16, Addr),
    /// `ASK <slot> <host>:<port>`: this once, ask that node (after `ASKING`).
    Ask(u16, Addr),
    /// `TRYAGAIN ...`: the keys are between two nodes; send again shortly.
    TryAgain,
    /// `CLUSTERDOWN ...`: the cluster (or the slot) is not served now.
    Down,
}

/// The redirection an error reply (without its `-`) from a node at host `answered` stands for,
/// if it is one. An empty host in `MOVED`/`ASK` is `answered`.
pub fn redirect(error: &[u8], answered: &str) -> Option<Redirect> {
    let text = std::str::from_utf8(error).ok()?;
    let mut words = text.split(' ');
    let kind = words.next()?;
    match kind {
        "TRYAGAIN" => return Some(Redirect::TryAgain),
        "CLUSTERDOWN" => return Some(Redirect::Down),
        "MOVED" | "ASK" => {}
        _ => return None,
    }
    let slot: u16 = words.next()?.parse().ok().filter(|&s| s < SLOTS)?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { answered } else { host };
    let addr = (host.to_string(), port);
    Some(if kind == "MOVED" {
        Redirect::Moved(slot, addr)
    } else {
        Redirect::Ask(slot, addr)
    })
}

/// How often a [`Cluster`] was redirected, since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redirections {
    /// `MOVED` replies followed.
    pub moved: u64,
    /// `ASK` replies followed.
    pub asked: u64,
    /// `TRYAGAIN` and `CLUSTERDOWN` replies waited out.
    pub waited: u64,
}

/// A node the client has heard of, and its connection once opened.
struct Node {
    addr: Addr,
    conn: Option<RespConn>,
}

/// Where a command goes next.
#[derive(Clone, Copy)]
enum Target {
    /// The owner of the slot, by the map.
    Owner,
    /// This node, which a `MOVED` named.
    Node(usize),
    /// This node, after `ASKING`.
    Asking(usize),
}

/// A client of a Redis Cluster over the Redis protocol. Not shared between threads.
pub struct Cluster {
    config: ClientConfig,
    seeds: Vec<Addr>,
    nodes: Vec<Node>,
    /// The node owning each slot (an index into `nodes`), if any: `SLOTS` entries once read.
    slots: Vec<Option<usize>>,
    redirections: Redirections,
}

fn addr_text((host, port): &Addr) -> String {
    ClientConfig::new(host.clone(), *port).addr()
}

impl Cluster {
    /// A client of the cluster `seeds` belong to, with `config`'s timeouts, retry policy and
    /// password (its own host and port are not used). Reads the slot map on its first call.
    pub fn new(seeds: Vec<Addr>, config: ClientConfig) -> Self {
        Self {
            config,
            seeds,
            nodes: Vec::new(),
            slots: Vec::new(),
            redirections: Redirections::default(),
        }
    }

    /// The redirections followed so far.
    pub fn redirections(&self) -> Redirections {
        self.redirections
    }

    /// The primary owning `slot` by the map as last read (reading it if it never was).
    pub fn owner(&mut self, slot: u16) -> Result<Option<Addr>, Error> {
        self.ensure_map()?;
        Ok(self.slots[usize::from(slot)].map(|i| self.nodes[i].addr.clone()))
    }

    /// The primaries that own at least one slot, in the order of their first slot.
    pub fn primaries(&mut self) -> Result<Vec<Addr>, Error> {
        self.ensure_map()?;
        let mut seen = Vec::new();
        for i in self.slots.iter().flatten() {
            if !seen.contains(i) {
                seen.push(*i);
            }
        }
        Ok(seen
            .into_iter()
            .map(|i| self.nodes[i].addr.clone())
            .collect())
    }

    fn ensure_map(&mut self) -> Result<(), Error> {
        if self.slots.is_empty() {
            self.refresh()?;
        }
        Ok(())
    }

    /// The index of the node at `addr`, added if it is new.
    fn node(&mut self, addr: Addr) -> usize {
        match self.nodes.iter().position(|n| n.addr == addr) {
            Some(i) => i,
            None => {
                self.nodes.push(Node { addr, conn: None });
                self.nodes.len() - 1
            }
        }
    }

    /// The connection to node `i`, opened if it is not.
    fn conn(&mut self, i: usize) -> Result<&mut RespConn, CallError> {
        let node = &mut self.nodes[i];
        if node.conn.is_none() {
            node.conn = Some(RespConn::open(&node.addr.0, node.addr.1, &self.config)?);
        }
        Ok(node.conn.as_mut().expect("opened above"))
    }

    /// Reads the slot map again with `CLUSTER SLOTS`, from the seeds in order and then the other
    /// nodes known, until one answers with every slot served; failing that, the answer serving
    /// the most slots is taken.
    pub fn refresh(&mut self) -> Result<(), Error> {
        let mut candidates = self.seeds.clone();
        for node in &self.nodes {
            if !candidates.contains(&node.addr) {
                candidates.push(node.addr.clone());
            }
        }
        let mut unreachable = None;
        let mut refused = None;
        // The map serving the most slots, if none serves them all.
        let mut partial: Option<(usize, Vec<Option<usize>>)> = None;
        for addr in candidates {
            let i = self.node(addr.clone());
            let answer = self
                .conn(i)
                .and_then(|conn| conn.call(&[b"CLUSTER", b"SLOTS"]));
            let reply = match answer {
                Ok(Value::Error(e)) => {
                    refused = Some(format!(
                        "{}: CLUSTER SLOTS answered -{}",
                        addr_text(&addr),
                        String::from_utf8_lossy(&e)
                    ));
                    continue;
                }
                Ok(reply) => reply,
                Err(e) => {
                    self.nodes[i].conn = None;
                    unreachable = Some((addr, e));
                    continue;
                }
            };
            let ranges = match parse_slots(&reply, &addr.0) {
                Ok(ranges) => ranges,
                Err(e) => {
                    refused = Some(format!("{}: {e}", addr_text(&addr)));
                    continue;
                }
            };
            let mut slots = vec![None; usize::from(SLOTS)];
            for range in ranges {
                let owner = self.node(range.primary);
                for slot in range.start..=range.end {
                    slots[usize::from(slot)] = Some(owner);
                }
            }
            let served = slots.iter().flatten().count();
            if served == usize::from(SLOTS) {
                self.slots = slots;
                return Ok(());
            }
            // A node that has not joined yet, or a cluster short of a shard: another node may
            // know more.
            if partial.as_ref().is_none_or(|(best, _)| served > *best) {
                partial = Some((served, slots));
            }
        }
        if let Some((_, slots)) = partial {
            self.slots = slots;
            return Ok(());
        }
        Err(match (refused, unreachable) {
            (Some(why), _) => Error::Redis(why),
            (None, Some((addr, e))) => Error::Unreachable {
                addr: addr_text(&addr),
                source: call_io_error(e),
                retries: 0,
            },
            (None, None) => Error::Unreachable {
                addr: String::new(),
                source: io::Error::new(io::ErrorKind::NotFound, "no seed node given"),
                retries: 0,
            },
        })
    }

    /// Sends a command whose key is `args[1]` to the primary owning the key's slot, following
    /// redirections; an error reply is returned as [`Error::Redis`].
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        self.call_routed(args)?.into_result()
    }

    /// [`Cluster::call`], with an error reply (other than a redirection) returned as a value.
    fn call_routed(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        let key = args.get(1).ok_or_else(|| {
            Error::Redis(format!(
                "ERR {} has no key to route it by",
                String::from_utf8_lossy(args.first().copied().unwrap_or(b""))
            ))
        })?;
        self.call_slot(key_slot(key), args)
    }

    fn call_slot(&mut self, slot: u16, args: &[&[u8]]) -> Result<Value, Error> {
        self.ensure_map()?;
        let mut target = Target::Owner;
        let (mut redirected, mut failures, mut waits) = (0u32, 0u32, 0u32);
        loop {
            let (i, asking) = match target {
                Target::Owner => match self.slots[usize::from(slot)] {
                    Some(i) => (i, false),
                    None => {
                        // As the cluster would answer for a slot no node serves.
                        let last = format!("CLUSTERDOWN Hash slot {slot} not served by any node");
                        if redirected >= MAX_REDIRECTIONS {
                            return Err(self.gave_up(&last, redirected));
                        }
                        redirected += 1;
                        self.wait(&mut waits);
                        let _ = self.refresh();
                        continue;
                    }
                },
                Target::Node(i) => (i, false),
                Target::Asking(i) => (i, true),
            };
            target = Target::Owner;
            let answer = self.conn(i).and_then(|conn| {
                if asking {
                    conn.send(&[b"ASKING"])?;
                    conn.send(args)?;
                    let ok = conn.receive()?;
                    let reply = conn.receive()?;
                    Ok(match ok {
                        Value::Error(e) => Value::Error(e),
                        _ => reply,
                    })
                } else {
                    conn.call(args)
                }
            });
            let error = match answer {
                Ok(Value::Error(e)) => e,
                Ok(reply) => return Ok(reply),
                Err(CallError::Protocol(e)) => {
                    self.nodes[i].conn = None;
                    return Err(Error::Protocol(e));
                }
                Err(e) => {
                    self.nodes[i].conn = None;
                    if failures >= self.config.retry.retries {
                        return Err(Error::Unreachable {
                            addr: addr_text(&self.nodes[i].addr),
                            source: call_io_error(e),
                            retries: failures,
                        });
                    }
                    std::thread::sleep(self.config.retry.backoff(failures));
                    failures += 1;
                    // The node may be gone and its slots served by another.
                    let _ = self.refresh();
                    continue;
                }
            };
            let Some(redirect) = redirect(&error, &self.nodes[i].addr.0) else {
                return Ok(Value::Error(error));
            };
            let last = String::from_utf8_lossy(&error).into_owned();
            if redirected >= MAX_REDIRECTIONS {
                return Err(self.gave_up(&last, redirected));
            }
            redirected += 1;
            match redirect {
                Redirect::Moved(moved, addr) => {
                    self.redirections.moved += 1;
                    // The map read now may still be older than the redirection.
                    let _ = self.refresh();
                    let to = self.node(addr);
                    if self.slots.is_empty() {
                        self.slots = vec![None; usize::from(SLOTS)];
                    }
                    self.slots[usize::from(moved)] = Some(to);
                    target = Target::Node(to);
                }
                Redirect::Ask(_, addr) => {
                    self.redirections.asked += 1;
                    target = Target::Asking(self.node(addr));
                }
                Redirect::TryAgain => {
                    self.redirections.waited += 1;
                    self.wait(&mut waits);
                }
                Redirect::Down => {
                    self.redirections.waited += 1;
                    self.wait(&mut waits);
                    let _ = self.refresh();
                }
            }
        }
    }

    /// Waits before sending again after `TRYAGAIN` or `CLUSTERDOWN`, longer each time.
    fn wait(&self, waits: &mut u32) {
        std::thread::sleep(self.config.retry.backoff(*waits));
        *waits += 1;
    }

    fn gave_up(&self, last: &str, redirected: u32) -> Error {
        Error::Redis(format!(
            "{last} (still redirected after {redirected} redirections; giving up)"
        ))
    }

    /// Sends many commands, each with its key at `args[1]`, pipelined to each key's primary,
    /// and returns their replies in order, error replies as [`Value::Error`]. A command
    /// redirected, or cut off by a failed connection, is sent again on its own as
    /// [`Cluster::call`] sends it.
    pub fn call_many(&mut self, commands: &[&[&[u8]]]) -> Result<Vec<Value>, Error> {
        self.ensure_map()?;
        let mut replies: Vec<Option<Value>> = vec![None; commands.len()];
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (n, args) in commands.iter().enumerate() {
            let Some(key) = args.get(1) else {
                continue;
            };
            let Some(i) = self.slots[usize::from(key_slot(key))] else {
                continue;
            };
            match groups.iter_mut().find(|(node, _)| *node == i) {
                Some((_, group)) => group.push(n),
                None => groups.push((i, vec![n])),
            }
        }
        let mut redirected = false;
        for (i, group) in groups {
            let host = self.nodes[i].addr.0.clone();
            let sent = self.conn(i).and_then(|conn| {
                for &n in &group {
                    conn.send(commands[n])?;
                }
                for &n in &group {
                    let reply = conn.receive()?;
                    match &reply {
                        Value::Error(e) if redirect(e, &host).is_some() => redirected = true,
                        _ => replies[n] = Some(reply),
                    }
                }
                Ok(())
            });
            match sent {
                Ok(()) => {}
                Err(CallError::Protocol(e)) => {
                    self.nodes[i].conn = None;
                    return Err(Error::Protocol(e));
                }
                // The commands left unanswered are sent again one by one, with retries.
                Err(_) => self.nodes[i].conn = None,
            }
        }
        if redirected {
            let _ = self.refresh();
        }
        replies
            .into_iter()
            .zip(commands)
            .map(|(reply, args)| match reply {
                Some(reply) => Ok(reply),
                None => self.call_routed(args),
            })
            .collect()
    }

    /// Runs `attempt` on a connection to the node at `addr`, retrying after connection failures
    /// with the retry policy: for commands that name no key (`PING`, `SCAN`).
    pub fn on_node<T>(
        &mut self,
        addr: &Addr,
        mut attempt: impl FnMut(&mut RespConn) -> Result<T, CallError>,
    ) -> Result<T, Error> {
        let i = self.node(addr.clone());
        let mut failures = 0u32;
        loop {
            match self.conn(i).and_then(&mut attempt) {
                Ok(v) => return Ok(v),
                Err(CallError::Protocol(e)) => {
                    self.nodes[i].conn = None;
                    return Err(Error::Protocol(e));
                }
                Err(e) => {
                    self.nodes[i].conn = None;
                    if failures >= self.config.retry.retries {
                        return Err(Error::Unreachable {
                            addr: addr_text(addr),
                            source: call_io_error(e),
                            retries: failures,
                        });
                    }
                    std::thread::sleep(self.config.retry.backoff(failures));
                    failures += 1;
                }
            }
        }
    }

    /// Every key of every primary, found with `SCAN` on each. A key is in the set whichever
    /// node holds it; reading it with [`Cluster::call`] asks its slot's owner, so a key left on
    /// a node that no longer owns its slot reads as that owner has it.
    pub fn keys(&mut self) -> Result<BTreeSet<Vec<u8>>, Error> {
        let mut keys = BTreeSet::new();
        for addr in self.primaries()? {
            let mut cursor = b"0".to_vec();
            loop {
                let reply = self.on_node(&addr, |conn| {
                    conn.call(&[b"SCAN", &cursor, b"COUNT", b"1000"])
                })?;
                let Value::Array(parts) = &reply else {
                    return Err(reply.unexpected("SCAN"));
                };
                let (Some(Value::Bulk(next)), Some(Value::Array(found))) =
                    (parts.first(), parts.get(1))
                else {
                    return Err(reply.unexpected("SCAN"));
                };
                for key in found {
                    if let Value::Bulk(key) = key {
                        keys.insert(key.clone());
                    }
                }
                cursor.clone_from(next);
                if cursor == b"0" {
                    break;
                }
            }
        }
        Ok(keys)
    }
}

/// A connection-level failure as the I/O error [`Error::Unreachable`] carries.
fn call_io_error(e: CallError) -> io::Error {
    match e {
        CallError::Connection(e) => e,
        CallError::Unavailable(why) => io::Error::other(why),
        CallError::Protocol(e) => io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn node(host: Value, port: i64, id: &str) -> Value {
        Value::Array(vec![host, Value::Int(port), bulk(id), Value::Array(vec![])])
    }

    #[test]
    fn slots_reads_ranges_primaries_and_replicas() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node(bulk("127.0.0.1"), 30001, "a"),
                node(bulk("127.0.0.1"), 30004, "d"),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(10922),
                node(bulk(""), 30002, "b"),
            ]),
            // Redis 6's short form: no id, no metadata.
            Value::Array(vec![
                Value::Int(10923),
                Value::Int(16383),
                Value::Array(vec![Value::Null, Value::Int(30003)]),
                node(bulk("?"), 30006, "f"),
            ]),
        ]);
        let ranges = parse_slots(&reply, "10.1.2.3").unwrap();
        let addr = |h: &str, p| (h.to_string(), p);
        assert_eq!(
            ranges,
            [
                SlotRange {
                    start: 0,
                    end: 5460,
                    primary: addr("127.0.0.1", 30001),
                    replicas: vec![addr("127.0.0.1", 30004)],
                },
                SlotRange {
                    start: 5461,
                    end: 10922,
                    primary: addr("10.1.2.3", 30002),
                    replicas: vec![],
                },
                SlotRange {
                    start: 10923,
                    end: 16383,
                    primary: addr("10.1.2.3", 30003),
                    replicas: vec![],
                },
            ]
        );
    }

    #[test]
    fn a_primary_without_endpoint_drops_its_range_and_bad_shapes_are_named() {
        let unreachable = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(1),
            node(bulk("?"), 1, "a"),
        ])]);
        assert_eq!(parse_slots(&unreachable, "h").unwrap(), []);
        let err = |v: Value| parse_slots(&v, "h").unwrap_err().to_string();
        assert_eq!(
            err(Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Int(16384),
                node(bulk("h"), 1, "a"),
            ])])),
            "unexpected reply: CLUSTER SLOTS: Some(Int(16384)) is not a slot"
        );
        assert_eq!(
            err(Value::Array(vec![Value::Array(vec![
                Value::Int(9),
                Value::Int(3),
                node(bulk("h"), 1, "a"),
            ])])),
            "unexpected reply: CLUSTER SLOTS: range 9-3 ends before it starts"
        );
        assert_eq!(
            err(Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Int(3),
                node(bulk("h"), 70000, "a"),
            ])])),
            "unexpected reply: CLUSTER SLOTS: port 70000 is out of range"
        );
        assert_eq!(
            err(Value::Int(1)),
            "unexpected reply: CLUSTER SLOTS: answered Int(1)"
        );
    }

    #[test]
    fn redirections_are_read_with_the_answering_host_for_an_empty_one() {
        let addr = |h: &str, p| (h.to_string(), p);
        assert_eq!(
            redirect(b"MOVED 3999 127.0.0.1:6381", "x"),
            Some(Redirect::Moved(3999, addr("127.0.0.1", 6381)))
        );
        assert_eq!(
            redirect(b"MOVED 3999 :6380", "10.0.0.7"),
            Some(Redirect::Moved(3999, addr("10.0.0.7", 6380)))
        );
        assert_eq!(
            redirect(b"ASK 16383 ::1:7000", "x"),
            Some(Redirect::Ask(16383, addr("::1", 7000)))
        );
        assert_eq!(
            redirect(
                b"TRYAGAIN Multiple keys request during rehashing of slot",
                "x"
            ),
            Some(Redirect::TryAgain)
        );
        assert_eq!(
            redirect(b"CLUSTERDOWN Hash slot not served", "x"),
            Some(Redirect::Down)
        );
        for not_one in [
            &b"ERR unknown command"[..],
            b"MOVED 16384 h:1",
            b"MOVED 1 h",
            b"MOVED 1 h:port",
            b"ASK",
            b"MOVEDX 1 h:1",
            b"CROSSSLOT Keys in request don't hash to the same slot",
        ] {
            assert_eq!(redirect(not_one, "x"), None, "{}", not_one.escape_ascii());
        }
    }

    /// How a fake node answers a command (not `ASKING`, which it answers itself): given its own
    /// port, its peer's, the arguments, and whether `ASKING` came just before.
    type Answer = fn(u16, u16, &[Vec<u8>], bool) -> String;

    /// A node on `listener` answering with `answer`, for at most 8 connections; each ends when
    /// the client closes it.
    fn serve(listener: TcpListener, peer: u16, answer: Answer) {
        use std::io::{Read, Write};
        let me = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut stream) = stream else {
                    return;
                };
                std::thread::spawn(move || {
                    let limits = kv_nostd::resp::Limits::new(1024, 1024, 1024);
                    let (mut input, mut chunk) = (Vec::new(), [0u8; 4096]);
                    let mut asking = false;
                    loop {
                        while let Ok(Some((request, used))) =
                            kv_nostd::resp::decode_request(&input, &limits)
                        {
                            let args: Vec<Vec<u8>> = request.args().map(<[u8]>::to_vec).collect();
                            input.drain(..used);
                            let reply = if args[0] == b"ASKING" {
                                "+OK\r\n".to_string()
                            } else {
                                answer(me, peer, &args, asking)
                            };
                            asking = args[0] == b"ASKING";
                            if stream.write_all(reply.as_bytes()).is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => input.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
    }

    /// `CLUSTER SLOTS` giving every slot to the node on `port`, its endpoint left empty.
    fn all_slots_to(port: u16) -> String {
        format!("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$0\r\n\r\n:{port}\r\n$2\r\nid\r\n")
    }

    /// Two fake nodes, `a` then `b`, each told the other's port; a client seeded with both.
    fn pair(a: Answer, b: Answer) -> (Cluster, u16, u16) {
        let (la, lb) = (
            TcpListener::bind("127.0.0.1:0").unwrap(),
            TcpListener::bind("127.0.0.1:0").unwrap(),
        );
        let (pa, pb) = (
            la.local_addr().unwrap().port(),
            lb.local_addr().unwrap().port(),
        );
        serve(la, pb, a);
        serve(lb, pa, b);
        let config = ClientConfig {
            retry: super::super::RetryPolicy {
                retries: 0,
                first_backoff: std::time::Duration::from_millis(1),
                max_backoff: std::time::Duration::from_millis(1),
            },
            ..ClientConfig::new("127.0.0.1", 0)
        };
        let seeds = vec![("127.0.0.1".into(), pa), ("127.0.0.1".into(), pb)];
        let client = Cluster::new(seeds, config);
        (client, pa, pb)
    }

    #[test]
    fn ask_goes_to_the_node_named_once_and_moved_mends_the_map() {
        // `a` owns every slot by its own map (never updated), asks for `foo` elsewhere and
        // says `bar`'s slot moved; `b` serves `foo` only after ASKING, and `bar`.
        let (mut client, pa, pb) = pair(
            |me, peer, args, _| match args[0].as_slice() {
                b"CLUSTER" => all_slots_to(me),
                b"GET" if args[1] == b"foo" => format!("-ASK 12182 :{peer}\r\n"),
                b"SET" => format!("-MOVED 5061 127.0.0.1:{peer}\r\n"),
                _ => "$6\r\nfrom-a\r\n".into(),
            },
            |me, peer, args, asking| match args[0].as_slice() {
                b"GET" if asking => "$6\r\nfrom-b\r\n".into(),
                b"SET" => "+OK\r\n".into(),
                _ => format!("-MOVED {} :{peer} (from {me})\r\n", key_slot(&args[1])),
            },
        );
        let b_addr = Some(("127.0.0.1".to_string(), pb));
        assert_eq!(
            client.call(&[b"GET", b"foo"]).unwrap(),
            Value::Bulk(b"from-b".to_vec())
        );
        assert_eq!(
            client.redirections(),
            Redirections {
                moved: 0,
                asked: 1,
                waited: 0
            }
        );
        assert_eq!(client.owner(12182).unwrap(), Some(("127.0.0.1".into(), pa)));
        assert_eq!(
            client.call(&[b"GET", b"baz"]).unwrap(),
            Value::Bulk(b"from-a".to_vec())
        );
        // `bar` is in slot 5061: `a`'s map, read again after the MOVED, still gives it to `a`;
        // the redirection wins.
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(
            client.call(&[b"SET", b"bar", b"1"]).unwrap(),
            Value::Simple(b"OK".to_vec())
        );
        assert_eq!(
            client.redirections(),
            Redirections {
                moved: 1,
                asked: 1,
                waited: 0
            }
        );
        assert_eq!(client.owner(5061).unwrap(), b_addr);
        assert_eq!(
            client.call(&[b"SET", b"bar", b"2"]).unwrap(),
            Value::Simple(b"OK".to_vec())
        );
        assert_eq!(
            client.redirections().moved,
            1,
            "the next command goes to b directly"
        );
        // Pipelined: replies in order, the redirected one sent again on its own.
        let replies = client
            .call_many(&[
                &[b"GET", b"baz"],
                &[b"GET", b"foo"],
                &[b"SET", b"bar", b"3"],
            ])
            .unwrap();
        assert_eq!(
            replies,
            [
                Value::Bulk(b"from-a".to_vec()),
                Value::Bulk(b"from-b".to_vec()),
                Value::Simple(b"OK".to_vec())
            ]
        );
        assert_eq!(
            client.redirections(),
            Redirections {
                moved: 1,
                asked: 2,
                waited: 0
            }
        );
    }

    #[test]
    fn endless_redirections_end_after_sixteen_naming_the_last() {
        let (mut client, _, _) = pair(
            |me, _, args, _| match args[0].as_slice() {
                b"CLUSTER" => all_slots_to(me),
                b"GET" => format!("-MOVED 12182 :{me}\r\n"),
                _ => "-TRYAGAIN Multiple keys request during rehashing of slot\r\n".into(),
            },
            |_, _, _, _| "-ERR unused\r\n".into(),
        );
        let e = client.call(&[b"GET", b"foo"]).unwrap_err();
        let Error::Redis(message) = e else {
            panic!("{e:?}");
        };
        assert!(
            message.ends_with(" (still redirected after 16 redirections; giving up)")
                && message.starts_with("MOVED 12182 :"),
            "{message}"
        );
        assert_eq!(client.redirections().moved, 16);
        let e = client.call(&[b"SET", b"foo", b"1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TRYAGAIN Multiple keys request during rehashing of slot \
             (still redirected after 16 redirections; giving up)"
        );
        assert_eq!(client.redirections().waited, 16);
    }

    #[test]
    fn a_map_serving_every_slot_is_preferred_to_a_partial_one() {
        // `a` has not joined the cluster: it serves nothing. `b` knows the whole map.
        let (mut client, _, pb) = pair(
            |_, _, args, _| match args[0].as_slice() {
                b"CLUSTER" => "*0\r\n".into(),
                _ => "-ERR not here\r\n".into(),
            },
            |me, _, args, _| match args[0].as_slice() {
                b"CLUSTER" => all_slots_to(me),
                _ => "$6\r\nfrom-b\r\n".into(),
            },
        );
        assert_eq!(
            client.call(&[b"GET", b"k"]).unwrap(),
            Value::Bulk(b"from-b".to_vec())
        );
        assert_eq!(client.primaries().unwrap(), [("127.0.0.1".to_string(), pb)]);
    }
}
