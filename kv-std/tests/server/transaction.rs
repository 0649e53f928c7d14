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

/// Four clients increment one key the optimistic way (WATCH, GET, MULTI, SET, EXEC, again on
/// a null reply): the final value counts exactly the EXECs that succeeded.
#[test]
fn watch_catches_writes_from_every_worker() {
    let s = server();
    let clients: Vec<_> = (0..4)
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
        n, 400,
        "an increment was lost ({aborted} EXECs aborted and retried)"
    );
}
