//! When a client call is tried again, and how long it waits first.
//!
//! # What is retried, and why that is safe
//!
//! A call is retried when the connection fails under it: connecting is refused or times out, a
//! write fails, the server closes the connection, or no answer arrives within the I/O timeout.
//! The connection is then dropped (a late answer would otherwise be taken for the next
//! request's), the client waits a backoff, reconnects and sends again. When it retries, the
//! client cannot know whether the server applied the request before the failure, so it only
//! retries requests for which applying twice is the same as applying once:
//!
//! - **GET** and **PING** change nothing.
//! - **PUT** sets a key to a value; setting it to the same value again leaves the same state,
//!   so a retried PUT cannot double-apply. (Another client's write that lands between the two
//!   attempts is overwritten, exactly as if that write had come first.)
//! - **DELETE** leaves the key absent however often it runs. If the first attempt removed the key
//!   and its answer was lost, the retry answers `NOT_FOUND`: the key is gone either way.
//! - **SCAN** steps are reads; a step is resent with the same cursor.
//! - A **batch** resumes from its first unanswered request: answers already read are kept, and
//!   the requests after them (each of the kinds above) are sent again.
//!
//! Answers from the server (any status, including `SERVER_ERROR`) are not retried: the server
//! decided, and asking again would not change its mind. Nor is a response that breaks the
//! protocol: the peer is not a kv server speaking this version.
//!
//! # How long
//!
//! After the n-th consecutive failure (n from 0) the client waits `first_backoff × 2ⁿ`, capped at
//! `max_backoff`, and gives up after `retries` retries with
//! [`Error::Unreachable`](super::Error::Unreachable). A batch that made progress since its last
//! failure starts counting again, so a long import survives several separate outages.

use std::time::Duration;

/// How often and how patiently a client retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 tries once.
    pub retries: u32,
    /// The wait before the first retry.
    pub first_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// 5 retries, waiting 50 ms, 100 ms, 200 ms, 400 ms, 800 ms (1.55 s in all), capped at 2 s.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        retries: 5,
        first_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(2),
    };

    /// No retries: fail on the first connection problem.
    pub const NEVER: RetryPolicy = RetryPolicy {
        retries: 0,
        ..Self::DEFAULT
    };

    /// The wait after failure number `failure` (from 0).
    pub fn backoff(&self, failure: u32) -> Duration {
        let factor = 1u32.checked_shl(failure).unwrap_or(u32::MAX);
        self.first_backoff
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_backoff)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::DEFAULT;
        let waits: Vec<u128> = (0..8).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(p.backoff(u32::MAX), p.max_backoff);
    }
}
