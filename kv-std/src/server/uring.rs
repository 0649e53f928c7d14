//! A worker thread on io_uring: the same connections, protocols and limits as the epoll loop
//! ([`super::worker`]), with the kernel doing the socket I/O.
//!
//! - Each connection has one multishot receive in flight. The kernel fills buffers from a ring
//!   the worker shares with it ([`Buffers`]), and posts a completion per buffer; the worker
//!   copies the bytes into the connection's input buffer (or, when that is full, its inbox) and
//!   gives the buffer straight back.
//! - A turn serves every connection that had completions, then queues one send per connection
//!   with replies. The next turn's single `io_uring_enter` submits all of them and waits for
//!   new completions: one system call per turn, however many connections were served. After
//!   several sends the wait gathers completions for up to [`GATHER`] before it settles for one.
//! - Other threads wake the worker through an eventfd ([`Waker`]) the ring keeps a read on.
//! - A worker that is the only one accepts its connections itself, with a multishot accept on
//!   the listener; otherwise the accept thread hands them over.
//! - The ring is set up for one issuer with deferred task work: completions run when the worker
//!   asks for them, not by interrupting it.
//!
//! A connection's slot is not reused until the kernel has finished every operation on it: a
//! closed connection's receive is cancelled and its socket shut down, and the slot is freed on
//! the last completion.

use super::clients::Handle;
use super::connection::{Connection, Next};
use super::doorbell::Doorbell;
use super::waker::Waker;
use super::worker::{Accept, Handoff, Timing};
use crate::db::Db;
use io_uring::types::{BufRingEntry, CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use std::alloc::{self, Layout};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Submission queue entries; a turn that queues more submits what it has and goes on.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries: room for a burst of receives from many connections.
const CQ_ENTRIES: u32 = 8192;
/// Receive buffers shared with the kernel, and the size of each: 2 MiB a worker. The bytes a
/// completion brings are copied out at once and the buffer given back; when all are in use a
/// receive ends with `ENOBUFS` and is started again once the turn has given them back.
const BUFFERS: u16 = 256;
const BUFFER_SIZE: usize = 8 * 1024;
/// How long a wait after sends gathers completions before it settles for one, and the most it
/// gathers.
const GATHER: Duration = Duration::from_micros(50);
const GATHER_MOST: usize = 64;
/// The buffer group the receives select from.
const GROUP: u16 = 0;

/// What a completion is for: the low 8 bits of its user data; the rest is the connection's slot.
const OP_RECV: u64 = 1;
const OP_SEND: u64 = 2;
const OP_WAKE: u64 = 3;
const OP_CANCEL: u64 = 4;
const OP_ACCEPT: u64 = 5;
/// How long an accept that failed (out of descriptors, say) waits before it is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

fn tag(op: u64, index: usize) -> u64 {
    (index as u64) << 8 | op
}

/// Builds a ring as the workers use it.
fn new_ring() -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(CQ_ENTRIES)
        .build(SQ_ENTRIES)
}

/// Checks that this kernel runs the loop: a ring with its setup flags, a registered buffer ring,
/// and a multishot receive that completes with a selected buffer. Fails when io_uring is too old,
/// disabled (`kernel.io_uring_disabled`), or blocked (a seccomp profile), with the reason.
pub fn probe() -> io::Result<()> {
    let mut ring = new_ring()?;
    let mut buffers = Buffers::new(&ring, 1, 64)?;
    let outcome = probe_receive(&mut ring, &mut buffers);
    // Nothing may still be in flight when the buffers go.
    let cancelled = cancel_everything(&ring);
    drop(ring);
    if cancelled.is_err() {
        // The kernel may yet write into them: keep them.
        std::mem::forget(buffers);
    }
    outcome
}

