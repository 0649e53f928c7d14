//! The Redis commands: one [`Command`] per name, looked up case-insensitively with its
//! subcommand if it has them, checked for arity, authentication and pub/sub context, and applied
//! by the file of its family.
//!
//! Every command has an entry in the command table ([`table`], in the shape [`spec`] describes):
//! its arity, flags, key specs and documentation as Redis publishes them. The arity checks here,
//! `COMMAND` (in `introspection.rs`) and `COMMAND GETKEYS` all read that one table.
//!
//! Replies and error texts are Redis 7's, byte for byte, so clients and tools that parse them
//! work unchanged; each reply is written once, through the connection's [`Out`], which shapes it
//! for RESP2 or RESP3. An unknown command or subcommand is answered, never fatal.
//!
//! Every command that runs is timed, and counted for INFO ([`stats`]: calls, time, calls refused
//! before running, calls answered with an error, error replies by code); one slow enough goes to
//! the [`slowlog`], and every one but the administrative ones is fed to the [`monitor`]s.

mod bits;
mod client;
mod cluster;
mod config;
mod connection;
mod counter;
mod debug;
mod dump;
mod expire;
mod histogram;
mod info;
mod introspection;
mod keys;
mod latency;
mod lcs;
mod memory;
mod migrate;
pub mod monitor;
mod object;
mod pubsub;
mod range;
pub mod replication;
mod rewrite;
mod server;
pub mod slowlog;
pub mod spec;
pub mod stats;
mod strings;
pub mod table;
mod transaction;

pub use server::REDIS_VERSION;

