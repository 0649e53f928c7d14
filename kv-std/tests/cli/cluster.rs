//! `--cluster`: kv-client against a Redis Cluster of three primaries made by
//! `redis-cli --cluster create`, each key checked to live on its slot's owner only (by the
//! servers' own `CLUSTER KEYSLOT`, `CLUSTER NODES` and `CLUSTER GETKEYSINSLOT`), and the
//! client library following `ASK` and `MOVED` while a slot is moved by hand.
//!
//! Each test runs with kv-server; its `_reference_redis` twin, ignored by default, runs the same
//! steps with redis-server, which is how the tests themselves were checked:
//!
//! ```sh
//! cargo test -p kv-std --test cli -- --ignored reference_redis
//! ```

use crate::process::{bulk, call, wait_for};
use assert_cmd::Command;
use kv_std::backup_format::{BackupReader, Trailer};
use kv_std::client::cluster::Redirections;
use kv_std::client::resp::{RespConn, Value};
use kv_std::client::{ClientConfig, Cluster as ClusterClient};
use predicates::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Which server the cluster's nodes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Kv,
    Redis,
}

/// Declares `$name` running `$body(Kind::Kv)` and `${name}_reference_redis` running it with
/// redis-server, ignored by default.
macro_rules! both_servers {
    ($($name:ident, $reference:ident => $body:path;)*) => {$(
        #[test]
        fn $name() {
            $body(Kind::Kv)
        }

        #[test]
        #[ignore = "runs the same test with redis-server, to check the test itself"]
        fn $reference() {
            $body(Kind::Redis)
        }
    )*};
}
pub(crate) use both_servers;

both_servers! {
    cluster_put_get_delete_on_the_slot_owner,
    cluster_put_get_delete_on_the_slot_owner_reference_redis => put_get_delete;
    cluster_import_spreads_and_export_gathers,
    cluster_import_spreads_and_export_gathers_reference_redis => import_export;
    cluster_ask_and_moved_are_followed,
    cluster_ask_and_moved_are_followed_reference_redis => ask_and_moved;
}

