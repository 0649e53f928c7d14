//! What replication promises a client, one promise a test, against kv-server: `--sync-replicas`
//! holds writes and never reads, `--min-replicas-to-write` and `WAIT` count replicas, a replica
//! resumes after a clean shutdown, pub/sub crosses the link, a replica keeps the keys its
//! primary keeps whatever its own clock says, and a promoted replica keeps the history its
//! former primary and siblings continue from.
//!
//! Several tests freeze a replica with SIGSTOP: the process holds its sockets open and answers
//! nothing, as a replica that hangs does, and its clock runs on meanwhile.

use crate::converge::{assert_converged, wait_link_up, wait_offsets_equal, wait_until};
use crate::node::{Kind, Node, Persist};
use crate::resp::Reply;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

const NOT_ENOUGH: &str = "NOREPLICAS Not enough good replicas to write.";
const NOT_IN_TIME: &str = "NOREPLICAS Not enough good replicas acknowledged the write in time.";

fn ok() -> Reply {
    Reply::Status("OK".into())
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn replica_of(primary: &Node, persist: Persist) -> Node {
    let port = primary.port.to_string();
    Node::start(Kind::Kv, persist, &["--replicaof", "127.0.0.1", &port])
}

/// Until the primary streams to `n` replicas (`state=online` in INFO): a replica counts for
/// `--sync-replicas`, `min-replicas-to-write` and `WAIT` only from then on, a little after its
/// own link shows up.
fn wait_online(primary: &Node, n: usize) {
    wait_until(&format!("{n} replicas online"), TIMEOUT, || {
        let info = primary.info("replication");
        let online = info
            .iter()
            .filter(|(k, v)| k.starts_with("slave") && v.contains(",state=online,"))
            .count();
        if online == n {
            Ok(())
        } else {
            Err(format!("{info:?}"))
        }
    });
}

fn pid(node: &Node) -> libc::pid_t {
    let pid = node.info_int("server", "process_id");
    libc::pid_t::try_from(pid).unwrap_or_else(|_| panic!("process_id {pid}"))
}

fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let done = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        done,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// A node frozen with SIGSTOP until this is dropped (also when the test panics, so that a failed
/// assertion does not leave a stopped process behind the harness's SIGKILL).
struct Frozen {
    pid: libc::pid_t,
}

impl Frozen {
    fn new(node: &Node) -> Frozen {
        let pid = pid(node);
        signal(pid, libc::SIGSTOP);
        // The signal is delivered asynchronously; the test must not go on while the node runs.
        let frozen = Frozen { pid };
        wait_until(&format!("every thread of {pid} to stop"), TIMEOUT, || {
            let states: Vec<Option<char>> = std::fs::read_dir(format!("/proc/{pid}/task"))
                .map_err(|e| e.to_string())?
                .map(|t| {
                    let task = t.ok()?.path();
                    state_in(&format!("{}/stat", task.display()))
                })
                .collect();
            if states.iter().all(|s| *s == Some('T')) {
                Ok(())
            } else {
                Err(format!("states {states:?}"))
            }
        });
        frozen
    }

    /// Lets the node run again (SIGCONT), at this point of the test rather than at its end.
    fn thaw(self) {}
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // Not `signal`: a panic here, while a failed test unwinds, would abort the whole binary.
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe { libc::kill(self.pid, libc::SIGCONT) };
    }
}

/// The state letter of process `pid` in `/proc` (`R`, `S`, `T` stopped, `Z` exited, ...), or
/// `None` once it is gone.
fn proc_state(pid: libc::pid_t) -> Option<char> {
    state_in(&format!("/proc/{pid}/stat"))
}

fn state_in(stat_path: &str) -> Option<char> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The state follows the parenthesised command name, which may hold anything.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.chars().next()
}

/// Until the process `pid` has exited (it is a zombie until the harness reaps it).
fn wait_exited(pid: libc::pid_t) {
    wait_until(
        &format!("process {pid} to exit"),
        TIMEOUT,
        || match proc_state(pid) {
            None | Some('Z' | 'X') => Ok(()),
            state => Err(format!("state {state:?}")),
        },
    );
}

fn stat(node: &Node, name: &str) -> i64 {
    node.info_int("stats", name)
}

fn sleep_until(at: Instant) {
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
}

