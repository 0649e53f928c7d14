//! `CLUSTER` and its subcommands, `ASKING`, and cluster mode's `REPLICAOF`: Redis 7.0's replies
//! and error texts, so cluster clients and `redis-cli --cluster` work unchanged. With cluster
//! mode off every one answers as Redis does then.

use super::{parse_int, Client, Flow};
use crate::cluster::gossip;
use crate::cluster::state::{slot_number, Node, State};
use crate::cluster::Cluster;
use crate::db::Db;
use crate::repl::PrimaryAddr;
use crate::reply::Out;
use kv_nostd::keyslot::{key_slot, SLOTS};
use kv_nostd::resp::Args;
use std::sync::Arc;
use std::time::Duration;

/// Redis's answer to every cluster command when cluster mode is off.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// `ASKING`.
pub fn asking(client: &mut Client, db: &Db, out: &mut Out) {
    if db.cluster.is_none() {
        out.error(DISABLED);
        return;
    }
    client.asking = true;
    out.ok();
}

/// `CLUSTER <subcommand> ...`.
pub fn cluster(
    subcommand: &str,
    given: &[u8],
    args: Args<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) -> Flow {
    let Some(cluster) = &db.cluster else {
        out.error(DISABLED);
        return Flow::Continue;
    };
    let args: Vec<&[u8]> = args.collect();
    let result = match subcommand {
        "help" => {
            out.help(HELP);
            Ok(())
        }
        "keyslot" => {
            out.int(i64::from(key_slot(args[0])));
            Ok(())
        }
        "myid" => {
            out.bulk(cluster.view().myself.as_bytes());
            Ok(())
        }
        "nodes" => {
            out.verbatim(cluster.view().nodes_text().as_bytes());
            Ok(())
        }
        "info" => {
            info(cluster, out);
            Ok(())
        }
        "slots" => {
            slots(cluster, db, out);
            Ok(())
        }
        "shards" => {
            shards(cluster, db, out);
            Ok(())
        }
        "countkeysinslot" => count_keys(cluster, &args, db, out),
        "getkeysinslot" => get_keys(cluster, &args, db, out),
        "addslots" | "delslots" => {
            let slots: Result<Vec<u16>, String> = args.iter().map(|a| parse_slot(a)).collect();
            slots.and_then(|s| assign(cluster, subcommand == "addslots", &s, out))
        }
        "addslotsrange" | "delslotsrange" => {
            ranges(&args).and_then(|s| assign(cluster, subcommand == "addslotsrange", &s, out))
        }
        "flushslots" => flush_slots(cluster, db, out),
        "setslot" => setslot(cluster, &args, db, out),
        "meet" => meet(cluster, &args, out),
        "forget" => forget(cluster, args[0], out),
        "replicate" => replicate(cluster, args[0], db, out),
        "replicas" | "slaves" => replicas(cluster, args[0], out),
        "reset" => reset(cluster, &args, db, out),
        "failover" => failover(cluster, &args, db, out),
        "bumpepoch" => {
            let (bumped, epoch) = cluster.change(|state| {
                let bumped = bump_epoch(state);
                ((bumped, state.me().config_epoch), bumped)
            });
            let word = if bumped { "BUMPED" } else { "STILL" };
            out.simple(format!("{word} {epoch}").as_bytes());
            cluster.wake();
            Ok(())
        }
        "set-config-epoch" => set_config_epoch(cluster, args[0], out),
        "saveconfig" => match cluster.save_config() {
            Ok(()) => {
                out.ok();
                Ok(())
            }
            Err(e) => Err(format!("ERR error saving the cluster node config: {e}")),
        },
        "count-failure-reports" => {
            // kv keeps no failure reports: nodes do not vote on failures.
            match cluster.view().node(args[0]) {
                Some(_) => {
                    out.int(0);
                    Ok(())
                }
                None => Err(unknown_node(args[0])),
            }
        }
        "links" => {
            links(cluster, out);
            Ok(())
        }
        "gossip" => {
            let text = String::from_utf8_lossy(args[0]);
            let peer = client.peer.ip().to_string();
            match gossip::receive(cluster, db, &text, &peer) {
                Ok(()) => {
                    let view = gossip::view_text(cluster, &peer);
                    out.bulk(view.as_bytes());
                    Ok(())
                }
                Err(e) => Err(format!("ERR {e}")),
            }
        }
        _ => Err(format!(
            "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
            String::from_utf8_lossy(given)
        )),
    };
    if let Err(e) = result {
        out.error(&e);
    }
    Flow::Continue
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];