/// A free loopback port whose cluster bus port (+10000, which redis-server also binds) is free
/// too.
fn free_cluster_port() -> u16 {
    for _ in 0..100 {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let port = listener.local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair found in 100 tries");
}

/// A node of the cluster, killed when dropped.
struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(kind: Kind) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let port = free_cluster_port();
        let config = dir.path().join("nodes.conf");
        let mut cmd = match kind {
            Kind::Kv => {
                let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"));
                cmd.args(["--no-persist", "--log-level", "warn"]);
                cmd
            }
            Kind::Redis => {
                let mut cmd = std::process::Command::new("redis-server");
                cmd.args(["--save", "", "--appendonly", "no", "--protected-mode", "no"]);
                cmd.arg("--dir").arg(dir.path());
                cmd
            }
        };
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        cmd.args(["--cluster-enabled", "yes", "--cluster-config-file"]);
        cmd.arg(&config);
        let child = cmd
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let mut node = Node {
            child,
            port,
            _dir: dir,
        };
        wait_for(&format!("{kind:?} on {port} to answer PING"), || {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("{kind:?} on {port} exited: {status}");
            }
            matches!(try_call(port, &[b"PING"]), Some(Value::Simple(p)) if p == b"PONG")
        });
        node
    }

    fn call(&self, args: &[&[u8]]) -> Value {
        call(self.port, args)
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn id(&self) -> Vec<u8> {
        match self.call(&[b"CLUSTER", b"MYID"]) {
            Value::Bulk(id) | Value::Simple(id) => id,
            other => panic!("CLUSTER MYID answered {other:?}"),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn try_call(port: u16, args: &[&[u8]]) -> Option<Value> {
    let config = ClientConfig::new("127.0.0.1", port);
    let mut conn = RespConn::open("127.0.0.1", port, &config).ok()?;
    conn.call(args).ok()
}

/// Three primaries holding every slot, made by `redis-cli --cluster create`.
pub struct Cluster {
    nodes: Vec<Node>,
}

/// The slots each node's `CLUSTER NODES` line gives it, by port (only plain slots and ranges;
/// migration markers are skipped).
fn owners(nodes_text: &str) -> HashMap<u16, u16> {
    let mut owner = HashMap::new();
    for line in nodes_text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(fields.len() >= 8, "CLUSTER NODES line: {line}");
        let port: u16 = fields[1]
            .split('@')
            .next()
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("address in: {line}"));
        for slots in &fields[8..] {
            if slots.starts_with('[') {
                continue;
            }
            let (lo, hi) = slots.split_once('-').unwrap_or((slots, slots));
            let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
            for slot in lo..=hi {
                owner.insert(slot, port);
            }
        }
    }
    owner
}

fn text(v: Value) -> String {
    match v {
        Value::Bulk(b) | Value::Simple(b) => String::from_utf8(b).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

impl Cluster {
    pub fn start(kind: Kind) -> Cluster {
        let nodes: Vec<Node> = (0..3).map(|_| Node::start(kind)).collect();
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        create.args(nodes.iter().map(Node::addr));
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        create.timeout(Duration::from_secs(60));
        let output = create.output().expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Cluster { nodes };
        wait_for("every node to see all 16384 slots served", || {
            cluster.nodes.iter().all(|n| {
                let info = text(n.call(&[b"CLUSTER", b"INFO"]));
                info.contains("cluster_state:ok")
                    && info.contains("cluster_slots_assigned:16384")
                    && owners(&text(n.call(&[b"CLUSTER", b"NODES"]))).len() == 16384
            })
        });
        cluster
    }

    /// The seeds, as `--servers` takes them.
    pub fn seeds(&self) -> String {
        let addrs: Vec<String> = self.nodes.iter().map(Node::addr).collect();
        addrs.join(",")
    }

    /// The node ports, in order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    fn client(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv-client"));
        // Generous: the machine may be busy with other tests' servers.
        cmd.args(["--timeout", "5", "--retries", "2"]);
        cmd.args(["--servers", &self.seeds()]);
        cmd.arg("--cluster");
        cmd.timeout(Duration::from_secs(60));
        cmd
    }

    /// The slot of `key`, as the first node computes it.
    fn slot(&self, key: &[u8]) -> u16 {
        match self.nodes[0].call(&[b"CLUSTER", b"KEYSLOT", key]) {
            Value::Int(slot) => u16::try_from(slot).unwrap(),
            other => panic!("CLUSTER KEYSLOT answered {other:?}"),
        }
    }

    /// Asserts each of `keys` is held by its slot's owner (by the first node's `CLUSTER
    /// NODES`) and by no other node; or, with `present` false, by no node at all.
    fn assert_placed(&self, keys: &[Vec<u8>], present: bool) {
        // One connection per node for the whole check.
        let config = ClientConfig::new("127.0.0.1", 0);
        let mut conns: Vec<RespConn> = self
            .nodes
            .iter()
            .map(|n| RespConn::open("127.0.0.1", n.port, &config).unwrap())
            .collect();
        let owner = owners(&text(conns[0].call(&[b"CLUSTER", b"NODES"]).unwrap()));
        let mut by_slot: BTreeMap<u16, Vec<&Vec<u8>>> = BTreeMap::new();
        for key in keys {
            let slot = match conns[0].call(&[b"CLUSTER", b"KEYSLOT", key]).unwrap() {
                Value::Int(slot) => u16::try_from(slot).unwrap(),
                other => panic!("CLUSTER KEYSLOT answered {other:?}"),
            };
            by_slot.entry(slot).or_default().push(key);
        }
        for (slot, keys) in by_slot {
            let slot_text = slot.to_string();
            for (node, conn) in self.nodes.iter().zip(&mut conns) {
                let args: [&[u8]; 4] = [
                    b"CLUSTER",
                    b"GETKEYSINSLOT",
                    slot_text.as_bytes(),
                    b"100000",
                ];
                let Value::Array(held) = conn.call(&args).unwrap() else {
                    panic!("GETKEYSINSLOT on {} answered otherwise", node.port);
                };
                let expected = present && owner[&slot] == node.port;
                for key in &keys {
                    assert_eq!(
                        held.contains(&bulk(key)),
                        expected,
                        "key '{}' (slot {slot}, owner {}) on {}",
                        key.escape_ascii(),
                        owner[&slot],
                        node.port
                    );
                }
            }
        }
    }

    /// Keys held by every node together.
    fn total_keys(&self) -> i64 {
        self.nodes
            .iter()
            .map(|n| match n.call(&[b"DBSIZE"]) {
                Value::Int(n) => n,
                other => panic!("DBSIZE answered {other:?}"),
            })
            .sum()
    }
}

/// 300 keys: plain ones, ones sharing a hash tag (so one slot holds several), and bytes outside
/// ASCII.
fn keys() -> Vec<Vec<u8>> {
    (0..300)
        .map(|i| match i % 3 {
            0 => format!("key:{i}").into_bytes(),
            1 => format!("{{user{}}}.field{i}", i % 7).into_bytes(),
            _ => [&b"\xff\xfebin"[..], format!("{i}").as_bytes()].concat(),
        })
        .collect()
}

fn put_get_delete(kind: Kind) {
    let cluster = Cluster::start(kind);
    let keys = keys();
    for key in &keys {
        let value = [b"value of ", &key[..]].concat();
        cluster
            .client()
            .arg("put")
            .arg(OsStr::from_bytes(key))
            .arg(OsStr::from_bytes(&value))
            .assert()
            .code(0);
    }
    cluster.assert_placed(&keys, true);
    assert_eq!(cluster.total_keys(), 300);
    let mut primaries_used = std::collections::HashSet::new();
    let owner = owners(&text(cluster.nodes[0].call(&[b"CLUSTER", b"NODES"])));
    for key in &keys {
        primaries_used.insert(owner[&cluster.slot(key)]);
        cluster
            .client()
            .arg("get")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(0)
            .stdout([b"value of ", &key[..], b"\n"].concat());
    }
    assert_eq!(primaries_used.len(), 3, "the keys span every primary");
    let (deleted, kept): (Vec<_>, Vec<_>) = keys
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let deleted: Vec<Vec<u8>> = deleted.into_iter().map(|(_, k)| k).collect();
    let kept: Vec<Vec<u8>> = kept.into_iter().map(|(_, k)| k).collect();
    for key in &deleted {
        cluster
            .client()
            .arg("delete")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(0)
            .stdout([b"\xE2\x9C\x93 deleted ", &key[..], b"\n"].concat());
        cluster
            .client()
            .arg("get")
            .arg(OsStr::from_bytes(key))
            .assert()
            .code(1);
    }
    cluster.assert_placed(&deleted, false);
    cluster.assert_placed(&kept, true);
    assert_eq!(cluster.total_keys(), 150);
    cluster
        .client()
        .arg("ping")
        .assert()
        .code(0)
        .stdout("PONG\n");
}

fn import_export(kind: Kind) {
    let cluster = Cluster::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("in.txt");
    // Plain key,value lines; `\xff` escapes a key's first byte.
    let mut lines = String::new();
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 0..300 {
        let (line_key, key) = match i % 3 {
            0 => (
                format!("\\xffk{i}"),
                [&b"\xff"[..], format!("k{i}").as_bytes()].concat(),
            ),
            1 => (
                format!("{{order{}}}:{i}", i % 5),
                format!("{{order{}}}:{i}", i % 5).into_bytes(),
            ),
            _ => (format!("user{i}"), format!("user{i}").into_bytes()),
        };
        lines.push_str(&format!("{line_key},value {i}, ✓\n"));
        expected.push((key, format!("value {i}, ✓").into_bytes()));
    }
    std::fs::write(&backup, lines).unwrap();
    cluster
        .client()
        .arg("import")
        .arg(&backup)
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::starts_with("imported 300 entries in "));
    let keys: Vec<Vec<u8>> = expected.iter().map(|(k, _)| k.clone()).collect();
    cluster.assert_placed(&keys, true);
    assert_eq!(cluster.total_keys(), 300);
    let exported = dir.path().join("out.txt");
    cluster
        .client()
        .arg("export")
        .arg(&exported)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("exported 300 entries to "));
    expected.sort();
    let file = std::fs::read(&exported).unwrap();
    let mut reader = BackupReader::new(&file[..]);
    let read: Vec<_> = reader.by_ref().map(|(_, e)| e.unwrap()).collect();
    assert!(read == expected, "the exported entries differ");
    assert!(matches!(reader.trailer(), Some(Trailer::Verified { .. })));
    // RDB files are refused in cluster mode.
    cluster
        .client()
        .args(["export", "--rdb"])
        .arg(dir.path().join("dump.rdb"))
        .assert()
        .code(2)
        .stderr("kv-client: --rdb is not supported with --cluster\n");
}

