//! The Redis commands: one [`Command`] per name, looked up case-insensitively, checked for arity,
//! and applied by the file of its family.
//!
//! Replies and error texts are Redis 7's, byte for byte, so clients and tools that parse them
//! work unchanged. An unknown command is answered, never fatal.

mod connection;
mod keys;
mod server;
mod strings;

use crate::db::Db;
use crate::reply;
use kv_nostd::resp::Request;
use std::net::SocketAddr;

/// Per-connection state the commands read and change.
pub struct Client {
    /// Unique id (`CLIENT ID`).
    pub id: u64,
    /// Name set by `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// Where the client connects from.
    pub peer: SocketAddr,
    /// The log position this client's latest logged write ends at; its replies wait until the
    /// log is durable that far (with `--fsync always`).
    pub wait_lsn: u64,
    /// Where in the output buffer the replies to those writes are, so they can be turned into
    /// errors if the log fails before they are durable.
    pub write_replies: Vec<(usize, usize)>,
    /// Whether the client may run commands: it has AUTHed, or no password is set.
    pub authenticated: bool,
}

impl Client {
    /// A new client with no name.
    pub fn new(id: u64, peer: SocketAddr) -> Self {
        Self {
            id,
            name: None,
            peer,
            wait_lsn: 0,
            write_replies: Vec::new(),
            authenticated: true,
        }
    }

    /// Notes that the reply in `out[start..]` answers a write logged up to `lsn` (0: nothing to
    /// wait for).
    pub fn logged(&mut self, lsn: u64, start: usize, out: &[u8]) {
        if lsn > 0 {
            self.wait_lsn = self.wait_lsn.max(lsn);
            self.write_replies.push((start, out.len()));
        }
    }
}

/// Whether the connection goes on after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close once the reply is written (`QUIT`).
    Close,
}

/// Every command the server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `GET`.
    Get,
    /// `SET`.
    Set,
    /// `DEL`.
    Del,
    /// `EXISTS`.
    Exists,
    /// `MGET`.
    Mget,
    /// `MSET`.
    Mset,
    /// `DBSIZE`.
    Dbsize,
    /// `FLUSHDB`.
    Flushdb,
    /// `FLUSHALL`.
    Flushall,
    /// `KEYS`.
    Keys,
    /// `SCAN`.
    Scan,
    /// `PING`.
    Ping,
    /// `ECHO`.
    Echo,
    /// `QUIT`.
    Quit,
    /// `SELECT`.
    Select,
    /// `HELLO`.
    Hello,
    /// `CLIENT`.
    Client,
    /// `INFO`.
    Info,
    /// `COMMAND`.
    Command,
    /// `CONFIG`.
    Config,
    /// `AUTH`.
    Auth,
    /// `SAVE`.
    Save,
    /// `BGSAVE`.
    Bgsave,
    /// `LASTSAVE`.
    Lastsave,
    /// `SHUTDOWN`.
    Shutdown,
}

/// Name, command and Redis arity: `n` exactly `n` arguments (counting the name), `-n` at least `n`.
const COMMANDS: &[(&str, Command, i32)] = &[
    ("get", Command::Get, 2),
    ("set", Command::Set, -3),
    ("del", Command::Del, -2),
    ("exists", Command::Exists, -2),
    ("mget", Command::Mget, -2),
    ("mset", Command::Mset, -3),
    ("ping", Command::Ping, -1),
    ("dbsize", Command::Dbsize, 1),
    ("flushdb", Command::Flushdb, -1),
    ("flushall", Command::Flushall, -1),
    ("keys", Command::Keys, 2),
    ("scan", Command::Scan, -2),
    ("echo", Command::Echo, 2),
    ("quit", Command::Quit, -1),
    ("select", Command::Select, 2),
    ("hello", Command::Hello, -1),
    ("client", Command::Client, -2),
    ("info", Command::Info, -1),
    ("command", Command::Command, -1),
    ("config", Command::Config, -2),
    ("auth", Command::Auth, -2),
    ("save", Command::Save, 1),
    ("bgsave", Command::Bgsave, -1),
    ("lastsave", Command::Lastsave, 1),
    ("shutdown", Command::Shutdown, -1),
];

/// How many commands the server knows (`COMMAND COUNT`).
pub const COMMAND_COUNT: usize = COMMANDS.len();

/// Looks a command up by name, ignoring case.
pub fn lookup(name: &[u8]) -> Option<(&'static str, Command, i32)> {
    COMMANDS
        .iter()
        .find(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

/// Runs one request, appending its reply to `out`.
pub fn execute(req: &Request<'_>, client: &mut Client, db: &Db, out: &mut Vec<u8>) -> Flow {
    let Some(name) = req.command() else {
        return Flow::Continue;
    };
    let Some((canonical, command, arity)) = lookup(name) else {
        unknown_command(req, name, out);
        return Flow::Continue;
    };
    let argc = req.argc();
    let arity_ok = if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    };
    if !arity_ok {
        reply::error_fmt(
            out,
            format_args!("ERR wrong number of arguments for '{canonical}' command"),
        );
        return Flow::Continue;
    }
    if !client.authenticated && !matches!(command, Command::Auth | Command::Hello | Command::Quit) {
        reply::error(out, crate::auth::NOAUTH);
        return Flow::Continue;
    }
    let mut args = req.args();
    args.next();
    match command {
        Command::Get => strings::get(args, db, out),
        Command::Set => strings::set(args, client, db, out),
        Command::Del => strings::del(args, client, db, out),
        Command::Exists => strings::exists(args, db, out),
        Command::Mget => strings::mget(args, argc - 1, db, out),
        Command::Mset => strings::mset(args, argc - 1, client, db, out),
        Command::Dbsize => keys::dbsize(db, out),
        Command::Flushdb | Command::Flushall => keys::flush(args, client, db, out),
        Command::Keys => keys::keys(args, db, out),
        Command::Scan => keys::scan(args, db, out),
        Command::Ping => connection::ping(args, argc - 1, out),
        Command::Echo => connection::echo(args, out),
        Command::Quit => {
            reply::ok(out);
            return Flow::Close;
        }
        Command::Select => connection::select(args, out),
        Command::Hello => connection::hello(args, client, db, out),
        Command::Client => connection::client(args, client, out),
        Command::Auth => connection::auth(args, argc - 1, client, db, out),
        Command::Info => server::info(args, db, out),
        Command::Command => server::command(args, out),
        Command::Config => server::config(args, out),
        Command::Save => server::save(db, out),
        Command::Bgsave => server::bgsave(args, db, out),
        Command::Lastsave => server::lastsave(db, out),
        Command::Shutdown => return server::shutdown(args, db, out),
    }
    Flow::Continue
}

/// `-ERR unknown command 'x', with args beginning with: 'a' 'b' `, exactly as Redis builds it:
/// the name cut to 128 bytes, then quoted arguments while the list is under 128 bytes, each cut
/// to what is left of those 128.
fn unknown_command(req: &Request<'_>, name: &[u8], out: &mut Vec<u8>) {
    let mut listed: Vec<u8> = Vec::new();
    for arg in req.args().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(&arg[..arg.len().min(room)]);
        listed.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&listed);
    reply::push(out, kv_nostd::resp::Reply::Error(&text));
}

/// Parses a decimal integer argument the way Redis does (`string2ll`): optional `-`, digits, no
/// spaces, no `+`, in `i64` range.
pub fn parse_int(arg: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// The reply for an integer argument that does not parse.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
/// The reply for options that do not fit together or are unknown.
pub const SYNTAX_ERROR: &str = "ERR syntax error";