fn unknown_node(id: &[u8]) -> String {
    format!("ERR Unknown node {}", String::from_utf8_lossy(id))
}

/// A slot argument, as Redis's `getSlotOrReply` reads it.
fn parse_slot(arg: &[u8]) -> Result<u16, String> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(slot_number)
        .ok_or_else(|| "ERR Invalid or out of range slot".to_string())
}

/// `start end` pairs, as `ADDSLOTSRANGE` takes them, as a list of slots.
fn ranges(args: &[&[u8]]) -> Result<Vec<u16>, String> {
    if !args.len().is_multiple_of(2) {
        return Err("ERR wrong number of arguments for 'cluster|addslotsrange' command".into());
    }
    let mut slots = Vec::new();
    for pair in args.chunks(2) {
        let (start, end) = (parse_slot(pair[0])?, parse_slot(pair[1])?);
        if start > end {
            return Err(format!(
                "ERR start slot number {start} is greater than end slot number {end}"
            ));
        }
        slots.extend(start..=end);
    }
    Ok(slots)
}

/// `CLUSTER INFO`.
fn info(cluster: &Cluster, out: &mut Out) {
    let state = cluster.view();
    let assigned = state.assigned();
    let pfail = state
        .owner
        .iter()
        .flatten()
        .filter(|o| {
            state
                .nodes
                .get(*o)
                .is_some_and(|n| n.pfail && n.id != state.myself)
        })
        .count();
    let sent = cluster.sent.load(std::sync::atomic::Ordering::Relaxed);
    let received = cluster.received.load(std::sync::atomic::Ordering::Relaxed);
    let text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n\
         cluster_stats_messages_sent:{sent}\r\ncluster_stats_messages_received:{received}\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n",
        if cluster.is_ok() { "ok" } else { "fail" },
        assigned - pfail,
        state.nodes.len(),
        state.size(),
        state.current_epoch,
        state.shown_epoch(state.me()),
    );
    out.verbatim(text.as_bytes());
}

/// Whether a replica is shown to clients: reachable and not failing.
fn available(state: &State, node: &Node) -> bool {
    node.id == state.myself || (node.link_up && !node.pfail)
}

/// A node as `CLUSTER SLOTS` gives it: address, port, id, and an empty map of metadata.
fn slot_node(node: &Node, out: &mut Out) {
    out.array(4);
    out.bulk(node.ip.as_bytes());
    out.int(i64::from(node.port));
    out.bulk(node.id.as_bytes());
    out.map(0);
}

/// `CLUSTER SLOTS`: each run of consecutive slots of one primary, with its primary and replicas.
fn slots(cluster: &Cluster, _db: &Db, out: &mut Out) {
    let state = cluster.view();
    let mut runs: Vec<(u16, u16, Arc<str>)> = Vec::new();
    for (slot, owner) in state.owner.iter().enumerate() {
        let Some(owner) = owner else { continue };
        let slot = slot as u16;
        match runs.last_mut() {
            Some((_, end, id)) if *end + 1 == slot && id == owner => *end = slot,
            _ => runs.push((slot, slot, Arc::clone(owner))),
        }
    }
    let runs: Vec<_> = runs
        .into_iter()
        .filter(|(_, _, id)| state.nodes.contains_key(id))
        .collect();
    out.array(runs.len());
    for (start, end, id) in runs {
        let primary = &state.nodes[&id];
        let replicas: Vec<&Node> = state
            .replicas_of(&id)
            .filter(|n| available(&state, n))
            .collect();
        out.array(3 + replicas.len());
        out.int(i64::from(start));
        out.int(i64::from(end));
        slot_node(primary, out);
        for replica in replicas {
            slot_node(replica, out);
        }
    }
}

