//! A worker thread serving every connection handed to it: the accept thread's side of it
//! ([`Worker`]), and its loop on epoll readiness (mio). The loop on io_uring is in
//! [`super::uring`].

use super::clients::Handle;
use super::connection::{Connection, Next};
use super::doorbell::Doorbell;
use super::waker::Waker;
use crate::db::Db;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WAKER: Token = Token(usize::MAX);

/// A new connection for a worker: the stream, the peer and the client id.
pub type Handoff = (TcpStream, SocketAddr, u64);

/// For an io_uring worker that accepts its own connections: the listener, and how a
/// connection is admitted.
pub type Accept = (std::os::fd::RawFd, Arc<super::Admission>);

/// How long a worker polls before sleeping. (When it closes idle connections is a setting
/// `CONFIG SET timeout` changes: [`crate::db::Settings::idle_timeout`].)
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// After serving, poll without sleeping for this long (zero: sleep at once).
    pub busy_poll: Duration,
}

/// The accept thread's side of a worker.
pub struct Worker {
    sender: Sender<Handoff>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

/// Where a worker's connections are reached from other threads.
struct Reach {
    doorbell: Arc<Doorbell>,
    waker: Arc<Waker>,
}

impl Worker {
    /// Starts worker `index` serving connections against `db` until `stop` is set, on the
    /// io_uring loop if `uring`, else on epoll.
    pub fn spawn(
        index: usize,
        db: Arc<Db>,
        stop: Arc<AtomicBool>,
        timing: Timing,
        uring: bool,
        accept: Option<Accept>,
    ) -> io::Result<Self> {
        let poll = if uring { None } else { Some(Poll::new()?) };
        let waker = Arc::new(match &poll {
            Some(poll) => Waker::for_poll(poll.registry(), WAKER)?,
            None => Waker::event()?,
        });
        if let Some(p) = &db.persist {
            p.log().add_waiter(Arc::clone(&waker));
        }
        db.repl.add_waiter(Arc::clone(&waker));
        let (sender, receiver) = mpsc::channel();
        let doorbell = Arc::new(Doorbell::new(Arc::clone(&waker)));
        let loop_waker = Arc::clone(&waker);
        // The io_uring loop builds its ring on its own thread (one issuer): whether it could is
        // known before the server goes on.
        let (started, start) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("kv-worker-{index}"))
            .spawn(move || {
                let run = match poll {
                    Some(poll) => {
                        let _ = started.send(Ok(()));
                        let reach = Reach {
                            doorbell,
                            waker: loop_waker,
                        };
                        Loop::new(poll, receiver, db, stop, timing, reach).run()
                    }
                    None => {
                        match super::uring::Loop::new(
                            loop_waker, doorbell, receiver, db, stop, timing, accept,
                        ) {
                            Ok(l) => {
                                let _ = started.send(Ok(()));
                                l.run()
                            }
                            Err(e) => {
                                let _ = started.send(Err(e));
                                return;
                            }
                        }
                    }
                };
                if let Err(e) = run {
                    log::error!("worker {index} stopped: {e}");
                }
            })?;
        let ready = start
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the worker thread ended")));
        if let Err(e) = ready {
            let _ = thread.join();
            return Err(io::Error::other(format!(
                "worker {index}: cannot start its io_uring loop: {e}"
            )));
        }
        Ok(Self {
            sender,
            waker,
            thread: Some(thread),
        })
    }

    /// Hands a connection to this worker.
    pub fn hand(&self, conn: Handoff) -> io::Result<()> {
        self.sender
            .send(conn)
            .map_err(|_| io::Error::other("worker has stopped"))?;
        self.waker.wake()
    }

