//! `OBJECT`: how Redis would store a key's value (`ENCODING`, `REFCOUNT`), what the eviction
//! policy knows of it (`FREQ`, `IDLETIME`), and `HELP`.
//!
//! kv stores every value as its bytes; `ENCODING` and `REFCOUNT` answer what Redis 7.0 answers
//! for the same value written by `SET` (or `MSET`, `GETSET`, `RESTORE`, `INCR`), which Redis
//! encodes by its content. A value Redis built otherwise is named by how it was built there
//! (`raw` after `APPEND`, `SETRANGE`, `SETBIT`, `BITOP`; `embstr` after `INCRBYFLOAT`; an
//! unshared integer after `COPY`), and by its content here all the same (docs/PROTOCOL.md).

use super::Client;
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;
use kv_nostd::Policy;

/// Redis 7.0's error for `OBJECT FREQ` under a policy that keeps times of access.
const NOT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not \
                       tracked. Please note that when switching between policies at runtime LRU \
                       and LFU data will take some time to adjust.";

/// Redis 7.0's error for `OBJECT IDLETIME` under a policy that keeps access counters.
const IS_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please \
                      note that when switching between policies at runtime LRU and LFU data \
                      will take some time to adjust.";

/// `OBJECT FREQ key`, `OBJECT IDLETIME key` and `OBJECT HELP`. A missing key is answered with
/// the null before the policy is looked at, as Redis does; the key is not touched.
pub fn object(sub: &str, mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    if sub == "help" {
        // Redis's text, which also names subcommands kv does not have.
        const LINES: &[&str] = &[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ];
        out.help(LINES);
        return;
    }
    let key = args.next().unwrap_or_default();
    if sub == "encoding" || sub == "refcount" {
        return encoding(sub, key, client, db, out);
    }
    let meta = match db.table.access_info(key) {
        Ok(m) => m,
        Err(e) => return super::strings::table_error(e, out),
    };
    client.read(meta.is_some());
    let Some(meta) = meta else {
        db.reap(key);
        return out.null();
    };
    let lfu = db.table.eviction().policy.is_lfu();
    match sub {
        "freq" if lfu => out.int(i64::from(db.table.lfu_frequency(meta))),
        "freq" => out.error(NOT_LFU),
        _ if lfu => out.error(IS_LFU),
        _ => out.int(db.table.idle_seconds(meta) as i64),
    }
}

/// Values Redis keeps as integers: those `string2ll` reads that are at most 20 bytes long.
const MAX_INT_LEN: usize = 20;
/// Values up to this long Redis keeps in one allocation with their object (`embstr`).
const EMBSTR_SIZE_LIMIT: usize = 44;
/// Integers below this Redis shares between keys (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;
/// The reference count Redis reports for a shared object (`OBJ_SHARED_REFCOUNT`, `INT_MAX`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// How Redis 7.0 encodes a string value it has just written (`tryObjectEncoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// An integer; `shared` when Redis keeps one object for it.
    Int { shared: bool },
    /// Short: stored with its object.
    Embstr,
    /// Long: stored on its own.
    Raw,
}

impl Encoding {
    /// The encoding of a value of `len` bytes whose first bytes are `head` (all of them when
    /// `len` is at most [`MAX_INT_LEN`]). `share` says whether Redis shares small integers: not
    /// under a `maxmemory` with an LRU or LFU policy, whose access times are per object.
    fn of(len: usize, head: &[u8], share: bool) -> Self {
        if len <= MAX_INT_LEN {
            if let Some(n) = super::parse_int(&head[..len]) {
                return Encoding::Int {
                    shared: share && (0..SHARED_INTEGERS).contains(&n),
                };
            }
        }
        if len <= EMBSTR_SIZE_LIMIT {
            Encoding::Embstr
        } else {
            Encoding::Raw
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Encoding::Int { .. } => b"int",
            Encoding::Embstr => b"embstr",
            Encoding::Raw => b"raw",
        }
    }

    fn refcount(self) -> i64 {
        match self {
            Encoding::Int { shared: true } => SHARED_REFCOUNT,
            _ => 1,
        }
    }
}

/// `OBJECT ENCODING key` and `OBJECT REFCOUNT key`: the null for a missing key. The key is
/// read under its lock, so it is not touched, but the read counts as a hit or a miss.
fn encoding(sub: &str, key: &[u8], client: &mut Client, db: &Db, out: &mut Out) {
    let policy = db.table.eviction().policy;
    let lru_or_lfu = matches!(
        policy,
        Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
    );
    let share = db.table.max_memory().is_none() || !lru_or_lfu;
    let found = db.locked(&[key], false, |l| {
        l.entry(0).map(|e| {
            let mut head = [0u8; MAX_INT_LEN];
            e.read_value(0, &mut head);
            Encoding::of(e.value_len(), &head, share)
        })
    });
    let encoding = match found {
        Ok(found) => found,
        Err(e) => return super::strings::table_error(e, out),
    };
    client.read(encoding.is_some());
    match encoding {
        None => {
            db.reap(key);
            out.null();
        }
        Some(enc) if sub == "encoding" => out.bulk(enc.name()),
        Some(enc) => out.int(enc.refcount()),
    }
}

#[cfg(test)]
mod tests {
    use super::Encoding::{self, *};

    fn of(value: &[u8]) -> Encoding {
        let mut head = [0u8; 20];
        let n = value.len().min(20);
        head[..n].copy_from_slice(&value[..n]);
        Encoding::of(value.len(), &head, true)
    }

    #[test]
    fn encodings_as_redis_7_0_names_them() {
        // redis-server 7.0.15, after SET k <value>.
        assert_eq!(of(b"0"), Int { shared: true });
        assert_eq!(of(b"9999"), Int { shared: true });
        assert_eq!(of(b"10000"), Int { shared: false });
        assert_eq!(of(b"-1"), Int { shared: false });
        assert_eq!(of(b"9223372036854775807"), Int { shared: false });
        assert_eq!(of(b"-9223372036854775808"), Int { shared: false });
        for embstr in [
            &b""[..],
            b"-0",
            b"007",
            b" 1",
            b"1 ",
            b"1.5",
            b"9223372036854775808",
            b"12345678901234567890",
            &[b'x'; 44],
        ] {
            assert_eq!(of(embstr), Embstr, "{embstr:?}");
        }
        assert_eq!(of(&[b'x'; 45]), Raw);
        assert_eq!(of(&[b'1'; 45]), Raw);
        assert_eq!(Encoding::of(1, b"5", false), Int { shared: false });
    }
}
