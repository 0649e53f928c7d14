//! Checks of the tools the replication tests stand on, against kv-server alone (no replication):
//! a content comparison that would miss a difference, or a restart that lost the node's files,
//! would let every test above pass for the wrong reason.

use crate::digest::{cutoff, Content};
use crate::load::{self, now_ms, Rng};
use crate::node::{Kind, Node, Persist};
use crate::resp::Reply;

fn set(node: &Node, args: &[&str]) {
    let mut cmd = vec!["SET"];
    cmd.extend_from_slice(args);
    assert_eq!(node.client().cmd(&cmd), Reply::Status("OK".into()));
}

#[test]
fn content_tells_values_and_deadlines_apart() {
    let a = Node::start(Kind::Kv, Persist::None, &[]);
    let b = Node::start(Kind::Kv, Persist::None, &[]);
    // The same 2000 keys on both, every third with the same deadline.
    let deadline = (now_ms() + 600_000).to_string();
    for node in [&a, &b] {
        let mut rng = Rng::new(7);
        let commands: Vec<Vec<Vec<u8>>> = (0..2_000)
            .map(|k| {
                let mut c = vec![b"SET".to_vec(), load::key(k), load::value(&mut rng)];
                if k % 3 == 0 {
                    c.extend([b"PXAT".to_vec(), deadline.clone().into_bytes()]);
                }
                c
            })
            .collect();
        for reply in node.client().pipeline(&commands) {
            assert_eq!(reply, Reply::Status("OK".into()));
        }
    }
    let same = |cut| Content::of(&a, cut) == Content::of(&b, cut);
    assert!(same(cutoff()));

    set(&b, &["key:5", "other"]);
    assert!(!same(cutoff()), "a changed value");
    set(&a, &["key:5", "other"]);
    assert!(same(cutoff()));

    let later = (now_ms() + 700_000).to_string();
    b.client().cmd(&["PEXPIREAT", "key:6", &later]);
    assert!(!same(cutoff()), "a changed deadline");
    b.client().cmd(&["PEXPIREAT", "key:6", &deadline]);
    assert!(same(cutoff()));

    set(&b, &["extra", "1"]);
    assert!(!same(cutoff()), "a key more");
    b.client().cmd(&["DEL", "extra"]);

    // A key about to expire counts on neither side, whatever either holds.
    set(&a, &["soon", "1", "PX", "100000"]);
    let cut = now_ms() + 200_000;
    assert!(same(cut), "a deadline before the cutoff is left out");
    assert!(!same(cutoff()));
}

#[test]
fn restart_keeps_port_and_files() {
    let mut node = Node::start(Kind::Kv, Persist::Log("always"), &[]);
    load::fill(node.port, 8, 0, 3_000);
    let port = node.port;
    let cut = cutoff();
    let before = Content::of(&node, cut);
    node.kill9();
    assert!(node.client_checked().is_err(), "the process is gone");
    node.restart();
    assert_eq!(node.port, port);
    assert!(before == Content::of(&node, cut), "the restart lost data");
}
