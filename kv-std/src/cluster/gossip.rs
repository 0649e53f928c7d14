//! How nodes share their views: over the normal port, with kv's `CLUSTER GOSSIP <view>`, whose
//! reply is the receiver's view. Redis nodes speak a binary bus on a second port; kv nodes need
//! no second port, and tools never see the difference (`CLUSTER NODES` shows Redis's bus port).
//!
//! A view is the sender's `CLUSTER NODES` text with its epochs (the config file's form), after a
//! line telling the receiver the address the sender reached it at. Merging a view:
//! - the sender is the authority on itself: its address, role, primary and config epoch, and
//!   only it (a third party's word on a node may be old);
//! - nodes it knows that the receiver does not are added (a `CLUSTER MEET` on one node thus
//!   introduces every node it knows), except nodes forgotten within the last minute;
//! - the sender's slots are taken where the receiver's owner has a lower config epoch, or none:
//!   per slot the highest epoch wins, so every node converges on one map;
//! - a primary whose every slot went to the sender becomes its replica (Redis does the same), and
//!   so do the replicas of a primary that lost its slots;
//! - two primaries with one config epoch: the one with the smaller id takes a new epoch (Redis's
//!   collision rule), so no two primaries keep the same epoch.
//!
//! Each node sends its view to every node it knows every second, and 50 ms after a change (the
//! changes of those 50 ms together), over connections it keeps.

use super::state::{Node, State};
use super::Cluster;
use crate::client::resp::{RespConn, Value};
use crate::client::ClientConfig;
use crate::db::{unix_ms, Db};
use crate::repl::PrimaryAddr;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often each node is sent this node's view when nothing changes; a change (by a command,
/// or learnt from another node) is sent at once.
const PERIOD: Duration = Duration::from_millis(1000);

/// How long the changes that wake the thread gather before their view is sent.
const GATHER: Duration = Duration::from_millis(50);

/// The first line of a view.
const HEADER: &str = "kv-cluster-view 1";

/// This node's view, for a node reached at `seen_ip` (empty: unknown).
pub fn view_text(cluster: &Cluster, seen_ip: &str) -> String {
    format!("{HEADER}\nyou {seen_ip}\n{}", cluster.view_body())
}

/// A view another node sent: its state (its own node marked `myself`), and the address it says
/// this node has.
pub fn parse_view(text: &str) -> Result<(State, String), String> {
    let mut lines = text.splitn(3, '\n');
    if lines.next() != Some(HEADER) {
        return Err("not a cluster view".into());
    }
    let you = lines
        .next()
        .and_then(|l| l.strip_prefix("you"))
        .ok_or("a cluster view without its 'you' line")?
        .trim()
        .to_string();
    let state = State::parse(lines.next().unwrap_or_default())?;
    Ok((state, you))
}

/// What merging a view changed for this node's replication.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// This node is now a replica of the node at this address.
    pub follow: Option<(String, u16)>,
}

