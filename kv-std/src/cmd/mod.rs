//! The Redis commands: one [`Command`] per name, looked up case-insensitively with its
//! subcommand if it has them, checked for arity, authentication and pub/sub context, and applied
//! by the file of its family.
//!
//! Replies and error texts are Redis 7's, byte for byte, so clients and tools that parse them
//! work unchanged; each reply is written once, through the connection's [`Out`], which shapes it
//! for RESP2 or RESP3. An unknown command or subcommand is answered, never fatal.

mod client;
mod connection;
mod keys;
mod pubsub;
mod server;
mod strings;

pub use server::REDIS_VERSION;

use crate::db::Db;
use crate::reply::{Out, Resp};
use crate::server::clients::Handle;
use indexmap::IndexSet;
use kv_nostd::resp::Request;
use std::net::SocketAddr;
use std::sync::Arc;

/// Per-connection state the commands read and change.
pub struct Client {
    /// Unique id (`CLIENT ID`).
    pub id: u64,
    /// Where the client connects from.
    pub peer: SocketAddr,
    /// What other threads see of this client.
    pub handle: Arc<Handle>,
    /// The log position this client's latest logged write ends at; its replies wait until the
    /// log is durable that far (with `--fsync always`).
    pub wait_lsn: u64,
    /// Where in the output buffer the replies to those writes are, so they can be turned into
    /// errors if the log fails before they are durable.
    pub write_replies: Vec<(usize, usize)>,
    /// Whether the client may run commands: it has AUTHed, or no password is set.
    pub authenticated: bool,
    /// Its pub/sub subscriptions.
    pub subscriptions: Subscriptions,
    /// The last command looked up, as `CLIENT LIST` names it (`NULL` for an unknown one).
    pub last_command: &'static str,
}

/// A client's subscriptions, each namespace in the order it subscribed.
#[derive(Default, Debug)]
pub struct Subscriptions {
    /// Channels (`SUBSCRIBE`).
    pub channels: IndexSet<Vec<u8>>,
    /// Patterns (`PSUBSCRIBE`).
    pub patterns: IndexSet<Vec<u8>>,
    /// Shard channels (`SSUBSCRIBE`).
    pub shards: IndexSet<Vec<u8>>,
}

impl Subscriptions {
    /// Channels and patterns together: the count (un)subscribe confirmations report.
    pub fn channels_and_patterns(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client subscribes to anything: in RESP2 it is then in subscribed mode.
    pub fn any(&self) -> bool {
        self.channels_and_patterns() + self.shards.len() > 0
    }

    /// The counts `CLIENT LIST` shows as `sub`, `psub` and `ssub`.
    pub fn counts(&self) -> [usize; 3] {
        [self.channels.len(), self.patterns.len(), self.shards.len()]
    }
}

impl Client {
    /// A new client with no name, not yet authenticated unless `authenticated`.
    pub fn new(handle: Arc<Handle>, authenticated: bool) -> Self {
        Self {
            id: handle.id,
            peer: handle.addr,
            handle,
            wait_lsn: 0,
            write_replies: Vec::new(),
            authenticated,
            subscriptions: Subscriptions::default(),
            last_command: "NULL",
        }
    }

