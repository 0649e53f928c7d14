//! A TCP proxy on a loopback port that can cut the link the way a failing network does: bytes
//! stop flowing but both sockets stay open, so each end notices only through its own timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct State {
    /// Nothing is forwarded and new connections are closed at once.
    cut: AtomicBool,
    /// Connections accepted before the last [`Proxy::sever`] close.
    epoch: AtomicU64,
    /// The proxy is being dropped.
    closing: AtomicBool,
    /// The most bytes a second each direction of a connection forwards; 0: no limit.
    rate: AtomicU64,
}

/// Forwards each connection to its port to `127.0.0.1:<target>`; stopped when dropped.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
    threads: Vec<JoinHandle<()>>,
}

/// How long a blocked read waits before the thread looks at the proxy's state again.
const POLL: Duration = Duration::from_millis(20);

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let accept = std::thread::spawn(move || accept_loop(&listener, target, &shared));
        Proxy {
            port,
            state,
            threads: vec![accept],
        }
    }

    /// Stops forwarding; the open connections stay open and silent.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
    }

    /// Forwards at most `bytes_per_second` in each direction of each connection (0: no limit),
    /// so that a full sync lasts long enough to be interrupted whatever the servers' speed.
    pub fn throttle(&self, bytes_per_second: u64) {
        self.state.rate.store(bytes_per_second, Ordering::SeqCst);
    }

    /// Closes every connection accepted so far.
    pub fn sever(&self) {
        self.state.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Forwards again, for connections made from now on.
    pub fn heal(&self) {
        self.sever();
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        self.sever();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: u16, state: &Arc<State>) {
    let mut pumps = Vec::new();
    while !state.closing.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => panic!("proxy accept: {e}"),
        };
        if state.cut.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            continue;
        };
        client.set_nonblocking(false).unwrap();
        let epoch = state.epoch.load(Ordering::SeqCst);
        for (from, to) in [
            (client.try_clone().unwrap(), server.try_clone().unwrap()),
            (server, client),
        ] {
            let state = state.clone();
            pumps.push(std::thread::spawn(move || pump(from, to, epoch, &state)));
        }
        pumps.retain(|p: &JoinHandle<()>| !p.is_finished());
    }
    for p in pumps {
        let _ = p.join();
    }
}

/// Copies `from` to `to` until either closes or the connection's epoch ends.
fn pump(mut from: TcpStream, mut to: TcpStream, epoch: u64, state: &State) {
    from.set_read_timeout(Some(POLL)).unwrap();
    to.set_write_timeout(Some(POLL)).unwrap();
    let mut buf = vec![0; 64 * 1024];
    while state.epoch.load(Ordering::SeqCst) == epoch {
        if state.cut.load(Ordering::SeqCst) {
            std::thread::sleep(POLL);
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if !forward(&mut to, &buf[..n], epoch, state) {
                    break;
                }
                let rate = state.rate.load(Ordering::SeqCst);
                if rate > 0 {
                    std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Writes all of `data` unless the connection's epoch ends first (a slow reader, such as a replica
/// loading a full sync, only delays it).
fn forward(to: &mut TcpStream, mut data: &[u8], epoch: u64, state: &State) -> bool {
    while !data.is_empty() {
        if state.epoch.load(Ordering::SeqCst) != epoch {
            return false;
        }
        match to.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return false,
        }
    }
    true
}
