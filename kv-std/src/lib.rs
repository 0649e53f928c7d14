//! The hosted side of kv: `kv-server`, built on the table and codecs of `kv-nostd`.
//!
//! # Modules
//! - [`config`]: command-line flags and the validated [`Config`](config::Config).
//! - [`server`]: the listener and accept loop (the main thread), the workers' readiness loops,
//!   connections, the registry of clients, and the doorbell other threads wake a worker with.
//! - [`cmd`]: the Redis commands, one file per family, and what watches them run: the command
//!   and error counters, the slow log, the monitors.
//! - [`pubsub`]: subscriptions, and delivery of published messages across workers.
//! - [`native_cmd`]: answers to the native protocol.
//! - [`db`]: the shared table and statistics, and the table's clock.
//! - [`expiry`]: active expiry, the thread that removes expired keys nobody reads.
//! - [`storage`]: host memory for the table: address space reserved up front, resident only as
//!   used, given back as the table frees pages.
//! - [`auth`]: protected mode, passwords and `AUTH`.
//! - [`persist`]: snapshots to the backup file and the append-only log; [`backup_format`] is
//!   the file format itself.
//! - [`reply`]: a connection's reply encoder, which shapes each reply for RESP2 or RESP3.
//! - [`pattern`]: glob matching for `KEYS`, `SCAN` and pattern subscriptions.
//! - [`value`]: the string commands' operations on values, pure: parse, apply, reply.
//! - [`client`]: a client over the native protocol, with reconnects, retries and pipelining.
//! - [`backup_format`]: the backup file format, read and written (import, export, persistence).
//! - [`rdb`]: Redis's RDB format for string keys: files, replication payloads, `DUMP`/`RESTORE`.
//!
//! # Example
//! ```no_run
//! use kv_std::{config::Config, server::Server};
//!
//! let server = Server::bind(Config::local())?;
//! println!("listening on {}", server.local_addr()?);
//! let stop = server.shutdown_handle();
//! let thread = std::thread::spawn(move || server.run());
//! stop.shutdown();
//! thread.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod auth;
pub mod backup_format;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod db;
pub mod expiry;
pub mod native_cmd;
pub mod pattern;
pub mod persist;
pub mod pubsub;
pub mod rdb;
pub mod repl;
pub mod reply;
pub mod server;
pub mod storage;
pub mod txn;
pub mod value;