/// `CLUSTER SHARDS`: each primary with its slots and its nodes.
fn shards(cluster: &Cluster, db: &Db, out: &mut Out) {
    let state = cluster.view();
    let primaries: Vec<&Node> = state.nodes.values().filter(|n| n.is_primary()).collect();
    out.array(primaries.len());
    for primary in primaries {
        out.map(2);
        out.bulk(b"slots");
        let ranges = state.ranges_of(&primary.id);
        out.array(ranges.len() * 2);
        for (start, end) in ranges {
            out.int(i64::from(start));
            out.int(i64::from(end));
        }
        out.bulk(b"nodes");
        let nodes: Vec<&Node> = std::iter::once(primary)
            .chain(state.replicas_of(&primary.id))
            .collect();
        out.array(nodes.len());
        for node in nodes {
            out.map(7);
            out.bulk(b"id");
            out.bulk(node.id.as_bytes());
            out.bulk(b"port");
            out.int(i64::from(node.port));
            out.bulk(b"ip");
            out.bulk(node.ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(node.ip.as_bytes());
            out.bulk(b"role");
            out.bulk(if node.is_primary() {
                b"master" as &[u8]
            } else {
                b"replica"
            });
            out.bulk(b"replication-offset");
            let offset = if node.id == state.myself {
                i64::try_from(db.repl.backlog.end()).unwrap_or(i64::MAX)
            } else {
                0
            };
            out.int(offset);
            out.bulk(b"health");
            out.bulk(if available(&state, node) {
                b"online" as &[u8]
            } else {
                b"fail"
            });
        }
    }
}

/// `CLUSTER COUNTKEYSINSLOT slot`.
fn count_keys(cluster: &Cluster, args: &[&[u8]], db: &Db, out: &mut Out) -> Result<(), String> {
    let slot = parse_int(args[0])
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&s| s < SLOTS)
        .ok_or("ERR Invalid slot")?;
    let count = match cluster.migrating_keys(slot, db) {
        Some(keys) => keys
            .iter()
            .filter(|k| db.table.contains(k) == Ok(true))
            .count(),
        None => crate::cluster::count_in_slot(db, slot),
    };
    out.int(count as i64);
    Ok(())
}

/// `CLUSTER GETKEYSINSLOT slot count`.
fn get_keys(cluster: &Cluster, args: &[&[u8]], db: &Db, out: &mut Out) -> Result<(), String> {
    const INVALID: &str = "ERR Invalid slot or number of keys";
    let slot = parse_int(args[0])
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&s| s < SLOTS)
        .ok_or(INVALID)?;
    let count = parse_int(args[1])
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(INVALID)?;
    let keys = match cluster.migrating_keys(slot, db) {
        Some(keys) => keys
            .into_iter()
            .filter(|k| db.table.contains(k) == Ok(true))
            .take(count)
            .collect(),
        None => crate::cluster::keys_in_slot(db, slot, count),
    };
    out.array(keys.len());
    for key in keys {
        out.bulk(&key);
    }
    Ok(())
}

/// `ADDSLOTS`/`ADDSLOTSRANGE` (`add`) and `DELSLOTS`/`DELSLOTSRANGE`.
fn assign(cluster: &Cluster, add: bool, slots: &[u16], out: &mut Out) -> Result<(), String> {
    let mut seen = vec![false; usize::from(SLOTS)];
    cluster.change(|state| {
        for &slot in slots {
            let owner = &state.owner[usize::from(slot)];
            if add && owner.is_some() {
                return (Err(format!("ERR Slot {slot} is already busy")), false);
            }
            if !add && owner.is_none() {
                return (Err(format!("ERR Slot {slot} is already unassigned")), false);
            }
            if std::mem::replace(&mut seen[usize::from(slot)], true) {
                return (
                    Err(format!("ERR Slot {slot} specified multiple times")),
                    false,
                );
            }
        }
        let me = Arc::clone(&state.myself);
        for &slot in slots {
            state.owner[usize::from(slot)] = add.then(|| Arc::clone(&me));
            state.importing.remove(&slot);
            if !add {
                state.migrating.remove(&slot);
            }
        }
        (Ok(()), true)
    })?;
    cluster.wake();
    out.ok();
    Ok(())
}

