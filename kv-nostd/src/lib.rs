//! The allocation-free core of kv: a fixed-memory concurrent hash table, and the wire codecs
//! that let any byte stream reach it.
//!
//! Nothing here allocates, touches a socket, a file, a thread or a clock, so the same table runs
//! in a `static` on a microcontroller and behind the `kv-server` on a host.
//!
//! # Modules
//! - [`table`]: the concurrent cuckoo hash table ([`Table`]) and its put / get / delete / visit.
//! - [`bucket`]: one bucket of slots, the unit of locking and versioning ([`Bucket`]).
//! - [`hash`]: the keyed SipHash-1-3 the table places keys with ([`HashKey`]).
//! - [`error`]: why an operation did nothing ([`Error`]).
//! - [`native`]: kv's own length-prefixed binary protocol, sans-IO (requests and responses).
//! - [`resp`]: the Redis protocol (RESP2), sans-IO: request decoder, reply encoders and decoder.
//! - [`interrupts`]: which calls an interrupt handler may make (the `try_` ones), and why.
//! - `sync` (private): atomics, fences, locks and spin hints, switched to loom's under
//!   `--cfg kv_loom`.
//!
//! # Example
//! ```
//! use kv_nostd::{words, Bucket, Error, HashKey, Put, Table};
//!
//! // 64 buckets of 8 slots; keys up to 16 bytes, values up to 32 bytes.
//! type Small = Table<[Bucket<{ words(16) }, { words(32) }>; 64], { words(16) }, { words(32) }>;
//! static TABLE: Small = Table::from_array([const { Bucket::new() }; 64], HashKey([42; 16]));
//!
//! assert_eq!(TABLE.put(b"user1", b"John"), Ok(Put::Inserted));
//! assert_eq!(TABLE.put(b"user1", b"John Doe"), Ok(Put::Replaced));
//!
//! let mut buf = [0u8; 32];
//! let n = TABLE.get_into(b"user1", &mut buf)?.expect("present");
//! assert_eq!(&buf[..n], b"John Doe");
//!
//! assert_eq!(TABLE.delete(b"user1"), Ok(true));
//! assert_eq!(TABLE.get_into(b"user1", &mut buf), Ok(None));
//! assert!(matches!(TABLE.put(&[0; 17], b""), Err(Error::KeyTooLong { len: 17, max: 16 })));
//! # Ok::<(), Error>(())
//! ```
#![no_std]
#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

pub mod bucket;
pub mod error;
pub mod hash;
#[doc = include_str!("interrupts.md")]
pub mod interrupts {}
#[cfg(kv_loom)]
#[doc(hidden)]
pub mod loom_hooks;
pub mod native;
pub mod resp;
mod sync;
pub mod table;

pub use bucket::{words, Bucket, WORD};
pub use error::{Error, LayoutError};
pub use hash::HashKey;
pub use table::{Put, ScanCursor, Table, When};