use crate::db::Db;
use crate::reply::{Out, Resp};
use crate::server::clients::Handle;
use crate::value::number::{parse_decrby, parse_incrby, Increment};
use expire::Base::{Epoch, Now};
use expire::Unit;
use indexmap::IndexSet;
use kv_nostd::resp::Request;
use spec::Spec;
use std::net::SocketAddr;
use std::sync::Arc;
use table::COMMANDS;

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
    /// Reads that found their key and reads that did not, not yet added to the server's
    /// counters (they are added once per batch of commands, not once per read).
    pub keyspace: [u64; 2],
    /// Calls not yet added to the server's command counters, likewise.
    pub tally: stats::Tally,
    /// When the last command of this batch ended: the next one's start, so that a pipelined
    /// batch reads the clock once per command rather than twice.
    pub clock: Option<std::time::Instant>,
    /// The commands queued since `MULTI`, while in a transaction.
    pub transaction: Option<transaction::Queued>,
    /// The keys it `WATCH`es.
    pub watching: Option<transaction::Watching>,
    /// What it said of itself as a replica (`REPLCONF`), and its `PSYNC`.
    pub hello: Option<Box<crate::repl::primary::Hello>>,
    /// It is this replica's primary: its writes are applied, not refused.
    pub master: bool,
    /// It waits for replicas' acknowledgements (`WAIT`); the reply is written once they come.
    pub blocked: Option<replication::Blocked>,
    /// Its commands run inside `EXEC`.
    pub in_exec: bool,
    /// It sent `ASKING`: its next command may use a slot this node imports (cluster mode).
    pub asking: bool,
    /// It sent `READONLY`: a replica serves it reads of its primary's slots (cluster mode).
    pub readonly: bool,
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
            keyspace: [0; 2],
            tally: stats::Tally::default(),
            clock: None,
            transaction: None,
            watching: None,
            hello: None,
            master: false,
            blocked: None,
            in_exec: false,
            asking: false,
            readonly: false,
        }
    }

    /// Counts a read of a key: a hit if `found`, a miss otherwise.
    pub fn read(&mut self, found: bool) {
        self.keyspace[usize::from(!found)] += 1;
    }

    /// Adds the reads counted since the last call to the server's `keyspace_hits` and
    /// `keyspace_misses`, and the calls to its command counters.
    pub fn flush_stats(&mut self, db: &Db) {
        // The batch ends: the next command's time starts when it does.
        self.clock = None;
        if !self.tally.is_empty() {
            db.commands.add(&mut self.tally);
        }
        let [hits, misses] = std::mem::take(&mut self.keyspace);
        if hits > 0 {
            crate::db::Stats::add(&db.stats.keyspace_hits, hits);
        }
        if misses > 0 {
            crate::db::Stats::add(&db.stats.keyspace_misses, misses);
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
    /// The connection is a replica's from now on (`PSYNC`, `SYNC`): hand it to replication.
    Replicate,
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
    /// `MSETNX`.
    Msetnx,
    /// `RENAME`.
    Rename,
    /// `RENAMENX`.
    Renamenx,
    /// `COPY`.
    Copy,
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `DISCARD`.
    Discard,
    /// `WATCH`.
    Watch,
    /// `UNWATCH`.
    Unwatch,
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
    /// `OBJECT` and its subcommands.
    Object,
    /// `SAVE`.
    Save,
    /// `BGSAVE`.
    Bgsave,
    /// `LASTSAVE`.
    Lastsave,
    /// `SHUTDOWN`.
    Shutdown,
    /// `TIME`.
    Time,
    /// `MONITOR`.
    Monitor,
    /// `DEBUG`.
    Debug,
    /// `SLOWLOG` and its subcommands.
    Slowlog,
    /// `LATENCY` and its subcommands.
    Latency,
    /// `SETEX`.
    Setex,
    /// `PSETEX`.
    Psetex,
    /// `GETEX`.
    Getex,
    /// `EXPIRE`.
    Expire,
    /// `PEXPIRE`.
    Pexpire,
    /// `EXPIREAT`.
    Expireat,
    /// `PEXPIREAT`.
    Pexpireat,
    /// `TTL`.
    Ttl,
    /// `PTTL`.
    Pttl,
    /// `EXPIRETIME`.
    Expiretime,
    /// `PEXPIRETIME`.
    Pexpiretime,
    /// `PERSIST`.
    Persist,
    /// `INCR`.
    Incr,
    /// `DECR`.
    Decr,
    /// `INCRBY`.
    Incrby,
    /// `DECRBY`.
    Decrby,
    /// `INCRBYFLOAT`.
    Incrbyfloat,
    /// `APPEND`.
    Append,
    /// `SETRANGE`.
    Setrange,
    /// `GETRANGE`.
    Getrange,
    /// `SUBSTR`.
    Substr,
    /// `STRLEN`.
    Strlen,
    /// `GETDEL`.
    Getdel,
    /// `GETSET`.
    Getset,
    /// `SETNX`.
    Setnx,
    /// `SETBIT`.
    Setbit,
    /// `GETBIT`.
    Getbit,
    /// `BITCOUNT`.
    Bitcount,
    /// `BITPOS`.
    Bitpos,
    /// `BITFIELD`.
    Bitfield,
    /// `BITFIELD_RO`.
    BitfieldRo,
    /// `LCS`.
    Lcs,
    /// `TYPE`.
    Type,
    /// `TOUCH`.
    Touch,
    /// `UNLINK`.
    Unlink,
    /// `RANDOMKEY`.
    Randomkey,
    /// `DUMP`.
    Dump,
    /// `RESTORE`.
    Restore,
    /// `BITOP`.
    Bitop,
    /// `SYNC`.
    Sync,
    /// `PSYNC`.
    Psync,
    /// `REPLCONF`.
    Replconf,
    /// `REPLICAOF` and `SLAVEOF`.
    Replicaof,
    /// `ROLE`.
    Role,
    /// `WAIT`.
    Wait,
    /// `CLUSTER` and its subcommands.
    Cluster,
    /// `ASKING`.
    Asking,
    /// `MIGRATE`.
    Migrate,
    /// `RESTORE-ASKING`.
    RestoreAsking,
}

/// The command called `name` (any case), not a subcommand.
fn lookup(name: &[u8]) -> Option<&'static Spec> {
    find(name).map(|(_, spec)| spec)
}

