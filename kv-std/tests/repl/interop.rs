//! The server under test replicating with redis-server both ways, and redis-cli's replication
//! modes (`--rdb`, `--replica`) against it as a primary.

use crate::converge::{assert_converged, wait_link_up, wait_until};
use crate::load::{self, Writer};
use crate::node::{Kind, Node, Persist};
use crate::resp::Reply;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Fills `primary`, attaches `replica` while a writer goes on, and checks both end identical.
fn replicate_under_writes(primary: &Node, replica: &Node) {
    load::fill(primary.port, 11, 0, 20_000);
    let writer = Writer::start(primary.port, 12, 30_000, 10_000);
    replica.replicate(primary);
    load::fill(primary.port, 13, 20_000, 10_000);
    wait_link_up(replica, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    writer.finish();
    assert_converged(primary, &[replica], TIMEOUT);
}

/// redis-server as a replica of the server under test.
pub fn redis_replica_with(kind: Kind) {
    let primary = Node::start(kind, Persist::None, &[]);
    let replica = Node::redis(&[]);
    replicate_under_writes(&primary, &replica);
}

/// The server under test as a replica of redis-server.
pub fn redis_primary_with(kind: Kind) {
    let primary = Node::redis(&[]);
    let replica = Node::start(kind, Persist::None, &[]);
    replicate_under_writes(&primary, &replica);
}

/// A child process killed when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends each line of `from` into a channel, from a thread of its own.
fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one contains `needle`, ignoring case (a primary propagates a command
/// in the case its client sent it); panics with the lines seen after `timeout`.
fn expect_line(rx: &mpsc::Receiver<String>, needle: &str, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.to_lowercase().contains(&needle.to_lowercase()) => return,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} within {timeout:?}; saw {seen:#?}");
}

/// `redis-cli --rdb` saves a file `redis-check-rdb` accepts, holding every key; `redis-cli
/// --replica` prints a SET issued on the primary.
pub fn redis_cli_with(kind: Kind) {
    let primary = Node::start(kind, Persist::None, &[]);
    let mut client = primary.client();
    // Known counts: 2000 keys, 500 of them with a deadline far away.
    for chunk in (0..2000).collect::<Vec<u32>>().chunks(500) {
        let commands: Vec<Vec<String>> = chunk
            .iter()
            .map(|i| {
                let mut c = vec!["SET".into(), format!("cli:{i}"), format!("value {i}")];
                if i % 4 == 0 {
                    c.extend(["EX".into(), "10000".into()]);
                }
                c
            })
            .collect();
        for r in client.pipeline(&commands) {
            assert_eq!(r, Reply::Status("OK".into()));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.rdb");
    let out = Command::new("timeout")
        .args(["60", "redis-cli", "-p", &primary.port.to_string(), "--rdb"])
        .arg(&file)
        .output()
        .expect("run redis-cli");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "redis-cli --rdb: {said}");
    let out = Command::new("timeout")
        .args(["60", "redis-check-rdb"])
        .arg(&file)
        .output()
        .expect("run redis-check-rdb");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-rdb: {said}");
    assert!(said.contains("RDB looks OK"), "{said}");
    assert!(said.contains("[info] 2000 keys read"), "{said}");
    assert!(said.contains("[info] 500 expires"), "{said}");

    let mut cli = Reaped(
        Command::new("redis-cli")
            .args(["-p", &primary.port.to_string(), "--replica"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start redis-cli --replica"),
    );
    let stdout = lines(cli.0.stdout.take().unwrap());
    let stderr = lines(cli.0.stderr.take().unwrap());
    expect_line(
        &stderr,
        "Logging commands from master",
        Duration::from_secs(20),
    );
    assert_eq!(
        client.cmd(&["SET", "seen-by-replica", "yes"]),
        Reply::Status("OK".into())
    );
    expect_line(
        &stdout,
        r#""set","seen-by-replica","yes""#,
        Duration::from_secs(20),
    );
    drop(cli);
    // The primary takes the end of redis-cli's link in its stride.
    wait_until("the primary to drop redis-cli", TIMEOUT, || {
        match primary.info_int("replication", "connected_slaves") {
            0 => Ok(()),
            n => Err(format!("{n} replicas")),
        }
    });
    assert_eq!(client.cmd(&["DBSIZE"]), Reply::Int(2001));
}
