//! LCS: the longest common subsequence of two keys' values.

use super::range::max_len;
use super::rewrite::read;
use super::Client;
use crate::db::Db;
use crate::reply::Out;
use crate::value::{lcs, WriteReply};
use kv_nostd::resp::Args;

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`. The two keys are read one after
/// the other, not at one instant as Redis's single thread reads them: a write of the second
/// key between the reads is seen, one of the first is not.
pub fn lcs(mut args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let a = args.next().unwrap_or_default();
    let b = args.next().unwrap_or_default();
    // Redis looks both keys up before it reads the options; a missing key is empty.
    let a = read(a, client, db).unwrap_or_default();
    let b = read(b, client, db).unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    lcs::parse_lcs(&rest)
        .and_then(|op| op.apply(&a, &b, max_len(db)))
        .reply(out);
}