/// With `--sync-replicas 1`, a write's reply waits for the replica, so the replica holds the
/// write once the client has `+OK`. A replica that hangs holds up writes, each until
/// `--repl-timeout`, and never a read: reads on other connections answer at once while another
/// connection's write is held.
pub fn sync_replicas_holds_writes_not_reads() {
    let primary = Node::start(
        Kind::Kv,
        Persist::None,
        &[
            "--sync-replicas",
            "1",
            "--repl-timeout",
            "3",
            "--threads",
            "2",
        ],
    );
    let replica = replica_of(&primary, Persist::None);
    wait_link_up(&replica, TIMEOUT);
    wait_online(&primary, 1);

    let mut client = primary.client();
    assert_eq!(client.cmd(&["SET", "a", "1"]), ok());
    assert_eq!(replica.client().cmd(&["GET", "a"]), bulk("1"), "at once");

    let frozen = Frozen::new(&replica);
    let writing = AtomicBool::new(true);
    let held = AtomicBool::new(true);
    let mut reader = primary.client();
    let mut background = primary.client();
    std::thread::scope(|s| {
        // A third connection writes all along; each of its writes is held too.
        let writer = s.spawn(|| {
            let mut replies = Vec::new();
            while writing.load(Ordering::Relaxed) && replies.len() < 100 {
                replies.push(background.cmd(&["SET", "w", "x"]));
            }
            replies
        });
        std::thread::sleep(Duration::from_millis(100));

        let started = Instant::now();
        assert_eq!(reader.cmd(&["GET", "a"]), bulk("1"));
        let read = started.elapsed();
        assert!(read < Duration::from_millis(500), "GET took {read:?}");

        // Reads go on answering at once while this connection's write is held.
        let reads = s.spawn(|| {
            let mut slowest = Duration::ZERO;
            let mut count = 0;
            while held.load(Ordering::Relaxed) {
                let started = Instant::now();
                assert_eq!(reader.cmd(&["GET", "a"]), bulk("1"));
                slowest = slowest.max(started.elapsed());
                count += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (slowest, count)
        });
        let started = Instant::now();
        let reply = client.cmd(&["SET", "b", "2"]);
        let waited = started.elapsed();
        held.store(false, Ordering::Relaxed);
        writing.store(false, Ordering::Relaxed);
        let (slowest, count) = reads.join().unwrap();

        assert_eq!(reply, Reply::Error(NOT_IN_TIME.into()));
        assert!(
            (Duration::from_millis(2_500)..Duration::from_secs(6)).contains(&waited),
            "the held SET answered after {waited:?}"
        );
        assert!(count >= 10, "only {count} reads while the SET was held");
        assert!(
            slowest < Duration::from_millis(500),
            "a GET took {slowest:?} while a write was held"
        );
        let replies = writer.join().unwrap();
        assert!(
            replies
                .iter()
                .all(|r| r == &Reply::Error(NOT_IN_TIME.into())
                    || r == &Reply::Error(NOT_ENOUGH.into())),
            "the writer's replies: {replies:?}"
        );
    });
    // Not acknowledged, but applied: the error says only that the replica did not confirm.
    assert_eq!(client.cmd(&["GET", "b"]), bulk("2"));
    frozen.thaw();
}

/// With `--sync-replicas 1` and no replica at all, a write is refused before it changes
/// anything; reads work.
pub fn sync_replicas_refuses_writes_without_replicas() {
    let primary = Node::start(Kind::Kv, Persist::None, &["--sync-replicas", "1"]);
    let mut client = primary.client();
    let started = Instant::now();
    assert_eq!(
        client.cmd(&["SET", "k", "v"]),
        Reply::Error(NOT_ENOUGH.into())
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    assert_eq!(client.cmd(&["GET", "k"]), Reply::Bulk(None));
    assert_eq!(client.cmd(&["EXISTS", "k"]), Reply::Int(0));
    assert_eq!(client.cmd(&["DBSIZE"]), Reply::Int(0));
}

/// `min-replicas-to-write` above the number of replicas refuses writes and changes nothing; at
/// the number of replicas it lets them through, and INFO counts the good replicas.
pub fn min_replicas_to_write() {
    let primary = Node::start(Kind::Kv, Persist::None, &[]);
    let replica = replica_of(&primary, Persist::None);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);
    wait_online(&primary, 1);
    let mut client = primary.client();
    assert_eq!(client.cmd(&["SET", "before", "1"]), ok());

    assert_eq!(
        client.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        ok()
    );
    assert_eq!(
        client.cmd(&["SET", "k", "v"]),
        Reply::Error(NOT_ENOUGH.into())
    );
    assert_eq!(
        client.cmd(&["DEL", "before"]),
        Reply::Error(NOT_ENOUGH.into())
    );
    assert_eq!(client.cmd(&["GET", "k"]), Reply::Bulk(None));
    assert_eq!(client.cmd(&["GET", "before"]), bulk("1"));
    assert_eq!(primary.info_int("replication", "min_slaves_good_slaves"), 1);

    assert_eq!(
        client.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
        ok()
    );
    assert_eq!(client.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(client.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(primary.info_int("replication", "min_slaves_good_slaves"), 1);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);
    assert_eq!(replica.client().cmd(&["GET", "k"]), bulk("v"));
}

/// `WAIT` answers the number of replicas that acknowledged, waiting its full timeout when fewer
/// than asked can, and leaves out a replica that hangs.
pub fn wait_counts_acknowledged_replicas() {
    let primary = Node::start(Kind::Kv, Persist::None, &[]);
    let a = replica_of(&primary, Persist::None);
    let b = replica_of(&primary, Persist::None);
    wait_offsets_equal(&primary, &[&a, &b], TIMEOUT);
    wait_online(&primary, 2);

    let mut client = primary.client();
    assert_eq!(client.cmd(&["SET", "k", "1"]), ok());
    assert_eq!(client.cmd(&["WAIT", "2", "2000"]), Reply::Int(2));

    let started = Instant::now();
    assert_eq!(client.cmd(&["WAIT", "3", "300"]), Reply::Int(2));
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(250)..Duration::from_secs(2)).contains(&waited),
        "WAIT 3 300 answered after {waited:?}"
    );

    let frozen = Frozen::new(&b);
    assert_eq!(client.cmd(&["SET", "k", "2"]), ok());
    let started = Instant::now();
    assert_eq!(client.cmd(&["WAIT", "2", "500"]), Reply::Int(1));
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(450)..Duration::from_secs(3)).contains(&waited),
        "WAIT 2 500 answered after {waited:?}"
    );
    assert_eq!(a.client().cmd(&["GET", "k"]), bulk("2"));
    frozen.thaw();
    assert_eq!(client.cmd(&["WAIT", "2", "5000"]), Reply::Int(2));
}

