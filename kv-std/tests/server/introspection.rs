//! The server's view of itself over real sockets: the slow log, MONITOR across workers and its
//! output limit, INFO's command counts from several clients, CONFIG SET timeout at run time, and
//! CONFIG REWRITE into the file the server was started with.

use crate::{Connect, TestServer};
use kv_std::config::{Args, Config};
use redis::Value;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn client(s: &TestServer) -> redis::Connection {
    redis::Client::open(format!("redis://{}/", s.addr))
        .expect("url")
        .get_connection()
        .expect("connect")
}

fn cmd(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Okay => "OK".into(),
        other => panic!("not text: {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let info = text(&cmd(con, &["INFO", section]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(str::to_string)
}

#[test]
fn a_threshold_of_zero_logs_every_command_with_its_client() {
    let s = TestServer::start();
    let mut con = client(&s);
    cmd(&mut con, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    cmd(&mut con, &["SLOWLOG", "RESET"]);
    cmd(&mut con, &["CLIENT", "SETNAME", "slow"]);
    cmd(&mut con, &["SET", "k", &"v".repeat(200)]);
    // Refused (no password is set), and logged all the same.
    assert!(redis::cmd("AUTH")
        .arg("secret")
        .query::<Value>(&mut con)
        .is_err());
    let log = cmd(&mut con, &["SLOWLOG", "GET"]);
    let entries = items(&log);
    // Newest first: the refused AUTH, SET, CLIENT SETNAME, SLOWLOG RESET.
    assert_eq!(entries.len(), 4, "{log:?}");
    let fields = items(&entries[1]);
    let args: Vec<String> = items(&fields[3]).iter().map(text).collect();
    assert_eq!(args[..2], ["SET", "k"]);
    assert_eq!(args[2], format!("{}... (72 more bytes)", "v".repeat(128)));
    assert!(int(&fields[2]) >= 0);
    let local = con_addr(&s, &mut con);
    assert_eq!(text(&fields[4]), local);
    assert_eq!(text(&fields[5]), "slow");
    let auth: Vec<String> = items(&items(&entries[0])[3]).iter().map(text).collect();
    assert_eq!(auth, ["AUTH", "(redacted)"]);
    assert!(int(&items(&entries[0])[0]) > int(&fields[0]));
    // The four, then SLOWLOG GET and CLIENT INFO.
    assert_eq!(int(&cmd(&mut con, &["SLOWLOG", "LEN"])), 6);
}

/// The address the server sees `con` connect from, from CLIENT INFO.
fn con_addr(_s: &TestServer, con: &mut redis::Connection) -> String {
    let info = text(&cmd(con, &["CLIENT", "INFO"]));
    info.split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr")
        .to_string()
}

#[test]
fn only_commands_slower_than_the_threshold_are_logged() {
    let s = TestServer::start();
    let mut con = client(&s);
    cmd(
        &mut con,
        &["CONFIG", "SET", "slowlog-log-slower-than", "50000"],
    );
    cmd(&mut con, &["SLOWLOG", "RESET"]);
    cmd(&mut con, &["PING"]);
    cmd(&mut con, &["DEBUG", "SLEEP", "0.1"]);
    let log = cmd(&mut con, &["SLOWLOG", "GET"]);
    let entries = items(&log);
    assert_eq!(entries.len(), 1, "{log:?}");
    let fields = items(&entries[0]);
    assert!(int(&fields[2]) >= 100_000, "{log:?}");
    let args: Vec<String> = items(&fields[3]).iter().map(text).collect();
    assert_eq!(args, ["DEBUG", "SLEEP", "0.1"]);
}

/// Reads what has arrived on `conn` within `wait`, until `done` says it is enough.
fn read_until(conn: &mut crate::Conn, wait: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    conn.stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while Instant::now() < deadline && !done(&String::from_utf8_lossy(&seen)) {
        let mut buf = [0u8; 4096];
        match conn.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn a_monitor_sees_the_commands_of_clients_on_other_workers() {
    // Two workers: connections are handed to them in turn, so the monitor and the client are
    // served by different threads.
    let s = TestServer::start();
    let mut monitor = s.connect();
    monitor.expect(b"MONITOR\r\n", b"+OK\r\n");
    let mut con = client(&s);
    let addr = con_addr(&s, &mut con);
    cmd(&mut con, &["SET", "k", "a \"b\"\n"]);
    cmd(&mut con, &["GET", "k"]);
    let _ = redis::cmd("AUTH").arg("pw").query::<Value>(&mut con);
    cmd(&mut con, &["CONFIG", "GET", "maxmemory"]);
    let lines = read_until(&mut monitor, Duration::from_secs(10), |t| {
        t.contains("\"auth\"") || t.contains("\"AUTH\"")
    });
    let lines: Vec<&str> = lines.split("\r\n").filter(|l| !l.is_empty()).collect();
    let ours: Vec<&str> = lines
        .iter()
        // The client library's own CLIENT SETINFO calls aside.
        .filter(|l| l.contains(&format!("[0 {addr}]")) && !l.contains("SETINFO"))
        .map(|l| l.split_once("] ").unwrap().1)
        .collect();
    assert_eq!(
        ours,
        [
            r#""CLIENT" "INFO""#,
            r#""SET" "k" "a \"b\"\n""#,
            r#""GET" "k""#,
            r#""AUTH" "(redacted)""#
        ],
        "{lines:?}"
    );
    for line in &lines {
        let (time, _) = line.strip_prefix('+').unwrap().split_once(' ').unwrap();
        let (secs, micros) = time.split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000 && micros.len() == 6);
    }
    // The monitor's close ends its feed.
    drop(monitor);
    cmd(&mut con, &["PING"]);
}

#[test]
fn a_monitor_sees_native_protocol_requests_as_the_commands_they_stand_for() {
    let s = TestServer::start();
    let mut monitor = s.connect();
    monitor.expect(b"MONITOR\r\n", b"+OK\r\n");
    let mut native = kv_std::client::Client::new(kv_std::client::ClientConfig::new(
        s.addr.ip().to_string(),
        s.addr.port(),
    ));
    native.put(b"nk", b"nv").unwrap();
    assert_eq!(native.get(b"nk").unwrap().as_deref(), Some(&b"nv"[..]));
    assert!(native.delete(b"nk").unwrap());
    let lines = read_until(&mut monitor, Duration::from_secs(10), |t| {
        t.contains("\"del\"")
    });
    let commands: Vec<&str> = lines
        .split("\r\n")
        .filter_map(|l| l.split_once("] ").map(|(_, args)| args))
        .collect();
    assert_eq!(
        commands,
        [r#""set" "nk" "nv""#, r#""get" "nk""#, r#""del" "nk""#],
        "{lines}"
    );
}

#[test]
fn a_monitor_that_does_not_read_is_disconnected_at_its_output_limit() {
    let s = TestServer::start();
    let mut con = client(&s);
    cmd(
        &mut con,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 256kb 0 0",
        ],
    );
    let mut monitor = s.connect();
    monitor.expect(b"MONITOR\r\n", b"+OK\r\n");
    let value = "x".repeat(64 * 1024);
    let start = Instant::now();
    let disconnected = || {
        info_field(
            &mut client(&s),
            "stats",
            "client_output_buffer_limit_disconnections",
        )
    };
    // More than the socket buffers and the limit hold, unless the monitor is closed.
    while disconnected().as_deref() == Some("0") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never disconnected"
        );
        let mut pipe = redis::pipe();
        for _ in 0..64 {
            pipe.cmd("SET").arg("k").arg(&value).ignore();
        }
        let () = pipe.query(&mut con).unwrap();
    }
    // Whatever was written before the close, the connection then ends.
    monitor
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = Vec::new();
    let _ = monitor.stream.read_to_end(&mut sink);
    let clients = text(&cmd(&mut con, &["CLIENT", "LIST"]));
    assert!(!clients.contains("flags=O"), "{clients}");
}

#[test]
fn commandstats_add_up_the_calls_of_every_client() {
    let s = TestServer::start();
    let mut admin = client(&s);
    cmd(&mut admin, &["CONFIG", "RESETSTAT"]);
    let mut clients: Vec<redis::Connection> = (0..3).map(|_| client(&s)).collect();
    for con in &mut clients {
        cmd(con, &["SET", "k", "1"]);
        cmd(con, &["GET", "k"]);
        assert!(redis::cmd("GET").query::<Value>(con).is_err());
        assert!(redis::cmd("EXPIRE")
            .arg("k")
            .arg("x")
            .query::<Value>(con)
            .is_err());
    }
    let info = text(&cmd(&mut admin, &["INFO", "commandstats"]));
    let line = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    let counts = |l: String| {
        l.split([':', ','])
            .filter(|f| !f.starts_with("usec"))
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(
        counts(line("get")),
        "cmdstat_get,calls=3,rejected_calls=3,failed_calls=0"
    );
    assert_eq!(
        counts(line("set")),
        "cmdstat_set,calls=3,rejected_calls=0,failed_calls=0"
    );
    assert_eq!(
        counts(line("expire")),
        "cmdstat_expire,calls=3,rejected_calls=0,failed_calls=3"
    );
    assert_eq!(
        counts(line("config|resetstat")),
        "cmdstat_config|resetstat,calls=1,rejected_calls=0,failed_calls=0"
    );
    let errors = text(&cmd(&mut admin, &["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_ERR:count=6"), "{errors}");
    assert_eq!(
        info_field(&mut admin, "stats", "total_error_replies").as_deref(),
        Some("6")
    );
}

#[test]
fn a_write_refused_for_memory_is_a_rejected_call() {
    let mut config = Config::local();
    config.storage.table.max_memory = 1 << 20;
    let s = TestServer::with(config);
    let mut con = client(&s);
    cmd(&mut con, &["CONFIG", "RESETSTAT"]);
    let value = "v".repeat(1000);
    let mut stored = 0;
    while redis::cmd("SET")
        .arg(format!("k{stored}"))
        .arg(&value)
        .query::<Value>(&mut con)
        .is_ok()
    {
        stored += 1;
        assert!(stored < 10_000, "1 MiB never filled");
    }
    let info = text(&cmd(&mut con, &["INFO", "commandstats"]));
    let set = info
        .lines()
        .find(|l| l.starts_with("cmdstat_set:"))
        .unwrap();
    assert!(
        set.starts_with(&format!("cmdstat_set:calls={stored},"))
            && set.ends_with(",rejected_calls=1,failed_calls=0"),
        "{set}"
    );
    let errors = text(&cmd(&mut con, &["INFO", "errorstats"]));
    assert!(errors.contains("errorstat_OOM:count=1"), "{errors}");
}

#[test]
fn a_timeout_set_at_run_time_closes_idle_clients() {
    let s = TestServer::start();
    let mut idle = s.connect();
    idle.expect(b"PING\r\n", b"+PONG\r\n");
    let mut con = client(&s);
    cmd(&mut con, &["CONFIG", "SET", "timeout", "1"]);
    idle.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let start = Instant::now();
    idle.expect_closed();
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[test]
fn config_rewrite_writes_the_file_the_server_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.conf");
    std::fs::write(
        &path,
        "# kv for the test\nmaxmemory 1gb\nsome-redis-setting yes\nthreads 2\nreserve 1gb\n\
         no-persist yes\nport 0\n",
    )
    .unwrap();
    let start = || {
        let (args, ignored) = Args::parse_with_file(["kv-server", path.to_str().unwrap()]).unwrap();
        assert_eq!(ignored, ["some-redis-setting yes"]);
        TestServer::with(Config::from_args(&args).unwrap())
    };
    let s = start();
    let mut con = client(&s);
    assert_eq!(
        text(&items(&cmd(&mut con, &["CONFIG", "GET", "maxmemory"]))[1]),
        (1u64 << 30).to_string()
    );
    cmd(
        &mut con,
        &["CONFIG", "SET", "maxmemory", "2mb", "slowlog-max-len", "7"],
    );
    assert_eq!(text(&cmd(&mut con, &["CONFIG", "REWRITE"])), "OK");
    let config_file = info_field(&mut con, "server", "config_file").unwrap();
    assert_eq!(config_file, path.display().to_string());
    drop(con);
    drop(s);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        "# kv for the test\nmaxmemory 2mb\nsome-redis-setting yes\nthreads 2\nreserve 1gb\n\
         no-persist yes\nport 0\n# Generated by CONFIG REWRITE\nslowlog-max-len 7\n"
    );
    let s = start();
    let mut con = client(&s);
    let got = cmd(&mut con, &["CONFIG", "GET", "maxmemory", "slowlog-max-len"]);
    let got: Vec<String> = items(&got).iter().map(text).collect();
    assert_eq!(got, ["maxmemory", "2097152", "slowlog-max-len", "7"]);
}

#[test]
fn config_rewrite_without_a_file_is_redis_error() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(
        b"CONFIG REWRITE\r\n",
        b"-ERR The server is running without a config file\r\n",
    );
    c.stream.write_all(b"TIME\r\n").unwrap();
    let reply = c.read_exact(4);
    assert_eq!(&reply, b"*2\r\n");
}

/// The loop KV_IO asks for is the one that serves (INFO's `multiplexing_api`): the test matrix
/// runs this suite once with each, and this shows that each run is on the loop it names.
#[test]
fn the_workers_run_the_io_loop_asked_for() {
    let s = TestServer::start();
    let mut con = client(&s);
    let info = text(&cmd(&mut con, &["INFO", "server"]));
    let api = info
        .lines()
        .find_map(|l| l.strip_prefix("multiplexing_api:"))
        .expect("multiplexing_api in INFO server");
    match std::env::var("KV_IO").as_deref() {
        Ok("uring") => assert_eq!(api, "io_uring"),
        Ok("epoll") => assert_eq!(api, "epoll"),
        _ => assert!(api == "io_uring" || api == "epoll", "{api}"),
    }
    // Values from empty to past one receive buffer (16 KiB) arrive whole and go back whole.
    for n in 0..100 {
        assert_eq!(
            text(&cmd(
                &mut con,
                &["SET", &format!("k{n}"), &"v".repeat(n * 300)]
            )),
            "OK"
        );
    }
    for n in 0..100 {
        assert_eq!(
            text(&cmd(&mut con, &["GET", &format!("k{n}")])),
            "v".repeat(n * 300)
        );
    }
}
