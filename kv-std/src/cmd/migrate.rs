//! `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
//! AUTH2 username password] [KEYS key ...]`: moves keys to another server as Redis does, by
//! `RESTORE` (`RESTORE-ASKING` in cluster mode) of each key's `DUMP` payload with its remaining
//! time to live, then deletes the keys the target took (unless `COPY`).
//!
//! In cluster mode the keys' slot gate is claimed for the whole move (`crate::cluster`): no
//! command on the slot runs between the read of a key here and its deletion, so a write is
//! either carried to the target or made there after `-ASK`; none is lost. Connections to targets
//! are kept per worker thread for 10 s, as Redis keeps them.

use super::{parse_int, Client, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::client::resp::{RespConn, Value};
use crate::client::ClientConfig;
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::keyslot::key_slot;
use kv_nostd::resp::Args;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an unused connection to a target is kept.
const KEEP: Duration = Duration::from_secs(10);

thread_local! {
    /// This thread's connections to targets, by address and credentials, with their last use.
    static LINKS: RefCell<HashMap<Target, (RespConn, Instant)>> = RefCell::new(HashMap::new());
}

/// Where keys go, and how the connection authenticates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Target {
    host: String,
    port: u16,
    auth: Vec<Vec<u8>>,
}

/// The parsed command.
struct Request<'a> {
    target: Target,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    keys: Vec<&'a [u8]>,
}

fn parse<'a>(args: Vec<&'a [u8]>) -> Result<Request<'a>, &'static str> {
    let host = String::from_utf8_lossy(args[0]).into_owned();
    let port = parse_int(args[1])
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(NOT_AN_INTEGER)?;
    let db = parse_int(args[3]).ok_or(NOT_AN_INTEGER)?;
    let timeout = parse_int(args[4]).ok_or(NOT_AN_INTEGER)?;
    // Redis takes a timeout of 0 or less as one second.
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let (mut copy, mut replace) = (false, false);
    let mut auth = Vec::new();
    let mut keys = Vec::new();
    let mut i = 5;
    while i < args.len() {
        let word = args[i];
        if word.eq_ignore_ascii_case(b"copy") {
            copy = true;
        } else if word.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if word.eq_ignore_ascii_case(b"auth") {
            let password = args.get(i + 1).ok_or(SYNTAX_ERROR)?;
            auth = vec![password.to_vec()];
            i += 1;
        } else if word.eq_ignore_ascii_case(b"auth2") {
            let (user, password) = (args.get(i + 1), args.get(i + 2));
            let (Some(user), Some(password)) = (user, password) else {
                return Err(SYNTAX_ERROR);
            };
            auth = vec![user.to_vec(), password.to_vec()];
            i += 2;
        } else if word.eq_ignore_ascii_case(b"keys") {
            if !args[2].is_empty() {
                return Err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the \
                     empty string",
                );
            }
            keys.extend_from_slice(&args[i + 1..]);
            break;
        } else {
            return Err(SYNTAX_ERROR);
        }
        i += 1;
    }
    if keys.is_empty() {
        keys.push(args[2]);
    }
    Ok(Request {
        target: Target { host, port, auth },
        db,
        timeout,
        copy,
        replace,
        keys,
    })
}

/// `MIGRATE`.
pub fn migrate(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let req = match parse(args.collect()) {
        Ok(r) => r,
        Err(e) => return out.error(e),
    };
    // The keys are in one slot: routing answered `-CROSSSLOT` otherwise.
    let slot = db.cluster.as_ref().map(|c| {
        let slot = key_slot(req.keys[0]);
        c.begin_transfer(slot);
        slot
    });
    let result = transfer(&req, client, db);
    if let (Some(slot), Some(cluster)) = (slot, &db.cluster) {
        if let Ok(moved) = &result {
            cluster.forget_keys(slot, moved);
        }
        cluster.end_transfer(slot);
    }
    match result {
        Ok(moved) if moved.is_empty() => out.simple(b"NOKEY"),
        Ok(_) => out.ok(),
        Err(e) => out.error(&e),
    }
}