/// `CLUSTER FLUSHSLOTS`.
fn flush_slots(cluster: &Cluster, db: &Db, out: &mut Out) -> Result<(), String> {
    if !db.table.is_empty() {
        return Err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.".into());
    }
    cluster.change(|state| {
        let me = Arc::clone(&state.myself);
        for owner in state.owner.iter_mut() {
            if owner.as_ref() == Some(&me) {
                *owner = None;
            }
        }
        ((), true)
    });
    out.ok();
    Ok(())
}

/// Takes a new config epoch unless this node's is already the highest and unique, as Redis's
/// `clusterBumpConfigEpochWithoutConsensus`; whether it took one.
fn bump_epoch(state: &mut State) -> bool {
    let highest = state
        .nodes
        .values()
        .map(|n| n.config_epoch)
        .max()
        .unwrap_or(0)
        .max(state.current_epoch);
    let mine = state.me().config_epoch;
    if mine == 0 || mine != highest {
        state.current_epoch = highest + 1;
        let epoch = state.current_epoch;
        state.me_mut().config_epoch = epoch;
        true
    } else {
        false
    }
}

/// `CLUSTER SETSLOT slot IMPORTING id | MIGRATING id | STABLE | NODE id`.
fn setslot(cluster: &Cluster, args: &[&[u8]], db: &Db, out: &mut Out) -> Result<(), String> {
    let slot = parse_slot(args[0])?;
    let action = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let target = args.get(2).copied();
    if !cluster.view().me().is_primary() {
        return Err("ERR Please use SETSLOT only with masters.".into());
    }
    let named = |state: &State| -> Result<Arc<str>, String> {
        let id = target.ok_or_else(|| crate::cmd::SYNTAX_ERROR.to_string())?;
        let node = state.node(id).ok_or_else(|| {
            let id = String::from_utf8_lossy(id);
            if action == "node" {
                format!("ERR Unknown node {id}")
            } else {
                format!("ERR I don't know about node {id}")
            }
        })?;
        if !node.is_primary() {
            return Err("ERR Target node is not a master".into());
        }
        Ok(Arc::clone(&node.id))
    };
    match (action.as_str(), args.len()) {
        ("migrating", 3) => {
            cluster.change(|state| {
                if state.owner[usize::from(slot)].as_ref() != Some(&state.myself) {
                    return (
                        Err(format!("ERR I'm not the owner of hash slot {slot}")),
                        false,
                    );
                }
                match named(state) {
                    Ok(id) => {
                        state.migrating.insert(slot, id);
                        (Ok(()), true)
                    }
                    Err(e) => (Err(e), false),
                }
            })?;
            cluster.reset_keys(slot);
        }
        ("importing", 3) => cluster.change(|state| {
            if state.owner[usize::from(slot)].as_ref() == Some(&state.myself) {
                return (
                    Err(format!("ERR I'm already the owner of hash slot {slot}")),
                    false,
                );
            }
            match named(state) {
                Ok(id) => {
                    state.importing.insert(slot, id);
                    (Ok(()), true)
                }
                Err(e) => (Err(e), false),
            }
        })?,
        ("stable", 2) => cluster.change(|state| {
            state.migrating.remove(&slot);
            state.importing.remove(&slot);
            ((), true)
        }),
        ("node", 3) => {
            let (id, mine) = {
                let state = cluster.view();
                let id = named(&state)?;
                let mine = state.owner[usize::from(slot)].as_ref() == Some(&state.myself);
                (id, mine)
            };
            if mine && id != cluster.view().myself {
                let held = match cluster.migrating_keys(slot, db) {
                    Some(keys) => keys.iter().any(|k| db.table.contains(k) == Ok(true)),
                    None => crate::cluster::count_in_slot(db, slot) > 0,
                };
                if held {
                    return Err(format!(
                        "ERR Can't assign hashslot {slot} to a different node while I still \
                         hold keys for this hash slot."
                    ));
                }
            }
            cluster.change(|state| {
                if id != state.myself {
                    state.migrating.remove(&slot);
                }
                if id == state.myself && state.importing.remove(&slot).is_some() {
                    // The slot's keys are all here: claim it with an epoch no other node has,
                    // so the claim wins everywhere.
                    if bump_epoch(state) {
                        log::info!(
                            "took config epoch {} after importing slot {slot}",
                            state.me().config_epoch
                        );
                    }
                }
                state.owner[usize::from(slot)] = Some(Arc::clone(&id));
                ((), true)
            });
        }
        _ => {
            return Err(
                "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
                    .into(),
            )
        }
    }
    cluster.wake();
    out.ok();
    Ok(())
}

