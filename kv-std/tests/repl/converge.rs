//! Waiting for replication to settle, and checking that it settled on the same content.

use crate::digest::{assert_same, cutoff, Content};
use crate::node::Node;
use std::time::{Duration, Instant};

/// Polls `done` every 20 ms until it holds; panics with `what` and the last `state` after
/// `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match done() {
            Ok(()) => return,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}: {state}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Until the replica's link is up and no full sync is in progress.
pub fn wait_link_up(replica: &Node, timeout: Duration) {
    wait_until(
        &format!("the link of the replica on {} to come up", replica.port),
        timeout,
        || {
            let info = replica.info("replication");
            let field = |name: &str| {
                info.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("(missing)")
            };
            if field("master_link_status") == "up" && field("master_sync_in_progress") == "0" {
                Ok(())
            } else {
                Err(format!("{info:?}"))
            }
        },
    );
}

/// Until `master_repl_offset` is the same on the primary and every replica, with every link up.
pub fn wait_offsets_equal(primary: &Node, replicas: &[&Node], timeout: Duration) {
    for r in replicas {
        wait_link_up(r, timeout);
    }
    wait_until("equal replication offsets", timeout, || {
        let want = primary.info_int("replication", "master_repl_offset");
        let got: Vec<i64> = replicas
            .iter()
            .map(|r| r.info_int("replication", "master_repl_offset"))
            .collect();
        if got.iter().all(|&o| o == want) {
            Ok(())
        } else {
            Err(format!("primary at {want}, replicas at {got:?}"))
        }
    });
}

/// Waits until the replicas have everything the primary has sent, then compares the content of
/// each with the primary's. Call once the writes have stopped.
pub fn assert_converged(primary: &Node, replicas: &[&Node], timeout: Duration) -> Content {
    wait_offsets_equal(primary, replicas, timeout);
    let cut = cutoff();
    // Read at the same time, so that a deadline passing between two reads matters less.
    let (want, contents) = std::thread::scope(|s| {
        let others: Vec<_> = replicas
            .iter()
            .map(|r| s.spawn(move || Content::of(r, cut)))
            .collect();
        let want = Content::of(primary, cut);
        let contents: Vec<Content> = others.into_iter().map(|t| t.join().unwrap()).collect();
        (want, contents)
    });
    assert!(
        crate::load::now_ms() < cut,
        "reading the nodes outlasted the cutoff"
    );
    for (r, got) in replicas.iter().zip(&contents) {
        assert_same(
            &format!("primary {} on {}", primary.kind.name(), primary.port),
            &want,
            &format!("replica {} on {}", r.kind.name(), r.port),
            got,
        );
    }
    want
}
