//! PING, ECHO, SELECT, HELLO, CLIENT, AUTH: commands about the connection itself.

use super::{parse_int, Client, NOT_AN_INTEGER};
use crate::db::Db;
use crate::reply;
use kv_nostd::resp::Args;

/// `PING [message]`.
pub fn ping(mut args: Args<'_>, count: usize, out: &mut Vec<u8>) {
    match (count, args.next()) {
        (0, _) | (_, None) => reply::push(out, kv_nostd::resp::Reply::PONG),
        (1, Some(msg)) => reply::bulk(out, msg),
        _ => reply::error(out, "ERR wrong number of arguments for 'ping' command"),
    }
}

/// `ECHO message`.
pub fn echo(mut args: Args<'_>, out: &mut Vec<u8>) {
    reply::bulk(out, args.next().unwrap_or_default());
}

/// `SELECT index`: there is one database, 0.
pub fn select(mut args: Args<'_>, out: &mut Vec<u8>) {
    match args.next().and_then(parse_int) {
        None => reply::error(out, NOT_AN_INTEGER),
        Some(0) => reply::ok(out),
        Some(_) => reply::error(out, "ERR DB index is out of range"),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`: RESP2 only, so `HELLO 3` is
/// refused and clients fall back.
pub fn hello(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
    if let Some(ver) = args.next() {
        match parse_int(ver) {
            None => {
                reply::error(
                    out,
                    "ERR Protocol version is not an integer or out of range",
                );
                return;
            }
            Some(2) => {}
            Some(_) => {
                reply::error(out, "NOPROTO unsupported protocol version");
                return;
            }
        }
    }
    let mut name = None;
    while let Some(opt) = args.next() {
        if opt.eq_ignore_ascii_case(b"auth") {
            let (Some(user), Some(pass)) = (args.next(), args.next()) else {
                reply::error(out, super::SYNTAX_ERROR);
                return;
            };
            if !crate::auth::check(db.password.as_deref(), Some(user), pass) {
                reply::error(out, crate::auth::WRONGPASS);
                return;
            }
            client.authenticated = true;
        } else if opt.eq_ignore_ascii_case(b"setname") {
            let Some(n) = args.next() else {
                reply::error(out, super::SYNTAX_ERROR);
                return;
            };
            name = Some(n.to_vec());
        } else {
            reply::error_fmt(
                out,
                format_args!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(opt)
                ),
            );
            return;
        }
    }
    if !client.authenticated {
        reply::error(out, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if name.is_some() {
        client.name = name;
    }
    // In RESP2 the map is a flat array of field, value pairs.
    reply::array(out, 14);
    reply::bulk(out, b"server");
    reply::bulk(out, b"redis");
    reply::bulk(out, b"version");
    reply::bulk(out, crate::cmd::server::REDIS_VERSION.as_bytes());
    reply::bulk(out, b"proto");
    reply::int(out, 2);
    reply::bulk(out, b"id");
    reply::int(out, client.id as i64);
    reply::bulk(out, b"mode");
    reply::bulk(out, b"standalone");
    reply::bulk(out, b"role");
    reply::bulk(out, b"master");
    reply::bulk(out, b"modules");
    reply::array(out, 0);
}

/// `CLIENT SETNAME | GETNAME | SETINFO | ID`.
pub fn client(mut args: Args<'_>, client: &mut Client, out: &mut Vec<u8>) {
    let sub = args.next().unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    let wrong_arity = |out: &mut Vec<u8>, name: &str| {
        reply::error_fmt(
            out,
            format_args!("ERR wrong number of arguments for 'client|{name}' command"),
        );
    };
    if sub.eq_ignore_ascii_case(b"setname") {
        let [name] = rest[..] else {
            return wrong_arity(out, "setname");
        };
        if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
            reply::error(
                out,
                "ERR Client names cannot contain spaces, newlines or special characters.",
            );
            return;
        }
        client.name = (!name.is_empty()).then(|| name.to_vec());
        reply::ok(out);
    } else if sub.eq_ignore_ascii_case(b"getname") {
        if !rest.is_empty() {
            return wrong_arity(out, "getname");
        }
        match &client.name {
            Some(name) => reply::bulk(out, name),
            None => reply::null(out),
        }
    } else if sub.eq_ignore_ascii_case(b"setinfo") {
        let [attr, _value] = rest[..] else {
            return wrong_arity(out, "setinfo");
        };
        if attr.eq_ignore_ascii_case(b"lib-name") || attr.eq_ignore_ascii_case(b"lib-ver") {
            reply::ok(out);
        } else {
            reply::error_fmt(
                out,
                format_args!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(attr)
                ),
            );
        }
    } else if sub.eq_ignore_ascii_case(b"id") {
        if !rest.is_empty() {
            return wrong_arity(out, "id");
        }
        reply::int(out, client.id as i64);
    } else {
        reply::error_fmt(
            out,
            format_args!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&sub[..sub.len().min(128)])
            ),
        );
    }
}

/// `AUTH password` or `AUTH username password`.
pub fn auth(mut args: Args<'_>, count: usize, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
    let (user, pass) = match (count, args.next(), args.next()) {
        (1, Some(pass), _) => (None, pass),
        (2, Some(user), Some(pass)) => (Some(user), pass),
        _ => {
            reply::error(out, super::SYNTAX_ERROR);
            return;
        }
    };
    if db.password.is_none() && user.is_none() {
        reply::error(
            out,
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
        return;
    }
    if crate::auth::check(db.password.as_deref(), user, pass) {
        client.authenticated = true;
        reply::ok(out);
    } else {
        log::warn!("{}: AUTH failed", client.peer);
        reply::error(out, crate::auth::WRONGPASS);
    }
}