    /// Notes that the reply in output bytes `start..end` answers a write logged up to `lsn` (0:
    /// nothing to wait for).
    pub fn logged(&mut self, lsn: u64, start: usize, end: usize) {
        if lsn > 0 {
            self.wait_lsn = self.wait_lsn.max(lsn);
            self.write_replies.push((start, end));
        }
    }
}

/// Whether the connection goes on after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close once the reply is written (`QUIT`, `CLIENT KILL` of itself).
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
    /// `AUTH`.
    Auth,
    /// `RESET`.
    Reset,
    /// `READONLY`.
    Readonly,
    /// `READWRITE`.
    Readwrite,
    /// `CLIENT` and its subcommands.
    Client,
    /// `SUBSCRIBE`.
    Subscribe,
    /// `UNSUBSCRIBE`.
    Unsubscribe,
    /// `PSUBSCRIBE`.
    Psubscribe,
    /// `PUNSUBSCRIBE`.
    Punsubscribe,
    /// `SSUBSCRIBE`.
    Ssubscribe,
    /// `SUNSUBSCRIBE`.
    Sunsubscribe,
    /// `PUBLISH`.
    Publish,
    /// `SPUBLISH`.
    Spublish,
    /// `PUBSUB` and its subcommands.
    Pubsub,
    /// `INFO`.
    Info,
    /// `COMMAND` and its subcommands.
    Command,
    /// `CONFIG` and its subcommands.
    Config,
    /// `MEMORY` and its subcommands.
    Memory,
    /// `SAVE`.
    Save,
    /// `BGSAVE`.
    Bgsave,
    /// `LASTSAVE`.
    Lastsave,
    /// `SHUTDOWN`.
    Shutdown,
}

/// A command's name, Redis arity (`n`: exactly `n` arguments counting the name; `-n`: at least
/// `n`) and subcommands.
struct Spec {
    name: &'static str,
    command: Command,
    arity: i32,
    subcommands: &'static [Sub],
}

/// A subcommand: its full name as Redis writes it (`client|list`) and its arity, counting the
/// command and subcommand names.
struct Sub {
    name: &'static str,
    arity: i32,
}

const fn spec(name: &'static str, command: Command, arity: i32) -> Spec {
    Spec {
        name,
        command,
        arity,
        subcommands: &[],
    }
}

const fn sub(name: &'static str, arity: i32) -> Sub {
    Sub { name, arity }
}

const CLIENT_SUBCOMMANDS: &[Sub] = &[
    sub("client|id", 2),
    sub("client|info", 2),
    sub("client|list", -2),
    sub("client|kill", -3),
    sub("client|getname", 2),
    sub("client|setname", 3),
    sub("client|setinfo", 4),
    sub("client|no-evict", 3),
    sub("client|no-touch", 3),
    sub("client|tracking", -3),
    sub("client|getredir", 2),
    sub("client|reply", 3),
    sub("client|help", 2),
];

const PUBSUB_SUBCOMMANDS: &[Sub] = &[
    sub("pubsub|channels", -2),
    sub("pubsub|numsub", -2),
    sub("pubsub|numpat", 2),
    sub("pubsub|shardchannels", -2),
    sub("pubsub|shardnumsub", -2),
    sub("pubsub|help", 2),
];

const CONFIG_SUBCOMMANDS: &[Sub] = &[
    sub("config|get", -3),
    sub("config|set", -4),
    sub("config|resetstat", 2),
    sub("config|help", 2),
];

const MEMORY_SUBCOMMANDS: &[Sub] = &[sub("memory|usage", -3), sub("memory|help", 2)];

const COMMAND_SUBCOMMANDS: &[Sub] = &[
    sub("command|count", 2),
    sub("command|docs", -2),
    sub("command|help", 2),
];

