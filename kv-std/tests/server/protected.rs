//! Protected mode, from a real non-loopback address: a network namespace of the test's own,
//! joined to this host by a veth pair on the documentation range 192.0.2.0/24.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Killed;

/// A namespace and veth pair, removed when dropped.
struct RemoteHost {
    ns: String,
    host_if: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl RemoteHost {
    fn create(n: u8) -> Option<Self> {
        let id = std::process::id() % 10_000;
        let ns = format!("kvt{id}n{n}");
        let host_if = format!("kvh{id}n{n}");
        let ns_if = format!("kvr{id}n{n}");
        let host_ip = format!("192.0.2.{}/30", 4 * n + 1);
        let ns_ip = format!("192.0.2.{}/30", 4 * n + 2);
        let ok = ip(&["netns", "add", &ns])
            && ip(&[
                "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
            ])
            && ip(&["link", "set", &ns_if, "netns", &ns])
            && ip(&["addr", "add", &host_ip, "dev", &host_if])
            && ip(&["link", "set", &host_if, "up"])
            && ip(&[
                "netns", "exec", &ns, "ip", "addr", "add", &ns_ip, "dev", &ns_if,
            ])
            && ip(&["netns", "exec", &ns, "ip", "link", "set", &ns_if, "up"])
            && ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        let host = Self { ns, host_if };
        ok.then_some(host)
    }

    /// Sends `request` from inside the namespace and returns what came back.
    fn ask(&self, addr: &str, port: u16, request: &str) -> String {
        let script = format!(
            "exec 3<>/dev/tcp/{addr}/{port}; printf '{request}' >&3; timeout 2 head -c 2000 <&3"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "bash", "-c", &script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RemoteHost {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.ns]);
    }
}

fn serve(bind: &str, extra: &[&str]) -> (Killed, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args([
                "--bind",
                bind,
                "--port",
                &port.to_string(),
                "--reserve",
                "1gb",
                "--no-persist",
            ])
            .args(["--log-level", "error"])
            .args(extra)
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect((bind, port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, port)
}

#[test]
fn protected_mode_refuses_remote_clients_until_a_password_is_set() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: network namespaces need root");
        return;
    }
    let remote = RemoteHost::create(1).expect("create a network namespace (ip netns, veth)");
    let bind = "192.0.2.5";
    let (open, port) = serve(bind, &[]);
    let reply = remote.ask(bind, port, "PING\\r\\n");
    assert!(
        reply.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{reply:?}"
    );
    drop(open);
    let (guarded, port) = serve(bind, &["--requirepass", "pw"]);
    // QUIT ends each exchange, so the reader sees the end of the stream.
    let reply = remote.ask(bind, port, "PING\\r\\nAUTH pw\\r\\nPING\\r\\nQUIT\\r\\n");
    assert_eq!(
        reply,
        "-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n+OK\r\n"
    );
    drop(guarded);
    let (unprotected, port) = serve(bind, &["--protected-mode", "no"]);
    assert_eq!(
        remote.ask(bind, port, "PING\\r\\nQUIT\\r\\n"),
        "+PONG\r\n+OK\r\n"
    );
    drop(unprotected);
}
