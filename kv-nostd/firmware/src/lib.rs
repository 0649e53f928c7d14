//! What the firmware images share: result counting, stack measurement, the SysTick interrupt's
//! counters, and the keys and values every run writes.
//!
//! Two images are built from this package and do the same work, so that their sizes can be
//! compared:
//! - `kv-firmware` (`src/main.rs`): a `static` [`kv_nostd::Table`], written from the main loop
//!   and read and written from the SysTick handler with the non-blocking `try_` calls, plus the
//!   native protocol step (feature `native`).
//! - `baseline` (`src/bin/baseline.rs`): a `heapless::FnvIndexMap` of the same capacity behind
//!   a critical-section mutex, doing the same table work without kv.
//!
//! # Modules
//! - [`checks`]: counts passed and failed checks, prints the summary and exits QEMU.
//! - [`stack`]: paints the stack and measures the deepest use of a call or of the whole run.
//! - [`tick`]: starts and stops SysTick, and counts how the handler's calls ended.
//! - [`data`]: keys and values built without allocation, and the shape a whole value has.
//! - `protocol` (feature `native`): native-protocol requests decoded, applied to a table and
//!   answered.
#![no_std]

pub mod checks;
pub mod data;
#[cfg(feature = "native")]
pub mod protocol;
pub mod stack;
pub mod tick;
