//! PING, ECHO, SELECT, HELLO, AUTH, RESET: commands about the connection itself.

use super::{parse_int, Client, NOT_AN_INTEGER};
use crate::db::Db;
use crate::pubsub::Space;
use crate::reply::{Out, Resp};
use kv_nostd::resp::{Args, Reply};

/// `PING [message]`. A RESP2 client that subscribes to something gets Redis's pub/sub shape,
/// `["pong", message]`, since its replies share the stream with messages.
pub fn ping(mut args: Args<'_>, count: usize, client: &Client, out: &mut Out) {
    if count > 1 {
        out.error("ERR wrong number of arguments for 'ping' command");
        return;
    }
    let message = args.next();
    if out.resp == Resp::V2 && client.subscriptions.any() {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(message.unwrap_or_default());
        return;
    }
    match message {
        None => out.reply(Reply::PONG),
        Some(msg) => out.bulk(msg),
    }
}

/// `ECHO message`.
pub fn echo(mut args: Args<'_>, out: &mut Out) {
    out.bulk(args.next().unwrap_or_default());
}

/// `SELECT index`: there is one database, 0.
pub fn select(mut args: Args<'_>, db: &Db, out: &mut Out) {
    match args.next().and_then(parse_int) {
        None => out.error(NOT_AN_INTEGER),
        Some(0) => out.ok(),
        Some(_) if db.cluster.is_some() => out.error("ERR SELECT is not allowed in cluster mode"),
        Some(_) => out.error("ERR DB index is out of range"),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`, in Redis 7's order: the version
/// is checked first, then every option; a failed AUTH changes nothing; then the name is set, the
/// protocol switched, and the reply written in the new protocol.
pub fn hello(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let mut version = None;
    if let Some(ver) = args.next() {
        match parse_int(ver) {
            None => {
                out.error("ERR Protocol version is not an integer or out of range");
                return;
            }
            Some(2) => version = Some(Resp::V2),
            Some(3) => version = Some(Resp::V3),
            Some(_) => {
                out.error("NOPROTO unsupported protocol version");
                return;
            }
        }
    }
    let mut name = None;
    let mut credentials = None;
    while let Some(opt) = args.next() {
        let wanted = if opt.eq_ignore_ascii_case(b"auth") {
            2
        } else if opt.eq_ignore_ascii_case(b"setname") {
            1
        } else {
            0
        };
        if wanted == 0 || args.len() < wanted {
            out.error_fmt(format_args!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
            return;
        }
        if wanted == 2 {
            credentials = Some((
                args.next().unwrap_or_default(),
                args.next().unwrap_or_default(),
            ));
        } else {
            let n = args.next().unwrap_or_default();
            if !valid_name(n) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            name = Some(n);
        }
    }
    if let Some((user, pass)) = credentials {
        if !crate::auth::check(db.password.as_deref(), Some(user), pass) {
            log::warn!("{}: AUTH failed", client.peer);
            out.error(crate::auth::WRONGPASS);
            return;
        }
        client.authenticated = true;
    }
    if !client.authenticated {
        out.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
        return;
    }
    if let Some(n) = name {
        client.handle.shown().name = (!n.is_empty()).then(|| n.to_vec());
    }
    if let Some(v) = version {
        out.resp = v;
    }
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(super::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(out.resp.number());
    out.bulk(b"id");
    out.int(client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

/// Whether `name` may name a client: printable ASCII without spaces (Redis's rule).
pub fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// `AUTH password` or `AUTH username password`.
pub fn auth(mut args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Out) {
    let (user, pass) = match (count, args.next(), args.next()) {
        (1, Some(pass), _) => (None, pass),
        (2, Some(user), Some(pass)) => (Some(user), pass),
        _ => {
            out.error(super::SYNTAX_ERROR);
            return;
        }
    };
    if db.password.is_none() && user.is_none() {
        out.error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
        return;
    }
    if crate::auth::check(db.password.as_deref(), user, pass) {
        client.authenticated = true;
        out.ok();
    } else {
        log::warn!("{}: AUTH failed", client.peer);
        out.error(crate::auth::WRONGPASS);
    }
}

/// `RESET`: the connection as it was when it connected — RESP2, no name, no subscriptions
/// (left without confirmations), not monitoring, and authenticated only if no password is set.
pub fn reset(client: &mut Client, db: &Db, out: &mut Out) {
    let subs = std::mem::take(&mut client.subscriptions);
    for (space, names) in [
        (Space::Channels, subs.channels),
        (Space::Patterns, subs.patterns),
        (Space::Shards, subs.shards),
    ] {
        for name in names {
            db.pubsub.unsubscribe(space, &name, client.id);
        }
    }
    db.monitors.remove(client.id);
    {
        let mut shown = client.handle.shown();
        shown.name = None;
        shown.subscriptions = [0; 3];
        shown.monitor = false;
    }
    client.transaction = None;
    client.watching = None;
    client.authenticated = db.password.is_none();
    out.resp = Resp::V2;
    out.simple(b"RESET");
}