/// A hash tag whose slot the node on `port` owns, by `owner`.
fn tag_owned_by(cluster: &Cluster, owner: &HashMap<u16, u16>, port: u16) -> String {
    (0..1000)
        .map(|i| format!("m{i}"))
        .find(|tag| owner[&cluster.slot(tag.as_bytes())] == port)
        .expect("a tag in the node's slots among 1000")
}

fn ask_and_moved(kind: Kind) {
    let cluster = Cluster::start(kind);
    let owner = owners(&text(cluster.nodes[0].call(&[b"CLUSTER", b"NODES"])));
    let (src, dst, third) = (&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]);
    let tag = tag_owned_by(&cluster, &owner, src.port);
    let [a, b, c] = ["a", "b", "c"].map(|k| format!("{{{tag}}}{k}").into_bytes());
    let slot = cluster.slot(&a);
    let slot_text = slot.to_string();
    let config = ClientConfig {
        io_timeout: Duration::from_secs(10),
        ..ClientConfig::new("127.0.0.1", 0)
    };
    let seeds = cluster
        .ports()
        .into_iter()
        .map(|p| ("127.0.0.1".to_string(), p))
        .collect();
    let mut client = ClusterClient::new(seeds, config);
    for key in [&a, &b] {
        let value = [b"v-", &key[..]].concat();
        assert_eq!(
            client.call(&[b"SET", key, &value]).unwrap(),
            Value::Simple(b"OK".to_vec())
        );
    }
    assert_eq!(
        client.owner(slot).unwrap(),
        Some(("127.0.0.1".into(), src.port))
    );
    // Half-way through a migration: `a` moved, `b` not yet.
    let ok = Value::Simple(b"OK".to_vec());
    let (src_id, dst_id) = (src.id(), dst.id());
    assert_eq!(
        dst.call(&[
            b"CLUSTER",
            b"SETSLOT",
            slot_text.as_bytes(),
            b"IMPORTING",
            &src_id
        ]),
        ok
    );
    assert_eq!(
        src.call(&[
            b"CLUSTER",
            b"SETSLOT",
            slot_text.as_bytes(),
            b"MIGRATING",
            &dst_id
        ]),
        ok
    );
    let dst_port = dst.port.to_string();
    let migrate = |key: &[u8]| {
        assert_eq!(
            src.call(&[
                b"MIGRATE",
                b"127.0.0.1",
                dst_port.as_bytes(),
                b"",
                b"0",
                b"5000",
                b"KEYS",
                key
            ]),
            ok
        );
    };
    migrate(&a);
    assert_eq!(
        client.call(&[b"GET", &a]).unwrap(),
        bulk(&[b"v-", &a[..]].concat())
    );
    assert_eq!(
        client.redirections(),
        Redirections {
            moved: 0,
            asked: 1,
            waited: 0
        }
    );
    assert_eq!(
        client.call(&[b"GET", &b]).unwrap(),
        bulk(&[b"v-", &b[..]].concat())
    );
    assert_eq!(client.redirections().asked, 1, "b is still on the source");
    // A new key in a migrating slot is made on the target.
    assert_eq!(client.call(&[b"SET", &c, b"v-c"]).unwrap(), ok);
    assert_eq!(client.redirections().asked, 2);
    // The map is left as it was by ASK.
    assert_eq!(
        client.owner(slot).unwrap(),
        Some(("127.0.0.1".into(), src.port))
    );
    migrate(&b);
    for node in [dst, src, third] {
        assert_eq!(
            node.call(&[
                b"CLUSTER",
                b"SETSLOT",
                slot_text.as_bytes(),
                b"NODE",
                &dst_id
            ]),
            ok
        );
    }
    cluster.assert_placed(&[a.clone(), b.clone(), c.clone()], true);
    // The client's map still names the source, which now answers MOVED.
    assert_eq!(
        client.call(&[b"GET", &b]).unwrap(),
        bulk(&[b"v-", &b[..]].concat())
    );
    assert_eq!(
        client.redirections(),
        Redirections {
            moved: 1,
            asked: 2,
            waited: 0
        }
    );
    assert_eq!(
        client.owner(slot).unwrap(),
        Some(("127.0.0.1".into(), dst.port))
    );
    assert_eq!(client.call(&[b"GET", &c]).unwrap(), bulk(b"v-c"));
    assert_eq!(client.call(&[b"DEL", &a]).unwrap(), Value::Int(1));
    assert_eq!(
        client.redirections().moved,
        1,
        "the map was mended by the first MOVED"
    );
    // A fresh kv-client reads the new map.
    cluster
        .client()
        .arg("get")
        .arg(OsStr::from_bytes(&c))
        .assert()
        .code(0)
        .stdout("v-c\n");
    cluster.assert_placed(&[a], false);
}