/// The command called `name` (any case), not a subcommand, and its place in the table.
fn find(name: &[u8]) -> Option<(usize, &'static Spec)> {
    COMMANDS
        .iter()
        .enumerate()
        .find(|(_, spec)| spec.name.as_bytes().eq_ignore_ascii_case(name))
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

/// A command that passed every check and is about to run.
struct Call<'r> {
    /// The command's entry; a subcommand's own for a container.
    spec: &'static Spec,
    /// The command run.
    command: Command,
    /// The subcommand's name in lower case (`get` for `CONFIG GET`), or empty.
    subcommand: &'static str,
    /// The subcommand as the client typed it.
    given: &'r [u8],
    /// Its counters' place.
    slot: stats::Slot,
    /// The hash slot whose gate it is inside (cluster mode), left when it has run.
    entered: Option<u16>,
}

/// Runs one request, appending its reply to `out`, and counts it for INFO, the slow log and
/// the monitors.
pub fn execute(req: &Request<'_>, client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    let flow = match admit(req, client, db, out) {
        Ok(call) => {
            let flow = run(&call, req, client, db, out);
            if let (Some(slot), Some(cluster)) = (call.entered, &db.cluster) {
                cluster.leave(slot);
            }
            (flow, call.command == Command::Asking)
        }
        Err(flow) => (flow, false),
    };
    let (flow, asked) = flow;
    // `ASKING` holds for the next command only, or for a transaction's commands.
    if !asked && client.transaction.is_none() && !client.in_exec {
        client.asking = false;
    }
    if out.error_count() > 0 {
        db.errors.add(out.take_errors());
    }
    flow
}

