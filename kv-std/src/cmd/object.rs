//! `OBJECT`: what the eviction policy knows of a key (`FREQ`, `IDLETIME`), and `HELP`.

use super::Client;
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;

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
