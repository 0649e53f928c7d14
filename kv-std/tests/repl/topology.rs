//! One primary and two replicas of the same kind: a full sync under writes, WAIT, offsets,
//! identical content, INFO replication and ROLE as Redis prints them, read-only replicas.

use crate::converge::{assert_converged, wait_link_up, wait_until};
use crate::load::{self, Writer};
use crate::node::{Kind, Node, Persist};
use crate::resp::Reply;
use std::time::{Duration, Instant};

/// The fields of a Redis 7.0 primary's INFO replication with two replicas online, in order.
const PRIMARY_FIELDS: &[&str] = &[
    "role",
    "connected_slaves",
    "slave0",
    "slave1",
    "master_failover_state",
    "master_replid",
    "master_replid2",
    "master_repl_offset",
    "second_repl_offset",
    "repl_backlog_active",
    "repl_backlog_size",
    "repl_backlog_first_byte_offset",
    "repl_backlog_histlen",
];

/// The fields of a Redis 7.0 replica's INFO replication with its link up, in order.
const REPLICA_FIELDS: &[&str] = &[
    "role",
    "master_host",
    "master_port",
    "master_link_status",
    "master_last_io_seconds_ago",
    "master_sync_in_progress",
    "slave_read_repl_offset",
    "slave_repl_offset",
    "slave_priority",
    "slave_read_only",
    "replica_announced",
    "connected_slaves",
    "master_failover_state",
    "master_replid",
    "master_replid2",
    "master_repl_offset",
    "second_repl_offset",
    "repl_backlog_active",
    "repl_backlog_size",
    "repl_backlog_first_byte_offset",
    "repl_backlog_histlen",
];

const KEYS: u64 = 100_000;

pub fn kv_to_kv_with(kind: Kind) {
    let timeout = Duration::from_secs(60);
    let primary = Node::start(kind, Persist::None, &[]);
    let replicas = [
        Node::start(kind, Persist::None, &[]),
        Node::start(kind, Persist::None, &[]),
    ];

    load::fill(primary.port, 1, 0, KEYS / 2);
    let writer = Writer::start(primary.port, 2, KEYS, 20_000);
    for r in &replicas {
        r.replicate(&primary);
    }
    let attached = writer.progress();
    // The second half arrives while the replicas take their full sync.
    load::fill(primary.port, 3, KEYS / 2, KEYS / 2);
    for r in &replicas {
        wait_link_up(r, timeout);
    }
    assert!(
        writer.progress() > attached,
        "the writer wrote nothing while the replicas synced"
    );
    std::thread::sleep(Duration::from_millis(500));
    let changes = writer.finish();
    assert!(changes > 0, "the writer wrote nothing");

    let mut client = primary.client();
    assert_eq!(
        client.cmd(&["SET", "last", "write"]),
        Reply::Status("OK".into())
    );
    let started = Instant::now();
    assert_eq!(client.cmd(&["WAIT", "2", "5000"]), Reply::Int(2), "WAIT");
    assert!(started.elapsed() < Duration::from_secs(5));

    let [a, b] = &replicas;
    let content = assert_converged(&primary, &[a, b], timeout);
    assert!(
        content.len() as u64 > KEYS / 2,
        "only {} keys",
        content.len()
    );

    check_primary_info(&primary, &replicas);
    for r in &replicas {
        check_replica_info(r, &primary);
    }
    check_role(&primary, &replicas);

    for r in &replicas {
        let mut c = r.client();
        assert_eq!(
            c.cmd(&["SET", "last", "replica"]),
            Reply::Error("READONLY You can't write against a read only replica.".into())
        );
        assert_eq!(
            c.cmd(&["GET", "last"]),
            Reply::Bulk(Some(b"write".to_vec()))
        );
        assert_eq!(c.cmd(&["EXISTS", "last"]), Reply::Int(1));
    }
}

fn field_names(info: &[(String, String)]) -> Vec<&str> {
    info.iter().map(|(k, _)| k.as_str()).collect()
}

fn field<'a>(info: &'a [(String, String)], name: &str) -> &'a str {
    info.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {info:?}"))
}

fn int(info: &[(String, String)], name: &str) -> i64 {
    let v = field(info, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name}:{v} is not an integer"))
}