/// Runs an admitted command, timed, and counts it: its calls and latency, the slow log, the
/// monitors.
fn run(call: &Call<'_>, req: &Request<'_>, client: &mut Client, db: &Db, out: &mut Out) -> Flow {
    let errors = out.error_count();
    // Within a batch a command's time starts where the previous one's ended, so it includes
    // the decoding of its request (tens of nanoseconds), which Redis leaves out.
    let start = client.clock.take().unwrap_or_else(std::time::Instant::now);
    let flow = dispatch(call, req, client, db, out);
    let end = std::time::Instant::now();
    client.clock = Some(end);
    let nanos = u64::try_from(end.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
    let failed = out.error_count() > errors;
    if failed && out_of_memory(call, out) {
        // Redis refuses such a write before running it, when eviction cannot make room: a
        // rejected call, neither timed nor logged nor fed to monitors.
        client.tally.reject(call.slot);
        return flow;
    }
    client
        .tally
        .call(call.slot, nanos, failed, db.commands.tracking());
    if client.tally.is_full() {
        db.commands.add(&mut client.tally);
    }
    observe(call, req, nanos / 1000, client, db);
    flow
}

/// Looks the command up and checks it may run: its arity, authentication, the pub/sub context;
/// inside `MULTI`, queues it instead. A command refused is answered here, and counted as
/// rejected if it is known (a refusal also fails the transaction being queued).
fn admit<'r>(
    req: &'r Request<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) -> Result<Call<'r>, Flow> {
    let Some(name) = req.command() else {
        return Err(Flow::Continue);
    };
    let argc = req.argc();
    // Redis answers QUIT before any other check: authentication, arity, subscribed mode.
    if name.eq_ignore_ascii_case(b"quit") {
        client.last_command = "quit";
        out.ok();
        return Err(Flow::Close);
    }
    let Some((index, spec)) = find(name) else {
        client.last_command = "NULL";
        unknown_command(req, name, out);
        fail_transaction(client);
        return Err(Flow::Continue);
    };
    let mut full = spec;
    let mut subcommand = "";
    let mut given: &[u8] = &[];
    let mut slot = stats::slot(index, None);
    if !spec.subcommands.is_empty() && argc >= 2 {
        given = req.args().nth(1).unwrap_or_default();
        let found = spec.subcommand(given);
        let Some(sub) = spec
            .subcommands
            .iter()
            .position(|s| found.is_some_and(|f| std::ptr::eq(f, s)))
        else {
            client.last_command = "NULL";
            out.error_fmt(format_args!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                String::from_utf8_lossy(&given[..given.len().min(128)]),
                String::from_utf8_lossy(name).to_ascii_uppercase()
            ));
            fail_transaction(client);
            return Err(Flow::Continue);
        };
        full = &spec.subcommands[sub];
        slot = stats::slot(index, Some(sub));
        subcommand = &full.name[spec.name.len() + 1..];
    }
    client.last_command = full.name;
    let refused = |client: &mut Client| {
        client.tally.reject(slot);
        fail_transaction(client);
        Err(Flow::Continue)
    };
    if !full.arity_ok(argc) || !spec.arity_ok(argc) {
        if spec.command == Command::Exec {
            // Redis's `execCommandAbort`: an EXEC refused ends the transaction.
            client.transaction = None;
            client.watching = None;
            client.tally.reject(slot);
            out.error_fmt(format_args!(
                "EXECABORT Transaction discarded because of: wrong number of arguments for \
                 '{}' command",
                spec.name
            ));
            return Err(Flow::Continue);
        }
        out.error_fmt(format_args!(
            "ERR wrong number of arguments for '{}' command",
            full.name
        ));
        return refused(client);
    }
    let command = spec.command;
    if !client.authenticated && !matches!(command, Command::Auth | Command::Hello | Command::Reset)
    {
        out.error(crate::auth::NOAUTH);
        return refused(client);
    }
    if let Some(refusal) = replication_refusal(full, client, db) {
        out.error(refusal);
        return refused(client);
    }
    let mut entered = None;
    if let Some(cluster) = &db.cluster {
        if !client.master && client.id != 0 && !client.in_exec && full.has_keys() {
            let asker = crate::cluster::Asker {
                asking: client.asking,
                readonly: client.readonly,
            };
            match cluster.route(full, req, asker, db) {
                Ok(crate::cluster::Route::Entered(slot)) => entered = Some(slot),
                Ok(crate::cluster::Route::Serve) => {}
                Err(redirect) => {
                    out.error(&redirect);
                    return refused(client);
                }
            }
        }
    }
    if let Some(queued) = &mut client.transaction {
        if !transaction::runs_inside_multi(command) {
            if spec.flags.contains(&"no_multi") {
                out.error("ERR Command not allowed inside a transaction");
                queued.failed = true;
                client.tally.reject(slot);
            } else {
                // Counted when EXEC runs it, as Redis counts it.
                queued.push(req);
                out.simple(b"QUEUED");
            }
            if let (Some(slot), Some(cluster)) = (entered, &db.cluster) {
                cluster.leave(slot);
            }
            return Err(Flow::Continue);
        }
    }
    if out.resp == Resp::V2 && client.subscriptions.any() && !allowed_when_subscribed(command) {
        if let (Some(slot), Some(cluster)) = (entered, &db.cluster) {
            cluster.leave(slot);
        }
        out.error_fmt(format_args!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
             QUIT / RESET are allowed in this context",
            full.name
        ));
        client.tally.reject(slot);
        return Err(Flow::Continue);
    }
    Ok(Call {
        spec: full,
        command,
        subcommand,
        given,
        slot,
        entered,
    })
}