/// `CLUSTER MEET ip port [bus-port]`.
fn meet(cluster: &Cluster, args: &[&[u8]], out: &mut Out) -> Result<(), String> {
    let ip = String::from_utf8_lossy(args[0]).into_owned();
    let port = String::from_utf8_lossy(args[1]).into_owned();
    let invalid = || format!("ERR Invalid node address specified: {ip}:{port}");
    if args.len() > 3 {
        return Err(crate::cmd::SYNTAX_ERROR.into());
    }
    ip.parse::<std::net::IpAddr>().map_err(|_| invalid())?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if port == 0 {
        return Err(invalid());
    }
    cluster.change(|state| {
        if !state.meets.contains(&(ip.clone(), port)) {
            state.meets.push((ip.clone(), port));
        }
        ((), false)
    });
    cluster.wake();
    out.ok();
    Ok(())
}

/// `CLUSTER FORGET id`.
fn forget(cluster: &Cluster, id: &[u8], out: &mut Out) -> Result<(), String> {
    cluster.change(|state| {
        let Some(node) = state.node(id) else {
            return (Err(unknown_node(id)), false);
        };
        let node = Arc::clone(&node.id);
        if node == state.myself {
            return (
                Err("ERR I tried hard but I can't forget myself...".into()),
                false,
            );
        }
        if state.me().primary.as_ref() == Some(&node) {
            return (Err("ERR Can't forget my master!".into()), false);
        }
        state.remove(&node);
        state.forgotten.insert(
            node,
            std::time::Instant::now() + crate::cluster::state::FORGET_BAN,
        );
        (Ok(()), true)
    })?;
    out.ok();
    Ok(())
}

/// `CLUSTER REPLICATE id`.
fn replicate(cluster: &Cluster, id: &[u8], db: &Db, out: &mut Out) -> Result<(), String> {
    let addr = cluster.change(|state| {
        let Some(node) = state.node(id) else {
            return (Err(unknown_node(id)), false);
        };
        let node = node.clone();
        if node.id == state.myself {
            return (Err("ERR Can't replicate myself".into()), false);
        }
        if !node.is_primary() {
            return (
                Err("ERR I can only replicate a master, not a replica.".into()),
                false,
            );
        }
        let me = state.me();
        if me.is_primary() && (!state.ranges_of(&state.myself).is_empty() || !db.table.is_empty()) {
            return (
                Err(
                    "ERR To set a master the node must be empty and without assigned slots.".into(),
                ),
                false,
            );
        }
        state.me_mut().primary = Some(Arc::clone(&node.id));
        state.migrating.clear();
        state.importing.clear();
        (Ok((node.ip.clone(), node.port)), true)
    })?;
    follow(db, Some(addr))?;
    cluster.wake();
    out.ok();
    Ok(())
}

/// Follows the primary at `addr`, or none (a promotion).
fn follow(db: &Db, addr: Option<(String, u16)>) -> Result<(), String> {
    let shared = db.shared().ok_or("ERR the server is not running")?;
    let addr = addr.map(|(host, port)| PrimaryAddr { host, port });
    shared.repl.follow(&shared, addr);
    Ok(())
}

