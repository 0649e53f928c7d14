//! The replication commands: `REPLCONF`, `PSYNC`/`SYNC` (a replica's, on a primary),
//! `REPLICAOF`/`SLAVEOF`, `ROLE` and `WAIT`, with Redis 7.0's replies and errors.

use super::{parse_int, Client, Flow, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::db::Db;
use crate::repl::primary::Hello;
use crate::repl::{PrimaryAddr, NO_ID};
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `REPLCONF <option> <value> ...`: what a replica says of itself before `PSYNC`. `ACK` and
/// `GETACK` get no reply, as in Redis.
pub fn replconf(args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let args: Vec<&[u8]> = args.collect();
    if let [option, replid, offset] = args.as_slice() {
        if option.eq_ignore_ascii_case(b"kv-offset") && client.id == 0 {
            restore_position(replid, offset, db);
            out.ok();
            return;
        }
    }
    if args.len() % 2 == 1 {
        out.error(SYNTAX_ERROR);
        return;
    }
    for pair in args.chunks(2) {
        let (option, value) = (pair[0], pair[1]);
        let hello = client.hello.get_or_insert_with(Box::default);
        match option.to_ascii_lowercase().as_slice() {
            b"listening-port" => match parse_int(value).and_then(|p| u16::try_from(p).ok()) {
                Some(port) => hello.listening_port = port,
                None => {
                    out.error(NOT_AN_INTEGER);
                    return;
                }
            },
            b"ip-address" => hello.ip = Some(String::from_utf8_lossy(value).into_owned()),
            b"capa" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    hello.eof = true;
                } else if value.eq_ignore_ascii_case(b"psync2") {
                    hello.psync2 = true;
                }
            }
            // Only a replica's connection acknowledges, and it is served elsewhere; a master
            // asks for acknowledgements, never a client.
            b"ack" | b"getack" => return,
            b"rdb-only" | b"rdb-filter-only" | b"version" => {}
            _ => {
                out.error_fmt(format_args!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(option)
                ));
                return;
            }
        }
    }
    out.ok();
}

/// The stream position a replica logged (`REPLCONF KV-OFFSET <replid> <offset>`, see
/// `repl/replica.rs`), read back from the log only: the history its data continues.
fn restore_position(replid: &[u8], offset: &[u8], db: &Db) {
    let offset = std::str::from_utf8(offset)
        .ok()
        .and_then(|o| o.parse::<u64>().ok());
    if let (Some(offset), 40) = (offset, replid.len()) {
        db.repl.set_ids(crate::repl::Ids {
            replid: String::from_utf8_lossy(replid).into_owned(),
            replid2: NO_ID.into(),
            second_offset: -1,
        });
        db.repl.backlog.reset(offset);
    }
}

/// `PSYNC <replid> <offset>` and `SYNC`: the connection becomes a replica's, served by
/// `repl::primary` from here on.
pub fn psync(mut args: Args<'_>, sync: bool, client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    if client.master {
        out.error("ERR Replica can't interact with the keyspace");
        return Flow::Continue;
    }
    if let Some((_, link)) = db.repl.following() {
        if !link.is_up() {
            out.error("NOMASTERLINK Can't SYNC while not connected with my master");
            return Flow::Continue;
        }
    }
    let psync = if sync {
        None
    } else {
        let replid = args.next().unwrap_or_default();
        let Some(offset) = args.next().and_then(parse_int) else {
            out.error(NOT_AN_INTEGER);
            return Flow::Continue;
        };
        Some((String::from_utf8_lossy(replid).into_owned(), offset))
    };
    let hello = client.hello.get_or_insert_with(Box::default);
    hello.psync = psync;
    Flow::Replicate
}

/// What the connection of a replica takes to its sender: what the replica said of itself.
pub fn hello(client: &mut Client) -> Hello {
    client.hello.take().map(|h| *h).unwrap_or_default()
}

