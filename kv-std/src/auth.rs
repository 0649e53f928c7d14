//! Who may use the server: protected mode, passwords, and the checks behind `AUTH`.

use std::net::{IpAddr, SocketAddr};

/// The reply to a client refused by protected mode; Redis's words, with kv's remedies.
pub const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is \
enabled and no password is set for the default user. In this mode connections are only accepted \
from the loopback interface. If you want to connect from external computers, either restart the \
server with '--protected-mode no' (and MAKE SURE it is not reachable from the internet), or set a \
password with '--requirepass-file' or KV_REQUIREPASS.";

/// The reply to any command but AUTH, HELLO and QUIT before authentication.
pub const NOAUTH: &str = "NOAUTH Authentication required.";

/// The reply to a wrong user name or password.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Whether a client from `peer` may connect.
pub fn admits(protected_mode: bool, password: Option<&[u8]>, peer: SocketAddr) -> bool {
    !protected_mode || password.is_some() || is_loopback(peer.ip())
}

fn is_loopback(ip: IpAddr) -> bool {
    // `::ffff:127.0.0.1` is loopback too.
    ip.to_canonical().is_loopback()
}

/// Whether `user` (the default user when `None`) with `given` opens the server.
pub fn check(password: Option<&[u8]>, user: Option<&[u8]>, given: &[u8]) -> bool {
    if user.is_some_and(|u| u != b"default") {
        return false;
    }
    match password {
        // Without a password the default user takes any: Redis's `nopass`.
        None => true,
        Some(p) => constant_time_eq(p, given),
    }
}

/// Compares in time that depends on the lengths only, not on where the bytes differ, so the
/// reply time does not tell an attacker how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        // Index b cyclically so the loop does the same work whatever b's length.
        let y = if b.is_empty() { 0 } else { b[i % b.len()] };
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_mode_admits_loopback_only_without_a_password() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        assert!(admits(true, None, local) && admits(true, None, mapped) && admits(true, None, v6));
        assert!(!admits(true, None, remote));
        assert!(admits(true, Some(b"pw"), remote));
        assert!(admits(false, None, remote));
    }

    #[test]
    fn passwords_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
        assert!(check(Some(b"pw"), None, b"pw"));
        assert!(check(Some(b"pw"), Some(b"default"), b"pw"));
        assert!(!check(Some(b"pw"), Some(b"alice"), b"pw"));
        assert!(!check(Some(b"pw"), None, b"pW"));
        assert!(check(None, Some(b"default"), b"anything"));
    }
}