const COMMANDS: &[Spec] = &[
    spec("get", Command::Get, 2),
    spec("set", Command::Set, -3),
    spec("del", Command::Del, -2),
    spec("exists", Command::Exists, -2),
    spec("mget", Command::Mget, -2),
    spec("mset", Command::Mset, -3),
    spec("ping", Command::Ping, -1),
    spec("dbsize", Command::Dbsize, 1),
    spec("flushdb", Command::Flushdb, -1),
    spec("flushall", Command::Flushall, -1),
    spec("keys", Command::Keys, 2),
    spec("scan", Command::Scan, -2),
    spec("echo", Command::Echo, 2),
    spec("quit", Command::Quit, -1),
    spec("select", Command::Select, 2),
    spec("hello", Command::Hello, -1),
    spec("auth", Command::Auth, -2),
    spec("reset", Command::Reset, 1),
    spec("readonly", Command::Readonly, 1),
    spec("readwrite", Command::Readwrite, 1),
    Spec {
        subcommands: CLIENT_SUBCOMMANDS,
        ..spec("client", Command::Client, -2)
    },
    spec("subscribe", Command::Subscribe, -2),
    spec("unsubscribe", Command::Unsubscribe, -1),
    spec("psubscribe", Command::Psubscribe, -2),
    spec("punsubscribe", Command::Punsubscribe, -1),
    spec("ssubscribe", Command::Ssubscribe, -2),
    spec("sunsubscribe", Command::Sunsubscribe, -1),
    spec("publish", Command::Publish, 3),
    spec("spublish", Command::Spublish, 3),
    Spec {
        subcommands: PUBSUB_SUBCOMMANDS,
        ..spec("pubsub", Command::Pubsub, -2)
    },
    spec("info", Command::Info, -1),
    Spec {
        subcommands: COMMAND_SUBCOMMANDS,
        ..spec("command", Command::Command, -1)
    },
    Spec {
        subcommands: CONFIG_SUBCOMMANDS,
        ..spec("config", Command::Config, -2)
    },
    Spec {
        subcommands: MEMORY_SUBCOMMANDS,
        ..spec("memory", Command::Memory, -2)
    },
    spec("save", Command::Save, 1),
    spec("bgsave", Command::Bgsave, -1),
    spec("lastsave", Command::Lastsave, 1),
    spec("shutdown", Command::Shutdown, -1),
];

/// How many commands the server knows (`COMMAND COUNT`).
pub const COMMAND_COUNT: usize = COMMANDS.len();

fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether `argc` arguments satisfy Redis arity `arity`.
fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// The commands a RESP2 client may run while it subscribes to something.
fn allowed_when_subscribed(command: Command) -> bool {
    matches!(
        command,
        Command::Ping
            | Command::Subscribe
            | Command::Ssubscribe
            | Command::Unsubscribe
            | Command::Sunsubscribe
            | Command::Psubscribe
            | Command::Punsubscribe
            | Command::Quit
            | Command::Reset
    )
}

