//! The `kv-client` binary against a real server, one module per area: exact stdout, stderr and
//! exit codes. RDB files and replicas are checked against redis-server 7.0 (with
//! redis-check-rdb, on the PATH); every process a test starts is killed when it ends. The
//! cluster tests run kv-server; each has a `_reference_redis` twin, ignored by default, running
//! the same steps on redis-server (`cargo test -p kv-std --test cli -- --ignored reference_redis`).
#![allow(missing_docs)]

mod basic;
mod cluster;
mod cluster_crate;
mod files;
mod partition;
mod process;
mod rdb;
mod replicas;
mod retry;

#[path = "../support/mod.rs"]
mod support;

use assert_cmd::Command;
pub use support::TestServer;

/// `kv-client --port <this server's port>`, with a short timeout so failures end quickly.
pub trait ClientCommand {
    fn client(&self) -> Command;
}

impl ClientCommand for TestServer {
    fn client(&self) -> Command {
        client_on(self.addr.port())
    }
}

pub fn client_on(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv-client"));
    cmd.args(["--port", &port.to_string(), "--timeout", "2"]);
    cmd.timeout(std::time::Duration::from_secs(30));
    cmd
}

/// About 5 MiB of bytes in no simple pattern, holding every byte value many times over (the
/// backup format's escape and separator bytes and newlines among them), then each once more.
pub fn large_value(seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut value: Vec<u8> = (0..5 * 1024 * 1024 - 256)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    value.extend(0..=255u8);
    value
}

/// A client library connection to `server`.
pub fn library(server: &TestServer) -> kv_std::client::Client {
    kv_std::client::Client::new(kv_std::client::ClientConfig::new(
        "127.0.0.1",
        server.addr.port(),
    ))
}