/// Merges `view`, sent by a node this node sees at `peer_ip`, into `state` (module docs).
pub fn merge(state: &mut State, view: &State, you: &str, peer_ip: &str, announce: bool) -> Merged {
    let now = Instant::now();
    state.forgotten.retain(|_, until| *until > now);
    let sender = view.me();
    if state.forgotten.contains_key(&sender.id) || sender.id == state.myself {
        return Merged::default();
    }
    if !you.is_empty() && !announce && state.me().ip != you {
        state.me_mut().ip = you.to_string();
    }
    state.current_epoch = state.current_epoch.max(view.current_epoch);
    let my_primary_before = state.me().primary.clone();
    let owned_before = owned(state, &state.myself.clone());
    let primary_of_mine_before = my_primary_before
        .as_ref()
        .map(|p| owned(state, p))
        .unwrap_or(0);
    // The sender, on its own authority.
    let mut updated = sender.clone();
    if updated.ip.is_empty() {
        updated.ip = peer_ip.to_string();
    }
    updated.link_up = true;
    updated.pfail = false;
    updated.ping_sent = 0;
    updated.pong_recv = unix_ms();
    state
        .meets
        .retain(|(ip, port)| !(*port == updated.port && (ip == &updated.ip || ip == peer_ip)));
    state.nodes.insert(Arc::clone(&updated.id), updated);
    // The nodes it knows.
    for node in view.nodes.values() {
        if node.id == sender.id || node.id == state.myself || state.forgotten.contains_key(&node.id)
        {
            continue;
        }
        match state.nodes.get_mut(&node.id) {
            None => {
                let mut added = Node::new(Arc::clone(&node.id), node.ip.clone(), node.port);
                added.primary = node.primary.clone();
                added.config_epoch = node.config_epoch;
                state.nodes.insert(Arc::clone(&node.id), added);
            }
            // Only a node itself says what it is: a third party's word may be old.
            Some(known) => {
                if known.ip.is_empty() && !node.ip.is_empty() {
                    known.ip.clone_from(&node.ip);
                }
            }
        }
    }
    // The sender's slots: the higher config epoch wins.
    if sender.is_primary() {
        let epoch = sender.config_epoch;
        for slot in 0..state.owner.len() {
            if view.owner[slot].as_ref() != Some(&sender.id) {
                continue;
            }
            let current = state.owner[slot].clone();
            let takes = match &current {
                None => true,
                Some(owner) if *owner == sender.id => false,
                Some(owner) => state
                    .nodes
                    .get(owner)
                    .is_none_or(|o| o.config_epoch < epoch),
            };
            if takes {
                state.owner[slot] = Some(Arc::clone(&sender.id));
                if current.as_ref() == Some(&state.myself) {
                    state.migrating.remove(&(slot as u16));
                }
                state.importing.remove(&(slot as u16));
            }
        }
        // Two primaries with one epoch: the smaller id moves on.
        let me = state.me();
        if me.is_primary() && me.config_epoch == epoch && state.myself < sender.id {
            state.current_epoch = state.current_epoch.max(epoch) + 1;
            let epoch = state.current_epoch;
            state.me_mut().config_epoch = epoch;
            log::info!(
                "config epoch collision with {}: this node takes epoch {epoch}",
                sender.id
            );
        }
    }
    let mut merged = Merged::default();
    let myself = state.myself.clone();
    let sender_addr = (state.nodes[&sender.id].ip.clone(), sender.port);
    if state.me().is_primary() {
        if owned_before > 0 && owned(state, &myself) == 0 && sender.is_primary() {
            // Every slot went to the sender: this node serves it as a replica.
            log::info!(
                "every slot of this node went to {}: replicating it",
                sender.id
            );
            state.me_mut().primary = Some(Arc::clone(&sender.id));
            state.migrating.clear();
            merged.follow = Some(sender_addr);
        }
    } else if let Some(primary) = &my_primary_before {
        if primary_of_mine_before > 0 && owned(state, primary) == 0 && sender.is_primary() {
            log::info!(
                "the primary of this node lost its slots to {}: replicating it",
                sender.id
            );
            state.me_mut().primary = Some(Arc::clone(&sender.id));
            merged.follow = Some(sender_addr);
        }
    }
    merged
}

/// Slots `id` owns.
fn owned(state: &State, id: &Arc<str>) -> usize {
    state
        .owner
        .iter()
        .filter(|o| o.as_ref() == Some(id))
        .count()
}

/// Merges a view received by `CLUSTER GOSSIP` or in its reply, and follows a new primary if the
/// merge made this node a replica.
pub fn receive(cluster: &Cluster, db: &Db, text: &str, peer_ip: &str) -> Result<(), String> {
    cluster.received.fetch_add(1, Ordering::Relaxed);
    // A view the sender sent before changes nothing but the news that it is alive.
    let mut parts = text.splitn(3, '\n');
    let (header, you, nodes) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
    let sender = nodes.split(' ').next().unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&(header, you, nodes), &mut hasher);
    if sender.len() == 40 && cluster.seen_before(sender, std::hash::Hasher::finish(&hasher)) {
        let now = unix_ms();
        cluster.change(|state| {
            if let Some(node) = state.nodes.get_mut(sender) {
                node.link_up = true;
                node.pfail = false;
                node.ping_sent = 0;
                node.pong_recv = now;
            }
            ((), false)
        });
        return Ok(());
    }
    let (view, you) = parse_view(text)?;
    let announce = cluster.flags().cluster_announce_ip.is_some();
    let merged = cluster.change_lazily(|state| {
        let before = state.signature();
        let owners = state.owner.clone();
        let merged = merge(state, &view, &you, peer_ip, announce);
        let keep = state.signature() != before || state.owner != owners;
        ((merged, keep), keep)
    });
    let (merged, changed) = merged;
    if changed {
        // Spread what this node learnt.
        cluster.wake();
    }
    if let Some((host, port)) = merged.follow {
        if let Some(shared) = db.shared() {
            shared
                .repl
                .follow(&shared, Some(PrimaryAddr { host, port }));
        }
    }
    Ok(())
}

