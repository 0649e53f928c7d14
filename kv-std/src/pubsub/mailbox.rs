//! A subscriber's mailbox: messages published from any worker wait here until the subscriber's
//! own worker moves them into its output, and the output buffer limit is enforced here so that a
//! publisher never waits for a slow subscriber.

use super::Message;
use crate::config::OutputLimit;
use crate::reply::Out;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Messages waiting for one subscriber.
#[derive(Default)]
pub struct Mailbox {
    state: Mutex<State>,
    /// Whether messages wait: lets the worker skip the lock when none do. Set under the lock
    /// before the worker is rung, so a worker that misses it is rung again.
    waiting: AtomicBool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Message>>,
    /// Encoded bytes of the queued messages.
    bytes: usize,
    /// Since when the subscriber's pending output has been over the soft limit.
    soft_since: Option<Instant>,
    /// Over its limit, or gone: nothing more is queued, and its worker closes it.
    closed: bool,
}

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued; `first`: the mailbox was empty, so the worker must be rung.
    Queued {
        /// Whether this is the only message waiting.
        first: bool,
    },
    /// The subscriber's pending output is over its limit: it is to be disconnected, and the
    /// message is dropped (Redis drops the client, never single messages).
    OverLimit,
    /// The subscriber is already closed or being closed.
    Closed,
}

impl Mailbox {
    /// Queues `message` unless the subscriber's pending output (`output` bytes not yet written to
    /// its socket, plus what waits here) would pass `limit`.
    pub fn deliver(&self, message: &Arc<Message>, output: usize, limit: OutputLimit) -> Delivery {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return Delivery::Closed;
        }
        let pending = output + state.bytes + message.len();
        if state.over(pending, limit) {
            state.closed = true;
            state.queue.clear();
            state.bytes = 0;
            return Delivery::OverLimit;
        }
        state.bytes += message.len();
        state.queue.push_back(Arc::clone(message));
        self.waiting.store(true, Ordering::Release);
        Delivery::Queued {
            first: state.queue.len() == 1,
        }
    }

    /// Moves every waiting message into `out`, shaped for its protocol, and checks the limit
    /// against what is then pending (`output` bytes unwritten before the move). Returns whether
    /// the subscriber is over its limit or closed.
    pub fn drain(&self, out: &mut Out, output: usize, limit: OutputLimit) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let queued = state.bytes;
        self.waiting.store(false, Ordering::Relaxed);
        for message in state.queue.drain(..) {
            message.write(out);
        }
        state.bytes = 0;
        if !state.closed && state.over(output + queued, limit) {
            state.closed = true;
        }
        state.closed
    }

    /// Whether messages may be waiting.
    pub fn has_mail(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }

    /// Marks the subscriber gone: later deliveries are dropped.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closed = true;
        state.queue.clear();
        state.bytes = 0;
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

impl State {
    /// Redis's `checkClientOutputBufferLimits`: over the hard limit at once, or over the soft
    /// limit for longer than its seconds without a break. A limit of 0 is no limit.
    fn over(&mut self, pending: usize, limit: OutputLimit) -> bool {
        if limit.hard > 0 && pending >= limit.hard {
            return true;
        }
        if limit.soft == 0 || pending < limit.soft {
            self.soft_since = None;
            return false;
        }
        match self.soft_since {
            None => {
                self.soft_since = Some(Instant::now());
                false
            }
            Some(since) => since.elapsed().as_secs() > limit.soft_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Resp;

    const LIMIT: OutputLimit = OutputLimit {
        hard: 100,
        soft: 50,
        soft_seconds: 60,
    };

    fn message(payload: &[u8]) -> Arc<Message> {
        Arc::new(Message::new(b"message", None, b"ch", payload))
    }

    #[test]
    fn messages_wait_in_order_and_drain_in_the_subscribers_protocol() {
        let mailbox = Mailbox::default();
        let (a, b) = (message(b"a"), message(b"b"));
        assert_eq!(
            mailbox.deliver(&a, 0, LIMIT),
            Delivery::Queued { first: true }
        );
        assert_eq!(
            mailbox.deliver(&b, 0, LIMIT),
            Delivery::Queued { first: false }
        );
        assert_eq!(mailbox.bytes(), a.len() + b.len());
        let mut out = Out::new(Resp::V3);
        assert!(!mailbox.drain(&mut out, 0, LIMIT));
        assert_eq!(
            out.bytes(),
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\na\r\n\
              >3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nb\r\n"
        );
        assert_eq!(mailbox.bytes(), 0);
    }

    #[test]
    fn the_hard_limit_closes_at_once_and_drops_what_waits() {
        let mailbox = Mailbox::default();
        let big = message(&[b'x'; 40]);
        assert!(matches!(
            mailbox.deliver(&big, 0, LIMIT),
            Delivery::Queued { .. }
        ));
        // 40 unwritten bytes on the socket, two messages of ~60 bytes: over 100.
        assert_eq!(mailbox.deliver(&big, 40, LIMIT), Delivery::OverLimit);
        assert_eq!(mailbox.bytes(), 0);
        assert_eq!(mailbox.deliver(&message(b"a"), 0, LIMIT), Delivery::Closed);
        assert!(mailbox.drain(&mut Out::default(), 0, LIMIT));
    }

    #[test]
    fn the_soft_limit_allows_a_burst_shorter_than_its_seconds() {
        let mailbox = Mailbox::default();
        let m = message(&[b'x'; 20]);
        let quick = OutputLimit {
            hard: 1000,
            soft: 50,
            soft_seconds: 0,
        };
        // Over the soft limit for the first time: allowed, and the clock starts.
        assert!(matches!(
            mailbox.deliver(&m, 40, quick),
            Delivery::Queued { .. }
        ));
        // Back under it: the clock stops.
        assert!(!mailbox.drain(&mut Out::default(), 0, quick));
        assert!(matches!(
            mailbox.deliver(&m, 40, quick),
            Delivery::Queued { .. }
        ));
        // Still over it more than 0 s later.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(mailbox.deliver(&m, 40, quick), Delivery::OverLimit);
    }

    #[test]
    fn no_limit_is_no_limit() {
        let mailbox = Mailbox::default();
        let m = message(&[b'x'; 1000]);
        let none = OutputLimit {
            hard: 0,
            soft: 0,
            soft_seconds: 0,
        };
        for _ in 0..100 {
            assert!(matches!(
                mailbox.deliver(&m, 1 << 30, none),
                Delivery::Queued { .. }
            ));
        }
    }
}
