//! The loom models of kv-nostd's table, one module per concurrent path. Built only under
//! `--cfg kv_loom`; see `loom-tests/README.md`.
#![cfg(kv_loom)]

mod models {
    mod displace;
    mod evict;
    mod expire;
    mod lock;
    mod merge;
    mod multi;
    mod read;
    mod reuse;
    mod slotgate;
    mod split;
    mod update;
    mod visit;
    mod write;
}
