//! Every connected client, as other threads see it: for `CLIENT LIST`, `CLIENT KILL` and pub/sub
//! delivery, whichever worker serves it.
//!
//! A connection's state belongs to its worker; what others need of it is a [`Handle`]: fixed
//! facts (id, addresses), a mailbox for pub/sub messages, a kill flag, and a snapshot of what
//! `CLIENT LIST` shows, which the connection refreshes after each batch of commands.

use super::doorbell::Doorbell;
use crate::pubsub::Mailbox;
use crate::reply::Resp;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// What other threads may see and do of one client.
pub struct Handle {
    /// The client's id (`CLIENT ID`).
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// The server's address the client connected to.
    pub laddr: SocketAddr,
    /// The socket's descriptor.
    pub fd: i32,
    /// When it connected.
    pub since: Instant,
    /// The worker's doorbell and the client's token there; none for a client no worker serves
    /// (the one that replays the log).
    doorbell: Option<(Arc<Doorbell>, usize)>,
    killed: AtomicBool,
    /// It is a replica's connection, served by replication.
    replica: AtomicBool,
    /// Pub/sub messages waiting for the client's worker.
    pub mailbox: Mailbox,
    /// Output bytes not yet written to the socket, as of the worker's last write.
    unwritten: AtomicUsize,
    shown: Mutex<Shown>,
}

/// What `CLIENT LIST` shows of a client beyond its fixed facts.
#[derive(Clone, Debug)]
pub struct Shown {
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<Vec<u8>>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<Vec<u8>>,
    /// The protocol version.
    pub resp: Resp,
    /// Channels, patterns and shard channels subscribed to.
    pub subscriptions: [usize; 3],
    /// The last command run, as Redis names it (`get`, `client|list`), or `NULL`.
    pub cmd: &'static str,
    /// When the client last sent a command.
    pub last_interaction: Instant,
    /// Unanswered input bytes, and the input buffer's free room.
    pub qbuf: (usize, usize),
    /// Bytes the client's buffers hold.
    pub memory: usize,
    /// Whether it is in a `MULTI` block.
    pub multi: bool,
    /// Whether it is in `MONITOR` mode.
    pub monitor: bool,
}

impl Handle {
    /// The shared side of client `id`, served by the worker behind the doorbell, as the token
    /// given with it.
    pub fn new(
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: i32,
        doorbell: Option<(Arc<Doorbell>, usize)>,
    ) -> Self {
        let now = Instant::now();
        Self {
            id,
            addr,
            laddr,
            fd,
            since: now,
            doorbell,
            killed: AtomicBool::new(false),
            replica: AtomicBool::new(false),
            mailbox: Mailbox::default(),
            unwritten: AtomicUsize::new(0),
            shown: Mutex::new(Shown {
                name: None,
                lib_name: None,
                lib_ver: None,
                resp: Resp::V2,
                subscriptions: [0; 3],
                cmd: "NULL",
                last_interaction: now,
                qbuf: (0, 0),
                memory: 0,
                multi: false,
                monitor: false,
            }),
        }
    }

    /// A client no worker serves: the one that replays the log at start.
    pub fn detached(id: u64) -> Self {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Self::new(id, unspecified, unspecified, -1, None)
    }

    /// Asks the client's worker to serve it (its mailbox has mail, or it is killed).
    pub fn ring(&self) {
        if let Some((doorbell, token)) = &self.doorbell {
            doorbell.ring(*token);
        }
    }

    /// Has the client's worker close it, as soon as it looks.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.ring();
    }

    /// Whether the client is to be closed.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Output bytes not yet written to the client's socket.
    pub fn unwritten(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed)
    }

    /// Records how many output bytes wait for the socket.
    pub fn set_unwritten(&self, bytes: usize) {
        self.unwritten.store(bytes, Ordering::Relaxed);
    }

    /// What `CLIENT LIST` shows; the connection changes it through this guard.
    pub fn shown(&self) -> MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the client as monitoring (`CLIENT LIST`'s flag `O`).
    pub fn set_monitor(&self) {
        self.shown().monitor = true;
    }

    /// Marks the client as a replica (`CLIENT LIST`'s flag `S`, `TYPE replica`).
    pub fn set_replica(&self) {
        self.replica.store(true, Ordering::Release);
    }

    /// Which `CLIENT KILL TYPE` the client is.
    pub fn kind(&self) -> ClientType {
        if self.replica.load(Ordering::Acquire) {
            ClientType::Replica
        } else if self.shown().subscriptions.iter().sum::<usize>() > 0 {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }

    /// The client's `CLIENT LIST` line, in Redis 7.0's fields and order, ended by `\n`.
    pub fn line(&self, out: &mut String) {
        let s = self.shown().clone();
        let [sub, psub, ssub] = s.subscriptions;
        let mut flags = String::new();
        if self.replica.load(Ordering::Acquire) {
            flags.push('S');
        }
        if s.monitor {
            flags.push('O');
        }
        if sub + psub + ssub > 0 {
            flags.push('P');
        }
        if s.multi {
            flags.push('x');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let unwritten = self.unwritten() + self.mailbox.bytes();
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db=0 sub={sub} \
             psub={psub} ssub={ssub} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 \
             rbs={} rbp={} obl=0 oll=0 omem={unwritten} tot-mem={} events=r{} cmd={} \
             user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(s.name.as_deref().unwrap_or_default()),
            self.since.elapsed().as_secs(),
            s.last_interaction.elapsed().as_secs(),
            if s.multi { 0 } else { -1 },
            s.qbuf.0,
            s.qbuf.1,
            s.qbuf.0 + s.qbuf.1,
            s.qbuf.0 + s.qbuf.1,
            s.memory + unwritten,
            if unwritten > 0 { "w" } else { "" },
            s.cmd,
            s.resp.number(),
        );
    }
}

/// The kinds of client `CLIENT KILL TYPE` tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    /// Neither subscribed nor replicating.
    Normal,
    /// Subscribed to at least one channel, pattern or shard channel.
    Pubsub,
    /// A replica of this server.
    Replica,
    /// This server's primary.
    Master,
}

/// Every connected client, by id.
#[derive(Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<Handle>>>,
}

impl Registry {
    /// Adds a newly connected client.
    pub fn add(&self, handle: Arc<Handle>) {
        self.lock().insert(handle.id, handle);
    }

    /// Removes client `id`.
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Every client, in the order they connected.
    pub fn all(&self) -> Vec<Arc<Handle>> {
        self.lock().values().cloned().collect()
    }

    /// Client `id`, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<Handle>> {
        self.lock().get(&id).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Handle>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}
