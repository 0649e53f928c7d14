//! The allocation-free core of kv: a concurrent hash table over memory the caller hands over,
//! and the wire codecs that let any byte stream reach it.
//!
//! Nothing here allocates, touches a socket, a file, a thread or a clock, so the same table runs
//! over `static` arrays on a microcontroller and over a large anonymous mapping behind the
//! `kv-server` on a host.
//!
//! # Modules
//! - [`table`]: the table ([`Table`]): put / get / delete / visit / scan over an index and an
//!   arena.
//! - [`expire`]: deadlines and expiry: the table's clock, [`Deadline`]s of puts, reading and
//!   changing a key's deadline, and the removal of expired keys (one key, or a step of the
//!   active cycle); `clock` (private) is the clock itself.
//! - [`update`]: read-modify-write of one key under its bucket lock ([`Table::update`]), what
//!   `INCR`, `APPEND` or `SETBIT` need.
//! - [`evict`]: Redis's `maxmemory-policy` choices ([`Policy`]), the access metadata reads keep
//!   in each slot word (a time of access or an LFU counter), and eviction by sampling
//!   ([`Table::evict`]).
//! - `index` (private): extendible hashing over cuckoo segments, which grows by splitting one
//!   segment at a time; `segment`, `bucket` and `slot` are its parts.
//! - `arena` (private): pages cut into size-class chunks, and the free lists; `class` computes
//!   the classes, `page` keeps per-page metadata and the pins of large items, `item` the format
//!   of a key, its deadline and its value in the arena, `budget` the byte limit.
//! - [`memory`]: the caller's memory ([`Memory`], [`Word`]).
//! - [`config`]: page and segment sizes and limits ([`Config`]).
//! - [`sink`]: where a read puts a value ([`Sink`]).
//! - [`scan`]: visits and resumable scans ([`Entry`], [`ScanCursor`]).
//! - [`random`]: a live key picked at random ([`Table::random_entry`], `RANDOMKEY`).
//! - [`hash`]: the keyed SipHash-1-3 the table places keys with ([`HashKey`]).
//! - [`keyslot`]: Redis Cluster's key slots (CRC16 and hash tags), for partitioning keys the
//!   way Redis Cluster clients do.
//! - [`slotgate`]: the per-slot barrier of online resharding ([`slotgate::SlotGate`]): a
//!   slot's routing mode and a count of the commands inside it, which a key transfer closes
//!   and drains.
//! - [`error`]: why an operation did nothing ([`Error`], [`LayoutError`]).
//! - [`native`]: kv's own length-prefixed binary protocol, sans-IO (requests and responses).
//! - [`resp`]: the Redis protocol (RESP2), sans-IO: request decoder, reply encoders and decoder.
//! - [`interrupts`]: which calls an interrupt handler may make (the `try_` ones), and why.
//! - `sync` (private): atomics, fences, locks and spin hints, switched to loom's under
//!   `--cfg kv_loom`.
//!
//! # Example
//! ```
//! use kv_nostd::{Config, Error, HashKey, Put, Table, Word};
//!
//! // 64 KiB of arena in 1 KiB pages, 16 KiB of index: all zero, so they can be `static`s.
//! static ARENA: [Word; 8192] = [const { Word::new(0) }; 8192];
//! static INDEX: [Word; 2048] = [const { Word::new(0) }; 2048];
//! static TABLE: Table<&[Word], &[Word]> =
//!     Table::new_static(&ARENA, &INDEX, HashKey([42; 16]), Config::SMALL);
//!
//! assert_eq!(TABLE.put(b"user1", b"John"), Ok(Put::Inserted));
//! assert_eq!(TABLE.put(b"user1", &[b'x'; 3000]), Ok(Put::Replaced));
//!
//! let mut buf = [0u8; 4096];
//! let n = TABLE.get_into(b"user1", &mut buf)?.expect("present");
//! assert_eq!(&buf[..n], &[b'x'; 3000][..]);
//!
//! assert_eq!(TABLE.delete(b"user1"), Ok(true));
//! assert_eq!(TABLE.get_into(b"user1", &mut buf), Ok(None));
//! # Ok::<(), Error>(())
//! ```
#![no_std]
#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

mod arena;
mod bucket;
mod budget;
mod class;
mod clock;
pub mod config;
pub mod error;
pub mod evict;
pub mod expire;
pub mod hash;
mod index;
pub mod keyslot;
#[doc = include_str!("interrupts.md")]
pub mod interrupts {}
mod item;
#[cfg(kv_loom)]
#[doc(hidden)]
pub mod loom_hooks;
pub mod memory;
pub mod multi;
pub mod native;
mod page;
pub mod random;
pub mod resp;
pub mod scan;
mod segment;
pub mod sink;
mod slot;
pub mod slotgate;
mod sync;
pub mod table;
pub mod update;

pub use config::Config;
pub use error::{Error, LayoutError};
pub use evict::{EvictStats, Eviction, Policy};
pub use expire::{Deadline, DeadlineChange, ExpireCursor, ExpireIf, ExpireStep};
pub use hash::HashKey;
pub use memory::{Memory, Word, WORD};
pub use multi::{Held, Locked, Prepared};
pub use scan::{Entry, ScanCursor};
pub use sink::Sink;
pub use table::{Put, Removed, Stats, Table, When};
