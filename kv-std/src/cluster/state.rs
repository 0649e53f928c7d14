//! What a node knows of its cluster: the nodes, their roles and config epochs, which node owns
//! each slot, and the slots this node is moving. It is written as `CLUSTER NODES` text, which is
//! also the form of the config file and of the views nodes exchange.

use kv_nostd::keyslot::SLOTS;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a forgotten node stays out of the views this node accepts (Redis's 60 s).
pub const FORGET_BAN: Duration = Duration::from_secs(60);

/// Redis's cluster bus port is the client port plus this; kv has no bus, but tools parse the
/// `@port` of `CLUSTER NODES`, so it is shown.
pub const BUS_PORT_OFFSET: u32 = 10_000;

/// One node of the cluster, as this node knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 40 hex digits.
    pub id: Arc<str>,
    /// Its address; empty until known.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// A primary (`master`), or a replica of `primary`.
    pub primary: Option<Arc<str>>,
    /// The epoch its slots were claimed at; a replica shows its primary's.
    pub config_epoch: u64,
    /// When this node last asked it (milliseconds since the epoch; 0: no request waits).
    pub ping_sent: u64,
    /// When this node last heard from it (milliseconds since the epoch).
    pub pong_recv: u64,
    /// Whether the last exchange with it succeeded.
    pub link_up: bool,
    /// It has not answered within the node timeout (`fail?`).
    pub pfail: bool,
}

impl Node {
    /// A primary with no slots, at `ip:port`.
    pub fn new(id: Arc<str>, ip: String, port: u16) -> Self {
        Self {
            id,
            ip,
            port,
            primary: None,
            config_epoch: 0,
            ping_sent: 0,
            pong_recv: 0,
            link_up: false,
            pfail: false,
        }
    }

    /// Whether it is a primary.
    pub fn is_primary(&self) -> bool {
        self.primary.is_none()
    }
}

/// The cluster as this node sees it.
#[derive(Clone, Debug)]
pub struct State {
    /// This node's id.
    pub myself: Arc<str>,
    /// The highest epoch this node has seen.
    pub current_epoch: u64,
    /// Kept for the config file's `vars` line; kv holds no elections.
    pub last_vote_epoch: u64,
    /// Every known node, this one included.
    pub nodes: BTreeMap<Arc<str>, Node>,
    /// The primary that owns each slot.
    pub owner: Vec<Option<Arc<str>>>,
    /// Slots this node is moving away, and to which node.
    pub migrating: BTreeMap<u16, Arc<str>>,
    /// Slots this node is taking in, and from which node.
    pub importing: BTreeMap<u16, Arc<str>>,
    /// Nodes removed with `CLUSTER FORGET`, and until when views naming them are ignored.
    pub forgotten: HashMap<Arc<str>, Instant>,
    /// Addresses `CLUSTER MEET` named that have not answered yet.
    pub meets: Vec<(String, u16)>,
}