/// `REPLICAOF <host> <port>` / `REPLICAOF NO ONE` (and `SLAVEOF`).
pub fn replicaof(mut args: Args<'_>, client: &Client, db: &Db, out: &mut Out) {
    let host = args.next().unwrap_or_default();
    let port = args.next().unwrap_or_default();
    if let Some(cluster) = &db.cluster {
        if client.hello.as_ref().is_some_and(|h| h.psync.is_some()) || client.master {
            out.error("ERR Command is not valid when client is a replica.");
            return;
        }
        super::cluster::replicaof(cluster, host, port, db, out);
        return;
    }
    let Some(shared) = db.shared() else {
        out.error("ERR the server is not running");
        return;
    };
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        if db.repl.is_replica() {
            db.repl.follow(&shared, None);
            log::info!("MASTER MODE enabled (user request from 'id={}')", client.id);
        }
        out.ok();
        return;
    }
    if client.hello.as_ref().is_some_and(|h| h.psync.is_some()) || client.master {
        out.error("ERR Command is not valid when client is a replica.");
        return;
    }
    let Some(port) = parse_int(port).and_then(|p| u16::try_from(p).ok()) else {
        out.error("ERR Invalid master port");
        return;
    };
    let addr = PrimaryAddr {
        host: String::from_utf8_lossy(host).into_owned(),
        port,
    };
    if db.repl.follow(&shared, Some(addr)) {
        out.ok();
    } else {
        out.simple(b"OK Already connected to specified master");
    }
}

/// `ROLE`.
pub fn role(db: &Db, out: &mut Out) {
    match db.repl.following() {
        Some((addr, link)) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(addr.host.as_bytes());
            out.int(i64::from(addr.port));
            let status = link.status();
            out.bulk(status.phase.name().as_bytes());
            if link.is_up() {
                out.int(i64::try_from(db.repl.backlog.end()).unwrap_or(i64::MAX));
            } else {
                out.int(-1);
            }
        }
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(i64::try_from(db.repl.backlog.end()).unwrap_or(i64::MAX));
            let replicas: Vec<_> = db
                .repl
                .replicas
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|r| r.is_online())
                .cloned()
                .collect();
            out.array(replicas.len());
            for r in replicas {
                out.array(3);
                out.bulk(r.ip().as_bytes());
                out.bulk(r.hello.listening_port.to_string().as_bytes());
                out.bulk(r.ack().to_string().as_bytes());
            }
        }
    }
}

/// A client blocked until replicas acknowledge an offset (`WAIT`).
#[derive(Debug)]
pub struct Blocked {
    /// The offset to acknowledge.
    pub offset: u64,
    /// How many replicas must.
    pub replicas: usize,
    /// When to answer anyway; none: never.
    pub deadline: Option<Instant>,
}

impl Blocked {
    /// The reply, once due: the replicas that acknowledged.
    pub fn due(&self, db: &Db) -> Option<usize> {
        let acked = db.repl.acked(self.offset);
        let late = self.deadline.is_some_and(|d| Instant::now() >= d);
        (acked >= self.replicas || late || db.repl.stopping.load(Ordering::Acquire))
            .then_some(acked)
    }
}

/// `WAIT <numreplicas> <timeout>`: answers once that many replicas acknowledged every write
/// made so far, or the timeout (milliseconds; 0: none) passes, with the count that did.
pub fn wait(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    if db.repl.is_replica() {
        out.error(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis \
             4.0 if a replica is configured to be writable (which is not the default) writes to \
             replicas are just local and are not propagated.",
        );
        return;
    }
    let Some(replicas) = args.next().and_then(parse_int) else {
        out.error(NOT_AN_INTEGER);
        return;
    };
    let timeout = match args.next().and_then(parse_int) {
        None => {
            out.error("ERR timeout is not an integer or out of range");
            return;
        }
        Some(t) if t < 0 => {
            out.error("ERR timeout is negative");
            return;
        }
        Some(t) => t as u64,
    };
    let offset = db.repl.backlog.end();
    let acked = db.repl.acked(offset);
    let replicas = usize::try_from(replicas).unwrap_or(0);
    if acked >= replicas || client.in_exec {
        out.int(acked as i64);
        return;
    }
    // A command runs within its worker's turn, while no `EXEC` does: the request cannot land
    // inside a transaction in the stream.
    db.repl.request_acks();
    db.repl.waiting.fetch_add(1, Ordering::AcqRel);
    client.blocked = Some(Blocked {
        offset,
        replicas,
        deadline: (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout)),
    });
}