fn is_replid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_primary_info(primary: &Node, replicas: &[Node]) {
    let info = primary.info("replication");
    assert_eq!(field_names(&info), PRIMARY_FIELDS, "{info:#?}");
    assert_eq!(field(&info, "role"), "master");
    assert_eq!(int(&info, "connected_slaves"), 2);
    let offset = int(&info, "master_repl_offset");
    let mut ports = Vec::new();
    for name in ["slave0", "slave1"] {
        let pairs: Vec<(&str, &str)> = field(&info, name)
            .split(',')
            .map(|p| p.split_once('=').expect("name=value"))
            .collect();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["ip", "port", "state", "offset", "lag"], "{name}");
        let value = |k: &str| pairs.iter().find(|(n, _)| *n == k).unwrap().1;
        assert_eq!(value("ip"), "127.0.0.1");
        assert_eq!(value("state"), "online");
        let acked: i64 = value("offset").parse().unwrap();
        assert!(
            acked > 0 && acked <= offset,
            "{name} offset {acked} of {offset}"
        );
        let lag: i64 = value("lag").parse().unwrap();
        assert!((0..=5).contains(&lag), "{name} lag {lag}");
        ports.push(value("port").parse::<u16>().unwrap());
    }
    ports.sort_unstable();
    let mut want: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    want.sort_unstable();
    assert_eq!(ports, want, "the replicas' listening ports");
    assert_eq!(field(&info, "master_failover_state"), "no-failover");
    assert!(is_replid(field(&info, "master_replid")));
    assert_eq!(field(&info, "master_replid2"), "0".repeat(40));
    assert!(offset > 0);
    assert_eq!(int(&info, "second_repl_offset"), -1);
    assert_eq!(int(&info, "repl_backlog_active"), 1);
    assert_eq!(int(&info, "repl_backlog_size"), 1 << 20);
    let first = int(&info, "repl_backlog_first_byte_offset");
    let histlen = int(&info, "repl_backlog_histlen");
    assert!(
        first >= 1 && histlen > 0,
        "backlog from {first}, {histlen} bytes"
    );
    assert_eq!(
        first + histlen - 1,
        offset,
        "the backlog ends at the offset"
    );
}

fn check_replica_info(replica: &Node, primary: &Node) {
    let info = replica.info("replication");
    assert_eq!(field_names(&info), REPLICA_FIELDS, "{info:#?}");
    assert_eq!(field(&info, "role"), "slave");
    assert_eq!(field(&info, "master_host"), "127.0.0.1");
    assert_eq!(int(&info, "master_port"), i64::from(primary.port));
    assert_eq!(field(&info, "master_link_status"), "up");
    let io = int(&info, "master_last_io_seconds_ago");
    assert!((0..=11).contains(&io), "master_last_io_seconds_ago {io}");
    assert_eq!(int(&info, "master_sync_in_progress"), 0);
    let offset = int(&info, "master_repl_offset");
    assert_eq!(int(&info, "slave_read_repl_offset"), offset);
    assert_eq!(int(&info, "slave_repl_offset"), offset);
    assert_eq!(int(&info, "slave_priority"), 100);
    assert_eq!(int(&info, "slave_read_only"), 1);
    assert_eq!(int(&info, "replica_announced"), 1);
    assert_eq!(int(&info, "connected_slaves"), 0);
    assert_eq!(field(&info, "master_failover_state"), "no-failover");
    assert_eq!(
        field(&info, "master_replid"),
        primary.info_field("replication", "master_replid"),
        "the replica takes the primary's replication id"
    );
    assert_eq!(int(&info, "repl_backlog_active"), 1);
}

fn check_role(primary: &Node, replicas: &[Node]) {
    // The offsets in ROLE move with the primary's pings: take them when they are still.
    wait_until(
        "the replicas to acknowledge everything",
        Duration::from_secs(15),
        || {
            let role = primary.client().cmd(&["ROLE"]);
            let items = role.array();
            let offset = items[1].int();
            let acked: Vec<i64> = items[2]
                .array()
                .iter()
                .map(|r| r.array()[2].text().parse().unwrap())
                .collect();
            if acked.iter().all(|&a| a == offset) {
                Ok(())
            } else {
                Err(format!("{role:?}"))
            }
        },
    );
    let role = primary.client().cmd(&["ROLE"]);
    let items = role.array();
    assert_eq!(items.len(), 3, "{role:?}");
    assert_eq!(items[0], Reply::Bulk(Some(b"master".to_vec())));
    let offset = items[1].int();
    let mut ports = Vec::new();
    for r in items[2].array() {
        // The port and the offset are bulk strings here, integers in a replica's ROLE.
        let [ip, port, acked] = r.array() else {
            panic!("{r:?}")
        };
        assert_eq!(ip.bytes(), b"127.0.0.1");
        assert_eq!(acked.text(), offset.to_string());
        ports.push(port.text().parse::<u16>().unwrap());
    }
    ports.sort_unstable();
    let mut want: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    want.sort_unstable();
    assert_eq!(ports, want);

    for r in replicas {
        let role = r.client().cmd(&["ROLE"]);
        let items = role.array();
        assert_eq!(items.len(), 5, "{role:?}");
        assert_eq!(items[0], Reply::Bulk(Some(b"slave".to_vec())));
        assert_eq!(items[1].bytes(), b"127.0.0.1");
        assert_eq!(items[2], Reply::Int(i64::from(primary.port)));
        assert_eq!(items[3], Reply::Bulk(Some(b"connected".to_vec())));
        let offset = items[4].int();
        assert!(offset > 0 && offset <= r.info_int("replication", "master_repl_offset"));
    }
}
