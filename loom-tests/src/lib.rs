//! loom model checks of kv-nostd's concurrency. The models live in `tests/` and run only with
//! `RUSTFLAGS="--cfg kv_loom"`, which also switches kv-nostd's atomics and locks to loom's.