impl State {
    /// A cluster of one node, `myself`, with no slots.
    pub fn new(myself: Arc<str>, ip: String, port: u16) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            Arc::clone(&myself),
            Node::new(Arc::clone(&myself), ip, port),
        );
        Self {
            myself,
            current_epoch: 0,
            last_vote_epoch: 0,
            nodes,
            owner: vec![None; usize::from(SLOTS)],
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            forgotten: HashMap::new(),
            meets: Vec::new(),
        }
    }

    /// This node.
    pub fn me(&self) -> &Node {
        &self.nodes[&self.myself]
    }

    /// This node, to change.
    pub fn me_mut(&mut self) -> &mut Node {
        self.nodes
            .get_mut(&self.myself)
            .expect("a cluster state always holds its own node")
    }

    /// The node whose id is `id`.
    pub fn node(&self, id: &[u8]) -> Option<&Node> {
        let id = std::str::from_utf8(id).ok()?;
        self.nodes.get(id)
    }

    /// The primary this node's data belongs to: itself, or the one it replicates.
    pub fn my_primary(&self) -> Option<&Node> {
        match &self.me().primary {
            None => Some(self.me()),
            Some(p) => self.nodes.get(p),
        }
    }

    /// The config epoch a node shows: its own, or its primary's for a replica.
    pub fn shown_epoch(&self, node: &Node) -> u64 {
        match &node.primary {
            Some(p) => self
                .nodes
                .get(p)
                .map_or(node.config_epoch, |p| p.config_epoch),
            None => node.config_epoch,
        }
    }

    /// The slots `id` owns, as ranges of consecutive slots.
    pub fn ranges_of(&self, id: &str) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for (slot, owner) in self.owner.iter().enumerate() {
            if owner.as_deref() == Some(id) {
                let slot = slot as u16;
                match ranges.last_mut() {
                    Some((_, end)) if *end + 1 == slot => *end = slot,
                    _ => ranges.push((slot, slot)),
                }
            }
        }
        ranges
    }

    /// Slots with an owner.
    pub fn assigned(&self) -> usize {
        self.owner.iter().filter(|o| o.is_some()).count()
    }

    /// Primaries that own at least one slot (`cluster_size`).
    pub fn size(&self) -> usize {
        let mut owners: Vec<&str> = self.owner.iter().flatten().map(|o| &**o).collect();
        owners.sort_unstable();
        owners.dedup();
        owners.len()
    }

    /// The replicas of primary `id`.
    pub fn replicas_of<'s>(&'s self, id: &'s str) -> impl Iterator<Item = &'s Node> + 's {
        self.nodes
            .values()
            .filter(move |n| n.primary.as_deref() == Some(id))
    }

    /// Gives every slot `from` owns to `to`.
    pub fn move_slots(&mut self, from: &str, to: &Arc<str>) {
        for owner in self.owner.iter_mut() {
            if owner.as_deref() == Some(from) {
                *owner = Some(Arc::clone(to));
            }
        }
    }

    /// Removes node `id` and every slot it owns.
    pub fn remove(&mut self, id: &str) {
        self.nodes.remove(id);
        for owner in self.owner.iter_mut() {
            if owner.as_deref() == Some(id) {
                *owner = None;
            }
        }
        self.migrating.retain(|_, to| &**to != id);
        self.importing.retain(|_, from| &**from != id);
        for node in self.nodes.values_mut() {
            if node.primary.as_deref() == Some(id) {
                // Its replicas are primaries of nothing until told otherwise.
                node.primary = None;
            }
        }
    }

    /// Every owner's slots, as ranges, in one pass over the slots.
    pub fn all_ranges(&self) -> HashMap<&str, Vec<(u16, u16)>> {
        // Runs of one owner first (a comparison per slot), then grouped (a lookup per run).
        let mut runs: Vec<(&str, u16, u16)> = Vec::new();
        for (slot, owner) in self.owner.iter().enumerate() {
            let Some(owner) = owner else { continue };
            let slot = slot as u16;
            match runs.last_mut() {
                Some((id, _, end)) if *end + 1 == slot && *id == &**owner => *end = slot,
                _ => runs.push((owner, slot, slot)),
            }
        }
        let mut ranges: HashMap<&str, Vec<(u16, u16)>> = HashMap::new();
        for (id, start, end) in runs {
            ranges.entry(id).or_default().push((start, end));
        }
        ranges
    }

    /// One line of `CLUSTER NODES` for `node`, ending in `\n`: with this node's migrating and
    /// importing slots on its own line.
    pub fn node_line(&self, node: &Node, out: &mut String) {
        self.node_line_with(node, &self.ranges_of(&node.id), out);
    }

    /// [`State::node_line`] with the node's slot ranges given.
    fn node_line_with(&self, node: &Node, ranges: &[(u16, u16)], out: &mut String) {
        let mut flags = Vec::new();
        if node.id == self.myself {
            flags.push("myself");
        }
        flags.push(if node.is_primary() { "master" } else { "slave" });
        if node.pfail && node.id != self.myself {
            flags.push("fail?");
        }
        if node.ip.is_empty() && node.id != self.myself {
            flags.push("noaddr");
        }
        let cport = u32::from(node.port) + BUS_PORT_OFFSET;
        let _ = write!(
            out,
            "{} {}:{}@{} {} {} {} {} {} {}",
            node.id,
            node.ip,
            node.port,
            cport,
            flags.join(","),
            node.primary.as_deref().unwrap_or("-"),
            node.ping_sent,
            node.pong_recv,
            self.shown_epoch(node),
            if node.link_up || node.id == self.myself {
                "connected"
            } else {
                "disconnected"
            },
        );
        for &(start, end) in ranges {
            if start == end {
                let _ = write!(out, " {start}");
            } else {
                let _ = write!(out, " {start}-{end}");
            }
        }
        if node.id == self.myself {
            for (slot, to) in &self.migrating {
                let _ = write!(out, " [{slot}->-{to}]");
            }
            for (slot, from) in &self.importing {
                let _ = write!(out, " [{slot}-<-{from}]");
            }
        }
        out.push('\n');
    }

    /// `CLUSTER NODES`: this node first, then the others by id.
    pub fn nodes_text(&self) -> String {
        let ranges = self.all_ranges();
        let none = Vec::new();
        let mut out = String::new();
        let me = self.me();
        self.node_line_with(me, ranges.get(&*me.id).unwrap_or(&none), &mut out);
        for node in self.nodes.values().filter(|n| n.id != self.myself) {
            self.node_line_with(node, ranges.get(&*node.id).unwrap_or(&none), &mut out);
        }
        out
    }

    /// The config file: the nodes, then the epochs.
    pub fn config_text(&self) -> String {
        self.text_with(self.nodes_text())
    }

    /// The view sent to other nodes: the config file without times and link states, which
    /// change all the time and mean nothing to another node, so a view changes only when the
    /// cluster does.
    pub fn view_text(&self) -> String {
        let mut plain = self.clone();
        for node in plain.nodes.values_mut() {
            node.ping_sent = 0;
            node.pong_recv = 0;
            node.link_up = true;
            node.pfail = false;
        }
        self.text_with(plain.nodes_text())
    }

    /// `nodes` and the epochs' line.
    fn text_with(&self, nodes: String) -> String {
        let mut out = nodes;
        let _ = writeln!(
            out,
            "vars currentEpoch {} lastVoteEpoch {}",
            self.current_epoch, self.last_vote_epoch
        );
        out
    }

    /// What the config file keeps apart from the slot owners, which [`State::same_owners`]
    /// compares: a change to either is one to write down. Times and link states, which change
    /// on every exchange, are left out.
    pub fn signature(&self) -> Signature {
        Signature {
            epochs: (self.current_epoch, self.last_vote_epoch),
            nodes: self
                .nodes
                .values()
                .map(|n| {
                    (
                        Arc::clone(&n.id),
                        n.ip.clone(),
                        n.port,
                        n.primary.clone(),
                        n.config_epoch,
                    )
                })
                .collect(),
            migrating: self.migrating.clone(),
            importing: self.importing.clone(),
        }
    }

    /// Reads a config file (or a view another node sent) in the form [`State::config_text`]
    /// writes: the node marked `myself` is this node.
    pub fn parse(text: &str) -> Result<State, String> {
        let mut me: Option<Arc<str>> = None;
        let mut lines = Vec::new();
        let mut current_epoch = 0;
        let mut last_vote_epoch = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"vars") {
                for pair in words[1..].chunks(2) {
                    if let [name, value] = pair {
                        let value = value
                            .parse()
                            .map_err(|_| format!("bad value in '{line}'"))?;
                        match *name {
                            "currentEpoch" => current_epoch = value,
                            "lastVoteEpoch" => last_vote_epoch = value,
                            _ => {}
                        }
                    }
                }
                continue;
            }
            let parsed = NodeLine::parse(line)?;
            if parsed.myself {
                me = Some(Arc::clone(&parsed.node.id));
            }
            lines.push(parsed);
        }
        let me = me.ok_or("no node is marked myself")?;
        let mut state = State::new(Arc::clone(&me), String::new(), 0);
        state.nodes.clear();
        state.current_epoch = current_epoch;
        state.last_vote_epoch = last_vote_epoch;
        for line in lines {
            for &(start, end) in &line.slots {
                for slot in start..=end {
                    state.owner[usize::from(slot)] = Some(Arc::clone(&line.node.id));
                }
            }
            if line.myself {
                state.migrating.extend(line.migrating);
                state.importing.extend(line.importing);
            }
            state.nodes.insert(Arc::clone(&line.node.id), line.node);
        }
        Ok(state)
    }
}

