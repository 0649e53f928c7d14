//! The hosted side of kv: the `kv-server` (listener, worker threads, connections, commands),
//! persistence (the backup file and the append-only log) and the client library behind
//! `kv-client`, all built on the table and codecs of `kv-nostd`.
//!
//! The server and client arrive with their issues; this crate holds nothing yet.
