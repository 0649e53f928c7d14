//! `--busy-poll`: a worker polls instead of sleeping while requests keep coming, and sleeps
//! once they stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Killed;

/// CPU time the process has used so far (user + system), from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Starts kv-server with `extra` flags; returns it and a connected client.
fn start(extra: &[&str]) -> (Killed, TcpStream) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args(["--port", &port.to_string(), "--threads", "1"])
            .args(["--reserve", "1gb", "--no-persist", "--log-level", "error"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kv-server starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("kv-server did not listen: {e}"),
        }
    };
    (server, client)
}

/// Sends a PING every millisecond for `span`, checking each reply; returns the server's CPU
/// time over that span.
fn ping_every_millisecond(server: &Killed, client: &mut TcpStream, span: Duration) -> Duration {
    let before = cpu_time(server.0.id());
    let end = Instant::now() + span;
    let mut reply = [0u8; 7];
    while Instant::now() < end {
        client.write_all(b"PING\r\n").unwrap();
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(1));
    }
    cpu_time(server.0.id()) - before
}

#[test]
fn busy_poll_spins_between_close_requests_and_sleeps_when_idle() {
    let span = Duration::from_millis(600);
    let (plain, mut plain_client) = start(&[]);
    let sleeping = ping_every_millisecond(&plain, &mut plain_client, span);
    drop(plain);

    // A 5 ms window: with a request every millisecond or so, the worker never sleeps.
    let (polling, mut client) = start(&["--busy-poll", "5000"]);
    let busy = ping_every_millisecond(&polling, &mut client, span);
    // On an idle machine the polling worker takes most of a core; on a loaded one it gets less,
    // but still many times what the sleeping one takes.
    assert!(
        busy >= Duration::from_millis(100) && busy > sleeping * 5,
        "polling worker used {busy:?} of CPU in {span:?}, a sleeping one {sleeping:?}"
    );

    // Once requests stop, the window closes and the worker sleeps.
    std::thread::sleep(Duration::from_millis(100));
    let before = cpu_time(polling.0.id());
    std::thread::sleep(span);
    let idle = cpu_time(polling.0.id()) - before;
    assert!(
        idle <= Duration::from_millis(40),
        "idle server used {idle:?} of CPU in {span:?}"
    );
}

#[test]
fn busy_poll_is_bounded() {
    let out = Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(["--busy-poll", "100001"])
        .output()
        .expect("kv-server runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--busy-poll"), "stderr: {err}");
}
