//! Replication between server processes: kv-server replicating kv-server, kv-server and
//! redis-server replicating each other, and replicas that crash, lose their link or see their
//! primary restart.
//!
//! Each test is written once against a [`Kind`] of server. The plain test runs kv-server; the
//! `_reference_redis` test, ignored by default, runs the same steps with redis-server (7.0 or
//! later on the `PATH`), which is how the tests themselves were checked:
//!
//! ```sh
//! cargo test -p kv-std --test repl -- --ignored reference_redis
//! ```
//!
//! Layout: [`resp`] a RESP client; [`node`] a server process on a free port in a directory of its
//! own; [`load`] the data written; [`digest`] a node's whole content; [`converge`] waiting for
//! replicas to catch up and comparing them; [`proxy`] a TCP proxy that cuts links. The tests:
//! [`topology`] one primary and two replicas; [`interop`] kv and Redis and redis-cli together;
//! [`faults`] crashes, cut links and restarts; [`guarantees`] what replication promises clients
//! (kv only); [`harness`] checks of the tools above.
#![allow(missing_docs)]

mod converge;
mod digest;
mod faults;
mod guarantees;
mod harness;
mod interop;
mod load;
mod node;
mod proxy;
mod resp;
mod topology;

pub use node::Kind;

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

both_servers! {
    kv_to_kv, kv_to_kv_reference_redis => topology::kv_to_kv_with;
    interop_redis_replica, interop_redis_replica_reference_redis
        => interop::redis_replica_with;
    interop_redis_primary, interop_redis_primary_reference_redis
        => interop::redis_primary_with;
    interop_redis_cli, interop_redis_cli_reference_redis => interop::redis_cli_with;
    fault_kill_replica_during_full_sync, fault_kill_replica_during_full_sync_reference_redis
        => faults::kill_replica_during_full_sync_with;
    fault_restart_replica_partial_resync, fault_restart_replica_partial_resync_reference_redis
        => faults::restart_replica_partial_resync_with;
    fault_restart_replica_full_resync, fault_restart_replica_full_resync_reference_redis
        => faults::restart_replica_full_resync_with;
    fault_link_cut, fault_link_cut_reference_redis => faults::link_cut_with;
    fault_primary_restart, fault_primary_restart_reference_redis
        => faults::primary_restart_with;
}

/// Declares `$name` running `$body()` against kv-server alone: the behaviour it checks is kv's
/// own, or needs signals that the Redis runs of the tests above do not.
macro_rules! kv_only {
    ($($name:ident => $body:path;)*) => {$(
        #[test]
        fn $name() {
            $body()
        }
    )*};
}

kv_only! {
    sync_replicas_holds_writes_not_reads => guarantees::sync_replicas_holds_writes_not_reads;
    sync_replicas_refuses_writes_without_replicas
        => guarantees::sync_replicas_refuses_writes_without_replicas;
    min_replicas_to_write => guarantees::min_replicas_to_write;
    wait_counts_acknowledged_replicas => guarantees::wait_counts_acknowledged_replicas;
    replica_restarted_after_clean_shutdown_continues
        => guarantees::replica_restarted_after_clean_shutdown_continues;
    publish_reaches_replica_subscribers => guarantees::publish_reaches_replica_subscribers;
    replica_keeps_keys_the_primary_still_has
        => guarantees::replica_keeps_keys_the_primary_still_has;
    promoted_replica_keeps_history => guarantees::promoted_replica_keeps_history;
    disk_based_full_sync => guarantees::disk_based_full_sync;
}