/// Why replication refuses a command now, as Redis's `processCommand` checks before running
/// or queuing one: a replica loading its primary's data, a write to a replica, a replica whose
/// link is down without `replica-serve-stale-data`, a write without enough good replicas.
fn replication_refusal(spec: &Spec, client: &Client, db: &Db) -> Option<&'static str> {
    let repl = &db.repl;
    let loading = repl.loading.load(std::sync::atomic::Ordering::Acquire);
    // A primary with no replica conditions, the usual case, looks at no flag per command.
    if (!loading && !repl.is_replica() && !repl.checks_writes()) || client.master || client.id == 0
    {
        return None;
    }
    if loading && !spec.flags.contains(&"loading") {
        return Some(crate::repl::LOADING);
    }
    let write = spec.flags.contains(&"write");
    if repl.is_replica() {
        if write {
            return Some(crate::repl::READONLY);
        }
        if !spec.flags.contains(&"stale") && repl.masterdown() {
            return Some(crate::repl::MASTERDOWN);
        }
    } else if write && repl.checks_writes() {
        return repl.refuses_writes();
    }
    None
}

/// Whether `call` is a write that may need memory (`denyoom`) and was answered `-OOM`.
fn out_of_memory(call: &Call<'_>, out: &Out) -> bool {
    call.spec.flags.contains(&"denyoom") && out.last_error().is_some_and(|code| code == "OOM")
}

/// After a command ran: the slow log if it was slow, the monitors if any.
fn observe(call: &Call<'_>, req: &Request<'_>, usec: u64, client: &Client, db: &Db) {
    let slow = db.slowlog.wants(usec) && !call.spec.flags.contains(&"skip_slowlog");
    let monitored = db.monitors.any()
        && !call.spec.flags.contains(&"admin")
        && !call.spec.flags.contains(&"skip_monitor");
    if !slow && !monitored {
        return;
    }
    let args = redacted(call.command, req);
    if slow {
        let name = client.handle.shown().name.clone().unwrap_or_default();
        db.slowlog
            .add(args.iter().copied(), usec, client.peer.to_string(), name);
    }
    if monitored {
        db.monitors.feed(
            client.peer,
            args.iter().copied(),
            db.settings.output_limits(),
        );
    }
}

/// The arguments of `req` as the slow log and the monitors show them: passwords replaced by
/// `(redacted)`, as Redis 7.0 replaces them (`AUTH`'s arguments, `HELLO`'s after `AUTH`, the
/// value given to `CONFIG SET requirepass`).
fn redacted<'r>(command: Command, req: &'r Request<'_>) -> Vec<&'r [u8]> {
    const REDACTED: &[u8] = b"(redacted)";
    let mut args: Vec<&[u8]> = req.args().collect();
    match command {
        Command::Auth => args[1..].iter_mut().for_each(|a| *a = REDACTED),
        Command::Hello => {
            if let Some(at) = args.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
                args.iter_mut()
                    .skip(at + 1)
                    .take(2)
                    .for_each(|a| *a = REDACTED);
            }
        }
        Command::Config => {
            for pair in args.get_mut(2..).unwrap_or_default().chunks_mut(2) {
                if let [name, value] = pair {
                    if name.eq_ignore_ascii_case(b"requirepass") {
                        *value = REDACTED;
                    }
                }
            }
        }
        _ => {}
    }
    args
}

