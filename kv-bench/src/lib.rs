//! Benchmarks of kv: criterion benches of the table against `hashbrown`, `dashmap` and
//! `heapless`, and the side-by-side server benchmark against `redis-server`.
//!
//! The benches arrive with their issue; this crate holds nothing yet.
