//! `CLIENT` and its subcommands: what clients send when they connect, and what operators use to
//! see and drop connections.

use super::connection::valid_name;
use super::{parse_int, Client, Flow, SYNTAX_ERROR};
use crate::db::Db;
use crate::reply::Out;
use crate::server::clients::{ClientType, Handle};
use kv_nostd::resp::Args;
use std::sync::Arc;

/// Runs `CLIENT <subcommand>`; the subcommand and its arity are already checked.
pub fn client(sub: &str, mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    match sub {
        "id" => out.int(client.id as i64),
        "info" => {
            publish(client);
            let mut line = String::new();
            client.handle.line(&mut line);
            out.verbatim(line.as_bytes());
        }
        "list" => list(args, client, db, out),
        "kill" => return kill(args, client, db, out),
        "getname" => match client.handle.shown().name.clone() {
            Some(name) => out.bulk(&name),
            None => out.null(),
        },
        "setname" => {
            let name = args.next().unwrap_or_default();
            if !valid_name(name) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return Flow::Continue;
            }
            client.handle.shown().name = (!name.is_empty()).then(|| name.to_vec());
            out.ok();
        }
        "setinfo" => setinfo(args, client, out),
        "no-evict" | "no-touch" => on_off(args.next().unwrap_or_default(), out),
        "tracking" => {
            let mode = args.next().unwrap_or_default();
            if mode.eq_ignore_ascii_case(b"off") {
                out.ok();
            } else if mode.eq_ignore_ascii_case(b"on") {
                out.error("ERR client-side caching (CLIENT TRACKING ON) is not supported");
            } else {
                out.error(SYNTAX_ERROR);
            }
        }
        "getredir" => out.int(-1),
        "reply" => {
            let mode = args.next().unwrap_or_default();
            if mode.eq_ignore_ascii_case(b"on") {
                out.ok();
            } else if mode.eq_ignore_ascii_case(b"off") || mode.eq_ignore_ascii_case(b"skip") {
                out.error("ERR CLIENT REPLY OFF and SKIP are not supported");
            } else {
                out.error(SYNTAX_ERROR);
            }
        }
        _ => help(out),
    }
    Flow::Continue
}

/// Copies the state `CLIENT LIST` shows from the connection into the client's handle.
fn publish(client: &Client) {
    let mut shown = client.handle.shown();
    shown.cmd = client.last_command;
    shown.subscriptions = client.subscriptions.counts();
    shown.last_interaction = std::time::Instant::now();
}