/// A multishot receive of one byte on a socket pair.
fn probe_receive(ring: &mut IoUring, buffers: &mut Buffers) -> io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `socketpair` writes two descriptors into the valid two-element array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    let pair = fds.map(|fd| {
        // SAFETY: `fd` was just created and nothing else owns it.
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    });
    let recv = opcode::RecvMulti::new(Fd(pair[0].as_raw_fd()), GROUP)
        .build()
        .user_data(tag(OP_RECV, 0));
    // SAFETY: the receive writes only into the registered buffers, which `probe` keeps until
    // the receive is cancelled and the ring gone.
    unsafe { ring.submission().push(&recv) }
        .map_err(|_| io::Error::other("submission queue full"))?;
    ring.submit()?;
    // SAFETY: writes one byte from a live one-byte array to a descriptor this owns.
    if unsafe { libc::write(pair[1].as_raw_fd(), b"x".as_ptr().cast(), 1) } != 1 {
        return Err(io::Error::last_os_error());
    }
    let timeout = Timespec::from(Duration::from_secs(1));
    ring.submitter()
        .submit_with_args(1, &SubmitArgs::new().timespec(&timeout))?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| io::Error::other("a receive did not complete"))?;
    let result = cqe.result();
    let flags = cqe.flags();
    if result < 0 {
        return Err(io::Error::from_raw_os_error(-result));
    }
    let Some(bid) = cqueue::buffer_select(flags) else {
        return Err(io::Error::other(
            "a receive completed without a provided buffer",
        ));
    };
    if result != 1 || buffers.slice(bid, 1) != b"x" || !cqueue::more(flags) {
        return Err(io::Error::other("multishot receive is not supported"));
    }
    // SAFETY: the kernel handed `bid` over with this completion.
    unsafe { buffers.give_back(bid) };
    Ok(())
}

/// Receive buffers the kernel picks from: a ring of buffer descriptions shared with it, and the
/// memory they describe.
struct Buffers {
    /// The ring of descriptions, page aligned, registered with the kernel.
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    /// `count` buffers of `size` bytes.
    memory: NonNull<u8>,
    memory_layout: Layout,
    count: u16,
    size: usize,
    /// Where the next given-back buffer goes; the kernel sees it once published.
    tail: u16,
}