/// A node as [`State::signature`] compares it: id, address, port, primary, config epoch.
type NodeSignature = (Arc<str>, String, u16, Option<Arc<str>>, u64);

/// See [`State::signature`].
#[derive(Debug, PartialEq, Eq)]
pub struct Signature {
    epochs: (u64, u64),
    nodes: Vec<NodeSignature>,
    migrating: BTreeMap<u16, Arc<str>>,
    importing: BTreeMap<u16, Arc<str>>,
}

/// One parsed line of `CLUSTER NODES`.
#[derive(Debug)]
pub struct NodeLine {
    /// The node (its link state as the line says).
    pub node: Node,
    /// The line is marked `myself`.
    pub myself: bool,
    /// Its slots, as ranges.
    pub slots: Vec<(u16, u16)>,
    /// `[slot->-id]` markers.
    pub migrating: Vec<(u16, Arc<str>)>,
    /// `[slot-<-id]` markers.
    pub importing: Vec<(u16, Arc<str>)>,
}

impl NodeLine {
    /// Parses `<id> <ip>:<port>@<cport> <flags> <primary|-> <ping> <pong> <epoch> <link>
    /// <slots...>`.
    pub fn parse(line: &str) -> Result<NodeLine, String> {
        let bad = || format!("bad node line '{line}'");
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 8 {
            return Err(bad());
        }
        let id = words[0];
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let addr = words[1].split(',').next().unwrap_or_default();
        let addr = addr.split('@').next().unwrap_or_default();
        let (ip, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let flags: Vec<&str> = words[2].split(',').collect();
        let primary = match words[3] {
            "-" => None,
            p if p.len() == 40 => Some(Arc::from(p)),
            _ => return Err(bad()),
        };
        let number = |w: &str| w.parse::<u64>().map_err(|_| bad());
        let mut node = Node::new(Arc::from(id), ip.to_string(), port);
        node.primary = if flags.contains(&"slave") {
            primary
        } else {
            None
        };
        node.ping_sent = number(words[4])?;
        node.pong_recv = number(words[5])?;
        node.config_epoch = number(words[6])?;
        node.link_up = words[7] == "connected";
        node.pfail = flags.contains(&"fail?") || flags.contains(&"fail");
        let mut parsed = NodeLine {
            node,
            myself: flags.contains(&"myself"),
            slots: Vec::new(),
            migrating: Vec::new(),
            importing: Vec::new(),
        };
        for word in &words[8..] {
            if let Some(marker) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
                if let Some((slot, to)) = marker.split_once("->-") {
                    parsed
                        .migrating
                        .push((slot_number(slot).ok_or_else(bad)?, Arc::from(to)));
                } else if let Some((slot, from)) = marker.split_once("-<-") {
                    parsed
                        .importing
                        .push((slot_number(slot).ok_or_else(bad)?, Arc::from(from)));
                } else {
                    return Err(bad());
                }
                continue;
            }
            let (start, end) = match word.split_once('-') {
                Some((a, b)) => (slot_number(a), slot_number(b)),
                None => (slot_number(word), slot_number(word)),
            };
            match (start, end) {
                (Some(s), Some(e)) if s <= e => parsed.slots.push((s, e)),
                _ => return Err(bad()),
            }
        }
        Ok(parsed)
    }
}

