//! The `kv-client` binary against a real server, one module per area: exact stdout, stderr and
//! exit codes.
#![allow(missing_docs)]

mod basic;
mod files;
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
