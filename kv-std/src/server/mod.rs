//! The listener and the accept loop: the main thread accepts, and hands each connection to the
//! next worker in turn.
//!
//! - [`worker`]: a worker thread's readiness loop over its connections.
//! - [`connection`]: one connection's buffers, protocol detection and pipelining.
//! - [`clients`]: every connected client as other threads see it (`CLIENT LIST`, `KILL`).
//! - [`uring`]: a worker thread's loop on io_uring, when the kernel offers it.
//! - [`doorbell`]: how other threads wake a worker for one of its connections.
//! - [`waker`]: how other threads wake a worker at all.

pub mod clients;
pub mod connection;
pub mod doorbell;
pub mod uring;
pub mod waker;
pub mod worker;

use crate::config::{Config, IoMode};
use crate::db::{random_hash_key, Db};
use crate::persist::Persistence;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use worker::{Timing, Worker};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connections the kernel may queue before `accept`; Redis's default.
const BACKLOG: i32 = 511;

/// A bound server, ready to run.
pub struct Server {
    config: Config,
    listener: TcpListener,
    poll: Poll,
    db: Arc<Db>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

/// Stops a running server from another thread (a signal handler thread, a test).
#[derive(Clone)]
pub struct Shutdown {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Shutdown {
    /// Asks the server to stop accepting, answer what it has read, and return from `run`.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

impl Server {
    /// Binds the listener and builds the table.
    pub fn bind(config: Config) -> io::Result<Self> {
        raise_open_file_limit(config.max_clients as u64 + 64);
        // Load before listening: a client that can connect can also read the data.
        let mut db = Db::new(config.storage, random_hash_key()?)?;
        db.repl = crate::repl::Replication::new(&config.repl, db.run_ids[1].clone());
        if config.repl.primary().is_ok_and(|p| p.is_some()) {
            // A replica from the start: loading its files removes nothing expired.
            db.repl.mark_replica();
        }
        db.settings
            .set_proto_max_bulk_len(config.proto_max_bulk_len);
        if let Some(opts) = &config.persist {
            let p = Persistence::open(opts.clone(), &db).map_err(io::Error::other)?;
            db.persist = Some(Arc::new(p));
        }
        if let Some(import) = &config.rdb_import {
            crate::persist::import::load(import, &db).map_err(io::Error::other)?;
        }
        let socket = Socket::new(
            Domain::for_address(config.addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.bind(&config.addr.into())?;
        socket.listen(BACKLOG)?;
        socket.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(socket.into());
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        db.port = listener.local_addr()?.port();
        if config.cluster.cluster_enabled {
            let cluster = crate::cluster::Cluster::open(&config.cluster, db.port)?;
            if cluster.primary_addr().is_some() {
                db.repl.mark_replica();
            }
            db.cluster = Some(cluster);
        }
        db.password = config.password.clone();
        db.settings.set_output_limits(config.output_limits);
        db.settings
            .set_proto_max_bulk_len(config.proto_max_bulk_len);
        db.settings
            .set_client_query_buffer_limit(config.client_query_buffer_limit);
        db.settings.set_eviction(config.eviction, &db.table);
        db.settings.set_max_clients(config.max_clients);
        db.settings
            .set_idle_timeout_secs(config.idle_timeout.map_or(0, |d| d.as_secs()));
        db.slowlog.set_slower_than(config.slowlog_log_slower_than);
        db.slowlog.set_max_len(config.slowlog_max_len);
        let _ = db.launch.set(config.clone());
        // The clock stood still while the files loaded; from now on it runs.
        db.tick();
        let db = Arc::new_cyclic(|me| {
            db.me = me.clone();
            db
        });
        let server = Self {
            config,
            listener,
            poll,
            db,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
        };
        // Set once, here, on a cell nothing else has set.
        let _ = server.db.shutdown.set(server.shutdown_handle());
        Ok(server)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state, for inspection.
    pub fn db(&self) -> Arc<Db> {
        Arc::clone(&self.db)
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown {
            stop: Arc::clone(&self.stop),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Accepts connections until shut down, then waits for the workers to finish.
    pub fn run(mut self) -> io::Result<()> {
        let maxmemory = match self.db.table.max_memory() {
            Some(bytes) => format!("maxmemory {:.1} MiB", bytes as f64 / (1 << 20) as f64),
            None => "no maxmemory".to_string(),
        };
        log::info!(
            "kv-server listening on {}: {} worker threads, {maxmemory}, {} GiB of address space \
             reserved for data, {:.1} MiB in use",
            self.local_addr()?,
            self.config.threads,
            self.config.storage.arena_bytes >> 30,
            self.db.table.used_bytes() as f64 / (1 << 20) as f64,
        );
        let writer = self.db.persist.as_ref().map(|p| {
            let log = Arc::clone(p.log());
            std::thread::Builder::new()
                .name("kv-log".into())
                .spawn(move || log.run_writer())
        });
        let writer = writer.transpose()?;
        let saver = match &self.db.persist {
            Some(p) => Some(spawn_saver(
                Arc::clone(p),
                Arc::clone(&self.db),
                Arc::clone(&self.stop),
            )?),
            None => None,
        };
        let expiry = crate::expiry::spawn(Arc::clone(&self.db), Arc::clone(&self.stop))?;
        let primary = self.config.repl.primary().map_err(io::Error::other)?;
        // A cluster node that was a replica follows its primary again.
        let primary = primary.or_else(|| self.db.cluster.as_ref()?.primary_addr());
        crate::repl::start(&self.db, primary)?;
        let gossip = match &self.db.cluster {
            Some(_) => Some(crate::cluster::gossip::spawn(&self.db)?),
            None => None,
        };
        let timing = Timing {
            busy_poll: self.config.busy_poll,
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if !timing.busy_poll.is_zero() && self.config.threads >= cores {
            log::warn!(
                "--busy-poll with {} workers on {cores} cores: polling workers take CPU time \
                 the rest of the machine may need",
                self.config.threads
            );
        }
        let uring = choose_loop(self.config.io)?;
        let _ = self
            .db
            .io_loop
            .set(if uring { "io_uring" } else { "epoll" });
        let admission = Arc::new(Admission {
            db: Arc::clone(&self.db),
            protected_mode: self.config.protected_mode,
            next_id: AtomicU64::new(1),
        });
        // A single io_uring worker accepts its connections itself (a multishot accept): no
        // hand-off, no second thread woken per connection. With several workers this thread
        // accepts and deals them out in turn, which keeps them even.
        let worker_accepts = uring && self.config.threads == 1;
        let accept = worker_accepts.then(|| {
            (
                std::os::fd::AsRawFd::as_raw_fd(&self.listener),
                Arc::clone(&admission),
            )
        });
        if worker_accepts {
            self.poll.registry().deregister(&mut self.listener)?;
        }
        let mut workers = (0..self.config.threads)
            .map(|i| {
                Worker::spawn(
                    i,
                    Arc::clone(&self.db),
                    Arc::clone(&self.stop),
                    timing,
                    uring,
                    accept.clone(),
                )
            })
            .collect::<io::Result<Vec<_>>>()?;
        let mut turn = 0;
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Ordering::Acquire) {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if !events.iter().any(|e| e.token() == LISTENER) {
                continue;
            }
            loop {
                let (stream, peer) = match self.listener.accept() {
                    Ok(pair) => pair,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // Out of descriptors, say: the backlog keeps the client waiting.
                        log::warn!("accept failed: {e}");
                        break;
                    }
                };
                let Some(conn) = admission.admit(stream, peer) else {
                    continue;
                };
                log::debug!("{peer}: accepted, for worker {turn}");
                if let Err(e) = workers[turn].hand(conn) {
                    log::error!("{peer}: {e}");
                    self.db
                        .stats
                        .connected_clients
                        .fetch_sub(1, Ordering::Relaxed);
                }
                turn = (turn + 1) % workers.len();
            }
        }
        log::info!("shutting down: answering requests already received");
        self.db.repl.stop();
        if let Some(cluster) = &self.db.cluster {
            cluster.stop();
        }
        if let Some(gossip) = gossip {
            let _ = gossip.join();
        }
        for w in &workers {
            w.wake();
        }
        for w in &mut workers {
            w.join();
        }
        if let Some(saver) = saver {
            let _ = saver.join();
        }
        let _ = expiry.join();
        let mut result = Ok(());
        if let Some(p) = &self.db.persist {
            let skip = self.db.skip_final_save.load(Ordering::Acquire);
            if let Err(e) = if skip { Ok(0) } else { p.save(&self.db.table) } {
                result = Err(e);
            }
            p.log().stop();
        }
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        log::info!("stopped");
        result
    }
}

/// Whether the workers run the io_uring loop: probes the kernel unless `--io epoll`, and logs
/// the choice. `--io uring` on a kernel that cannot run it is an error.
fn choose_loop(mode: IoMode) -> io::Result<bool> {
    if mode == IoMode::Epoll {
        log::info!("I/O loop: epoll (--io epoll)");
        return Ok(false);
    }
    match uring::probe() {
        Ok(()) => {
            log::info!("I/O loop: io_uring");
            Ok(true)
        }
        Err(e) if mode == IoMode::Uring => Err(io::Error::other(format!(
            "--io uring: this kernel cannot run the io_uring loop: {e}"
        ))),
        Err(e) => {
            log::info!("I/O loop: epoll (io_uring unavailable: {e})");
            Ok(false)
        }
    }
}

/// What taking a new connection takes: counting it, the client limit, protected mode, and an id.
/// Used by the accept thread, and by an io_uring worker that accepts its own connections.
pub struct Admission {
    db: Arc<Db>,
    protected_mode: bool,
    next_id: AtomicU64,
}

impl Admission {
    /// Counts a connection just accepted; answers and drops it if it is refused (too many
    /// clients, protected mode), else counts it connected and returns it, numbered, to serve.
    pub fn admit(&self, stream: mio::net::TcpStream, peer: SocketAddr) -> Option<worker::Handoff> {
        let stats = &self.db.stats;
        crate::db::Stats::add(&stats.total_connections, 1);
        let max_clients = self.db.settings.max_clients();
        if stats.connected_clients.load(Ordering::Relaxed) >= max_clients {
            crate::db::Stats::add(&stats.rejected_connections, 1);
            refuse(stream, b"-ERR max number of clients reached\r\n");
            return None;
        }
        if !crate::auth::admits(self.protected_mode, self.db.password.as_deref(), peer) {
            log::warn!("{peer}: refused by protected mode (no password is set)");
            let denied = format!("-{}\r\n", crate::auth::DENIED);
            refuse(stream, denied.as_bytes());
            return None;
        }
        if let Err(e) = SockRef::from(&stream).set_tcp_nodelay(true) {
            log::debug!("{peer}: cannot set TCP_NODELAY: {e}");
        }
        stats.connected_clients.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Some((stream, peer, id))
    }
}

/// Answers a connection that will not be served, without waiting on it.
fn refuse(stream: mio::net::TcpStream, message: &[u8]) {
    let mut stream = stream;
    let _ = stream.write(message);
}

/// Raises this process's open-file limit towards `wanted` (up to the hard limit), so that
/// `--max-clients` connections can be open at once.
fn raise_open_file_limit(wanted: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes a `rlimit` into the valid, exclusively borrowed `lim`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    if lim.rlim_cur >= wanted {
        return;
    }
    let target = wanted.min(lim.rlim_max);
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `setrlimit` only reads the valid `rlimit` it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        log::warn!("cannot raise the open-file limit to {target}");
    } else if target < wanted {
        log::warn!("open-file limit is {target}: fewer than --max-clients connections fit");
    }
}

/// Starts the thread that takes a snapshot every save interval when there were writes.
fn spawn_saver(
    p: Arc<Persistence>,
    db: Arc<Db>,
    stop: Arc<AtomicBool>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kv-saver".into())
        .spawn(move || {
            let Some(interval) = p.save_interval() else {
                return;
            };
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if last.elapsed() >= interval {
                    last = std::time::Instant::now();
                    if p.dirty() > 0 {
                        // Errors are logged by `save`; the next interval tries again.
                        let _ = p.save(&db.table);
                    }
                }
            }
        })
}
