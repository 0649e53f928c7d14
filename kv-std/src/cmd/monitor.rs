//! `MONITOR`: every command any client runs, on any worker, streamed to the monitoring clients as
//! Redis 7.0 writes it: `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`.
//!
//! A command is fed once it has run, with its passwords redacted (a native protocol request as
//! the Redis command it stands for: `get`, `set`, `del`, ...); commands refused before they
//! ran, unknown ones and administrative ones (`CONFIG`, `DEBUG`, `MONITOR` itself) are not, as
//! in Redis. Each line is built once and queued in every monitor's mailbox, the way pub/sub
//! messages are, so a command never waits for a monitor. A monitor that does not read is held
//! to an output buffer limit and disconnected past it: the `normal` class's limit, as Redis
//! applies to monitors, or the `pubsub` class's while `normal` has none (Redis's default, under
//! which a monitor that stops reading grows without bound).

use super::Client;
use crate::config::OutputLimits;
use crate::db::Db;
use crate::pubsub::mailbox::Delivery;
use crate::pubsub::Message;
use crate::reply::Out;
use crate::server::clients::Handle;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// `MONITOR`: from now on the client receives every command run. A client that already
/// monitors gets no reply, as from Redis.
pub fn monitor(client: &Client, db: &Db, out: &mut Out) {
    if db.monitors.add(&client.handle) {
        client.handle.set_monitor();
        out.ok();
    }
}

/// The clients in monitor mode.
#[derive(Default)]
pub struct Monitors {
    clients: RwLock<Vec<Arc<Handle>>>,
    /// How many there are: lets each command skip the lock when there are none.
    count: AtomicUsize,
    /// Monitors disconnected for passing their output buffer limit.
    pub limit_disconnections: AtomicU64,
}

impl Monitors {
    /// Adds `who`; false if it already monitors.
    pub fn add(&self, who: &Arc<Handle>) -> bool {
        let mut clients = self.clients.write().unwrap_or_else(|e| e.into_inner());
        if clients.iter().any(|c| c.id == who.id) {
            return false;
        }
        clients.push(Arc::clone(who));
        self.count.store(clients.len(), Ordering::Release);
        true
    }

    /// Removes client `id`, if it monitors.
    pub fn remove(&self, id: u64) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut clients = self.clients.write().unwrap_or_else(|e| e.into_inner());
        clients.retain(|c| c.id != id);
        self.count.store(clients.len(), Ordering::Release);
    }

    /// Whether any client monitors.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Sends every monitor the line for `args` (already redacted), run by the client at `peer`.
    pub fn feed<'a>(
        &self,
        peer: SocketAddr,
        args: impl Iterator<Item = &'a [u8]>,
        limits: OutputLimits,
    ) {
        let message = Arc::new(Message::status(&line(crate::db::unix_us(), peer, args)));
        let limit = if limits.normal.hard > 0 || limits.normal.soft > 0 {
            limits.normal
        } else {
            limits.pubsub
        };
        let clients = self.clients.read().unwrap_or_else(|e| e.into_inner());
        for who in clients.iter() {
            match who.mailbox.deliver(&message, who.unwritten(), limit) {
                Delivery::Queued { first: true } => who.ring(),
                Delivery::Queued { first: false } | Delivery::Closed => {}
                Delivery::OverLimit => {
                    log::warn!(
                        "Client id={} addr={} (monitor) scheduled to be closed ASAP for \
                         overcoming of output buffer limits.",
                        who.id,
                        who.addr
                    );
                    self.limit_disconnections.fetch_add(1, Ordering::Relaxed);
                    who.kill();
                }
            }
        }
    }
}

/// A monitor line, without the `+` and line end: the time in seconds and microseconds, the
/// database and client, and each argument quoted as Redis's `sdscatrepr` quotes it.
fn line<'a>(unix_us: u64, peer: SocketAddr, args: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut text = format!(
        "{}.{:06} [0 {peer}]",
        unix_us / 1_000_000,
        unix_us % 1_000_000
    )
    .into_bytes();
    for arg in args {
        text.extend_from_slice(b" \"");
        for &b in arg {
            match b {
                b'\\' => text.extend_from_slice(b"\\\\"),
                b'"' => text.extend_from_slice(b"\\\""),
                b'\n' => text.extend_from_slice(b"\\n"),
                b'\r' => text.extend_from_slice(b"\\r"),
                b'\t' => text.extend_from_slice(b"\\t"),
                0x07 => text.extend_from_slice(b"\\a"),
                0x08 => text.extend_from_slice(b"\\b"),
                b' '..=b'~' => text.push(b),
                _ => text.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        text.push(b'"');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_arguments_as_redis_does() {
        let peer: SocketAddr = "127.0.0.1:60866".parse().unwrap();
        let args: [&[u8]; 3] = [b"set", b"a b", b"x\"y\\z\nw\x01\xff"];
        assert_eq!(
            String::from_utf8(line(1_339_518_083_007_412, peer, args.into_iter())).unwrap(),
            r#"1339518083.007412 [0 127.0.0.1:60866] "set" "a b" "x\"y\\z\nw\x01\xff""#
        );
    }
}
