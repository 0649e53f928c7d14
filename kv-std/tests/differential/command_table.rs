//! kv's command table against redis-server's, entry by entry. `COMMAND`, `COMMAND COUNT`,
//! `COMMAND DOCS` and `COMMAND LIST` name every command a server has, and kv has fewer than
//! Redis, so their replies cannot be compared whole as the scripts compare: each of kv's entries
//! is compared with redis-server's entry for the same name, in RESP2 and RESP3, and each of kv's
//! lists with the part of Redis's that names kv's commands.

use crate::frame::{show, Frame};
use crate::support::TestServer;
use crate::{Peer, RedisServer};
use std::collections::BTreeSet;

/// Subcommands kv has that redis-server 7.0 does not, so it cannot be asked about them: two came
/// with Redis 7.2, and `CLUSTER GOSSIP` is kv's own (cluster nodes exchange their views with it
/// over the normal port, where Redis nodes use their bus).
const NEWER: &[&str] = &["client|setinfo", "client|no-touch", "cluster|gossip"];

fn call(peer: &mut Peer, args: &[&str]) -> Frame {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    peer.send(&args);
    peer.frame().expect("a reply")
}

fn items(frame: &Frame) -> &[Frame] {
    match frame {
        Frame::Aggregate { items, .. } => items,
        other => panic!("not an aggregate: {}", bytes(other)),
    }
}

fn text(frame: &Frame) -> String {
    match frame {
        Frame::Text { text, .. } => String::from_utf8_lossy(text).into_owned(),
        other => panic!("not a string: {}", bytes(other)),
    }
}

fn bytes(frame: &Frame) -> String {
    let mut out = Vec::new();
    frame.encode(&mut out);
    show(&out)
}

/// The (key, value) pairs of a map, sent as a map or as a RESP2 flat array.
fn pairs(frame: &Frame) -> Vec<(String, &Frame)> {
    items(frame)
        .chunks(2)
        .map(|pair| (text(&pair[0]), &pair[1]))
        .collect()
}

fn names(frame: &Frame) -> BTreeSet<String> {
    items(frame).iter().map(text).collect()
}

/// Compares kv's entries (`COMMAND INFO` arrays, or `COMMAND DOCS` maps) with Redis's for the
/// same names: all equal but the subcommands, of which kv's must each equal Redis's of the same
/// name.
struct Check {
    failures: Vec<String>,
}

impl Check {
    fn same(&mut self, what: &str, ours: &Frame, theirs: &Frame) {
        if ours != theirs {
            self.failures.push(format!(
                "{what}\n  redis: {}\n  kv:    {}",
                bytes(theirs),
                bytes(ours)
            ));
        }
    }

    fn info(&mut self, resp: &str, ours: &Frame, theirs: &Frame) {
        let name = text(&items(ours)[0]);
        let (ours, theirs) = (items(ours), items(theirs));
        assert_eq!((ours.len(), theirs.len()), (10, 10), "{name}");
        for (i, (a, b)) in ours[..9].iter().zip(&theirs[..9]).enumerate() {
            self.same(&format!("RESP{resp} COMMAND INFO {name} [{i}]"), a, b);
        }
        let (our_subs, their_subs) = (&ours[9], &theirs[9]);
        if items(our_subs).is_empty() {
            self.same(
                &format!("RESP{resp} {name}'s subcommands"),
                our_subs,
                their_subs,
            );
            return;
        }
        for sub in items(our_subs) {
            let sub_name = text(&items(sub)[0]);
            if NEWER.contains(&sub_name.as_str()) {
                continue;
            }
            match items(their_subs)
                .iter()
                .find(|s| text(&items(s)[0]) == sub_name)
            {
                Some(theirs) => {
                    self.same(&format!("RESP{resp} COMMAND INFO {sub_name}"), sub, theirs)
                }
                None => self
                    .failures
                    .push(format!("redis-server has no {sub_name}")),
            }
        }
    }

