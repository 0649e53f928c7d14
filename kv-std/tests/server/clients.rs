//! A real Redis client library (the `redis` crate) against the server, unchanged.

use crate::TestServer;
use redis::Commands;
use std::collections::HashSet;

fn client(s: &TestServer) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", s.addr))
        .expect("url")
        .get_connection()
        .expect("connect")
}

#[test]
fn the_redis_crate_sets_gets_and_deletes() {
    let s = TestServer::start();
    let mut con = client(&s);
    let () = con.set("user1", "John Doe").unwrap();
    let v: String = con.get("user1").unwrap();
    assert_eq!(v, "John Doe");
    let missing: Option<String> = con.get("nobody").unwrap();
    assert_eq!(missing, None);
    let n: i64 = con.del(&["user1", "nobody"]).unwrap();
    assert_eq!(n, 1);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let binary: Vec<u8> = (0..=255u8).collect();
    let () = con
        .set(b"bin\x00key".as_slice(), binary.as_slice())
        .unwrap();
    let back: Vec<u8> = con.get(b"bin\x00key".as_slice()).unwrap();
    assert_eq!(back, binary);
}

#[test]
fn pipelines_answer_in_order() {
    let s = TestServer::start();
    let mut con = client(&s);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("k{i}"), i).ignore();
    }
    for i in 0..1000 {
        pipe.get(format!("k{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<_>>());
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 1000);
}

#[test]
fn scan_returns_every_key_while_writes_continue() {
    let s = TestServer::start();
    let mut con = client(&s);
    let stable: HashSet<String> = (0..3000).map(|i| format!("stable:{i}")).collect();
    for k in &stable {
        let () = con.set(k, "v").unwrap();
    }
    // A second client keeps inserting and deleting while the scan runs.
    let addr = s.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut con = redis::Client::open(format!("redis://{addr}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 200_000 {
                let () = con.set(format!("churn:{}", i % 20_000), i).unwrap();
                if i.is_multiple_of(3) {
                    let _: i64 = con.del(format!("churn:{}", (i / 3) % 20_000)).unwrap();
                }
                i += 1;
            }
        })
    };
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("stable:*")
            .arg("COUNT")
            .arg(50)
            .query(&mut con)
            .unwrap();
        seen.extend(keys);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        stable.is_subset(&seen),
        "{} stable keys missed",
        stable.difference(&seen).count()
    );
    assert!(seen.iter().all(|k| k.starts_with("stable:")));
}

#[test]
fn keys_and_info_through_the_client() {
    let s = TestServer::start();
    let mut con = client(&s);
    let () = con.set("a:1", 1).unwrap();
    let () = con.set("a:2", 2).unwrap();
    let () = con.set("b:1", 3).unwrap();
    let mut keys: Vec<String> = con.keys("a:*").unwrap();
    keys.sort();
    assert_eq!(keys, ["a:1", "a:2"]);
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(info.contains("db0:keys=3,expires=0,avg_ttl=0"), "{info}");
}
