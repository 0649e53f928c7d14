//! How other threads wake a worker: the accept thread with a new connection, the log writer
//! when replies may go, replication when acknowledgements come, a doorbell when mail arrives.
//! One type for either loop: the epoll loop's poller wakes on its own waker, the io_uring loop
//! keeps a read of an eventfd in flight.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};

/// Wakes one worker; cheap to call from any thread, many times.
pub struct Waker {
    kind: Kind,
    /// The worker holds replies for the log: [`Waker::wake_if_wanted`] wakes it.
    wanted: AtomicBool,
}

enum Kind {
    Poll(mio::Waker),
    Event(OwnedFd),
}

impl Waker {
    /// Wakes the epoll loop of `registry` with a readiness event for `token`.
    pub fn for_poll(registry: &mio::Registry, token: mio::Token) -> io::Result<Self> {
        Ok(Self::new(Kind::Poll(mio::Waker::new(registry, token)?)))
    }

    /// Wakes whatever reads the eventfd [`Waker::fd`] returns.
    pub fn event() -> io::Result<Self> {
        // SAFETY: `eventfd` takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created, is valid, and nothing else owns it.
        Ok(Self::new(Kind::Event(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    fn new(kind: Kind) -> Self {
        Self {
            kind,
            wanted: AtomicBool::new(false),
        }
    }

    /// Asks for the next [`Waker::wake_if_wanted`]. The worker calls it when it holds replies
    /// for the log, then checks them once more: either that check sees what the log made
    /// durable, or the log's writer sees this and wakes it (both sides fence between their
    /// store and their load).
    pub fn want(&self) {
        self.wanted.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Wakes the worker if it asked to be woken, once; called after publishing what it waits
    /// for. Workers holding nothing are left asleep.
    pub fn wake_if_wanted(&self) -> io::Result<()> {
        fence(Ordering::SeqCst);
        if self.wanted.swap(false, Ordering::SeqCst) {
            self.wake()
        } else {
            Ok(())
        }
    }

    /// The eventfd an io_uring loop reads; `None` for a poll waker.
    pub fn fd(&self) -> Option<RawFd> {
        match &self.kind {
            Kind::Poll(_) => None,
            Kind::Event(fd) => Some(fd.as_raw_fd()),
        }
    }

    /// Wakes the worker, or leaves it to wake from an earlier call it has not seen yet.
    pub fn wake(&self) -> io::Result<()> {
        match &self.kind {
            Kind::Poll(w) => w.wake(),
            Kind::Event(fd) => {
                let one = 1u64.to_ne_bytes();
                // SAFETY: writes 8 bytes from a live 8-byte array to a descriptor this owns.
                let n = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
                if n == one.len() as isize {
                    return Ok(());
                }
                match io::Error::last_os_error() {
                    // The counter is full: the reader has a wake-up waiting already.
                    e if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    e => Err(e),
                }
            }
        }
    }
}