    /// Wakes the worker so it notices the stop flag.
    pub fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// Waits for the worker to finish.
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Loop {
    poll: Poll,
    receiver: Receiver<Handoff>,
    db: Arc<Db>,
    stop: Arc<AtomicBool>,
    conns: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// Connections with buffered work left over from their last turn.
    again: Vec<usize>,
    /// Connections whose replies wait for the log to be durable.
    held: Vec<usize>,
    timing: Timing,
    last_sweep: Instant,
    /// When the last poll returned events.
    last_busy: Instant,
    reach: Reach,
}

impl Loop {
    fn new(
        poll: Poll,
        receiver: Receiver<Handoff>,
        db: Arc<Db>,
        stop: Arc<AtomicBool>,
        timing: Timing,
        reach: Reach,
    ) -> Self {
        Self {
            poll,
            receiver,
            db,
            stop,
            conns: Vec::new(),
            free: Vec::new(),
            again: Vec::new(),
            held: Vec::new(),
            timing,
            last_sweep: Instant::now(),
            last_busy: Instant::now(),
            reach,
        }
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        self.db.gate.register();
        loop {
            let polling = !self.timing.busy_poll.is_zero()
                && self.last_busy.elapsed() < self.timing.busy_poll;
            let timeout = if !self.again.is_empty() || polling {
                Some(Duration::ZERO)
            } else {
                // Wake now and then to close idle connections: every second, whether or not a
                // timeout is set now, as `CONFIG SET timeout` may set one at any time.
                Some(Duration::from_secs(1))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if !events.is_empty() && !self.timing.busy_poll.is_zero() {
                self.last_busy = Instant::now();
            }
            // The commands of this turn run outside any `EXEC` (which waits for the turn).
            let turn = self.db.gate.enter();
            // One time for the commands of this turn, as Redis caches `mstime` per loop turn.
            self.db.tick();
            for event in &events {
                match event.token() {
                    WAKER => {
                        // New connections, the log moved (release what waits on it), or
                        // connections rung from other threads (mail, kills).
                        self.adopt();
                        let mut ready = std::mem::take(&mut self.held);
                        ready.extend(self.reach.doorbell.take());
                        ready.sort_unstable();
                        ready.dedup();
                        for i in ready {
                            self.serve(i);
                        }
                    }
                    Token(i) => self.serve_with(i, !event.is_read_closed()),
                }
            }
            for i in std::mem::take(&mut self.again) {
                self.serve(i);
            }
            if !self.held.is_empty() {
                // Woken by the log only when asked; what it made durable meanwhile is seen here.
                self.reach.waker.want();
                for i in std::mem::take(&mut self.held) {
                    self.serve(i);
                }
            }
            if self.db.repl.waiting.load(Ordering::Relaxed) > 0 && self.db.repl.backlog.fed_here() {
                // Clients wait for replicas to have this turn's writes (`--sync-replicas`): ask
                // for their acknowledgements, as Redis does before it sleeps. Inside the turn, so
                // no `EXEC` runs meanwhile.
                self.db.repl.request_acks();
            }
            drop(turn);
            // Once per turn, whatever it wrote: the replicas' senders wake to send it.
            self.db.repl.backlog.wake_if_fed();
            if self.stop.load(Ordering::Acquire) {
                self.finish();
                return Ok(());
            }
            if let Some(limit) = self.db.settings.idle_timeout() {
                if self.last_sweep.elapsed() >= Duration::from_secs(1) {
                    self.last_sweep = Instant::now();
                    self.close_idle(limit);
                }
            }
        }
    }

    /// Registers the connections the accept thread has handed over.
    fn adopt(&mut self) {
        while let Ok((stream, peer, id)) = self.receiver.try_recv() {
            let index = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let authenticated = self.db.password.is_none();
            let laddr = stream.local_addr().unwrap_or(peer);
            let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
            let handle = Arc::new(Handle::new(
                id,
                peer,
                laddr,
                fd,
                Some((Arc::clone(&self.reach.doorbell), index)),
            ));
            let mut conn = Connection::new(stream, Arc::clone(&handle), authenticated, false);
            let registered = self.poll.registry().register(
                conn.stream(),
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            );
            if let Err(e) = registered {
                log::warn!("{peer}: cannot watch the connection: {e}");
                self.free.push(index);
                self.db
                    .stats
                    .connected_clients
                    .fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            log::debug!("{peer}: connected");
            self.db.clients.add(handle);
            self.conns[index] = Some(conn);
            // Bytes may already be waiting; edge-triggered readiness would not report them.
            self.serve(index);
        }
    }

    /// Serves connection `index` with no readiness event in hand: reads until the socket is empty.
    fn serve(&mut self, index: usize) {
        self.serve_with(index, false);
    }

    /// Serves connection `index`; `may_stop_short` as for [`Connection::serve`].
    fn serve_with(&mut self, index: usize, may_stop_short: bool) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        match conn.serve(&self.db, may_stop_short) {
            Next::Wait => {}
            Next::Again => self.again.push(index),
            Next::Held => self.held.push(index),
            Next::Close => self.close(index),
            Next::Replica => self.hand_to_replication(index),
        }
    }

    /// Gives connection `index`, a replica's now, to replication, which serves it on threads
    /// of its own.
    fn hand_to_replication(&mut self, index: usize) {
        let Some(mut conn) = self.conns[index].take() else {
            return;
        };
        let _ = self.poll.registry().deregister(conn.stream());
        self.free.push(index);
        // Redis does not count replicas among `connected_clients`.
        self.db
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        let (stream, handle, hello, pending, unread) = conn.into_replica();
        handle.set_replica();
        crate::repl::primary::serve(
            Arc::clone(&self.db),
            std::net::TcpStream::from(stream),
            handle,
            hello,
            pending,
            unread,
        );
    }

    /// Closes connections that have sent nothing for `limit`, as Redis's `timeout` does.
    fn close_idle(&mut self, limit: Duration) {
        for index in 0..self.conns.len() {
            let idle = self.conns[index]
                .as_ref()
                .is_some_and(|c| c.idle_for() >= limit && !c.waiting_on_log());
            if idle {
                log::debug!("closing a connection idle for {}s", limit.as_secs());
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        if let Some(mut conn) = self.conns[index].take() {
            conn.leave(&self.db);
            self.db.clients.remove(conn.handle().id);
            let _ = self.poll.registry().deregister(conn.stream());
            log::debug!("{}: closed", conn.peer());
            self.free.push(index);
            self.db
                .stats
                .connected_clients
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// On shutdown: answer what every client has already sent, then close everything.
    fn finish(&mut self) {
        self.adopt();
        for index in 0..self.conns.len() {
            if let Some(conn) = self.conns[index].as_mut() {
                conn.finish(&self.db);
            }
            self.close(index);
        }
    }
}