/// `CLUSTER REPLICAS id`: its replicas' `CLUSTER NODES` lines.
fn replicas(cluster: &Cluster, id: &[u8], out: &mut Out) -> Result<(), String> {
    let state = cluster.view();
    let node = state.node(id).ok_or_else(|| unknown_node(id))?;
    if !node.is_primary() {
        return Err("ERR The specified node is not a master".into());
    }
    let lines: Vec<String> = state
        .replicas_of(&node.id)
        .map(|r| {
            let mut line = String::new();
            state.node_line(r, &mut line);
            line.truncate(line.trim_end().len());
            line
        })
        .collect();
    out.array(lines.len());
    for line in lines {
        out.bulk(line.as_bytes());
    }
    Ok(())
}

/// `CLUSTER RESET [HARD|SOFT]`.
fn reset(cluster: &Cluster, args: &[&[u8]], db: &Db, out: &mut Out) -> Result<(), String> {
    let hard = match args.first() {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"soft") => false,
        Some(a) if a.eq_ignore_ascii_case(b"hard") => true,
        Some(_) => return Err(crate::cmd::SYNTAX_ERROR.into()),
    };
    let replica = !cluster.view().me().is_primary();
    if !replica && !db.table.is_empty() {
        return Err("ERR CLUSTER RESET can't be called with master nodes containing keys".into());
    }
    if replica {
        follow(db, None)?;
        db.table.clear();
    }
    cluster.change(|state| {
        let me = state.me().clone();
        let myself = if hard {
            Arc::from(crate::repl::new_replid())
        } else {
            Arc::clone(&me.id)
        };
        let mut fresh = State::new(myself, me.ip.clone(), me.port);
        if !hard {
            fresh.current_epoch = state.current_epoch;
            fresh.me_mut().config_epoch = me.config_epoch;
        }
        *state = fresh;
        ((), true)
    });
    out.ok();
    Ok(())
}

/// `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a replica. With `FORCE` or `TAKEOVER` it takes its
/// primary's slots at once; without, it first waits (up to 5 s) until it has applied the
/// stream as far as the primary's offset when asked, so a failover of a live primary that no
/// client writes to meanwhile loses nothing.
fn failover(cluster: &Cluster, args: &[&[u8]], db: &Db, out: &mut Out) -> Result<(), String> {
    let force = match args.first() {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"force") || a.eq_ignore_ascii_case(b"takeover") => true,
        Some(_) => return Err(crate::cmd::SYNTAX_ERROR.into()),
    };
    let primary = {
        let state = cluster.view();
        let Some(primary) = &state.me().primary else {
            return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
        };
        state
            .nodes
            .get(primary)
            .cloned()
            .ok_or("ERR I'm a replica but my master is unknown to me")?
    };
    if !force {
        let Some(shared) = db.shared() else {
            return Err("ERR the server is not running".into());
        };
        let spawned = std::thread::Builder::new()
            .name("kv-failover".into())
            .spawn(move || {
                catch_up(&shared, &primary);
                if let Some(cluster) = &shared.cluster {
                    take_over(cluster, &shared);
                }
            });
        spawned.map_err(|e| format!("ERR {e}"))?;
        out.ok();
        return Ok(());
    }
    take_over(cluster, db);
    out.ok();
    Ok(())
}