    fn docs(&mut self, resp: &str, name: &str, ours: &Frame, theirs: &Frame) {
        let (ours, theirs) = (pairs(ours), pairs(theirs));
        let keys = |p: &[(String, &Frame)]| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&ours), keys(&theirs), "RESP{resp} COMMAND DOCS {name}");
        for ((key, a), (_, b)) in ours.iter().zip(&theirs) {
            if key != "subcommands" {
                self.same(&format!("RESP{resp} COMMAND DOCS {name} {key}"), a, b);
                continue;
            }
            let their_subs = pairs(b);
            for (sub_name, sub) in pairs(a) {
                if NEWER.contains(&sub_name.as_str()) {
                    continue;
                }
                match their_subs.iter().find(|(n, _)| *n == sub_name) {
                    Some((_, theirs)) => {
                        self.same(&format!("RESP{resp} COMMAND DOCS {sub_name}"), sub, theirs)
                    }
                    None => self
                        .failures
                        .push(format!("redis-server has no {sub_name}")),
                }
            }
        }
    }
}

#[test]
fn each_of_kvs_commands_is_described_as_redis_server_describes_it() {
    let redis = RedisServer::start(None, &[]);
    let kv = TestServer::start();
    let mut check = Check {
        failures: Vec::new(),
    };
    for resp in ["2", "3"] {
        let mut r = Peer::connect(redis.addr);
        let mut k = Peer::connect(kv.addr);
        call(&mut r, &["HELLO", resp]);
        call(&mut k, &["HELLO", resp]);

        let all = call(&mut k, &["COMMAND"]);
        assert_eq!(call(&mut k, &["COMMAND", "INFO"]), all);
        let count = items(&all).len();
        assert_eq!(
            call(&mut k, &["COMMAND", "COUNT"]),
            Frame::Int(count as i64)
        );
        let mut kv_names = BTreeSet::new();
        let mut top_names = Vec::new();
        for entry in items(&all) {
            let name = text(&items(entry)[0]);
            let theirs = call(&mut r, &["COMMAND", "INFO", &name]);
            check.info(resp, entry, &items(&theirs)[0]);
            kv_names.extend(items(&items(entry)[9]).iter().map(|s| text(&items(s)[0])));
            kv_names.insert(name.clone());
            top_names.push(name);
        }

        let docs = call(&mut k, &["COMMAND", "DOCS"]);
        let docs = pairs(&docs);
        let doc_names: Vec<String> = docs.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(doc_names, top_names, "COMMAND DOCS names what COMMAND does");
        for (name, ours) in docs {
            let theirs = call(&mut r, &["COMMAND", "DOCS", &name]);
            let theirs = pairs(&theirs);
            assert_eq!(theirs.len(), 1, "redis-server documents {name}");
            check.docs(resp, &name, ours, theirs[0].1);
        }

        assert_eq!(names(&call(&mut k, &["COMMAND", "LIST"])), kv_names);
        let known = |set: BTreeSet<String>| -> BTreeSet<String> {
            set.into_iter()
                .filter(|n| !NEWER.contains(&n.as_str()))
                .collect()
        };
        let redis_all = names(&call(&mut r, &["COMMAND", "LIST"]));
        let missing: Vec<_> = known(kv_names.clone())
            .difference(&redis_all)
            .cloned()
            .collect();
        assert!(missing.is_empty(), "redis-server does not list {missing:?}");

        let categories = names(&call(&mut r, &["ACL", "CAT"]));
        let mut filters: Vec<(&str, String)> =
            categories.into_iter().map(|c| ("ACLCAT", c)).collect();
        for pattern in [
            "*", "c*", "*|*", "client*", "*list", "[a-m]*", "?e?", "*SUB*",
        ] {
            filters.push(("PATTERN", pattern.to_string()));
        }
        for (kind, arg) in filters {
            let args = ["COMMAND", "LIST", "FILTERBY", kind, &arg];
            let ours = known(names(&call(&mut k, &args)));
            let theirs: BTreeSet<String> = names(&call(&mut r, &args))
                .intersection(&kv_names)
                .cloned()
                .collect();
            assert_eq!(
                ours, theirs,
                "RESP{resp} COMMAND LIST FILTERBY {kind} {arg}"
            );
        }
    }
    assert!(
        check.failures.is_empty(),
        "{} entries differ:\n{}",
        check.failures.len(),
        check.failures.join("\n")
    );
}