/// `ON` or `OFF`, for flags kv accepts and has nothing to do for: a server without eviction
/// evicts no client, and one that keeps no access times touches none.
fn on_off(mode: &[u8], out: &mut Out) {
    if mode.eq_ignore_ascii_case(b"on") || mode.eq_ignore_ascii_case(b"off") {
        out.ok();
    } else {
        out.error(SYNTAX_ERROR);
    }
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value`, as Redis 7.2 checks it.
fn setinfo(mut args: Args<'_>, client: &mut Client, out: &mut Out) {
    let attr = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let (field, what) = if attr.eq_ignore_ascii_case(b"lib-name") {
        (0, "lib-name")
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        (1, "lib-ver")
    } else {
        out.error_fmt(format_args!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        ));
        return;
    };
    if !valid_name(value) {
        out.error_fmt(format_args!(
            "ERR {what} cannot contain spaces, newlines or special characters."
        ));
        return;
    }
    let value = (!value.is_empty()).then(|| value.to_vec());
    let mut shown = client.handle.shown();
    if field == 0 {
        shown.lib_name = value;
    } else {
        shown.lib_ver = value;
    }
    drop(shown);
    out.ok();
}

/// `CLIENT LIST [TYPE type | ID id [id ...]]`: one filter at most, as in Redis 7.0.
fn list(mut args: Args<'_>, client: &Client, db: &Db, out: &mut Out) {
    let mut only_type = None;
    let mut only_ids: Option<Vec<u64>> = None;
    let filter = args.next();
    match filter {
        None => {}
        Some(opt) if opt.eq_ignore_ascii_case(b"type") && args.len() == 1 => {
            let name = args.next().unwrap_or_default();
            match client_type(name) {
                Some(t) => only_type = Some(t),
                None => {
                    out.error_fmt(format_args!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(name)
                    ));
                    return;
                }
            }
        }
        Some(opt) if opt.eq_ignore_ascii_case(b"id") && args.len() >= 1 => {
            let mut ids = Vec::new();
            for id in args {
                match parse_int(id) {
                    // Ids no client has (0, negative) simply match nothing.
                    Some(n) => ids.extend(u64::try_from(n).ok()),
                    None => {
                        out.error("ERR Invalid client ID");
                        return;
                    }
                }
            }
            only_ids = Some(ids);
        }
        Some(_) => {
            out.error(SYNTAX_ERROR);
            return;
        }
    }
    publish(client);
    let mut text = String::new();
    for handle in db.clients.all() {
        if only_type.is_some_and(|t| handle.kind() != t) {
            continue;
        }
        if only_ids
            .as_ref()
            .is_some_and(|ids| !ids.contains(&handle.id))
        {
            continue;
        }
        handle.line(&mut text);
    }
    out.verbatim(text.as_bytes());
}

/// A `TYPE` argument: `normal`, `master`, `replica` (or `slave`), `pubsub`.
fn client_type(name: &[u8]) -> Option<ClientType> {
    let lower = name.to_ascii_lowercase();
    match lower.as_slice() {
        b"normal" => Some(ClientType::Normal),
        b"master" => Some(ClientType::Master),
        b"replica" | b"slave" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::Pubsub),
        _ => None,
    }
}

/// The filters of `CLIENT KILL`'s new form; a client must pass all of them.
#[derive(Default)]
struct Filter {
    id: Option<u64>,
    kind: Option<ClientType>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    skip_me: bool,
}

impl Filter {
    fn passes(&self, handle: &Handle, me: u64) -> bool {
        (!self.skip_me || handle.id != me)
            && self.id.is_none_or(|id| handle.id == id)
            && self.kind.is_none_or(|k| handle.kind() == k)
            && self
                .addr
                .as_ref()
                .is_none_or(|a| a == handle.addr.to_string().as_bytes())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| a == handle.laddr.to_string().as_bytes())
    }
}

/// `CLIENT KILL addr:port` (the old form: `+OK` or an error), or `CLIENT KILL <filter value>
/// ...` with filters `ID`, `TYPE`, `ADDR`, `LADDR`, `USER`, `SKIPME` (the number killed).
/// Clients on other workers are closed by their workers as soon as they look; this client, if
/// it is among them, once the reply is written.
fn kill(mut args: Args<'_>, client: &Client, db: &Db, out: &mut Out) -> Flow {
    let old_form = args.len() == 1;
    let mut filter = Filter {
        skip_me: !old_form,
        ..Filter::default()
    };
    if old_form {
        filter.addr = args.next().map(<[u8]>::to_vec);
    } else {
        while let Some(opt) = args.next() {
            let Some(value) = args.next() else {
                out.error(SYNTAX_ERROR);
                return Flow::Continue;
            };
            let opt = opt.to_ascii_lowercase();
            match opt.as_slice() {
                b"id" => match parse_int(value) {
                    Some(n) if n > 0 => filter.id = Some(n as u64),
                    _ => {
                        out.error("ERR client-id should be greater than 0");
                        return Flow::Continue;
                    }
                },
                b"type" => match client_type(value) {
                    Some(t) => filter.kind = Some(t),
                    None => {
                        out.error_fmt(format_args!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(value)
                        ));
                        return Flow::Continue;
                    }
                },
                b"addr" => filter.addr = Some(value.to_vec()),
                b"laddr" => filter.laddr = Some(value.to_vec()),
                b"user" => {
                    if value != b"default" {
                        out.error_fmt(format_args!(
                            "ERR No such user '{}'",
                            String::from_utf8_lossy(value)
                        ));
                        return Flow::Continue;
                    }
                }
                b"skipme" => {
                    if value.eq_ignore_ascii_case(b"yes") {
                        filter.skip_me = true;
                    } else if value.eq_ignore_ascii_case(b"no") {
                        filter.skip_me = false;
                    } else {
                        out.error(SYNTAX_ERROR);
                        return Flow::Continue;
                    }
                }
                _ => {
                    out.error(SYNTAX_ERROR);
                    return Flow::Continue;
                }
            }
        }
    }
    let mut killed = 0;
    let mut me = false;
    for handle in db.clients.all() {
        if filter.passes(&handle, client.id) {
            killed += 1;
            if handle.id == client.id {
                me = true;
            } else {
                kill_one(&handle);
            }
        }
    }
    // The link to this replica's primary is no client of a worker: killed by type only, it
    // reconnects and continues with a partial resync.
    if filter.kind == Some(ClientType::Master) && filter.id.is_none() && filter.addr.is_none() {
        if let Some((_, link)) = db.repl.following() {
            if link.drop_connection() {
                killed += 1;
            }
        }
    }
    if old_form {
        if killed == 0 {
            out.error("ERR No such client");
        } else {
            out.ok();
        }
    } else {
        out.int(killed);
    }
    if me {
        Flow::Close
    } else {
        Flow::Continue
    }
}

fn kill_one(handle: &Arc<Handle>) {
    log::debug!("{}: killed by CLIENT KILL", handle.addr);
    handle.kill();
}

/// `CLIENT HELP`.
fn help(out: &mut Out) {
    const LINES: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "TRACKING (ON|OFF)",
        "    kv supports OFF only: it has no client-side caching.",
        "HELP",
        "    Print this help.",
    ];
    out.help(LINES);
}
