//! Publish/subscribe: who listens to what, and the delivery of each message to every listener
//! on any worker.
//!
//! Three namespaces, as in Redis 7: channels (`SUBSCRIBE`), patterns over channel names
//! (`PSUBSCRIBE`, matched with kv's glob matcher) and shard channels (`SSUBSCRIBE`, a separate
//! space that `SPUBLISH` reaches and patterns never do). Channels ignore the database.
//!
//! A publisher encodes a message once per form (`message`, one `pmessage` per matching pattern,
//! `smessage`) and queues a shared copy in each subscriber's [`Mailbox`]; the subscriber's own
//! worker, rung by its [`Doorbell`](crate::server::doorbell::Doorbell), moves them into that
//! connection's output in the shape of its protocol (an array in RESP2, a push in RESP3). A
//! publisher never waits for a subscriber: the only lock it shares with one is the mailbox's,
//! held to queue a pointer. A subscriber whose pending output passes the `pubsub` output buffer
//! limit (Redis's `32mb 8mb 60` by default) is disconnected, as Redis does. Messages from one
//! publisher reach each subscriber in the order they were published.
//!
//! A message for the publishing connection itself is written straight into its output during
//! the command, before the command's reply, as Redis 7.0 does.

pub mod mailbox;

use crate::config::OutputLimit;
use crate::pattern;
use crate::reply::{Out, Resp};
use crate::server::clients::Handle;
use mailbox::Delivery;
pub use mailbox::Mailbox;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A namespace of subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Channels, by exact name.
    Channels,
    /// Patterns that channel names are matched against.
    Patterns,
    /// Shard channels, by exact name.
    Shards,
}

/// One message in the encoded form every subscriber receives, less the aggregate header that
/// depends on the subscriber's protocol.
#[derive(Debug)]
pub struct Message {
    /// The push's elements; none for a simple string, the same in every protocol (a `MONITOR`
    /// line).
    elements: Option<usize>,
    body: Vec<u8>,
}

impl Message {
    /// `kind` (`message`, `pmessage`, `smessage`), the pattern that matched (for `pmessage`),
    /// the channel and the payload.
    pub fn new(kind: &[u8], pattern: Option<&[u8]>, channel: &[u8], payload: &[u8]) -> Self {
        let mut body = Out::new(Resp::V2);
        body.bulk(kind);
        if let Some(p) = pattern {
            body.bulk(p);
        }
        body.bulk(channel);
        body.bulk(payload);
        Self {
            elements: Some(3 + usize::from(pattern.is_some())),
            body: std::mem::take(body.raw()),
        }
    }

    /// A simple string (`+text`): what a `MONITOR` client receives.
    pub fn status(text: &[u8]) -> Self {
        let mut body = Out::new(Resp::V2);
        body.simple(text);
        Self {
            elements: None,
            body: std::mem::take(body.raw()),
        }
    }

    /// Its encoded length, header aside.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether it has no bytes (never: a message has at least its kind).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Writes the message into `out` as a push (an array in RESP2), or as the simple string it
    /// is.
    pub fn write(&self, out: &mut Out) {
        if let Some(elements) = self.elements {
            out.push(elements);
        }
        out.raw().extend_from_slice(&self.body);
    }
}

type Subscribers = HashMap<u64, Arc<Handle>>;

#[derive(Default)]
struct Registry {
    channels: HashMap<Vec<u8>, Subscribers>,
    patterns: HashMap<Vec<u8>, Subscribers>,
    shards: HashMap<Vec<u8>, Subscribers>,
}

impl Registry {
    fn space(&self, space: Space) -> &HashMap<Vec<u8>, Subscribers> {
        match space {
            Space::Channels => &self.channels,
            Space::Patterns => &self.patterns,
            Space::Shards => &self.shards,
        }
    }

    fn space_mut(&mut self, space: Space) -> &mut HashMap<Vec<u8>, Subscribers> {
        match space {
            Space::Channels => &mut self.channels,
            Space::Patterns => &mut self.patterns,
            Space::Shards => &mut self.shards,
        }
    }
}

/// Every subscription of a server.
#[derive(Default)]
pub struct Hub {
    registry: RwLock<Registry>,
    /// Subscribers disconnected for passing their output buffer limit.
    pub limit_disconnections: AtomicU64,
}

impl Hub {
    /// Adds `who` to the subscribers of `name` in `space`.
    pub fn subscribe(&self, space: Space, name: &[u8], who: &Arc<Handle>) {
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        registry
            .space_mut(space)
            .entry(name.to_vec())
            .or_default()
            .insert(who.id, Arc::clone(who));
    }

    /// Removes client `id` from the subscribers of `name` in `space`.
    pub fn unsubscribe(&self, space: Space, name: &[u8], id: u64) {
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        let map = registry.space_mut(space);
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.remove(&id);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }

    /// `PUBLISH` (or `SPUBLISH` when `shard`): delivers `payload` to the subscribers of
    /// `channel` and, for a channel that is no shard channel, of every pattern that matches it;
    /// returns how many deliveries were made. `me` is the publishing client, whose own messages
    /// go straight into `out`.
    pub fn publish(
        &self,
        shard: bool,
        channel: &[u8],
        payload: &[u8],
        me: u64,
        out: &mut Out,
        limit: OutputLimit,
    ) -> usize {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        let (space, kind): (_, &[u8]) = if shard {
            (&registry.shards, b"smessage")
        } else {
            (&registry.channels, b"message")
        };
        let mut delivered = 0;
        if let Some(subscribers) = space.get(channel) {
            let message = Arc::new(Message::new(kind, None, channel, payload));
            delivered += self.deliver(&message, subscribers, me, out, limit);
        }
        if !shard {
            for (pat, subscribers) in &registry.patterns {
                if pattern::matches(pat, channel) {
                    let message = Arc::new(Message::new(b"pmessage", Some(pat), channel, payload));
                    delivered += self.deliver(&message, subscribers, me, out, limit);
                }
            }
        }
        delivered
    }

    fn deliver(
        &self,
        message: &Arc<Message>,
        subscribers: &Subscribers,
        me: u64,
        out: &mut Out,
        limit: OutputLimit,
    ) -> usize {
        for (&id, who) in subscribers {
            if id == me {
                message.write(out);
                continue;
            }
            match who.mailbox.deliver(message, who.unwritten(), limit) {
                Delivery::Queued { first: true } => who.ring(),
                Delivery::Queued { first: false } | Delivery::Closed => {}
                Delivery::OverLimit => {
                    log::warn!(
                        "Client id={} addr={} scheduled to be closed ASAP for overcoming of \
                         output buffer limits.",
                        who.id,
                        who.addr
                    );
                    self.limit_disconnections.fetch_add(1, Ordering::Relaxed);
                    who.kill();
                }
            }
        }
        subscribers.len()
    }

    /// The names in `space` with at least one subscriber, matching `filter` if one is given.
    pub fn names(&self, space: Space, filter: Option<&[u8]>) -> Vec<Vec<u8>> {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .space(space)
            .keys()
            .filter(|name| filter.is_none_or(|p| pattern::matches(p, name)))
            .cloned()
            .collect()
    }

    /// How many clients subscribe to `name` in `space`.
    pub fn count(&self, space: Space, name: &[u8]) -> usize {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry.space(space).get(name).map_or(0, HashMap::len)
    }

    /// How many names in `space` have subscribers (`PUBSUB NUMPAT` for patterns).
    pub fn len(&self, space: Space) -> usize {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry.space(space).len()
    }
}