/// Waits, up to 5 s, until this replica has applied its primary's stream as far as the
/// primary's offset now.
fn catch_up(db: &Db, primary: &Node) {
    let config = crate::client::ClientConfig::new(primary.ip.clone(), primary.port);
    let password = db.launch.get().and_then(|c| c.repl.masterauth.clone());
    let config = crate::client::ClientConfig {
        password: password.map(String::into_bytes),
        ..config
    };
    let Ok(mut conn) = crate::client::resp::RespConn::open(&primary.ip, primary.port, &config)
    else {
        return;
    };
    let Ok(crate::client::resp::Value::Bulk(info)) = conn.call(&[b"INFO", b"replication"]) else {
        return;
    };
    let target = String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while db.repl.backlog.end() < target && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes this replica the primary of its primary's slots, with a new config epoch, which wins
/// them on every node.
pub fn take_over(cluster: &Cluster, db: &Db) {
    let taken = cluster.change(|state| {
        let Some(old) = state.me().primary.clone() else {
            return (false, false);
        };
        state.current_epoch += 1;
        let epoch = state.current_epoch;
        let me = Arc::clone(&state.myself);
        let node = state.me_mut();
        node.primary = None;
        node.config_epoch = epoch;
        // The old primary is left a primary without slots, as every node sees it until it
        // speaks again: back, it finds its slots claimed with a higher epoch and replicates
        // this node.
        state.move_slots(&old, &me);
        log::info!("failover: this node takes the slots of {old} with config epoch {epoch}");
        (true, true)
    });
    if taken {
        let _ = follow(db, None);
        cluster.wake();
    }
}

/// Cluster mode's `REPLICAOF` (Redis refuses it; Sentinel sends it): `NO ONE` on a replica takes
/// its primary's slots as `CLUSTER FAILOVER TAKEOVER` does; `host port` replicates the node at
/// that address as `CLUSTER REPLICATE` does.
pub fn replicaof(cluster: &Cluster, host: &[u8], port: &[u8], db: &Db, out: &mut Out) {
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        if !cluster.view().me().is_primary() {
            take_over(cluster, db);
        }
        out.ok();
        return;
    }
    let host = String::from_utf8_lossy(host).into_owned();
    let Some(port) = parse_int(port).and_then(|p| u16::try_from(p).ok()) else {
        out.error("ERR Invalid master port");
        return;
    };
    let id = {
        let state = cluster.view();
        let found = state.nodes.values().find(|n| {
            n.port == port && (n.ip == host || host == "localhost" && n.ip == "127.0.0.1")
        });
        match found {
            Some(node) => Arc::clone(&node.id),
            None => {
                out.error(&format!("ERR No cluster node at {host}:{port}"));
                return;
            }
        }
    };
    if cluster.view().me().primary.as_ref() == Some(&id) {
        out.simple(b"OK Already connected to specified master");
        return;
    }
    // A primary that lost its slots to this node already follows it; one with slots must give
    // them up first.
    if let Err(e) = cluster.change(|state| {
        if state.me().is_primary() && !state.ranges_of(&state.myself).is_empty() {
            return (
                Err("ERR To set a master the node must be without assigned slots.".to_string()),
                false,
            );
        }
        state.me_mut().primary = Some(Arc::clone(&id));
        (Ok(()), true)
    }) {
        out.error(&e);
        return;
    }
    match follow(db, Some((host, port))) {
        Ok(()) => out.ok(),
        Err(e) => out.error(&e),
    }
    cluster.wake();
}

/// `CLUSTER LINKS`: this node's connection to each other node.
fn links(cluster: &Cluster, out: &mut Out) {
    let state = cluster.view();
    let others: Vec<&Node> = state
        .nodes
        .values()
        .filter(|n| n.id != state.myself && n.link_up)
        .collect();
    out.array(others.len());
    for node in others {
        out.map(6);
        out.bulk(b"direction");
        out.bulk(b"to");
        out.bulk(b"node");
        out.bulk(node.id.as_bytes());
        out.bulk(b"create-time");
        out.int(0);
        out.bulk(b"events");
        out.bulk(b"rw");
        out.bulk(b"send-buffer-allocated");
        out.int(0);
        out.bulk(b"send-buffer-used");
        out.int(0);
    }
}

/// `CLUSTER SET-CONFIG-EPOCH epoch`.
fn set_config_epoch(cluster: &Cluster, arg: &[u8], out: &mut Out) -> Result<(), String> {
    let epoch = parse_int(arg).ok_or(crate::cmd::NOT_AN_INTEGER)?;
    if epoch < 0 {
        return Err(format!("ERR Invalid config epoch specified: {epoch}"));
    }
    cluster.change(|state| {
        if state.nodes.len() > 1 {
            return (
                Err(
                    "ERR The user can assign a config epoch only when the node does not know \
                     any other node."
                        .to_string(),
                ),
                false,
            );
        }
        if state.me().config_epoch != 0 {
            return (
                Err("ERR Node config epoch is already non-zero".to_string()),
                false,
            );
        }
        let epoch = epoch as u64;
        state.me_mut().config_epoch = epoch;
        state.current_epoch = state.current_epoch.max(epoch);
        (Ok(()), true)
    })?;
    out.ok();
    Ok(())
}
