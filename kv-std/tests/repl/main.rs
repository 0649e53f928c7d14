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
//! [`faults`] crashes, cut links and restarts; [`harness`] checks of the tools above.
#![allow(missing_docs)]

mod converge;
mod digest;
mod faults;
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
