//! The `kv-server` binary: flags, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Killed;

#[test]
fn help_documents_the_defaults() {
    let out = Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--bind",
        "[default: 127.0.0.1]",
        "--port",
        "[default: 7878]",
        "--threads",
        "--maxmemory",
        "--max-clients",
        "--log-level",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(["--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kv-server: --threads must be at least 1\n"
    );
}

#[test]
fn sigterm_answers_what_was_sent_and_exits_0() {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args([
                "--port",
                "0",
                "--reserve",
                "1gb",
                "--log-level",
                "info",
                "--no-persist",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The startup line names the port the kernel chose.
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(':').take(2).collect::<Vec<_>>().join(":").into())
        .expect("startup line names the address");
    assert!(
        line.contains("worker threads") && line.contains("reserved for data"),
        "{line}"
    );
    let mut c = TcpStream::connect(addr.trim()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        .unwrap();
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    // SAFETY: kill(2) with a child's pid and a valid signal number.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}
