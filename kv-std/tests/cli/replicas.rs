//! A primary and its replica: `kv-client --servers` writes to the primary and reads where
//! `--read-from` says, and a long-lived client follows a failover (the replica promoted, the old
//! primary made its replica) through `READONLY` and through a dead primary.
//!
//! Written for any server speaking Redis's replication commands and `ROLE`: each test takes
//! the kind of server to run.

use crate::client_on;
use crate::process::{bulk, wait_for, Process, ServerKind, KV, REDIS};
use kv_std::client::resp::Value;
use kv_std::client::{ClientConfig, ReadFrom, RetryPolicy, Routed};
use std::path::Path;

/// Whether the server on `port` is a replica whose link to its primary is up.
fn replica_in_sync(server: &Process) -> bool {
    match server.call(&[b"ROLE"]) {
        Value::Array(parts) => parts.get(3) == Some(&bulk(b"connected")),
        _ => false,
    }
}

/// The `calls` count of `command` in `INFO commandstats`.
fn calls(server: &Process, command: &str) -> u64 {
    let Value::Bulk(info) = server.call(&[b"INFO", b"commandstats"]) else {
        panic!("INFO answered otherwise");
    };
    let info = String::from_utf8_lossy(&info);
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

fn pair(kind: &ServerKind, dir: &Path) -> (Process, Process) {
    let primary_dir = dir.join("primary");
    let replica_dir = dir.join("replica");
    std::fs::create_dir_all(&primary_dir).unwrap();
    std::fs::create_dir_all(&replica_dir).unwrap();
    let primary = Process::start(kind, &primary_dir, None, &[]);
    let replica = Process::start(kind, &replica_dir, Some(primary.port), &[]);
    wait_for("the replica to sync", || replica_in_sync(&replica));
    (primary, replica)
}

/// The replica becomes the primary, and the old primary its replica.
fn fail_over(old: &Process, new: &Process) {
    assert_eq!(
        new.call(&[b"REPLICAOF", b"NO", b"ONE"]),
        Value::Simple(b"OK".to_vec())
    );
    let port = new.port.to_string();
    assert_eq!(
        old.call(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]),
        Value::Simple(b"OK".to_vec())
    );
    wait_for("the old primary to sync", || replica_in_sync(old));
}

fn cli_reads_where_asked_and_writes_to_the_primary(kind: &ServerKind) {
    let dir = tempfile::tempdir().unwrap();
    let (primary, replica) = pair(kind, dir.path());
    let servers = format!("{},{}", replica.addr(), primary.addr());
    client_on(0)
        .args(["--servers", &servers, "put", "user1", "John Doe"])
        .assert()
        .code(0)
        .stdout("✓ user1 = John Doe\n");
    assert_eq!(primary.call(&[b"GET", b"user1"]), bulk(b"John Doe"));
    wait_for("the write to reach the replica", || {
        replica.call(&[b"GET", b"user1"]) == bulk(b"John Doe")
    });

    for (read_from, from_replica) in [("replica", true), ("primary", false), ("any", true)] {
        let (on_primary, on_replica) = (calls(&primary, "get"), calls(&replica, "get"));
        client_on(0)
            .args(["--servers", &servers, "--read-from", read_from])
            .args(["get", "user1"])
            .assert()
            .code(0)
            .stdout("John Doe\n");
        let read = if from_replica { &replica } else { &primary };
        let other = if from_replica { &primary } else { &replica };
        let (before, other_before) = if from_replica {
            (on_replica, on_primary)
        } else {
            (on_primary, on_replica)
        };
        assert_eq!(calls(read, "get"), before + 1, "--read-from {read_from}");
        assert_eq!(calls(other, "get"), other_before, "--read-from {read_from}");
    }

    // Given only the replica, the client finds the primary it names.
    client_on(0)
        .args(["--servers", &replica.addr(), "delete", "user1"])
        .assert()
        .code(0)
        .stdout("✓ deleted user1\n");
    assert_eq!(primary.call(&[b"EXISTS", b"user1"]), Value::Int(0));

    // After a failover, a new client finds the new primary from either server.
    fail_over(&primary, &replica);
    client_on(0)
        .args(["--servers", &primary.addr(), "put", "user2", "Jane"])
        .assert()
        .code(0);
    assert_eq!(replica.call(&[b"GET", b"user2"]), bulk(b"Jane"));
}

fn a_client_follows_a_failover(kind: &ServerKind) {
    let dir = tempfile::tempdir().unwrap();
    let (primary, replica) = pair(kind, dir.path());
    let config = ClientConfig {
        retry: RetryPolicy {
            retries: 8,
            ..RetryPolicy::DEFAULT
        },
        ..ClientConfig::new("127.0.0.1", primary.port)
    };
    let servers = vec![("127.0.0.1".to_string(), primary.port)];
    let mut client = Routed::new(servers, ReadFrom::Replica, config);
    let ok = Value::Simple(b"OK".to_vec());
    assert_eq!(client.write(&[b"SET", b"k", b"1"]).unwrap(), ok);
    assert_eq!(client.primary(), Some(primary.addr()));
    wait_for("the replica to have k", || {
        client.read(&[b"GET", b"k"]).unwrap() == bulk(b"1")
    });

    // The client's connection to the old primary is still open: its next write is refused
    // with READONLY, and it finds the new primary.
    fail_over(&primary, &replica);
    assert_eq!(client.write(&[b"SET", b"k", b"2"]).unwrap(), ok);
    assert_eq!(client.primary(), Some(replica.addr()));
    assert_eq!(replica.call(&[b"GET", b"k"]), bulk(b"2"));
    wait_for("the new replica to have k", || {
        client.read(&[b"GET", b"k"]).unwrap() == bulk(b"2")
    });
    // Only the client sent GET to the old primary, and only once it was a replica.
    assert!(calls(&primary, "get") > 0, "reads go to the new replica");

    // The new primary dies and the old one is promoted again: the write fails on a dead
    // connection, and is retried on the server answering ROLE as master.
    let (survivor, dead) = (primary, replica);
    drop(dead);
    assert_eq!(
        survivor.call(&[b"REPLICAOF", b"NO", b"ONE"]),
        Value::Simple(b"OK".to_vec())
    );
    assert_eq!(client.write(&[b"SET", b"k", b"3"]).unwrap(), ok);
    assert_eq!(client.primary(), Some(survivor.addr()));
    assert_eq!(survivor.call(&[b"GET", b"k"]), bulk(b"3"));
}

#[test]
fn redis_server_cli_reads_where_asked_and_writes_to_the_primary() {
    cli_reads_where_asked_and_writes_to_the_primary(&REDIS);
}

#[test]
fn redis_server_a_client_follows_a_failover() {
    a_client_follows_a_failover(&REDIS);
}

#[test]
fn kv_server_cli_reads_where_asked_and_writes_to_the_primary() {
    cli_reads_where_asked_and_writes_to_the_primary(&KV);
}

#[test]
fn kv_server_a_client_follows_a_failover() {
    a_client_follows_a_failover(&KV);
}
