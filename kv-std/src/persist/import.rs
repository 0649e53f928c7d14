//! `kv-server --rdb-import`: an RDB file's string keys put into the table at start, after the
//! backup file and the log have loaded, and made durable before any client connects.
//!
//! The keys go into the table directly, not through the log: a snapshot taken right after the
//! load holds them, so a restart finds them whether or not the import is asked for again.

use super::StartError;
use crate::db::Db;
use crate::rdb::table::{self, Loaded};
use crate::rdb::{KeyType, LoadOptions};
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

/// What `--rdb-import` and `--rdb-skip-unsupported` ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbImport {
    /// The RDB file.
    pub path: PathBuf,
    /// Skip keys of types kv does not store, counting them, instead of refusing to start.
    pub skip_unsupported: bool,
}

/// Loads `import`'s file into `db`'s table, replacing keys of the same name, then takes a
/// snapshot if `db` persists. Any failure, a key of another type among them (unless skipped),
/// is an error naming the file and its cause; the server must not start on a partial import.
pub fn load(import: &RdbImport, db: &Db) -> Result<Loaded, StartError> {
    let path = import.path.display();
    let started = Instant::now();
    let file = std::fs::File::open(&import.path)
        .map_err(|e| StartError(format!("--rdb-import {path}: {e}")))?;
    // Deadlines in the file are compared with the table's clock: it must read the present.
    db.tick();
    let options = LoadOptions {
        skip_unsupported: import.skip_unsupported,
        ..LoadOptions::default()
    };
    let loaded = table::load(
        &db.table,
        BufReader::with_capacity(1 << 20, file),
        options,
        table::Passed::Drop,
    )
    .map_err(|e| StartError(format!("--rdb-import {path}: {e}")))?;
    let mut skipped = Vec::new();
    for key_type in KeyType::ALL {
        let n = loaded.skipped.keys(key_type);
        if n > 0 {
            skipped.push(format!("{n} {key_type}"));
        }
    }
    let libraries = loaded.skipped.function_libraries();
    if libraries > 0 {
        skipped.push(format!("{libraries} function libraries"));
    }
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(
            "; skipped {} keys of types kv does not store ({})",
            loaded.skipped.total_keys(),
            skipped.join(", ")
        )
    };
    log::info!(
        "imported {} keys from {path} in {:.3}s ({} already expired left out){skipped}",
        loaded.keys,
        started.elapsed().as_secs_f64(),
        loaded.expired,
    );
    if let Some(persist) = &db.persist {
        persist
            .save(&db.table)
            .map_err(|e| StartError(format!("--rdb-import {path}: cannot save a snapshot: {e}")))?;
    }
    Ok(loaded)
}