/// Runs an admitted command.
fn dispatch(
    call: &Call<'_>,
    req: &Request<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Out,
) -> Flow {
    let mut args = req.args();
    args.next();
    if !call.subcommand.is_empty() {
        args.next();
    }
    let (subcommand, given) = (call.subcommand, call.given);
    let count = req.argc() - 1;
    match call.command {
        Command::Get => strings::get(args, client, db, out),
        Command::Set => strings::set(args, client, db, out),
        Command::Setex => strings::setex(Unit::Seconds, args, client, db, out),
        Command::Psetex => strings::setex(Unit::Milliseconds, args, client, db, out),
        Command::Getex => strings::getex(args, client, db, out),
        Command::Expire => expire::expire("expire", Unit::Seconds, Now, args, client, db, out),
        Command::Pexpire => {
            expire::expire("pexpire", Unit::Milliseconds, Now, args, client, db, out)
        }
        Command::Expireat => {
            expire::expire("expireat", Unit::Seconds, Epoch, args, client, db, out)
        }
        Command::Pexpireat => expire::expire(
            "pexpireat",
            Unit::Milliseconds,
            Epoch,
            args,
            client,
            db,
            out,
        ),
        Command::Ttl => expire::ttl(Unit::Seconds, Now, args, client, db, out),
        Command::Pttl => expire::ttl(Unit::Milliseconds, Now, args, client, db, out),
        Command::Expiretime => expire::ttl(Unit::Seconds, Epoch, args, client, db, out),
        Command::Pexpiretime => expire::ttl(Unit::Milliseconds, Epoch, args, client, db, out),
        Command::Persist => expire::persist(args, client, db, out),
        Command::Incr => counter::incr(Some(Increment::INCR), parse_incrby, args, client, db, out),
        Command::Decr => counter::incr(Some(Increment::DECR), parse_incrby, args, client, db, out),
        Command::Incrby => counter::incr(None, parse_incrby, args, client, db, out),
        Command::Decrby => counter::incr(None, parse_decrby, args, client, db, out),
        Command::Incrbyfloat => counter::incrbyfloat(args, client, db, out),
        Command::Append => range::append(args, client, db, out),
        Command::Setrange => range::setrange(args, client, db, out),
        Command::Getrange | Command::Substr => range::getrange(args, client, db, out),
        Command::Strlen => range::strlen(args, client, db, out),
        Command::Getdel => strings::getdel(args, client, db, out),
        Command::Getset => strings::getset(args, client, db, out),
        Command::Setnx => strings::setnx(args, client, db, out),
        Command::Setbit => bits::setbit(args, client, db, out),
        Command::Getbit => bits::getbit(args, client, db, out),
        Command::Bitcount => bits::bitcount(args, client, db, out),
        Command::Bitpos => bits::bitpos(args, client, db, out),
        Command::Bitfield => bits::bitfield(false, args, client, db, out),
        Command::BitfieldRo => bits::bitfield(true, args, client, db, out),
        Command::Lcs => lcs::lcs(args, client, db, out),
        Command::Bitop => bits::bitop(args, client, db, out),
        // kv frees a value as it unlinks it, whatever its size: UNLINK is DEL.
        Command::Del | Command::Unlink => strings::del(args, client, db, out),
        // Every read touches its key: TOUCH is EXISTS.
        Command::Exists | Command::Touch => strings::exists(args, client, db, out),
        Command::Type => keys::type_of(args, client, db, out),
        Command::Randomkey => keys::randomkey(db, out),
        Command::Dump => dump::dump(args, client, db, out),
        Command::Restore => dump::restore(args, client, db, out),
        Command::Mget => strings::mget(args, count, client, db, out),
        Command::Mset => strings::mset(args, count, false, client, db, out),
        Command::Msetnx => strings::mset(args, count, true, client, db, out),
        Command::Rename => keys::rename(args, false, client, db, out),
        Command::Renamenx => keys::rename(args, true, client, db, out),
        Command::Copy => keys::copy(args, client, db, out),
        Command::Multi => transaction::multi(client, out),
        Command::Exec => return transaction::exec(client, db, out),
        Command::Discard => transaction::discard(client, out),
        Command::Watch => transaction::watch(args, client, db, out),
        Command::Unwatch => transaction::unwatch(client, out),
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
        Command::Select => connection::select(args, db, out),
        Command::Hello => connection::hello(args, client, db, out),
        Command::Auth => connection::auth(args, count, client, db, out),
        Command::Reset => connection::reset(client, db, out),
        Command::Readonly | Command::Readwrite => {
            client.readonly = call.command == Command::Readonly;
            out.ok()
        }
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
        Command::Info => {
            client.flush_stats(db);
            info::info(args, db, out)
        }
        Command::Command => introspection::command(subcommand, args, out),
        Command::Config => config::config(subcommand, args, client, db, out),
        Command::Memory => memory::memory(subcommand, args, db, out),
        Command::Object => object::object(subcommand, args, client, db, out),
        Command::Save => server::save(db, out),
        Command::Bgsave => server::bgsave(args, db, out),
        Command::Lastsave => server::lastsave(db, out),
        Command::Shutdown => return server::shutdown(args, db, out),
        Command::Time => server::time(out),
        Command::Monitor => monitor::monitor(client, db, out),
        Command::Debug => debug::debug(args, out),
        Command::Slowlog => slowlog::slowlog(subcommand, given, args, &db.slowlog, out),
        Command::Latency => latency::latency(subcommand, args, db, out),
        Command::Replconf => replication::replconf(args, client, db, out),
        Command::Psync => return replication::psync(args, false, client, db, out),
        Command::Sync => return replication::psync(args, true, client, db, out),
        Command::Replicaof => replication::replicaof(args, client, db, out),
        Command::Role => replication::role(db, out),
        Command::Wait => replication::wait(args, client, db, out),
        Command::Cluster => return cluster::cluster(subcommand, given, args, client, db, out),
        Command::Asking => cluster::asking(client, db, out),
        Command::Migrate => migrate::migrate(args, client, db, out),
        Command::RestoreAsking => dump::restore(args, client, db, out),
    }
    Flow::Continue
}

