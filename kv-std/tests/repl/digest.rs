//! A node's whole content as seen by a client: every key (SCAN), its value (GET) and its deadline
//! (PEXPIRETIME), so that two nodes can be compared and a difference named key by key.

use crate::load::now_ms;
use crate::node::Node;
use crate::resp::Reply;
use std::collections::{BTreeMap, BTreeSet};

/// Key → (value, deadline in Unix ms or -1). Values are kept whole: tens of megabytes, and
/// comparing them costs less than hashing them.
#[derive(PartialEq, Eq)]
pub struct Content(BTreeMap<Vec<u8>, (Vec<u8>, i64)>);

/// FNV-1a: a stable hash, the same in every run.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

const FNV_START: u64 = 0xCBF2_9CE4_8422_2325;

impl Content {
    /// Every key of `node`, leaving out keys whose deadline is before `cutoff` (Unix ms): they
    /// may expire on one node and not yet on the other while the two are read.
    pub fn of(node: &Node, cutoff: i64) -> Content {
        let mut client = node.client();
        let mut keys = BTreeSet::new();
        let mut cursor = b"0".to_vec();
        // A SCAN returns each key at least once in a bounded number of calls; a bound keeps a
        // cursor that never comes back to 0 from hanging the test.
        for _ in 0..1_000_000 {
            let reply = client.cmd(&[b"SCAN".as_slice(), &cursor, b"COUNT", b"1000"]);
            let [next, batch] = reply.array() else {
                panic!("SCAN: {reply:?}")
            };
            keys.extend(batch.array().iter().map(|k| k.bytes().to_vec()));
            cursor = next.bytes().to_vec();
            if cursor == b"0" {
                break;
            }
        }
        assert_eq!(cursor, b"0", "SCAN did not finish");
        let keys: Vec<_> = keys.into_iter().collect();
        let mut content = BTreeMap::new();
        for chunk in keys.chunks(500) {
            let commands: Vec<[&[u8]; 2]> = chunk
                .iter()
                .flat_map(|k| [[b"GET".as_slice(), k], [b"PEXPIRETIME", k]])
                .collect();
            let replies = client.pipeline(&commands);
            for (k, pair) in chunk.iter().zip(replies.chunks(2)) {
                let value = match &pair[0] {
                    Reply::Bulk(Some(v)) => v.clone(),
                    // Gone (or expired) between SCAN and GET.
                    Reply::Bulk(None) => continue,
                    other => panic!("GET {:?}: {other:?}", String::from_utf8_lossy(k)),
                };
                let deadline = pair[1].int();
                if deadline == -2 || (deadline >= 0 && deadline < cutoff) {
                    continue;
                }
                content.insert(k.clone(), (value, deadline));
            }
        }
        Content(content)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// One hash of the whole content, for messages.
    pub fn digest(&self) -> u64 {
        self.0.iter().fold(FNV_START, |h, (k, (v, d))| {
            let h = fnv(k, h);
            let h = fnv(v, h);
            fnv(&d.to_le_bytes(), h)
        })
    }
}

/// The cutoff for [`Content::of`] when comparing nodes now: deadlines in the next 10 s are left
/// out, time enough to read every node.
pub fn cutoff() -> i64 {
    now_ms() + 10_000
}

/// Panics, naming up to ten differing keys, unless `a` and `b` hold the same keys, values and
/// deadlines.
pub fn assert_same(a_name: &str, a: &Content, b_name: &str, b: &Content) {
    if a == b {
        return;
    }
    let mut differences = Vec::new();
    let keys: BTreeSet<&Vec<u8>> = a.0.keys().chain(b.0.keys()).collect();
    for k in keys {
        let (x, y) = (a.0.get(k), b.0.get(k));
        if x != y {
            let show = |e: Option<&(Vec<u8>, i64)>| match e {
                None => "no key".to_owned(),
                Some((v, d)) => format!(
                    "{} bytes hashing to {:016x}, deadline {d}",
                    v.len(),
                    fnv(v, FNV_START)
                ),
            };
            differences.push(format!(
                "  {:?}: {a_name} {}, {b_name} {}",
                String::from_utf8_lossy(k),
                show(x),
                show(y)
            ));
        }
    }
    let total = differences.len();
    differences.truncate(10);
    panic!(
        "{a_name} ({} keys, digest {:016x}) and {b_name} ({} keys, digest {:016x}) differ in {total} \
         keys:\n{}",
        a.len(),
        a.digest(),
        b.len(),
        b.digest(),
        differences.join("\n")
    );
}