/// Reads, sends and (unless `COPY`) deletes the keys; the keys the target took.
fn transfer<'a>(req: &Request<'a>, client: &mut Client, db: &Db) -> Result<Vec<&'a [u8]>, String> {
    let now = db.table.now();
    let mut found = Vec::new();
    for &key in &req.keys {
        let Some(value) = super::rewrite::read(key, client, db) else {
            continue;
        };
        let ttl = match db.table.deadline(key) {
            Ok(Some(Some(at))) => at.saturating_sub(now).max(1),
            _ => 0,
        };
        let mut payload = Vec::with_capacity(value.len() + 16);
        crate::rdb::dump::encode(&value, &mut payload);
        found.push((key, ttl, payload));
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let restore: &[u8] = if db.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let replies = send(req, restore, &found, true)?;
    let mut moved = Vec::new();
    let mut error = None;
    for ((key, _, _), reply) in found.iter().zip(replies) {
        match reply {
            Value::Error(e) => {
                error.get_or_insert_with(|| {
                    format!(
                        "ERR Target instance replied with error: {}",
                        String::from_utf8_lossy(&e)
                    )
                });
            }
            _ => moved.push(*key),
        }
    }
    if !req.copy {
        for &key in &moved {
            let mut lsn = 0;
            let _ = db
                .table
                .delete_then(key, &mut || lsn = db.log(&[b"DEL", key]));
            client.wait_lsn = client.wait_lsn.max(lsn);
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(moved),
    }
}

/// Sends the `RESTORE`s (after `AUTH` and `SELECT` when needed) and reads their replies; on a
/// connection error with a kept connection, tries once more on a new one.
fn send(
    req: &Request<'_>,
    restore: &[u8],
    found: &[(&[u8], u64, Vec<u8>)],
    may_retry: bool,
) -> Result<Vec<Value>, String> {
    LINKS.with(|links| {
        let mut links = links.borrow_mut();
        let now = Instant::now();
        links.retain(|_, (_, used)| now.duration_since(*used) < KEEP);
        let kept = links.contains_key(&req.target);
        if !kept {
            let mut config = ClientConfig::new(req.target.host.clone(), req.target.port);
            config.connect_timeout = req.timeout;
            config.io_timeout = req.timeout;
            let mut conn = RespConn::open(&req.target.host, req.target.port, &config)
                .map_err(|e| format!("IOERR error or timeout connecting to the client: {e:?}"))?;
            if !req.target.auth.is_empty() {
                let mut auth: Vec<&[u8]> = vec![b"AUTH"];
                auth.extend(req.target.auth.iter().map(Vec::as_slice));
                match conn.call(&auth) {
                    Ok(Value::Error(e)) => {
                        return Err(format!(
                            "ERR Target instance replied with error: {}",
                            String::from_utf8_lossy(&e)
                        ))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return Err(format!(
                            "IOERR error or timeout reading to target instance: {e:?}"
                        ))
                    }
                }
            }
            links.insert(req.target.clone(), (conn, now));
        }
        let (conn, used) = links.get_mut(&req.target).expect("inserted above");
        *used = now;
        let result = exchange(conn, req, restore, found);
        if result.is_err() {
            links.remove(&req.target);
        }
        match result {
            Err(e) if kept && may_retry && e.starts_with("IOERR") => {
                drop(links);
                send(req, restore, found, false)
            }
            other => other,
        }
    })
}

/// One round: `SELECT` if the database is not 0, then the `RESTORE`s, pipelined.
fn exchange(
    conn: &mut RespConn,
    req: &Request<'_>,
    restore: &[u8],
    found: &[(&[u8], u64, Vec<u8>)],
) -> Result<Vec<Value>, String> {
    let io = |e: std::io::Error| format!("IOERR error or timeout writing to target instance: {e}");
    let db = req.db.to_string();
    if req.db != 0 {
        conn.send(&[b"SELECT", db.as_bytes()]).map_err(io)?;
    }
    for (key, ttl, payload) in found {
        let ttl = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![restore, key, ttl.as_bytes(), payload];
        if req.replace {
            args.push(b"REPLACE");
        }
        conn.send(&args).map_err(io)?;
    }
    let read = |conn: &mut RespConn| {
        conn.receive()
            .map_err(|e| format!("IOERR error or timeout reading to target instance: {e:?}"))
    };
    if req.db != 0 {
        if let Value::Error(e) = read(conn)? {
            return Err(format!(
                "ERR Target instance replied with error: {}",
                String::from_utf8_lossy(&e)
            ));
        }
    }
    found.iter().map(|_| read(conn)).collect()
}
