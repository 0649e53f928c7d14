//! Transactions across workers: an EXEC is never seen half done by a client on another worker,
//! and WATCH catches writes made on any worker, so optimistic increments lose nothing.

use crate::TestServer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A server with four workers: the clients below land on different ones.
fn server() -> TestServer {
    let mut config = kv_std::config::Config::local();
    config.threads = 4;
    TestServer::with(config)
}

fn connect(s: &TestServer) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", s.addr))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Four clients add one to `a` and to `b` in each EXEC while another reads both in one MGET:
/// the two are always equal.
#[test]
fn an_exec_is_never_seen_half_done_from_another_connection() {
    let s = server();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (mut con, stop) = (connect(&s), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let (a, b): (Option<i64>, Option<i64>) = redis::cmd("MGET")
                    .arg("a")
                    .arg("b")
                    .query(&mut con)
                    .unwrap();
                assert_eq!(a, b, "an EXEC was seen half done");
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let mut con = connect(&s);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let (a, b): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("a", 1)
                        .incr("b", 1)
                        .query(&mut con)
                        .unwrap();
                    assert!(a > 0 && b > 0);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let mut con = connect(&s);
    let (a, b): (i64, i64) = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (800, 800));
}

/// Eight clients increment one key the optimistic way (WATCH, GET, MULTI, SET, EXEC, again on
/// a null reply): the final value counts exactly the EXECs that succeeded.
#[test]
fn watch_catches_writes_from_every_worker() {
    let s = server();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let mut con = connect(&s);
            std::thread::spawn(move || {
                let (mut done, mut aborted) = (0, 0);
                while done < 100 {
                    let () = redis::cmd("WATCH").arg("n").query(&mut con).unwrap();
                    let n: Option<i64> = redis::cmd("GET").arg("n").query(&mut con).unwrap();
                    let got: Option<(String,)> = redis::pipe()
                        .atomic()
                        .set("n", n.unwrap_or(0) + 1)
                        .query(&mut con)
                        .unwrap();
                    match got {
                        Some(_) => done += 1,
                        None => aborted += 1,
                    }
                }
                aborted
            })
        })
        .collect();
    let aborted: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let mut con = connect(&s);
    let n: i64 = redis::cmd("GET").arg("n").query(&mut con).unwrap();
    assert_eq!(
        n, 800,
        "an increment was lost ({aborted} EXECs aborted and retried)"
    );
}

/// Writers MSET two keys to the same new value and RENAME a key back and forth while readers
/// MGET them: a reader never sees the pair unequal, nor the renamed key in both places or in
/// neither.
#[test]
fn mset_and_rename_are_never_seen_half_done() {
    let s = server();
    let mut setup = connect(&s);
    let () = redis::cmd("MSET")
        .arg(&["x", "0", "y", "0", "left", "v"])
        .query(&mut setup)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (mut con, stop) = (connect(&s), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (x, y): (String, String) = redis::cmd("MGET")
                        .arg("x")
                        .arg("y")
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(x, y, "an MSET was seen half done");
                    let (l, r): (Option<String>, Option<String>) = redis::cmd("MGET")
                        .arg("left")
                        .arg("right")
                        .query(&mut con)
                        .unwrap();
                    assert!(
                        l.is_some() != r.is_some(),
                        "a RENAME was seen half done: {l:?} {r:?}"
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let setter = {
        let mut con = connect(&s);
        std::thread::spawn(move || {
            for i in 1..=2000 {
                let v = i.to_string();
                let () = redis::cmd("MSET")
                    .arg(&["x", &v, "y", &v])
                    .query(&mut con)
                    .unwrap();
            }
        })
    };
    let renamer = {
        let mut con = connect(&s);
        std::thread::spawn(move || {
            for i in 0..2000 {
                let (from, to) = if i % 2 == 0 {
                    ("left", "right")
                } else {
                    ("right", "left")
                };
                let () = redis::cmd("RENAME")
                    .arg(from)
                    .arg(to)
                    .query(&mut con)
                    .unwrap();
            }
        })
    };
    setter.join().unwrap();
    renamer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}
