//! A client of a primary and its replicas over the Redis protocol: writes go to the primary,
//! reads to the primary, a replica or any server as asked, and a change of primary is followed.
//!
//! Roles are learned with `ROLE`, asked of every known server: those given, the replicas a
//! primary lists, the primary a replica names; a server that does not know `ROLE` has no
//! replication and is a primary. The first server (in that order) answering
//! `master` takes the writes. When a server refuses for its role or state (`READONLY`, from a
//! primary turned replica; `MASTERDOWN`; `LOADING`) or the connection fails, every connection
//! is dropped, the client waits the [`RetryPolicy`](super::RetryPolicy)'s backoff, asks for the
//! roles again and retries. The commands retried are those the native client retries (`GET`,
//! `SET`, `DEL`, `PING`, reads), for the reasons its policy gives: applying one twice is
//! applying it once.

use super::resp::{CallError, RespConn, Value};
use super::{ClientConfig, Error};
use std::io;

/// Which server answers reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// The primary: reads see every acknowledged write.
    #[default]
    Primary,
    /// A replica (one in sync with its primary if there is one): reads may lag the writes.
    Replica,
    /// The first server that answers, in the order they are known, whatever its role.
    Any,
}

/// What `ROLE` answered.
#[derive(Debug, PartialEq, Eq)]
enum Role {
    /// `["master", offset, [[ip, port, offset], ...]]`: the replicas it lists.
    Primary(Vec<(String, u16)>),
    /// `["slave", ip, port, state, offset]`: its primary, and whether the link is up.
    Replica((String, u16), bool),
}

fn role(value: &Value) -> Option<Role> {
    let Value::Array(parts) = value else {
        return None;
    };
    let text = |v: &Value| match v {
        Value::Bulk(b) | Value::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    let port = |v: &Value| match v {
        Value::Int(n) => u16::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    };
    match (text(parts.first()?)?.as_str(), parts.as_slice()) {
        ("master", [_, _, Value::Array(replicas)]) => Some(Role::Primary(
            replicas
                .iter()
                .filter_map(|r| match r {
                    Value::Array(r) => Some((text(r.first()?)?, port(r.get(1)?)?)),
                    _ => None,
                })
                .collect(),
        )),
        ("slave", [_, host, p, state, ..]) => Some(Role::Replica(
            (text(host)?, port(p)?),
            text(state)?.as_str() == "connected",
        )),
        _ => None,
    }
}

/// A server that answered `ROLE`, and the connection it answered on.
struct Link {
    addr: (String, u16),
    conn: RespConn,
    primary: bool,
    in_sync: bool,
}

/// A client of several servers, one primary and its replicas, over the Redis protocol.
pub struct Routed {
    config: ClientConfig,
    servers: Vec<(String, u16)>,
    read_from: ReadFrom,
    /// The servers that answered the last `ROLE` round, in the order they were asked.
    links: Vec<Link>,
}

fn addr_text((host, port): &(String, u16)) -> String {
    ClientConfig::new(host.clone(), *port).addr()
}

impl Routed {
    /// A client of `servers` (`host`, `port`), with `config`'s timeouts, retry policy and
    /// password (its own host and port are not used). Connects on its first call.
    pub fn new(servers: Vec<(String, u16)>, read_from: ReadFrom, config: ClientConfig) -> Self {
        Self {
            config,
            servers,
            read_from,
            links: Vec::new(),
        }
    }

    /// The servers known: those given, then those `ROLE` answers named.
    pub fn servers(&self) -> &[(String, u16)] {
        &self.servers
    }

    /// The primary's address, as of the last `ROLE` round.
    pub fn primary(&self) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.primary)
            .map(|l| addr_text(&l.addr))
    }

    /// Sends a write, `SET`, `DEL` or another command safe to repeat, to the primary.
    pub fn write(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        self.run(true, |conn| unless_unavailable(conn.call(args)?))?
            .into_result()
    }

    /// Sends a read to the server `ReadFrom` picks.
    pub fn read(&mut self, args: &[&[u8]]) -> Result<Value, Error> {
        self.run(false, |conn| unless_unavailable(conn.call(args)?))?
            .into_result()
    }

    /// Runs `attempt` on a connection to the server reads go to, with [`Routed::read`]'s
    /// retries: for several commands on one server (a scan, a transaction).
    pub fn with_reader<T>(
        &mut self,
        attempt: impl FnMut(&mut RespConn) -> Result<T, CallError>,
    ) -> Result<T, Error> {
        self.run(false, attempt)
    }

    /// Runs `attempt` on a connection to the primary, with [`Routed::write`]'s retries.
    pub fn with_writer<T>(
        &mut self,
        attempt: impl FnMut(&mut RespConn) -> Result<T, CallError>,
    ) -> Result<T, Error> {
        self.run(true, attempt)
    }

    fn run<T>(
        &mut self,
        write: bool,
        mut attempt: impl FnMut(&mut RespConn) -> Result<T, CallError>,
    ) -> Result<T, Error> {
        let mut failures = 0u32;
        loop {
            let reason = match self.pick(write) {
                Ok(i) => match attempt(&mut self.links[i].conn) {
                    Ok(v) => return Ok(v),
                    Err(CallError::Connection(e)) => e,
                    Err(CallError::Unavailable(why)) => io::Error::other(why),
                    Err(CallError::Protocol(e)) => {
                        self.links.clear();
                        return Err(Error::Protocol(e));
                    }
                },
                Err(e) => e,
            };
            // Roles may have changed: they are all asked again.
            self.links.clear();
            if failures >= self.config.retry.retries {
                let addrs: Vec<String> = self.servers.iter().map(addr_text).collect();
                return Err(Error::Unreachable {
                    addr: addrs.join(","),
                    source: reason,
                    retries: failures,
                });
            }
            std::thread::sleep(self.config.retry.backoff(failures));
            failures += 1;
        }
    }

    /// The link to use, asking for the roles first if there are none.
    fn pick(&mut self, write: bool) -> io::Result<usize> {
        if self.links.is_empty() {
            self.discover()?;
        }
        let primary = self.links.iter().position(|l| l.primary);
        let found = match (write, self.read_from) {
            (true, _) | (false, ReadFrom::Primary) => primary,
            (false, ReadFrom::Any) => Some(0),
            (false, ReadFrom::Replica) => self
                .links
                .iter()
                .position(|l| !l.primary && l.in_sync)
                .or_else(|| self.links.iter().position(|l| !l.primary)),
        };
        found.ok_or_else(|| {
            let wanted = if write || self.read_from == ReadFrom::Primary {
                "primary (ROLE master)"
            } else {
                "replica (ROLE slave)"
            };
            let answered: Vec<String> = self
                .links
                .iter()
                .map(|l| {
                    let role = if l.primary { "master" } else { "slave" };
                    format!("{} is {role}", addr_text(&l.addr))
                })
                .collect();
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {wanted} among the servers ({})", answered.join(", ")),
            )
        })
    }

    /// Asks every known server its role, adding those the answers name.
    fn discover(&mut self) -> io::Result<()> {
        let mut asked = 0;
        let mut last = None;
        while asked < self.servers.len() {
            let addr = self.servers[asked].clone();
            asked += 1;
            let answer = RespConn::open(&addr.0, addr.1, &self.config).and_then(|mut conn| {
                let value = conn.call(&[b"ROLE"])?;
                Ok((conn, value))
            });
            let (conn, value) = match answer {
                Ok(found) => found,
                Err(CallError::Connection(e)) => {
                    last = Some(e);
                    continue;
                }
                Err(e) => {
                    last = Some(io::Error::other(format!("{}: {e:?}", addr_text(&addr))));
                    continue;
                }
            };
            let (named, primary, in_sync) = match role(&value) {
                Some(Role::Primary(replicas)) => (replicas, true, true),
                Some(Role::Replica(primary, in_sync)) => (vec![primary], false, in_sync),
                // A server without replication has no replicas: it takes the writes.
                None if matches!(&value, Value::Error(e) if e.starts_with(b"ERR unknown command")) => {
                    (Vec::new(), true, true)
                }
                None => {
                    let answer = match &value {
                        Value::Error(e) => format!("-{}", e.escape_ascii()),
                        other => format!("{other:?}"),
                    };
                    last = Some(io::Error::other(format!(
                        "{} answered ROLE with {answer}",
                        addr_text(&addr)
                    )));
                    continue;
                }
            };
            for other in named {
                if !self.servers.contains(&other) {
                    self.servers.push(other);
                }
            }
            // A second primary (one not yet told it was replaced) is used only for reads.
            let primary = primary && !self.links.iter().any(|l| l.primary);
            self.links.push(Link {
                addr,
                conn,
                primary,
                in_sync,
            });
        }
        if self.links.is_empty() {
            return Err(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no server to connect to")
            }));
        }
        Ok(())
    }
}