/// Starts the thread that sends this node's view to every other node.
pub fn spawn(db: &Arc<Db>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let db = Arc::downgrade(db);
    std::thread::Builder::new()
        .name("kv-cluster".into())
        .spawn(move || run(db))
}

fn run(db: Weak<Db>) {
    let mut links: HashMap<(String, u16), RespConn> = HashMap::new();
    loop {
        let Some(db) = db.upgrade() else { return };
        let Some(cluster) = db.cluster.as_ref() else {
            return;
        };
        if cluster.stop.load(Ordering::Acquire) {
            cluster.save_if_changed();
            return;
        }
        let timeout = Duration::from_millis(cluster.flags().cluster_node_timeout);
        let (targets, meets) = {
            let state = cluster.view();
            let targets: Vec<(Arc<str>, String, u16)> = state
                .nodes
                .values()
                .filter(|n| n.id != state.myself && !n.ip.is_empty())
                .map(|n| (Arc::clone(&n.id), n.ip.clone(), n.port))
                .collect();
            (targets, state.meets.clone())
        };
        let password = db.launch.get().and_then(|c| c.repl.masterauth.clone());
        let mut failed = Vec::new();
        for (ip, port) in meets {
            let _ = exchange(
                cluster,
                &db,
                &mut links,
                &ip,
                port,
                password.as_deref(),
                timeout,
            );
        }
        for (id, ip, port) in targets {
            match exchange(
                cluster,
                &db,
                &mut links,
                &ip,
                port,
                password.as_deref(),
                timeout,
            ) {
                Ok(()) => {}
                Err(e) => {
                    log::debug!("cluster node {id} at {ip}:{port}: {e}");
                    failed.push(id);
                }
            }
        }
        let now = unix_ms();
        let limit = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        cluster.change(|state| {
            for id in &failed {
                if let Some(node) = state.nodes.get_mut(id) {
                    node.link_up = false;
                    if node.ping_sent == 0 {
                        node.ping_sent = now;
                    }
                    let heard = if node.pong_recv > 0 {
                        node.pong_recv
                    } else {
                        node.ping_sent
                    };
                    node.pfail = now.saturating_sub(heard) > limit;
                }
            }
            ((), false)
        });
        cluster.save_if_changed();
        // A reshard takes a slot's keys every few milliseconds; a listing unused this long
        // belongs to no reshard under way.
        cluster.drop_idle_listing(Duration::from_secs(10));
        if cluster.sleep(PERIOD) {
            // Woken by a change: let the changes that come with it (a reshard's next slots)
            // gather for a moment, and send them together.
            std::thread::sleep(GATHER);
        }
    }
}