/// Runs one request, appending its reply to `out`.
pub fn execute(req: &Request<'_>, client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    let Some(name) = req.command() else {
        return Flow::Continue;
    };
    let argc = req.argc();
    // Redis answers QUIT before any other check: authentication, arity, subscribed mode.
    if name.eq_ignore_ascii_case(b"quit") {
        client.last_command = "quit";
        out.ok();
        return Flow::Close;
    }
    let Some(spec) = lookup(name) else {
        client.last_command = "NULL";
        unknown_command(req, name, out);
        return Flow::Continue;
    };
    let mut args = req.args();
    args.next();
    let mut full_name = spec.name;
    let mut subcommand = "";
    let mut given: &[u8] = &[];
    if !spec.subcommands.is_empty() && argc >= 2 {
        given = args.next().unwrap_or_default();
        let found = spec.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .is_some_and(|(_, n)| n.as_bytes().eq_ignore_ascii_case(given))
        });
        let Some(found) = found else {
            client.last_command = "NULL";
            out.error_fmt(format_args!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                String::from_utf8_lossy(&given[..given.len().min(128)]),
                String::from_utf8_lossy(name).to_ascii_uppercase()
            ));
            return Flow::Continue;
        };
        if !arity_ok(found.arity, argc) {
            client.last_command = found.name;
            out.error_fmt(format_args!(
                "ERR wrong number of arguments for '{}' command",
                found.name
            ));
            return Flow::Continue;
        }
        full_name = found.name;
        subcommand = &found.name[spec.name.len() + 1..];
    }
    client.last_command = full_name;
    if !arity_ok(spec.arity, argc) {
        out.error_fmt(format_args!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
        return Flow::Continue;
    }
    let command = spec.command;
    if !client.authenticated && !matches!(command, Command::Auth | Command::Hello | Command::Reset)
    {
        out.error(crate::auth::NOAUTH);
        return Flow::Continue;
    }
    if out.resp == Resp::V2 && client.subscriptions.any() && !allowed_when_subscribed(command) {
        out.error_fmt(format_args!(
            "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
             QUIT / RESET are allowed in this context"
        ));
        return Flow::Continue;
    }
    let count = argc - 1;
    match command {
        Command::Get => strings::get(args, db, out),
        Command::Set => strings::set(args, client, db, out),
        Command::Del => strings::del(args, client, db, out),
        Command::Exists => strings::exists(args, db, out),
        Command::Mget => strings::mget(args, count, db, out),
        Command::Mset => strings::mset(args, count, client, db, out),
        Command::Dbsize => keys::dbsize(db, out),
        Command::Flushdb | Command::Flushall => keys::flush(args, client, db, out),
        Command::Keys => keys::keys(args, db, out),
        Command::Scan => keys::scan(args, db, out),
        Command::Ping => connection::ping(args, count, client, out),
        Command::Echo => connection::echo(args, out),
        Command::Quit => {
            out.ok();
            return Flow::Close;
        }
        Command::Select => connection::select(args, out),
        Command::Hello => connection::hello(args, client, db, out),
        Command::Auth => connection::auth(args, count, client, db, out),
        Command::Reset => connection::reset(client, db, out),
        Command::Readonly | Command::Readwrite => out.ok(),
        Command::Client => return client::client(subcommand, args, client, db, out),
        Command::Subscribe => pubsub::subscribe(pubsub::Space::Channels, args, client, db, out),
        Command::Psubscribe => pubsub::subscribe(pubsub::Space::Patterns, args, client, db, out),
        Command::Ssubscribe => pubsub::subscribe(pubsub::Space::Shards, args, client, db, out),
        Command::Unsubscribe => pubsub::unsubscribe(pubsub::Space::Channels, args, client, db, out),
        Command::Punsubscribe => {
            pubsub::unsubscribe(pubsub::Space::Patterns, args, client, db, out)
        }
        Command::Sunsubscribe => pubsub::unsubscribe(pubsub::Space::Shards, args, client, db, out),
        Command::Publish => pubsub::publish(false, args, client, db, out),
        Command::Spublish => pubsub::publish(true, args, client, db, out),
        Command::Pubsub => pubsub::pubsub(subcommand, given, args, db, out),
        Command::Info => server::info(args, db, out),
        Command::Command => server::command(subcommand, args, out),
        Command::Config => server::config(subcommand, args, db, out),
        Command::Memory => server::memory(subcommand, args, db, out),
        Command::Save => server::save(db, out),
        Command::Bgsave => server::bgsave(args, db, out),
        Command::Lastsave => server::lastsave(db, out),
        Command::Shutdown => return server::shutdown(args, db, out),
    }
    Flow::Continue
}

/// Applies a command read back from the log: run as an authenticated client no worker serves,
/// on a database that logs nothing while it loads. A command the server refuses is an error,
/// with the refusal's text.
pub fn replay(command: &Request<'_>, client: &mut Client, db: &Db) -> Result<(), String> {
    let mut out = Out::new(Resp::V2);
    execute(command, client, db, &mut out);
    match out.bytes().first() {
        Some(b'-') => {
            Err(String::from_utf8_lossy(&out.bytes()[1..out.len().saturating_sub(2)]).into_owned())
        }
        _ => Ok(()),
    }
}

/// `-ERR unknown command 'x', with args beginning with: 'a' 'b' `, exactly as Redis builds it:
/// the name cut to 128 bytes, then quoted arguments while the list is under 128 bytes, each cut
/// to what is left of those 128.
fn unknown_command(req: &Request<'_>, name: &[u8], out: &mut Out) {
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
    out.error_bytes(&text);
}

/// Parses a decimal integer argument the way Redis does (`string2ll`).
pub use crate::value::number::parse_i64 as parse_int;

/// The reply for an integer argument that does not parse.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
/// The reply for options that do not fit together or are unknown.
pub const SYNTAX_ERROR: &str = "ERR syntax error";
