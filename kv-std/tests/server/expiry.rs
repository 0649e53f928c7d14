//! Keys expire: hidden once their deadline passes, removed by the active cycle when nobody reads
//! them, and counted in INFO.

use crate::{Connect, TestServer};
use redis::Commands;
use std::time::{Duration, Instant};

fn client(s: &TestServer) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", s.addr))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The value of `field` in an INFO reply.
fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text:?}"))
        .to_string()
}

/// Waits up to `limit` for `done`, polling.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

#[test]
fn a_key_set_with_px_100_is_gone_for_get_once_its_deadline_passes() {
    let s = TestServer::start();
    let mut c = s.connect();
    let set_at = Instant::now();
    c.expect(b"SET k v PX 100\r\n", b"+OK\r\n");
    c.expect(b"GET k\r\n", b"$1\r\nv\r\n");
    let mut con = client(&s);
    eventually(Duration::from_secs(5), || {
        con.get::<_, Option<String>>("k").unwrap().is_none()
    });
    assert!(
        set_at.elapsed() >= Duration::from_millis(100),
        "not before its deadline"
    );
    c.expect(b"GET k\r\n", b"$-1\r\n");
    c.expect(b"TTL k\r\n", b":-2\r\n");
    c.expect(b"EXISTS k\r\n", b":0\r\n");
}

#[test]
fn the_active_cycle_removes_expired_keys_nobody_reads() {
    let s = TestServer::start();
    let mut con = client(&s);
    let mut pipe = redis::pipe();
    for i in 0..2_000 {
        pipe.cmd("SET")
            .arg(format!("short:{i}"))
            .arg("v")
            .arg("PX")
            .arg(1_000 + i % 50)
            .ignore();
    }
    for i in 0..10 {
        pipe.set(format!("lasting:{i}"), "v").ignore();
        pipe.cmd("SET")
            .arg(format!("later:{i}"))
            .arg("v")
            .arg("EX")
            .arg(1_000)
            .ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let line = info_field(&mut con, "keyspace", "db0");
    assert!(
        line.starts_with("keys=2020,expires=2010,avg_ttl="),
        "{line}"
    );
    // Nobody reads them: only the active cycle can remove them.
    eventually(Duration::from_secs(10), || {
        redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap() == 20
    });
    let line = info_field(&mut con, "keyspace", "db0");
    let avg: u64 = line
        .strip_prefix("keys=20,expires=10,avg_ttl=")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert!((900_000..=1_000_000).contains(&avg), "{avg}");
    assert_eq!(info_field(&mut con, "stats", "expired_keys"), "2000");
    let stale: f64 = info_field(&mut con, "stats", "expired_stale_perc")
        .parse()
        .unwrap();
    assert!((0.0..=100.0).contains(&stale));
    let capped = info_field(&mut con, "stats", "expired_time_cap_reached_count");
    assert!(capped.parse::<u64>().is_ok(), "{capped}");
}

#[test]
fn reads_count_hits_and_misses_and_an_empty_keyspace_has_no_line() {
    let s = TestServer::start();
    let mut con = client(&s);
    let text: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert_eq!(text, "# Keyspace\r\n");
    let () = con.set("k", "v").unwrap();
    let _: Option<String> = con.get("k").unwrap();
    let _: Option<String> = con.get("missing").unwrap();
    let _: Vec<Option<String>> = redis::cmd("MGET")
        .arg("k")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert_eq!(info_field(&mut con, "stats", "keyspace_hits"), "2");
    assert_eq!(info_field(&mut con, "stats", "keyspace_misses"), "2");
    assert_eq!(
        info_field(&mut con, "keyspace", "db0"),
        "keys=1,expires=0,avg_ttl=0"
    );
}

#[test]
fn deadlines_read_back_exactly_and_relative_times_count_from_now() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(b"SET k v PXAT 4102444800123\r\n", b"+OK\r\n");
    c.expect(b"PEXPIRETIME k\r\n", b":4102444800123\r\n");
    c.expect(b"EXPIRETIME k\r\n", b":4102444800\r\n");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut con = client(&s);
    let () = redis::cmd("SET")
        .arg("r")
        .arg("v")
        .arg("PX")
        .arg(60_000)
        .query(&mut con)
        .unwrap();
    let at: i64 = redis::cmd("PEXPIRETIME").arg("r").query(&mut con).unwrap();
    assert!((now + 60_000 - 1_000..=now + 61_000).contains(&at), "{at}");
    let pttl: i64 = redis::cmd("PTTL").arg("r").query(&mut con).unwrap();
    assert!((59_000..=60_000).contains(&pttl), "{pttl}");
}