/// A replica with persistence shut down cleanly (`SHUTDOWN` snapshots and retires its log) and
/// restarted continues the stream where it stopped: one partial resync, no full one, and the
/// writes made while it was down reach it.
pub fn replica_restarted_after_clean_shutdown_continues() {
    let primary = Node::start(Kind::Kv, Persist::None, &["--repl-backlog-size", "64mb"]);
    crate::load::fill(primary.port, 61, 0, 2_000);
    let mut replica = replica_of(&primary, Persist::Resumable("everysec"));
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);
    crate::load::fill(primary.port, 62, 2_000, 2_000);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);

    let full = stat(&primary, "sync_full");
    let partial = stat(&primary, "sync_partial_ok");
    let pid = pid(&replica);
    // On success SHUTDOWN closes the connection without a reply.
    let reply = replica.client().try_cmd(&["SHUTDOWN"]);
    assert!(!matches!(reply, Ok(Reply::Error(_))), "SHUTDOWN: {reply:?}");
    wait_exited(pid);
    wait_until("the primary to drop its replica", TIMEOUT, || match primary
        .info_int("replication", "connected_slaves")
    {
        0 => Ok(()),
        n => Err(format!("{n} replicas")),
    });

    let mut client = primary.client();
    assert_eq!(client.cmd(&["SET", "while-down", "1"]), ok());
    crate::load::fill(primary.port, 63, 4_000, 1_000);
    replica.restart();
    assert_converged(&primary, &[&replica], TIMEOUT);
    assert_eq!(replica.client().cmd(&["GET", "while-down"]), bulk("1"));
    assert_eq!(
        (
            stat(&primary, "sync_full"),
            stat(&primary, "sync_partial_ok")
        ),
        (full, partial + 1),
        "(sync_full, sync_partial_ok): one partial resync and no full one"
    );
}

/// Reads exactly `want.len()` bytes from `stream` and compares them with `want`.
fn expect_bytes(stream: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0; want.len()];
    stream
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("waiting for {:?}: {e}", String::from_utf8_lossy(want)));
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

/// A client subscribed on a replica receives what is published on the primary.
pub fn publish_reaches_replica_subscribers() {
    let primary = Node::start(Kind::Kv, Persist::None, &[]);
    let replica = replica_of(&primary, Persist::None);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);

    let mut sub = TcpStream::connect(("127.0.0.1", replica.port)).unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
        .unwrap();
    expect_bytes(&mut sub, b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");

    // Nobody listens on the primary itself.
    let mut client = primary.client();
    assert_eq!(client.cmd(&["PUBLISH", "news", "hello"]), Reply::Int(0));
    expect_bytes(
        &mut sub,
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
    );
}