/// A refusal another server, or the same one later, would not make: a replica's `READONLY`, a
/// replica cut off from its primary (`MASTERDOWN`), a server still loading (`LOADING`).
pub fn unless_unavailable(value: Value) -> Result<Value, CallError> {
    if let Value::Error(e) = &value {
        for prefix in [&b"READONLY "[..], b"MASTERDOWN ", b"LOADING "] {
            if e.starts_with(prefix) {
                return Err(CallError::Unavailable(
                    String::from_utf8_lossy(e).into_owned(),
                ));
            }
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn role_reads_both_answers() {
        let primary = Value::Array(vec![
            bulk("master"),
            Value::Int(3129659),
            Value::Array(vec![
                Value::Array(vec![bulk("127.0.0.1"), bulk("9001"), bulk("3129242")]),
                Value::Array(vec![bulk("::1"), bulk("9002"), bulk("3129543")]),
            ]),
        ]);
        assert_eq!(
            role(&primary),
            Some(Role::Primary(vec![
                ("127.0.0.1".into(), 9001),
                ("::1".into(), 9002)
            ]))
        );
        let replica = Value::Array(vec![
            bulk("slave"),
            bulk("127.0.0.1"),
            Value::Int(9000),
            bulk("connected"),
            Value::Int(3167038),
        ]);
        assert_eq!(
            role(&replica),
            Some(Role::Replica(("127.0.0.1".into(), 9000), true))
        );
        assert_eq!(role(&bulk("master")), None);
        assert_eq!(role(&Value::Array(vec![bulk("sentinel")])), None);
    }

    #[test]
    fn a_replicas_refusals_are_retried_elsewhere_and_other_errors_are_answers() {
        let readonly =
            Value::Error(b"READONLY You can't write against a read only replica.".to_vec());
        assert!(matches!(
            unless_unavailable(readonly),
            Err(CallError::Unavailable(m)) if m.starts_with("READONLY")
        ));
        let err = Value::Error(b"ERR wrong number of arguments".to_vec());
        assert_eq!(unless_unavailable(err.clone()).unwrap(), err);
    }
}