/// Applies a command read back from the log: run as an authenticated client no worker serves,
/// on a database that logs nothing while it loads, and counted nowhere (not in INFO, the slow
/// log or a monitor's feed), as Redis's loading does. A command the server refuses is an error,
/// with the refusal's text.
pub fn replay(command: &Request<'_>, client: &mut Client, db: &Db) -> Result<(), String> {
    // A snapshot started during an `EXEC` cuts the log between its `MULTI` and `EXEC`: the
    // segment replayed over it starts inside the transaction, and its writes apply one by one
    // (each record replays the same over a snapshot that holds it).
    if client.transaction.is_none()
        && command
            .command()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"exec"))
    {
        return Ok(());
    }
    let mut out = Out::new(Resp::V2);
    if let Ok(call) = admit(command, client, db, &mut out) {
        dispatch(&call, command, client, db, &mut out);
    }
    match out.bytes().first() {
        Some(b'-') => {
            Err(String::from_utf8_lossy(&out.bytes()[1..out.len().saturating_sub(2)]).into_owned())
        }
        _ => Ok(()),
    }
}

/// Routes a transaction's queued commands together, as Redis routes `EXEC` in cluster mode: one
/// slot for all their keys, served here. The slot whose gate it entered, if any; the error to
/// answer otherwise.
pub(crate) fn route_transaction(
    commands: &[Vec<u8>],
    client: &Client,
    db: &Db,
) -> Result<Option<u16>, String> {
    let Some(cluster) = &db.cluster else {
        return Ok(None);
    };
    let limits = kv_nostd::resp::Limits::REDIS.with_max_bulk(usize::MAX);
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut write = false;
    for bytes in commands {
        let Ok(Some((req, _))) = kv_nostd::resp::decode_request(bytes, &limits) else {
            continue;
        };
        let Some((_, spec)) = req.command().and_then(find) else {
            continue;
        };
        let argv: Vec<&[u8]> = req.args().collect();
        let spec = match argv.get(1) {
            Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub).unwrap_or(spec),
            _ => spec,
        };
        write |= spec.flags.contains(&"write");
        keys.extend(
            crate::cluster::keys_of(spec, &argv)
                .into_iter()
                .map(<[u8]>::to_vec),
        );
    }
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let exec = lookup(b"exec").expect("EXEC is in the command table");
    let asker = crate::cluster::Asker {
        asking: client.asking,
        readonly: client.readonly,
    };
    match cluster.route_keys_as(&keys, exec, write, asker, db)? {
        crate::cluster::Route::Entered(slot) => Ok(Some(slot)),
        crate::cluster::Route::Serve => Ok(None),
    }
}

/// Dooms the client's transaction, if it is in one: a command failed its checks while queuing.
fn fail_transaction(client: &mut Client) {
    if let Some(queued) = &mut client.transaction {
        queued.failed = true;
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
