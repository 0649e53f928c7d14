//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB, with Redis 7's replies: one confirmation per channel, as an array in
//! RESP2 and a push in RESP3, counting the client's channels and patterns (shard channels
//! apart).

use super::Client;
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;

pub use crate::pubsub::Space;

/// The confirmation kinds of a namespace: subscribe, unsubscribe.
fn kinds(space: Space) -> (&'static [u8], &'static [u8]) {
    match space {
        Space::Channels => (b"subscribe", b"unsubscribe"),
        Space::Patterns => (b"psubscribe", b"punsubscribe"),
        Space::Shards => (b"ssubscribe", b"sunsubscribe"),
    }
}

/// The count a confirmation in `space` reports.
fn count(client: &Client, space: Space) -> usize {
    match space {
        Space::Shards => client.subscriptions.shards.len(),
        _ => client.subscriptions.channels_and_patterns(),
    }
}

fn names_mut(client: &mut Client, space: Space) -> &mut indexmap::IndexSet<Vec<u8>> {
    match space {
        Space::Channels => &mut client.subscriptions.channels,
        Space::Patterns => &mut client.subscriptions.patterns,
        Space::Shards => &mut client.subscriptions.shards,
    }
}

fn confirm(kind: &[u8], name: Option<&[u8]>, count: usize, out: &mut Out) {
    out.push(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

/// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`: subscribes to each name and confirms each.
pub fn subscribe(space: Space, args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let (kind, _) = kinds(space);
    for name in args {
        if names_mut(client, space).insert(name.to_vec()) {
            db.pubsub.subscribe(space, name, &client.handle);
        }
        confirm(kind, Some(name), count(client, space), out);
    }
    client.handle.shown().subscriptions = client.subscriptions.counts();
}

/// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`: from each name given, or from every one of
/// the namespace when none is; with nothing to leave, one confirmation with a null name.
pub fn unsubscribe(space: Space, args: Args<'_>, client: &mut Client, db: &Db, out: &mut Out) {
    let (_, kind) = kinds(space);
    let names: Vec<Vec<u8>> = if args.len() == 0 {
        names_mut(client, space).iter().cloned().collect()
    } else {
        args.map(<[u8]>::to_vec).collect()
    };
    if names.is_empty() {
        confirm(kind, None, count(client, space), out);
    }
    for name in names {
        if names_mut(client, space).swap_remove(&name) {
            db.pubsub.unsubscribe(space, &name, client.id);
        }
        confirm(kind, Some(&name), count(client, space), out);
    }
    client.handle.shown().subscriptions = client.subscriptions.counts();
}

/// `PUBLISH channel message` (or `SPUBLISH` when `shard`): how many subscribers it reached.
pub fn publish(shard: bool, mut args: Args<'_>, client: &Client, db: &Db, out: &mut Out) {
    let channel = args.next().unwrap_or_default();
    let message = args.next().unwrap_or_default();
    let limit = db.settings.output_limits().pubsub;
    let reached = db
        .pubsub
        .publish(shard, channel, message, client.id, out, limit);
    // Replicas' subscribers hear the primary's messages, as Redis propagates PUBLISH.
    let name: &[u8] = if shard { b"SPUBLISH" } else { b"PUBLISH" };
    db.propagate(&[name, channel, message]);
    out.int(reached as i64);
}

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP`; `typed` is the subcommand
/// as the client wrote it.
pub fn pubsub(sub: &str, typed: &[u8], mut args: Args<'_>, db: &Db, out: &mut Out) {
    match sub {
        "channels" | "shardchannels" if args.len() > 1 => {
            // Redis 7.0 checks these counts in the command, with its generic wording.
            out.error_fmt(format_args!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(typed)
            ));
        }
        "channels" | "shardchannels" => {
            let space = if sub == "channels" {
                Space::Channels
            } else {
                Space::Shards
            };
            let names = db.pubsub.names(space, args.next());
            out.array(names.len());
            for name in names {
                out.bulk(&name);
            }
        }
        "numsub" | "shardnumsub" => {
            let space = if sub == "numsub" {
                Space::Channels
            } else {
                Space::Shards
            };
            // A flat array in both protocols, as Redis keeps it.
            out.array(args.len() * 2);
            for channel in args {
                out.bulk(channel);
                out.int(db.pubsub.count(space, channel) as i64);
            }
        }
        "numpat" => out.int(db.pubsub.len(Space::Patterns) as i64),
        _ => {
            const LINES: &[&str] = &[
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}