impl Buffers {
    /// Registers `count` (a power of two) buffers of `size` bytes with `ring` as group `GROUP`.
    fn new(ring: &IoUring, count: u16, size: usize) -> io::Result<Self> {
        debug_assert!(count.is_power_of_two());
        let entries_layout = Layout::from_size_align(
            usize::from(count) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(io::Error::other)?;
        let memory_layout =
            Layout::from_size_align(usize::from(count) * size, 4096).map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size.
        let (entries, memory) = unsafe {
            (
                alloc::alloc_zeroed(entries_layout).cast::<BufRingEntry>(),
                alloc::alloc_zeroed(memory_layout),
            )
        };
        let Some(entries) = NonNull::new(entries) else {
            alloc::handle_alloc_error(entries_layout);
        };
        let Some(memory) = NonNull::new(memory) else {
            alloc::handle_alloc_error(memory_layout);
        };
        let mut buffers = Self {
            entries,
            entries_layout,
            memory,
            memory_layout,
            count,
            size,
            tail: 0,
        };
        // SAFETY: the ring of descriptions is page aligned, `count` entries long, and lives
        // until `Drop`, which runs only once no operation is in flight (the loop drops its
        // buffers only after a successful cancellation of everything; the probe likewise).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                buffers.entries.as_ptr() as u64,
                count,
                GROUP,
                0,
            )?;
        }
        for bid in 0..count {
            // SAFETY: each buffer is given once, into an empty ring.
            unsafe { buffers.give_back(bid) };
        }
        buffers.publish();
        Ok(buffers)
    }

    /// The first `len` bytes the kernel received into buffer `bid`.
    fn slice(&self, bid: u16, len: usize) -> &[u8] {
        assert!(bid < self.count && len <= self.size);
        // SAFETY: buffer `bid` lies inside the allocation; the kernel has handed it back (this
        // is called for a completion that selected it) and writes no more into it until it is
        // given back, which needs `&mut self`.
        unsafe {
            std::slice::from_raw_parts(self.memory.as_ptr().add(usize::from(bid) * self.size), len)
        }
    }

    /// Returns buffer `bid` to the kernel (seen once published).
    ///
    /// # Safety
    ///
    /// `bid` is not in the ring already: given back twice, one buffer could be picked for two
    /// receives at once.
    unsafe fn give_back(&mut self, bid: u16) {
        let at = usize::from(self.tail & (self.count - 1));
        // SAFETY: `at` < `count`, so the entry lies inside the ring of descriptions; the kernel
        // reads only entries before the published tail, and this one is past it.
        let entry = unsafe { &mut *self.entries.as_ptr().add(at) };
        // SAFETY: as in `slice`, the address lies inside the allocation.
        let addr = unsafe { self.memory.as_ptr().add(usize::from(bid) * self.size) };
        entry.set_addr(addr as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Lets the kernel see the buffers given back.
    fn publish(&self) {
        // SAFETY: the ring's base is valid and its entries initialized (zeroed, then filled);
        // the tail field it points to is a u16 the kernel reads, written here only.
        let tail = unsafe { BufRingEntry::tail(self.entries.as_ptr()) } as *const AtomicU16;
        // SAFETY: `tail` is an aligned u16 inside the live ring; the kernel only reads it.
        unsafe { &*tail }.store(self.tail, Ordering::Release);
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: both were allocated in `new` with these layouts; their owners drop them only
        // once no operation is in flight (a cancellation of everything succeeded), so the
        // kernel neither picks nor fills a buffer any more.
        unsafe {
            alloc::dealloc(self.entries.as_ptr().cast(), self.entries_layout);
            alloc::dealloc(self.memory.as_ptr(), self.memory_layout);
        }
    }
}

/// Stops a connection's socket both ways, so the operations on it end.
fn shut(fd: RawFd) {
    // SAFETY: `shutdown` takes no pointers; `fd` is the connection's open socket.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Becoming a replica's connection once its operations are over.
    Handing,
    /// Closed: freed once its operations are over.
    Closing,
}

struct Slot {
    conn: Connection,
    fd: RawFd,
    state: State,
}

/// A worker's io_uring loop.
pub struct Loop {
    // Field order is drop order: the ring goes before the memory its operations use.
    ring: IoUring,
    /// Dropped by `Drop`, only once nothing in flight can use them.
    buffers: ManuallyDrop<Buffers>,
    waker: Arc<Waker>,
    /// Where the eventfd's count is read to.
    wake_count: Box<u64>,
    receiver: Receiver<Handoff>,
    db: Arc<Db>,
    stop: Arc<AtomicBool>,
    doorbell: Arc<Doorbell>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Connections to serve this turn (completions, the doorbell).
    ready: Vec<usize>,
    /// Connections with buffered work left over from their last turn.
    again: Vec<usize>,
    /// Connections whose replies wait for the log to be durable, or replicas.
    held: Vec<usize>,
    /// This turn's completions, copied out of the queue.
    completions: Vec<(u64, i32, u32)>,
    /// Sends queued since the last wait.
    sends: usize,
    /// The kernel can wait for several completions for a while, then for one
    /// (`IORING_FEAT_MIN_TIMEOUT`, Linux 6.12).
    min_timeout: bool,
    /// The listener this worker accepts from itself (a single worker), if any.
    accept: Option<Accept>,
    /// Its multishot accept is in flight.
    accept_armed: bool,
    /// When to start it again after it failed.
    accept_retry: Option<Instant>,
    timing: Timing,
    last_sweep: Instant,
    last_busy: Instant,
}

impl Loop {
    /// A loop woken by `waker` (an eventfd waker) and rung through `doorbell`; builds its ring,
    /// so it must be called on the thread that runs it.
    pub fn new(
        waker: Arc<Waker>,
        doorbell: Arc<Doorbell>,
        receiver: Receiver<Handoff>,
        db: Arc<Db>,
        stop: Arc<AtomicBool>,
        timing: Timing,
        accept: Option<Accept>,
    ) -> io::Result<Self> {
        let ring = new_ring()?;
        let buffers = Buffers::new(&ring, BUFFERS, BUFFER_SIZE)?;
        let min_timeout = ring.params().is_feature_min_timeout();
        Ok(Self {
            ring,
            buffers: ManuallyDrop::new(buffers),
            waker,
            wake_count: Box::new(0),
            receiver,
            db,
            stop,
            doorbell,
            slots: Vec::new(),
            free: Vec::new(),
            ready: Vec::new(),
            again: Vec::new(),
            held: Vec::new(),
            completions: Vec::with_capacity(CQ_ENTRIES as usize),
            sends: 0,
            min_timeout,
            accept,
            accept_armed: false,
            accept_retry: None,
            timing,
            last_sweep: Instant::now(),
            last_busy: Instant::now(),
        })
    }

    /// Serves until the stop flag is set.
    pub fn run(mut self) -> io::Result<()> {
        self.db.gate.register();
        self.arm_wake()?;
        self.keep_accepting()?;
        loop {
            let polling = !self.timing.busy_poll.is_zero()
                && self.last_busy.elapsed() < self.timing.busy_poll;
            let wait = if !self.again.is_empty() || polling {
                Duration::ZERO
            } else if self.accept_retry.is_some() {
                ACCEPT_RETRY
            } else {
                // Wake now and then to close idle connections, as the epoll loop does.
                Duration::from_secs(1)
            };
            self.enter(wait)?;
            self.complete()?;
            self.keep_accepting()?;
            let sweep = self.db.settings.idle_timeout().is_some()
                && self.last_sweep.elapsed() >= Duration::from_secs(1);
            let stop = self.stop.load(Ordering::Acquire);
            if self.ready.is_empty() && self.again.is_empty() && !sweep && !stop {
                // Only sends completed, or the wait timed out: no turn.
                continue;
            }
            if !self.timing.busy_poll.is_zero() {
                self.last_busy = Instant::now();
            }
            // The commands of this turn run outside any `EXEC` (which waits for the turn).
            let turn = self.db.gate.enter();
            self.db.tick();
            let mut ready = std::mem::take(&mut self.ready);
            ready.append(&mut self.again);
            ready.sort_unstable();
            ready.dedup();
            for &i in &ready {
                self.serve(i)?;
            }
            ready.clear();
            self.ready = ready;
            self.buffers.publish();
            if !self.held.is_empty() {
                // Woken by the log only when asked; what it made durable meanwhile is seen here.
                self.waker.want();
                for i in std::mem::take(&mut self.held) {
                    self.serve(i)?;
                }
            }
            if self.db.repl.waiting.load(Ordering::Relaxed) > 0 && self.db.repl.backlog.fed_here() {
                self.db.repl.request_acks();
            }
            drop(turn);
            self.db.repl.backlog.wake_if_fed();
            if self.stop.load(Ordering::Acquire) {
                return self.finish();
            }
            if let Some(limit) = self.db.settings.idle_timeout() {
                if self.last_sweep.elapsed() >= Duration::from_secs(1) {
                    self.last_sweep = Instant::now();
                    self.close_idle(limit)?;
                }
            }
        }
    }

    /// Submits what the last turn queued and waits up to `wait` for a completion.
    ///
    /// With sends queued, it waits for more: the sends' own completions and as many requests as
    /// clients were answered, for at most [`GATHER`]; then for the first completion. A busy
    /// server then wakes once for a batch of requests instead of once for each.
    fn enter(&mut self, wait: Duration) -> io::Result<()> {
        let timeout = Timespec::from(wait);
        let sends = std::mem::take(&mut self.sends);
        let gather = self.min_timeout && sends > 1 && !wait.is_zero();
        let (want, args) = if gather {
            let want = (2 * sends).min(GATHER_MOST);
            let args = SubmitArgs::new()
                .timespec(&timeout)
                .min_wait_usec(GATHER.as_micros() as u32);
            (want, args)
        } else {
            (1, SubmitArgs::new().timespec(&timeout))
        };
        match self.ring.submitter().submit_with_args(want, &args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Queues `entry`, submitting what is queued first if the queue is full.
    ///
    /// # Safety
    ///
    /// Whatever memory `entry` points at stays valid, and unmoved, until its completion.
    unsafe fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps the entry's memory valid.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            // Receives queued this turn may find the buffers given back.
            self.buffers.publish();
            match self.ring.submit() {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
                    ) =>
                {
                    // The completion queue is full: take completions aside, to be acted on
                    // with this turn's, and try again.
                    self.completions.extend(
                        self.ring
                            .completion()
                            .map(|c| (c.user_data(), c.result(), c.flags())),
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Keeps a read of the waker's eventfd in flight.
    fn arm_wake(&mut self) -> io::Result<()> {
        let fd = self
            .waker
            .fd()
            .ok_or_else(|| io::Error::other("the io_uring loop needs an eventfd waker"))?;
        let count: *mut u64 = &mut *self.wake_count;
        let read = opcode::Read::new(Fd(fd), count.cast(), 8)
            .build()
            .user_data(tag(OP_WAKE, 0));
        // SAFETY: `wake_count` is boxed, so unmoved, and lives as long as the ring.
        unsafe { self.push(read) }
    }

    /// Takes this turn's completions and acts on each: receives into inboxes, sends finished,
    /// wake-ups.
    fn complete(&mut self) -> io::Result<()> {
        // Completions taken aside by `push` come first.
        let mut completions = std::mem::take(&mut self.completions);
        completions.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(data, result, flags) in &completions {
            let index = (data >> 8) as usize;
            match data & 0xff {
                OP_WAKE => self.woken(result)?,
                OP_RECV => self.received(index, result, flags),
                OP_SEND => self.sent(index, result)?,
                OP_ACCEPT => self.accepted(result, flags),
                _ => {}
            }
        }
        completions.clear();
        self.completions = completions;
        Ok(())
    }

    /// Other threads rang: new connections, the log or the replicas moved, mail or kills.
    fn woken(&mut self, result: i32) -> io::Result<()> {
        match -result {
            // Cancelled on shutdown: nothing more to read.
            libc::ECANCELED => return Ok(()),
            e if result < 0 && e != libc::EINTR && e != libc::EAGAIN => {
                return Err(io::Error::from_raw_os_error(e));
            }
            _ => {}
        }
        self.arm_wake()?;
        self.adopt();
        self.ready.append(&mut self.held);
        self.ready.extend(self.doorbell.take());
        Ok(())
    }

    fn received(&mut self, index: usize, result: i32, flags: u32) {
        if let Some(bid) = cqueue::buffer_select(flags) {
            if let Some(Some(slot)) = self.slots.get_mut(index) {
                if result > 0 && slot.state != State::Closing {
                    slot.conn
                        .receive(&self.db, self.buffers.slice(bid, result as usize));
                }
            }
            // SAFETY: the kernel handed `bid` over with this completion; it is given back once.
            unsafe { self.buffers.give_back(bid) };
        }
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let ring = slot.conn.ring().expect("a connection of the io_uring loop");
        if !cqueue::more(flags) {
            ring.recv_armed = false;
            ring.cancelling = false;
            match result {
                0 => ring.ended(None),
                // Out of buffers (started again once they are back), stopped on purpose, or
                // interrupted: started again when the connection wants it.
                r if [libc::ENOBUFS, libc::ECANCELED, libc::EINTR, libc::EAGAIN].contains(&-r) => {}
                r if r < 0 => ring.ended(Some(io::Error::from_raw_os_error(-r).kind())),
                _ => {}
            }
        }
        self.ready.push(index);
    }

    fn sent(&mut self, index: usize, result: i32) -> io::Result<()> {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return Ok(());
        };
        let ring = slot.conn.ring().expect("a connection of the io_uring loop");
        let outcome = if result < 0 {
            Err(io::Error::from_raw_os_error(-result))
        } else {
            Ok(result as usize)
        };
        if let Err(e) = ring.sent(outcome) {
            if slot.state == State::Open {
                log::debug!("{}: write failed: {e}", slot.conn.peer());
                return self.close(index);
            }
        }
        slot.conn.show_unwritten();
        // Most sends complete with nothing more to do: a client that waits for each reply has
        // sent nothing new yet.
        if slot.state != State::Open || slot.conn.wants_turn_after_send() {
            self.ready.push(index);
        }
        Ok(())
    }

    /// Keeps a multishot accept on the listener in flight, if this worker accepts.
    fn keep_accepting(&mut self) -> io::Result<()> {
        let Some((listener, _)) = &self.accept else {
            return Ok(());
        };
        if self.accept_armed || self.accept_retry.is_some_and(|at| Instant::now() < at) {
            return Ok(());
        }
        let entry = opcode::AcceptMulti::new(Fd(*listener))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(tag(OP_ACCEPT, 0));
        self.accept_armed = true;
        self.accept_retry = None;
        // SAFETY: an accept points at no memory of ours (no address is asked for).
        unsafe { self.push(entry) }
    }

    /// A connection accepted (a descriptor), or the accept failed.
    fn accepted(&mut self, result: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.accept_armed = false;
        }
        if result < 0 {
            if -result != libc::ECANCELED {
                // Out of descriptors, say: the backlog keeps the client waiting meanwhile.
                log::warn!("accept failed: {}", io::Error::from_raw_os_error(-result));
                if !self.accept_armed {
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                }
            }
            return;
        }
        // SAFETY: the kernel made this descriptor for this completion; nothing else owns it.
        let stream =
            unsafe { <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(result) };
        let peer = match stream.peer_addr() {
            Ok(peer) => peer,
            Err(e) => {
                log::debug!("accepted a connection already gone: {e}");
                return;
            }
        };
        let Some((_, admission)) = &self.accept else {
            return;
        };
        if let Some(conn) = admission.admit(mio::net::TcpStream::from_std(stream), peer) {
            self.adopt_one(conn);
        }
    }

    /// Takes the connections the accept thread has handed over.
    fn adopt(&mut self) {
        while let Ok(conn) = self.receiver.try_recv() {
            self.adopt_one(conn);
        }
    }

    /// Takes a connection to serve.
    fn adopt_one(&mut self, (stream, peer, id): Handoff) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let authenticated = self.db.password.is_none();
        let laddr = stream.local_addr().unwrap_or(peer);
        let fd = stream.as_raw_fd();
        let handle = Arc::new(Handle::new(
            id,
            peer,
            laddr,
            fd,
            Some((Arc::clone(&self.doorbell), index)),
        ));
        let conn = Connection::new(stream, Arc::clone(&handle), authenticated, true);
        log::debug!("{peer}: connected");
        self.db.clients.add(handle);
        self.slots[index] = Some(Slot {
            conn,
            fd,
            state: State::Open,
        });
        self.ready.push(index);
    }

    /// Serves connection `index`, then starts the receive and send it needs.
    fn serve(&mut self, index: usize) -> io::Result<()> {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return Ok(());
        };
        match slot.state {
            State::Open => {}
            State::Handing => return self.hand_when_idle(index),
            State::Closing => {
                if slot
                    .conn
                    .ring()
                    .is_some_and(|r| r.send_armed || r.recv_armed)
                {
                    return Ok(());
                }
                self.release(index);
                return Ok(());
            }
        }
        match slot.conn.serve(&self.db, false) {
            Next::Wait => {}
            Next::Again => self.again.push(index),
            Next::Held => self.held.push(index),
            Next::Close => return self.close(index),
            Next::Replica => {
                slot.state = State::Handing;
                return self.hand_when_idle(index);
            }
        }
        self.start_io(index)
    }

    /// Queues the send and the receive connection `index` needs, or stops its receive while
    /// its inbox is full.
    fn start_io(&mut self, index: usize) -> io::Result<()> {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return Ok(());
        };
        let fd = slot.fd;
        let ring = slot.conn.ring().expect("a connection of the io_uring loop");
        let send = ring.send_due().map(|bytes| {
            opcode::Send::new(
                Fd(fd),
                bytes.as_ptr(),
                bytes.len().min(u32::MAX as usize) as u32,
            )
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(tag(OP_SEND, index))
        });
        let recv = ring.wants_recv();
        let pause = ring.wants_pause();
        if recv {
            ring.recv_armed = true;
        }
        if let Some(send) = send {
            self.sends += 1;
            // SAFETY: the connection's `sending` buffer is not touched while its send is in
            // flight, and its slot (so the connection) is kept until the send completes.
            unsafe { self.push(send)? };
        }
        if recv {
            let entry = opcode::RecvMulti::new(Fd(fd), GROUP)
                .build()
                .user_data(tag(OP_RECV, index));
            // SAFETY: the receive writes only into the registered buffers, owned by the loop.
            unsafe { self.push(entry)? };
        } else if pause {
            self.cancel_recv(index)?;
        }
        Ok(())
    }

    fn cancel_recv(&mut self, index: usize) -> io::Result<()> {
        if let Some(Some(slot)) = self.slots.get_mut(index) {
            let ring = slot.conn.ring().expect("a connection of the io_uring loop");
            if ring.cancelling || !ring.recv_armed {
                return Ok(());
            }
            ring.cancelling = true;
        }
        let cancel = opcode::AsyncCancel::new(tag(OP_RECV, index))
            .build()
            .user_data(tag(OP_CANCEL, index));
        // SAFETY: a cancellation points at no memory.
        unsafe { self.push(cancel) }
    }

    /// Gives connection `index`, a replica's now, to replication once the kernel has no
    /// operation on it left.
    fn hand_when_idle(&mut self, index: usize) -> io::Result<()> {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return Ok(());
        };
        let ring = slot.conn.ring().expect("a connection of the io_uring loop");
        if ring.recv_armed {
            // Stopped first; its completion serves the connection again.
            return self.cancel_recv(index);
        }
        if ring.send_armed {
            return Ok(());
        }
        let Some(slot) = self.slots[index].take() else {
            return Ok(());
        };
        self.free.push(index);
        self.db
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        let (stream, handle, hello, pending, unread) = slot.conn.into_replica();
        handle.set_replica();
        // Replication serves it with blocking I/O on threads of its own.
        let stream = std::net::TcpStream::from(stream);
        crate::repl::primary::serve(Arc::clone(&self.db), stream, handle, hello, pending, unread);
        Ok(())
    }

    /// Closes connections that have sent nothing for `limit`, as Redis's `timeout` does.
    fn close_idle(&mut self, limit: Duration) -> io::Result<()> {
        for index in 0..self.slots.len() {
            let idle = self.slots[index].as_ref().is_some_and(|s| {
                s.state == State::Open && s.conn.idle_for() >= limit && !s.conn.waiting_on_log()
            });
            if idle {
                log::debug!("closing a connection idle for {}s", limit.as_secs());
                self.close(index)?;
            }
        }
        Ok(())
    }

    /// Closes connection `index` for its clients; frees its slot once the kernel is done with it.
    fn close(&mut self, index: usize) -> io::Result<()> {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return Ok(());
        };
        if slot.state == State::Closing {
            // Closed already; the slot waits for the kernel.
            return Ok(());
        }
        slot.state = State::Closing;
        slot.conn.leave(&self.db);
        self.db.clients.remove(slot.conn.handle().id);
        log::debug!("{}: closed", slot.conn.peer());
        self.db
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        let fd = slot.fd;
        // (A connection finished on shutdown moves its own bytes: no ring state.)
        let (recv, send) = slot
            .conn
            .ring()
            .map_or((false, false), |r| (r.recv_armed, r.send_armed));
        if !recv && !send {
            self.release(index);
            return Ok(());
        }
        shut(fd);
        if recv {
            self.cancel_recv(index)?;
        }
        Ok(())
    }

    /// Frees slot `index`, closing its socket.
    fn release(&mut self, index: usize) {
        if self.slots[index].take().is_some() {
            self.free.push(index);
        }
    }

    /// On shutdown: answer what every client has already sent, then close everything.
    fn finish(&mut self) -> io::Result<()> {
        self.adopt();
        // Sends in flight finish first (a second at most), so that what follows them is written
        // after them.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && self.sends_in_flight() {
            self.enter(Duration::from_millis(10))?;
            self.complete()?;
        }
        // Then every receive (and the waker's read) stops; each connection is finished as the
        // epoll loop finishes it, reading its socket directly.
        if let Err(e) = cancel_everything(&self.ring) {
            log::warn!("io_uring operations not cancelled on shutdown: {e}");
        }
        self.enter(Duration::ZERO)?;
        self.complete()?;
        for index in 0..self.slots.len() {
            if let Some(slot) = self.slots[index].as_mut() {
                if slot.state == State::Open {
                    slot.conn.finish(&self.db);
                }
            }
            if self.slots[index]
                .as_ref()
                .is_some_and(|s| s.state != State::Closing)
            {
                self.close(index)?;
            }
            // A slot the kernel still has an operation on is left to `Drop`.
            let idle = self.slots[index]
                .as_mut()
                .is_some_and(|s| s.conn.ring().is_none_or(|r| !r.send_armed && !r.recv_armed));
            if idle {
                self.release(index);
            }
        }
        Ok(())
    }

    fn sends_in_flight(&mut self) -> bool {
        self.slots
            .iter_mut()
            .flatten()
            .any(|s| s.conn.ring().is_some_and(|r| r.send_armed))
    }
}

/// Cancels every operation in flight on `ring` and waits (a second at most) until the kernel
/// is done with them.
fn cancel_everything(ring: &IoUring) -> io::Result<()> {
    let timeout = Timespec::from(Duration::from_secs(1));
    match ring
        .submitter()
        .register_sync_cancel(Some(timeout), CancelBuilder::any())
    {
        // Nothing was in flight.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        // Nothing the kernel still does may outlive the buffers and connections it uses: a
        // ring's teardown on close runs later, on a kernel thread.
        if cancel_everything(&self.ring).is_ok() {
            // SAFETY: no operation is in flight, so none can pick or fill a buffer; the
            // buffers are dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.buffers) };
        } else {
            // The kernel may still write into the buffers or read a connection's output: both
            // are left allocated.
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}
