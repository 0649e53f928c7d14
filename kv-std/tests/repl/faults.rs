//! Replication through failures: a replica killed in its full sync or while the stream flows, a
//! link that goes silent past `repl-timeout`, a primary killed and restarted from its log.
//! Each ends with the replicas holding exactly the primary's content.

use crate::converge::{assert_converged, wait_link_up, wait_until};
use crate::load::{self, Writer};
use crate::node::{Kind, Node, Persist};
use crate::proxy::Proxy;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The primary's full and partial resyncs so far (INFO stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Syncs {
    full: i64,
    partial_ok: i64,
    partial_err: i64,
}

fn syncs(primary: &Node) -> Syncs {
    let stats = primary.info("stats");
    let get = |name: &str| -> i64 {
        stats
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name} in INFO stats"))
            .1
            .parse()
            .unwrap()
    };
    Syncs {
        full: get("sync_full"),
        partial_ok: get("sync_partial_ok"),
        partial_err: get("sync_partial_err"),
    }
}

fn replica_of(kind: Kind, persist: Persist, port: u16, extra: &[&str]) -> Node {
    let port = port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &port];
    args.extend_from_slice(extra);
    Node::start(kind, persist, &args)
}

/// A replica killed with SIGKILL in the middle of its full sync, then restarted: it syncs again
/// from the start and ends identical. The replica reaches its primary through a proxy held to
/// 4 MB/s during the first sync, so that the sync is still going on when the kill comes.
pub fn kill_replica_during_full_sync_with(kind: Kind) {
    let primary = Node::start(kind, Persist::None, &[]);
    let proxy = Proxy::start(primary.port);
    proxy.throttle(4 << 20);
    // About 12 MB: three seconds through the proxy.
    load::fill(primary.port, 21, 0, 40_000);
    let writer = Writer::start(primary.port, 22, 40_000, 5_000);
    let before = syncs(&primary);

    let mut replica = replica_of(kind, Persist::None, proxy.port, &[]);
    let in_sync = || replica.info_field("replication", "master_sync_in_progress") == "1";
    wait_until("the full sync to start", TIMEOUT, || {
        in_sync().then_some(()).ok_or_else(String::new)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        in_sync(),
        "the full sync ended before it could be interrupted"
    );
    assert_eq!(
        replica.info_field("replication", "master_link_status"),
        "down"
    );
    replica.kill9();
    proxy.throttle(0);
    std::thread::sleep(Duration::from_millis(300));

    replica.restart();
    wait_link_up(&replica, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    writer.finish();
    assert_converged(&primary, &[&replica], TIMEOUT);
    let after = syncs(&primary);
    assert!(
        after.full >= before.full + 2,
        "a full sync for each start of the replica: {before:?} then {after:?}"
    );
}

/// Runs a persistent replica under a stream of writes, kills it with SIGKILL, writes
/// `while_down` more keys, restarts it and waits until it is identical to the primary. Returns
/// the primary's resync counts from before the kill and at the end.
fn restart_replica(
    kind: Kind,
    fsync: &'static str,
    backlog: &str,
    while_down: u64,
) -> (Syncs, Syncs) {
    let primary = Node::start(kind, Persist::None, &["--repl-backlog-size", backlog]);
    load::fill(primary.port, 31, 0, 20_000);
    let mut replica = replica_of(kind, Persist::Resumable(fsync), primary.port, &[]);
    wait_link_up(&replica, TIMEOUT);
    let writer = Writer::start(primary.port, 32, 30_000, 5_000);
    std::thread::sleep(Duration::from_millis(500));
    replica.checkpoint();
    std::thread::sleep(Duration::from_millis(300));

    let before = syncs(&primary);
    replica.kill9();
    load::fill(primary.port, 33, 20_000, while_down);
    std::thread::sleep(Duration::from_millis(300));
    replica.restart();
    wait_link_up(&replica, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    writer.finish();
    assert_converged(&primary, &[&replica], TIMEOUT);
    (before, syncs(&primary))
}

/// A replica killed while the stream flows and restarted from its own files takes up the stream
/// where it stopped when the primary's backlog still holds that point: a partial resync. Its log
/// reaches the disk once a second, so the crash loses the last writes it applied; the offset it
/// restarts from must be the one of the data it kept, or the contents differ at the end.
pub fn restart_replica_partial_resync_with(kind: Kind) {
    let (before, after) = restart_replica(kind, "everysec", "64mb", 1_000);
    assert_eq!(
        (after.full, after.partial_ok),
        (before.full, before.partial_ok + 1),
        "one partial resync and no full one: {before:?} then {after:?}"
    );
}

/// The same with a backlog of 16 KB and megabytes written while the replica is down: the point
/// it asks for is gone, so the primary refuses the partial resync and sends everything again.
pub fn restart_replica_full_resync_with(kind: Kind) {
    let (before, after) = restart_replica(kind, "always", "16kb", 20_000);
    assert_eq!(
        after,
        Syncs {
            full: before.full + 1,
            partial_ok: before.partial_ok,
            partial_err: before.partial_err + 1,
        },
        "one refused partial resync, then a full one: {before:?} then {after:?}"
    );
}

/// The link goes silent (a proxy stops forwarding but keeps both sockets open) for longer than
/// `repl-timeout`: both ends give up on it, the primary goes on taking writes, and once the
/// network heals the replica resumes from its offset and ends identical.
pub fn link_cut_with(kind: Kind) {
    let timing = ["--repl-timeout", "2", "--repl-ping-replica-period", "1"];
    let mut args = vec!["--repl-backlog-size", "64mb"];
    args.extend_from_slice(&timing);
    let primary = Node::start(kind, Persist::None, &args);
    let proxy = Proxy::start(primary.port);
    load::fill(primary.port, 41, 0, 10_000);
    let replica = replica_of(kind, Persist::None, proxy.port, &timing);
    wait_link_up(&replica, TIMEOUT);
    let writer = Writer::start(primary.port, 42, 20_000, 5_000);
    std::thread::sleep(Duration::from_millis(500));

    let before = syncs(&primary);
    proxy.cut();
    let silent = Duration::from_secs(15);
    wait_until("the replica to time out its link", silent, || match replica
        .info_field("replication", "master_link_status")
        .as_str()
    {
        "down" => Ok(()),
        s => Err(s.to_owned()),
    });
    wait_until(
        "the primary to time out its replica",
        silent,
        || match primary.info_int("replication", "connected_slaves") {
            0 => Ok(()),
            n => Err(format!("{n} replicas")),
        },
    );
    proxy.sever();
    load::fill(primary.port, 43, 10_000, 2_000);
    proxy.heal();

    wait_link_up(&replica, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    writer.finish();
    assert_converged(&primary, &[&replica], TIMEOUT);
    let after = syncs(&primary);
    assert_eq!(
        (after.full, after.partial_ok),
        (before.full, before.partial_ok + 1),
        "the replica resumed with a partial resync: {before:?} then {after:?}"
    );
}

/// The primary, logging with `fsync always`, is killed with SIGKILL under writes and restarted
/// from its files on the same port: the replicas reconnect by themselves and end with exactly
/// the primary's content.
pub fn primary_restart_with(kind: Kind) {
    let mut primary = Node::start(kind, Persist::Log("always"), &[]);
    load::fill(primary.port, 51, 0, 20_000);
    let replicas = [
        replica_of(kind, Persist::None, primary.port, &[]),
        replica_of(kind, Persist::None, primary.port, &[]),
    ];
    for r in &replicas {
        wait_link_up(r, TIMEOUT);
    }
    let writer = Writer::start(primary.port, 52, 25_000, 5_000);
    std::thread::sleep(Duration::from_millis(500));
    primary.kill9();
    // What the writer had acknowledged is in the primary's log; the rest may or may not be.
    let written = writer.stop();
    assert!(written.error.is_none(), "{written:?}");
    for r in &replicas {
        wait_until("the replica to see its primary gone", TIMEOUT, || {
            match r.info_field("replication", "master_link_status").as_str() {
                "down" => Ok(()),
                s => Err(s.to_owned()),
            }
        });
    }

    primary.restart();
    let writer = Writer::start(primary.port, 53, 25_000, 5_000);
    for r in &replicas {
        wait_link_up(r, TIMEOUT);
    }
    std::thread::sleep(Duration::from_millis(300));
    writer.finish();
    let [a, b] = &replicas;
    let content = assert_converged(&primary, &[a, b], TIMEOUT);
    assert!(content.len() > 15_000, "only {} keys", content.len());
}