/// A replica whose clock passes a key's old deadline keeps the key when the primary had made
/// it persistent before that deadline: expiry is the primary's to decide. A key the primary let
/// expire is gone on the replica.
pub fn replica_keeps_keys_the_primary_still_has() {
    let primary = Node::start(Kind::Kv, Persist::None, &[]);
    let replica = replica_of(&primary, Persist::None);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);

    let mut client = primary.client();
    let set_at = Instant::now();
    let replies = client.pipeline(&[
        ["SET", "k", "v", "PX", "1500"],
        ["SET", "k2", "v", "PX", "300"],
    ]);
    assert_eq!(replies, [ok(), ok()]);
    wait_offsets_equal(&primary, &[&replica], TIMEOUT);
    let pttl = replica.client().cmd(&["PTTL", "k"]).int();
    assert!((1..=1500).contains(&pttl), "the replica's PTTL k: {pttl}");

    let frozen = Frozen::new(&replica);
    sleep_until(set_at + Duration::from_millis(500));
    assert_eq!(client.cmd(&["PERSIST", "k"]), Reply::Int(1));
    let persisted = set_at.elapsed();
    assert!(
        persisted < Duration::from_millis(1_200),
        "PERSIST {persisted:?} after the SET: too close to the deadline to tell"
    );
    sleep_until(set_at + Duration::from_secs(2));
    assert_eq!(client.cmd(&["GET", "k2"]), Reply::Bulk(None), "k2 expired");
    frozen.thaw();

    wait_offsets_equal(&primary, &[&replica], TIMEOUT);
    let mut c = replica.client();
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(c.cmd(&["PTTL", "k"]), Reply::Int(-1));
    assert_eq!(c.cmd(&["GET", "k2"]), Reply::Bulk(None));
    assert_eq!(c.cmd(&["EXISTS", "k2"]), Reply::Int(0));
}

/// A replica promoted with `REPLICAOF NO ONE` keeps its former primary's history under its
/// second id: a sibling pointed at it continues with a partial resync, and the old primary, the
/// sibling and the new primary end with the same content.
pub fn promoted_replica_keeps_history() {
    // No pings from P, so that its offset does not move between the replicas' catching up and
    // the promotion.
    let p = Node::start(
        Kind::Kv,
        Persist::None,
        &["--repl-ping-replica-period", "3600"],
    );
    crate::load::fill(p.port, 81, 0, 3_000);
    let a = replica_of(&p, Persist::None);
    let b = replica_of(&p, Persist::None);
    crate::load::fill(p.port, 82, 3_000, 1_000);
    wait_offsets_equal(&p, &[&a, &b], TIMEOUT);

    let old_replid = p.info_field("replication", "master_replid");
    let old_offset = p.info_int("replication", "master_repl_offset");
    assert_eq!(a.info_int("replication", "master_repl_offset"), old_offset);
    assert_eq!(a.client().cmd(&["REPLICAOF", "NO", "ONE"]), ok());
    assert_eq!(a.info_field("replication", "role"), "master");
    assert_eq!(a.info_field("replication", "master_replid2"), old_replid);
    assert_ne!(a.info_field("replication", "master_replid"), old_replid);
    assert_eq!(
        a.info_int("replication", "second_repl_offset"),
        old_offset + 1
    );

    b.replicate(&a);
    wait_link_up(&b, TIMEOUT);
    assert_eq!(
        (stat(&a, "sync_full"), stat(&a, "sync_partial_ok")),
        (0, 1),
        "(sync_full, sync_partial_ok) on A after B joined it"
    );
    p.replicate(&a);
    wait_link_up(&p, TIMEOUT);
    assert!(stat(&a, "sync_partial_ok") >= 1);

    let mut client = a.client();
    assert_eq!(client.cmd(&["SET", "after", "promotion"]), ok());
    crate::load::fill(a.port, 83, 4_000, 1_000);
    let content = assert_converged(&a, &[&b, &p], TIMEOUT);
    // One key in thirty of the load expires within seconds.
    assert!(content.len() > 4_500, "only {} keys", content.len());
    assert_eq!(p.client().cmd(&["GET", "after"]), bulk("promotion"));
    assert_eq!(b.client().cmd(&["GET", "after"]), bulk("promotion"));
}

/// A primary with `--repl-diskless-sync no` writes the RDB to a file and sends it with its
/// length (`$<len>`), sending a newline every second meanwhile: a kv replica and a Redis replica
/// both take it, while writes go on, and end with the primary's content.
pub fn disk_based_full_sync() {
    let primary = Node::start(Kind::Kv, Persist::None, &["--repl-diskless-sync", "no"]);
    crate::load::fill(primary.port, 61, 0, 30_000);
    let writer = crate::load::Writer::start(primary.port, 62, 40_000, 5_000);
    let kv = replica_of(&primary, Persist::None);
    let redis = Node::start(Kind::Redis, Persist::None, &[]);
    redis.replicate(&primary);
    wait_link_up(&kv, TIMEOUT);
    wait_link_up(&redis, TIMEOUT);
    crate::load::fill(primary.port, 63, 30_000, 5_000);
    writer.finish();
    assert_converged(&primary, &[&kv, &redis], TIMEOUT);
    assert!(
        primary.log().contains("bytes)"),
        "the primary did not send a file: {}",
        primary.log()
    );
}