/// A slot number, if `text` is one below 16384.
pub fn slot_number(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|&s| s < SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> Arc<str> {
        Arc::from(c.to_string().repeat(40))
    }

    #[test]
    fn the_config_text_reads_back_to_the_same_state() {
        let mut state = State::new(id('a'), "127.0.0.1".into(), 7000);
        state.current_epoch = 7;
        state.me_mut().config_epoch = 3;
        let mut b = Node::new(id('b'), "127.0.0.1".into(), 7001);
        b.config_epoch = 5;
        b.link_up = true;
        // The file shows this node connected, and a replica with its primary's epoch: the
        // state compared afterwards says the same.
        state.me_mut().link_up = true;
        let mut c = Node::new(id('c'), "127.0.0.1".into(), 7002);
        c.primary = Some(id('a'));
        c.config_epoch = 3;
        state.nodes.insert(id('b'), b);
        state.nodes.insert(id('c'), c);
        for slot in (0..100).chain([200]) {
            state.owner[slot] = Some(id('a'));
        }
        for slot in (101..200).chain(201..=16383) {
            state.owner[slot] = Some(id('b'));
        }
        state.migrating.insert(5, id('b'));
        state.importing.insert(300, id('b'));
        let text = state.config_text();
        assert!(
            text.starts_with(&format!(
            "{} 127.0.0.1:7000@17000 myself,master - 0 0 3 connected 0-99 200 [5->-{}] [300-<-{}]\n",
            id('a'),
            id('b'),
            id('b')
        )));
        assert!(text.contains(&format!(
            "{} 127.0.0.1:7002@17002 slave {} 0 0 3 disconnected\n",
            id('c'),
            id('a')
        )));
        assert!(text.ends_with("vars currentEpoch 7 lastVoteEpoch 0\n"));
        let back = State::parse(&text).unwrap();
        assert_eq!(back.myself, state.myself);
        assert_eq!(back.current_epoch, 7);
        assert_eq!(back.owner, state.owner);
        assert_eq!(back.migrating, state.migrating);
        assert_eq!(back.importing, state.importing);
        assert_eq!(back.nodes, state.nodes);
    }

    #[test]
    fn a_line_from_redis_parses() {
        let line = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,hostname1 \
                    myself,master - 0 0 1 connected 0-5460";
        let parsed = NodeLine::parse(line).unwrap();
        assert!(parsed.myself);
        assert_eq!(parsed.node.port, 30001);
        assert_eq!(parsed.node.ip, "127.0.0.1");
        assert_eq!(parsed.slots, vec![(0, 5460)]);
        assert!(NodeLine::parse("abc 1.2.3.4:5@6 master - 0 0 0 connected").is_err());
        assert!(NodeLine::parse(&line.replace("0-5460", "0-16384")).is_err());
    }
}
