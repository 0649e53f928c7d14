//! Faults, against the kv-server binary: clients that vanish in the middle of a request, a client
//! that never reads its replies, ten thousand idle connections, and a thousand clients sending at
//! once. After each the server still answers, still holds what was written before, counts its
//! clients back down, and its resident memory (VmRSS, printed before and after) shows no leak.
//!
//! The server inherits this process's environment, so KV_IO picks its loop: the test matrix runs
//! these against each loop.
//!
//! Memory is compared across rounds of the same fault rather than only against the figure before
//! the first: the allocator keeps memory it has been given back for the next round to use, so the
//! first round may raise the resident set by its peak working set, but a leak raises it again
//! with every round.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Killed;

const MIB: u64 = 1024 * 1024;

/// A kv-server process on a free port, killed when dropped.
struct Server {
    process: Killed,
    addr: SocketAddr,
}

impl Server {
    /// Starts kv-server with `extra` flags and waits until it accepts connections.
    fn start(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Killed(
            Command::new(env!("CARGO_BIN_EXE_kv-server"))
                .args(["--port", &port.to_string(), "--threads", "2"])
                .args(["--reserve", "1gb", "--no-persist", "--log-level", "error"])
                .args(["--max-clients", "10100"])
                .args(extra)
                .stdout(Stdio::null())
                .spawn()
                .expect("kv-server starts"),
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until("kv-server listens", Duration::from_secs(10), || {
            TcpStream::connect(addr)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        Self { process, addr }
    }

    /// The server's resident set, in bytes.
    fn rss(&self) -> u64 {
        let pid = self.process.0.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("the server's /proc status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a VmRSS line");
        kb * 1024
    }

    fn client(&self) -> redis::Connection {
        let con = redis::Client::open(format!("redis://{}/", self.addr))
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        con.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        con
    }
}

/// Calls `check` every 20 ms until it answers `Ok`; after `limit`, fails the test, naming `what`
/// and what `check` saw last.
fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        let seen = match check() {
            Ok(()) => return,
            Err(seen) => seen,
        };
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?} (last seen: {seen})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Ok` if `done`, else what was seen.
fn seen(done: bool, what: impl std::fmt::Display) -> Result<(), String> {
    if done {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no number {field}:\n{info}"))
}

fn connected_clients(con: &mut redis::Connection) -> u64 {
    info_field(con, "clients", "connected_clients")
}

/// The `CLIENT LIST` lines other than the asking client's own.
fn client_list(con: &mut redis::Connection) -> Vec<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
    list.lines()
        .filter(|l| !l.contains(" cmd=client|list "))
        .map(str::to_string)
        .collect()
}

/// A number field (`qbuf`, `omem`) of a `CLIENT LIST` line.
fn list_field(line: &str, field: &str) -> u64 {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field}= in {line}"))
}

/// The client that watches the server through a fault, and the key it wrote before.
struct Probe {
    con: redis::Connection,
    clients: u64,
}

const KEPT_KEY: &str = "written-before";

fn kept_value() -> Vec<u8> {
    (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

impl Probe {
    /// Connects, writes [`KEPT_KEY`], and waits until the server counts this client alone (the
    /// connection that found the server listening may not be counted out yet).
    fn new(server: &Server) -> Self {
        let mut con = server.client();
        let () = redis::cmd("SET")
            .arg(KEPT_KEY)
            .arg(kept_value())
            .query(&mut con)
            .unwrap();
        wait_until("the probe alone", Duration::from_secs(10), || {
            let now = connected_clients(&mut con);
            seen(now == 1, now)
        });
        Self { con, clients: 1 }
    }

    /// The server answers PING and reads back the key written before the fault, on this
    /// connection and on a new one.
    fn assert_serving(&mut self, server: &Server) {
        for con in [&mut self.con, &mut server.client()] {
            let pong: String = redis::cmd("PING").query(con).unwrap();
            assert_eq!(pong, "PONG");
            let kept: Vec<u8> = redis::cmd("GET").arg(KEPT_KEY).query(con).unwrap();
            assert!(
                kept == kept_value(),
                "the key written before the fault changed"
            );
        }
    }

    /// After a fault's clients are gone: the client count returns to what it was before (polled,
    /// bounded), and the server serves.
    fn assert_recovered(&mut self, server: &Server) {
        let before = self.clients;
        wait_until(
            &format!("connected_clients back to {before}"),
            Duration::from_secs(30),
            || {
                let now = connected_clients(&mut self.con);
                seen(now == before, now)
            },
        );
        self.assert_serving(server);
    }
}

/// Raises this process's open-file limit to at least `wanted`, if the hard limit allows;
/// returns the soft limit it ends with.
fn raise_fd_limit(wanted: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the valid, exclusively borrowed `lim`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur < wanted {
        lim.rlim_cur = wanted.min(lim.rlim_max);
        // SAFETY: setrlimit only reads the valid `lim`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return 0;
        }
    }
    lim.rlim_cur
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// Bytes by which `after` exceeds `before` (0 if it does not).
fn growth(before: u64, after: u64) -> u64 {
    after.saturating_sub(before)
}

/// Asserts the resident set grew by less than `bound` bytes from `before` to `after`; `what`
/// says over what, in the failure message.
fn assert_rss_grew_less(before: u64, after: u64, bound: u64, what: impl std::fmt::Display) {
    assert!(
        growth(before, after) < bound,
        "RSS grew by {:.1} MiB {what} (bound {:.1} MiB)",
        mib(growth(before, after)),
        mib(bound)
    );
}

// ---- 1. Clients that disconnect in the middle of a request ----
//
// 200 clients each send the start of a SET of a 100,000-byte value, wait until the server holds
// it, and go: half close their end, half reset the connection.

const HALF_SENDERS: usize = 200;
const HALF_ROUNDS: usize = 3;
/// Bytes of the 100,000-byte value each half-sender sends before it goes.
const HALF_SENT: usize = 60_000;

#[test]
fn clients_that_disconnect_mid_request_leave_nothing_behind() {
    let server = Server::start(&[]);
    let mut probe = Probe::new(&server);
    let mut request = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    request.resize(request.len() + HALF_SENT, b'x');
    let before = server.rss();
    let mut after_round = Vec::new();
    for round in 0..HALF_ROUNDS {
        let senders: Vec<TcpStream> = (0..HALF_SENDERS)
            .map(|_| {
                let mut c = TcpStream::connect(server.addr).expect("connect");
                c.write_all(&request).expect("half a request");
                c
            })
            .collect();
        // Each fault only counts once the server holds the half request it was sent.
        wait_until(
            &format!("{HALF_SENDERS} half requests buffered"),
            Duration::from_secs(30),
            || {
                let holding = client_list(&mut probe.con)
                    .iter()
                    .filter(|l| list_field(l, "qbuf") >= request.len() as u64)
                    .count();
                seen(holding == HALF_SENDERS, holding)
            },
        );
        let held = server.rss();
        for (i, c) in senders.into_iter().enumerate() {
            if i % 2 == 0 {
                // Linger 0: the close resets the connection instead of ending it.
                socket2::SockRef::from(&c)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
            }
            drop(c);
        }
        probe.assert_recovered(&server);
        let exists: u64 = redis::cmd("EXISTS").arg("k").query(&mut probe.con).unwrap();
        assert_eq!(exists, 0, "a half-sent SET wrote its key");
        let after = server.rss();
        println!(
            "mid-request disconnects, round {round}: RSS {:.1} MiB before, {:.1} MiB holding \
             {HALF_SENDERS} half requests, {:.1} MiB after they went",
            mib(before),
            mib(held),
            mib(after)
        );
        after_round.push(after);
    }
    // Each half request holds its 60 KB in the server (in a 64 KiB input buffer, in the epoll
    // loop): a server that kept what clients gone had sent would grow by at least 200 x 60 KB
    // = 11.4 MiB a round, 23 MiB over the two rounds after the first. The first round's growth
    // is the working set of the 200 connections, which the allocator may keep for the next.
    let first = after_round[0];
    let last = after_round[HALF_ROUNDS - 1];
    assert_rss_grew_less(
        first,
        last,
        8 * MIB,
        "over rounds that each held and dropped the same half requests",
    );
    assert_rss_grew_less(
        before,
        first,
        40 * MIB,
        format!("over one round of {HALF_SENDERS} half requests"),
    );
}

// ---- 2. A client that never reads ----
//
// It pipelines GETs of a 100 KB value and reads no reply. The server must not buffer replies
// without bound, must keep serving other clients, and drops the client at its output buffer
// limit when one is set.

/// The value the never-reading client asks for, again and again.
const BIG: usize = 100_000;
/// GETs the never-reading client sends at most: 200 MB of replies, were they all buffered.
const HOG_GETS: usize = 2_000;
/// kv's cap on one connection's pending output (kv_std::server::connection::OUTPUT_SOFT_CAP),
/// past which it answers no more of that client's requests until it reads.
const OUTPUT_SOFT_CAP: u64 = MIB;

/// Connects a client that pipelines GETs of `big` and never reads a reply; returns it and how
/// many GETs it got to send before the server stopped taking them.
fn never_reading_client(server: &Server) -> (TcpStream, usize) {
    let mut hog = TcpStream::connect(server.addr).expect("connect");
    hog.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let batch = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(100);
    let mut sent = 0;
    while sent < HOG_GETS {
        if hog.write_all(&batch).is_err() {
            // Timed out (the server stopped reading) or dropped by the server.
            break;
        }
        sent += 100;
    }
    (hog, sent)
}

/// Waits until the server has answered GETs and answers no more (it stopped serving the
/// never-reading client).
fn wait_for_gets_to_stop(con: &mut redis::Connection) -> u64 {
    let calls = |con: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // Unchanged over two looks 300 ms apart, so that a server slowed by a busy machine is not
    // taken for one that stopped.
    let (mut last, mut unchanged) = (calls(con), 0);
    wait_until("GETs stop being answered", Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(300));
        let now = calls(con);
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
        seen(now > 0 && unchanged >= 2, now)
    });
    last
}

fn store_big(con: &mut redis::Connection) -> Vec<u8> {
    let big: Vec<u8> = (0..BIG).map(|i| b'0' + (i % 10) as u8).collect();
    let () = redis::cmd("SET").arg("big").arg(&big).query(con).unwrap();
    big
}

#[test]
fn a_client_that_never_reads_holds_the_server_to_its_output_cap() {
    let server = Server::start(&[]);
    let mut probe = Probe::new(&server);
    let big = store_big(&mut probe.con);
    let before = server.rss();
    let (hog, sent) = never_reading_client(&server);
    let answered = wait_for_gets_to_stop(&mut probe.con);
    let waiting = server.rss();
    let port = hog.local_addr().unwrap().port();
    let list = client_list(&mut probe.con);
    let line = list
        .iter()
        .find(|l| l.contains(&format!("addr=127.0.0.1:{port} ")))
        .expect("the never-reading client is listed");
    let pending = list_field(line, "omem");
    println!(
        "never-reading client: {sent} GETs sent, {answered} answered, {pending} bytes of \
         replies pending; RSS {:.1} MiB before, {:.1} MiB while it does not read",
        mib(before),
        mib(waiting)
    );
    // What the server holds for the client is capped: the cap plus the reply that passed it.
    assert!(
        pending <= OUTPUT_SOFT_CAP + BIG as u64 + 64,
        "{pending} bytes of replies pending"
    );
    // The other clients are served meanwhile: the probe's own GET of the same 100 KB value.
    probe.assert_serving(&server);
    let got: Vec<u8> = redis::cmd("GET").arg("big").query(&mut probe.con).unwrap();
    assert!(
        got == big,
        "GET big answered wrong while a client does not read"
    );
    // Pending output of 1 MiB plus one reply, in a buffer that may have doubled to 2 MiB, and
    // the input buffer: a few MiB. The rest of what was answered waits in the kernel's socket
    // buffers, outside the server's RSS. A server that answered every GET it was sent would
    // hold up to 200 MB.
    assert_rss_grew_less(before, waiting, 16 * MIB, "for a client that does not read");
    drop(hog);
    probe.assert_recovered(&server);
    let after = server.rss();
    println!(
        "never-reading client gone: RSS {:.1} MiB (before it came {:.1} MiB)",
        mib(after),
        mib(before)
    );
    assert_rss_grew_less(
        before,
        after,
        16 * MIB,
        "after a client that did not read left",
    );
}

#[test]
fn a_client_that_never_reads_is_dropped_at_its_output_buffer_limit() {
    // Under kv's own cap, so that the limit is reached: kv stops answering a client at the cap,
    // so a larger limit (10mb, say) is never reached.
    let server = Server::start(&["--client-output-buffer-limit", "normal 512kb 0 0"]);
    let mut probe = Probe::new(&server);
    store_big(&mut probe.con);
    let before = server.rss();
    let (mut hog, sent) = never_reading_client(&server);
    wait_for_gets_to_stop(&mut probe.con);
    // The server closed the connection: its socket ends (or is reset) after what was written.
    hog.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received = 0usize;
    let mut sink = vec![0u8; 256 * 1024];
    loop {
        assert!(Instant::now() < deadline, "the socket did not end");
        match hog.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the never-reading client's socket: {e} after {received} bytes"),
        }
    }
    probe.assert_recovered(&server);
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut probe.con)
        .expect("INFO stats");
    let dropped = info
        .lines()
        .find_map(|l| l.strip_prefix("client_output_buffer_limit_disconnections:"))
        .expect("client_output_buffer_limit_disconnections in INFO stats");
    assert_eq!(
        dropped.trim(),
        "1",
        "one client dropped at its output limit"
    );
    let after = server.rss();
    println!(
        "output buffer limit: {sent} GETs sent, {received} bytes received before the server \
         closed; RSS {:.1} MiB before, {:.1} MiB after",
        mib(before),
        mib(after)
    );
    assert_rss_grew_less(
        before,
        after,
        16 * MIB,
        "after a client dropped at its output limit",
    );
}

// ---- 3. Ten thousand idle connections ----
//
// Opened twice over; one in ten sends a PING first. Each round the server counts them all,
// serves other clients, and counts them out when they close.

const IDLE: usize = 10_000;
const IDLE_ROUNDS: usize = 2;
/// Where [`hold_idle_connections`] is told what to connect to: `ADDR COUNT`.
const HOLD_ENV: &str = "KV_FAULTS_HOLD";

/// Opens the idle connections in a process of its own (this test binary, running
/// [`hold_idle_connections`]), so that they do not take this process's descriptors from the
/// tests running beside it; they close when the holder's stdin ends.
struct Holder {
    process: Killed,
}

impl Holder {
    fn start(addr: SocketAddr, count: usize) -> Self {
        let mut process = Killed(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "faults::hold_idle_connections", "--ignored"])
                .args(["--nocapture", "--test-threads", "1"])
                .env(HOLD_ENV, format!("{addr} {count}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the holder starts"),
        );
        let stdout = process.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Read to the end, so that the holder never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                // libtest may print the test's name on the same line.
                Ok(line) if line.ends_with(&format!("held {count}")) => break,
                Ok(_) => {}
                Err(e) => panic!("the holder did not report {count} connections: {e}"),
            }
        }
        Self { process }
    }

    /// Has the holder close its connections and exit.
    fn release(mut self) {
        drop(self.process.0.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                assert!(status.success(), "the holder failed: {status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the holder did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
#[ignore = "a helper, not a test: ten_thousand_idle_connections runs it in a process of its own"]
fn hold_idle_connections() {
    let Ok(spec) = std::env::var(HOLD_ENV) else {
        return;
    };
    let (addr, count) = spec.split_once(' ').unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    let count: usize = count.parse().unwrap();
    let limit = raise_fd_limit(count as u64 + 64);
    assert!(limit >= count as u64 + 64, "open-file limit {limit}");
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let mut c = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        if i % 10 == 0 {
            // One in ten says something once, then idles too.
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(b"PING\r\n").unwrap();
            let mut pong = [0u8; 7];
            c.read_exact(&mut pong).unwrap();
            assert_eq!(&pong, b"+PONG\r\n");
        }
        held.push(c);
    }
    println!("held {count}");
    std::io::stdout().flush().unwrap();
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(held);
}

#[test]
fn ten_thousand_idle_connections_cost_little_and_leave_nothing_behind() {
    let server = Server::start(&[]);
    let mut probe = Probe::new(&server);
    let before = server.rss();
    let mut after_round = Vec::new();
    for round in 0..IDLE_ROUNDS {
        let holder = Holder::start(server.addr, IDLE);
        let want = probe.clients + IDLE as u64;
        wait_until(
            &format!("{want} clients counted"),
            Duration::from_secs(30),
            || {
                let now = connected_clients(&mut probe.con);
                seen(now >= want, now)
            },
        );
        probe.assert_serving(&server);
        let idle = server.rss();
        holder.release();
        probe.assert_recovered(&server);
        let after = server.rss();
        let per_connection = growth(before, idle) / IDLE as u64;
        println!(
            "{IDLE} idle connections, round {round}: RSS {:.1} MiB before, {:.1} MiB with them \
             open ({per_connection} bytes a connection), {:.1} MiB after they closed",
            mib(before),
            mib(idle),
            mib(after)
        );
        // An idle connection costs its bookkeeping (about 1.3 KiB) and at most one 4 KiB input
        // buffer: the epoll loop gives each connection its input buffer at the first read,
        // which it tries as it adopts the connection; the io_uring loop receives into a ring of
        // buffers shared by all connections. A loop that kept a receive buffer of 16 KiB or
        // more per connection, or pinned a ring buffer per idle connection, passes 8 KiB.
        assert!(
            per_connection < 8 * 1024,
            "{per_connection} bytes of RSS per idle connection"
        );
        after_round.push(after);
    }
    // Connection state kept after the close would cost at least the connection's bookkeeping
    // each round; 2 MiB is 200 bytes a connection.
    let (first, last) = (after_round[0], after_round[IDLE_ROUNDS - 1]);
    assert_rss_grew_less(
        first,
        last,
        2 * MIB,
        "from one round of idle connections to the next",
    );
}

// ---- 4. A thousand senders at once ----
//
// 1,000 connections with 64 KiB each in flight at once, 64 MB: more than an io_uring loop's
// ring of provided buffers holds, so its receives run out of buffers and have to wait for them
// to come back, without losing, reordering or mixing up bytes.

const SENDERS: usize = 1_000;
const SENDER_THREADS: usize = 4;
const SENDER_ROUNDS: usize = 3;
const VALUE: usize = 1024;
/// Bytes of pipelined SETs each sender writes before it reads a reply.
const BURST: usize = 64 * 1024;

fn burst_key(sender: usize, i: usize) -> String {
    format!("s{sender:04}:{i:03}")
}

/// Round `round`'s value for key `i` of `sender`: distinct per key and per round.
fn burst_value(round: usize, sender: usize, i: usize) -> Vec<u8> {
    let mut v = format!("{round}:{sender}:{i}:").into_bytes();
    let fill = b'a' + ((round * 7 + sender * 3 + i) % 26) as u8;
    v.resize(VALUE, fill);
    v
}

fn set_command(key: &str, value: &[u8]) -> Vec<u8> {
    let mut c = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
        key.len(),
        value.len()
    )
    .into_bytes();
    c.extend_from_slice(value);
    c.extend_from_slice(b"\r\n");
    c
}

/// SETs in one sender's burst: enough commands to fill [`BURST`].
fn sets_per_burst() -> usize {
    BURST.div_ceil(set_command(&burst_key(0, 0), &burst_value(0, 0, 0)).len())
}

/// One sender: its connection, the burst it writes, and the replies it has read.
struct Sender {
    stream: TcpStream,
    burst: Vec<u8>,
    written: usize,
    replies: Vec<u8>,
}

/// Writes each sender's whole burst before reading from it, then reads until every SET is
/// answered, all senders at once through `poll`.
fn drive(senders: &mut [Sender], expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sink = [0u8; 4096];
    loop {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut waiting: Vec<usize> = Vec::new();
        for (i, s) in senders.iter().enumerate() {
            let events = if s.written < s.burst.len() {
                libc::POLLOUT
            } else if s.replies.len() < expected {
                libc::POLLIN
            } else {
                continue;
            };
            fds.push(libc::pollfd {
                fd: s.stream.as_raw_fd(),
                events,
                revents: 0,
            });
            waiting.push(i);
        }
        if fds.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} senders not done in time",
            fds.len()
        );
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfds, each
        // naming a socket that `senders` keeps open for the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        assert!(ready >= 0, "poll: {}", std::io::Error::last_os_error());
        for (fd, &i) in fds.iter().zip(&waiting) {
            if fd.revents == 0 {
                continue;
            }
            let s = &mut senders[i];
            let result = if s.written < s.burst.len() {
                s.stream
                    .write(&s.burst[s.written..])
                    .map(|n| s.written += n)
            } else {
                s.stream.read(&mut sink).map(|n| {
                    assert!(n > 0, "the server closed a sender's connection");
                    s.replies.extend_from_slice(&sink[..n]);
                })
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("sender {i}: {e}"),
            }
        }
    }
}

/// One round: every sender connects, all write their bursts at once, and all read every reply.
fn send_round(addr: SocketAddr, round: usize) {
    let per_burst = sets_per_burst();
    let connected = std::sync::Arc::new(std::sync::Barrier::new(SENDER_THREADS));
    let threads: Vec<_> = (0..SENDER_THREADS)
        .map(|t| {
            let connected = connected.clone();
            std::thread::spawn(move || {
                let mut senders: Vec<Sender> = (t..SENDERS)
                    .step_by(SENDER_THREADS)
                    .map(|sender| {
                        let stream = TcpStream::connect(addr).expect("connect");
                        stream.set_nodelay(true).unwrap();
                        let burst = (0..per_burst)
                            .flat_map(|i| {
                                set_command(&burst_key(sender, i), &burst_value(round, sender, i))
                            })
                            .collect();
                        Sender {
                            stream,
                            burst,
                            written: 0,
                            replies: Vec::new(),
                        }
                    })
                    .collect();
                // Everyone is connected before anyone sends.
                connected.wait();
                for s in &senders {
                    s.stream.set_nonblocking(true).unwrap();
                }
                let expected = per_burst * b"+OK\r\n".len();
                drive(&mut senders, expected);
                for s in &senders {
                    assert!(
                        s.replies == b"+OK\r\n".repeat(per_burst),
                        "a sender's replies: {:?}",
                        String::from_utf8_lossy(&s.replies)
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a sender thread");
    }
}

/// Every key of round `round` reads back its value.
fn check_round(con: &mut redis::Connection, round: usize) {
    let per_burst = sets_per_burst();
    for sender in 0..SENDERS {
        let keys: Vec<String> = (0..per_burst).map(|i| burst_key(sender, i)).collect();
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query(con).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert!(
                v.as_deref() == Some(&burst_value(round, sender, i)[..]),
                "round {round}: {} reads back wrong",
                burst_key(sender, i)
            );
        }
    }
    let keys: u64 = redis::cmd("DBSIZE").query(con).unwrap();
    assert_eq!(keys, (SENDERS * per_burst) as u64 + 1, "DBSIZE");
}

#[test]
fn a_thousand_concurrent_senders_are_all_answered() {
    assert!(
        raise_fd_limit(SENDERS as u64 + 256) >= SENDERS as u64 + 256,
        "the open-file limit is below {}",
        SENDERS + 256
    );
    let server = Server::start(&[]);
    let mut probe = Probe::new(&server);
    let before = server.rss();
    let per_burst = sets_per_burst();
    let stored = (SENDERS * per_burst * VALUE) as u64;
    let mut after_round = Vec::new();
    for round in 0..SENDER_ROUNDS {
        send_round(server.addr, round);
        probe.assert_recovered(&server);
        check_round(&mut probe.con, round);
        let after = server.rss();
        println!(
            "{SENDERS} senders x {per_burst} SETs of {VALUE} bytes, round {round}: RSS {:.1} MiB \
             before, {:.1} MiB after ({:.1} MiB of values stored)",
            mib(before),
            mib(after),
            mib(stored)
        );
        after_round.push(after);
    }
    // The values take 60.5 MiB; with keys, item headers and the table, less than twice that,
    // and the senders' working set (a 4 KiB input buffer each in the epoll loop, 4 MiB) on top.
    assert_rss_grew_less(
        before,
        after_round[0],
        2 * stored + 32 * MIB,
        format!("to store {:.1} MiB", mib(stored)),
    );
    // The later rounds overwrite the same keys with values of the same size: the data takes no
    // more room. A connection's input buffer left behind would cost 4 KiB per sender, 4 MiB a
    // round, 8 MiB over the two rounds after the first.
    let (first, last) = (after_round[0], after_round[SENDER_ROUNDS - 1]);
    assert_rss_grew_less(
        first,
        last,
        4 * MIB,
        "over rounds that overwrote the same keys",
    );
}