/// Sends this node's view to `ip:port` and merges the view it answers with.
fn exchange(
    cluster: &Cluster,
    db: &Db,
    links: &mut HashMap<(String, u16), RespConn>,
    ip: &str,
    port: u16,
    password: Option<&str>,
    timeout: Duration,
) -> Result<(), String> {
    let key = (ip.to_string(), port);
    if !links.contains_key(&key) {
        let mut config = ClientConfig::new(ip, port);
        let wait = timeout.min(Duration::from_secs(2));
        config.connect_timeout = wait;
        config.io_timeout = wait;
        config.password = password.map(|p| p.as_bytes().to_vec());
        let conn = RespConn::open(ip, port, &config).map_err(|e| format!("{e:?}"))?;
        links.insert(key.clone(), conn);
    }
    let text = view_text(cluster, ip);
    let conn = links.get_mut(&key).expect("inserted above");
    cluster.sent.fetch_add(1, Ordering::Relaxed);
    let reply = conn.call(&[b"CLUSTER", b"GOSSIP", text.as_bytes()]);
    match reply {
        Ok(Value::Bulk(view)) => {
            let view = String::from_utf8_lossy(&view);
            receive(cluster, db, &view, ip)
        }
        Ok(other) => {
            links.remove(&key);
            Err(format!("answered {other:?}"))
        }
        Err(e) => {
            links.remove(&key);
            Err(format!("{e:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> Arc<str> {
        Arc::from(c.to_string().repeat(40))
    }

    /// A state of `me` that knows the given primaries, each with its epoch and slots.
    fn state(me: char, primaries: &[(char, u64, std::ops::Range<usize>)]) -> State {
        let mut state = State::new(id(me), "127.0.0.1".into(), 7000);
        for (i, (c, epoch, slots)) in primaries.iter().enumerate() {
            let mut node = Node::new(id(*c), "127.0.0.1".into(), 7000 + i as u16);
            node.config_epoch = *epoch;
            state.nodes.insert(id(*c), node);
            for slot in slots.clone() {
                state.owner[slot] = Some(id(*c));
            }
        }
        state
    }

    /// `sender`'s view: the same state with `sender` as `myself`.
    fn view_of(mut s: State, sender: char) -> State {
        s.myself = id(sender);
        s
    }

    #[test]
    fn per_slot_the_higher_config_epoch_wins_whatever_the_order() {
        // b took slots 0-99 from a with epoch 5; c still thinks a (epoch 1) owns them.
        let b = view_of(state('b', &[('a', 1, 100..200), ('b', 5, 0..100)]), 'b');
        let stale_a = view_of(state('a', &[('a', 1, 0..200), ('b', 5, 200..300)]), 'a');
        for order in [[&b, &stale_a], [&stale_a, &b]] {
            let mut c = state('c', &[('a', 1, 0..200), ('b', 5, 200..300)]);
            for view in order {
                merge(&mut c, view, "127.0.0.1", "127.0.0.1", false);
            }
            assert!(c.owner[0..100].iter().all(|o| o.as_ref() == Some(&id('b'))));
            assert!(c.owner[100..200]
                .iter()
                .all(|o| o.as_ref() == Some(&id('a'))));
        }
    }

    #[test]
    fn only_a_node_itself_changes_its_role() {
        // c hears from a that b is a primary, but b said it replicates a.
        let mut c = state('c', &[('a', 1, 0..100), ('b', 2, 0..0)]);
        c.nodes.get_mut(&id('b')).unwrap().primary = Some(id('a'));
        let mut from_a = state('a', &[('a', 1, 0..100), ('b', 9, 0..0)]);
        from_a = view_of(from_a, 'a');
        merge(&mut c, &from_a, "", "127.0.0.1", false);
        assert_eq!(c.nodes[&id('b')].primary, Some(id('a')));
        // b itself says it is a primary again.
        let from_b = view_of(state('b', &[('a', 1, 0..100), ('b', 9, 0..0)]), 'b');
        merge(&mut c, &from_b, "", "127.0.0.1", false);
        assert_eq!(c.nodes[&id('b')].primary, None);
    }

    #[test]
    fn a_primary_that_lost_every_slot_replicates_the_winner() {
        let mut a = state('a', &[('a', 1, 0..100), ('b', 1, 100..200)]);
        a.nodes.get_mut(&id('a')).unwrap().config_epoch = 1;
        // b took over a's slots with epoch 3.
        let b = view_of(state('b', &[('a', 1, 0..0), ('b', 3, 0..200)]), 'b');
        let merged = merge(&mut a, &b, "127.0.0.1", "127.0.0.1", false);
        assert_eq!(a.me().primary, Some(id('b')));
        assert_eq!(merged.follow, Some(("127.0.0.1".to_string(), 7001)));
    }

    #[test]
    fn equal_epochs_make_the_smaller_id_move_on() {
        let mut a = state('a', &[('a', 4, 0..100), ('b', 4, 100..200)]);
        let b = view_of(state('b', &[('a', 4, 0..100), ('b', 4, 100..200)]), 'b');
        merge(&mut a, &b, "", "127.0.0.1", false);
        assert_eq!(a.me().config_epoch, 5);
        // The larger id keeps its epoch.
        let mut b_state = state('b', &[('a', 4, 0..100), ('b', 4, 100..200)]);
        let a_view = view_of(state('a', &[('a', 4, 0..100), ('b', 4, 100..200)]), 'a');
        merge(&mut b_state, &a_view, "", "127.0.0.1", false);
        assert_eq!(b_state.me().config_epoch, 4);
    }
}
