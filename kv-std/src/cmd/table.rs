//! The command table: one entry for every command kv has, with the facts Redis 7.0 publishes
//! about it (`COMMAND INFO`, `COMMAND DOCS`). Arity checks, `COMMAND` and `COMMAND GETKEYS` all
//! read it.
//!
//! Adding a command's metadata is adding its entry here (besides its [`Command`] variant and the
//! function that runs it). The entries are redis-server 7.0.15's own replies, written in the
//! builder form of `spec.rs`; `kv-std/tools/command_spec.py` prints an entry from a running
//! redis-server, ready to paste. Where kv has only part of a container's subcommands, only
//! those are listed, so clients are not told of subcommands kv would refuse. `CLIENT SETINFO`
//! and `CLIENT NO-TOUCH` came with Redis 7.2, and their entries are 7.2's.
//!
//! A command whose key flags depend on its arguments (a key spec marked `variable_flags`) names
//! a function that finds its keys, as `SET` does below; the table's tests check that it does.

use super::spec::ArgKind::*;
use super::spec::BeginSearch::*;
use super::spec::FindKeys::*;
use super::spec::{arg, key_spec, pure_token, spec, KeyAt, Spec};
use super::Command;

/// Every command kv has, in no order Redis promises (its own is a hash table's).
// Laid out in rustfmt's style, but with Redis's long texts on lines of their own, which rustfmt
// cannot lay out: it would leave the whole table as it is.
#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("get", Command::Get, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@read", "@string", "@fast"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Get the value of a key", "1.0.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("set", Command::Set, -3)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@slow"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update", "variable_flags"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            )
            .notes("RW and ACCESS due to the optional `GET` argument"),
        ])
        .find_keys(set_keys)
        .docs("Set the string value of a key", "1.0.0", "string", "O(1)")
        .history(&[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            ("7.0.0", "Allowed the `NX` and `GET` options to be used together."),
        ])
        .arguments(&[
            arg("key", Key(0)),
            arg("value", Str),
            arg("condition", OneOf(&[pure_token("nx", "NX"), pure_token("xx", "XX")]))
                .since("2.6.12")
                .optional(),
            pure_token("get", "GET").since("6.2.0").optional(),
            arg(
                "expiration",
                OneOf(&[
                    arg("seconds", Integer).token("EX").since("2.6.12"),
                    arg("milliseconds", Integer).token("PX").since("2.6.12"),
                    arg("unix-time-seconds", UnixTime).token("EXAT").since("6.2.0"),
                    arg("unix-time-milliseconds", UnixTime).token("PXAT").since("6.2.0"),
                    pure_token("keepttl", "KEEPTTL").since("6.0.0"),
                ]),
            )
            .optional(),
        ]),
    spec("del", Command::Del, -2)
        .flags(&["write"])
        .keys(1, -1, 1)
        .acl(&["@keyspace", "@write", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .key_specs(&[
            key_spec(&["RM", "delete"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Delete a key",
            "1.0.0",
            "generic",
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        )
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("exists", Command::Exists, -2)
        .flags(&["readonly", "fast"])
        .keys(1, -1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .key_specs(&[key_spec(&["RO"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 })])
        .docs(
            "Determine if a key exists",
            "1.0.0",
            "generic",
            "O(N) where N is the number of keys to check.",
        )
        .history(&[("3.0.3", "Accepts multiple `key` arguments.")])
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("mget", Command::Mget, -2)
        .flags(&["readonly", "fast"])
        .keys(1, -1, 1)
        .acl(&["@read", "@string", "@fast"])
        .tips(&["request_policy:multi_shard"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Get the values of all the given keys",
            "1.0.0",
            "string",
            "O(N) where N is the number of keys to retrieve.",
        )
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("mset", Command::Mset, -3)
        .flags(&["write", "denyoom"])
        .keys(1, -1, 2)
        .acl(&["@write", "@string", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(1), Range { lastkey: -1, keystep: 2, limit: 0 }),
        ])
        .docs(
            "Set multiple keys to multiple values",
            "1.0.1",
            "string",
            "O(N) where N is the number of keys to set.",
        )
        .arguments(&[arg("key_value", Block(&[arg("key", Key(0)), arg("value", Str)])).multiple()]),
    spec("msetnx", Command::Msetnx, -3)
        .flags(&["write", "denyoom"])
        .keys(1, -1, 2)
        .acl(&["@write", "@string", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .key_specs(&[
            key_spec(&["OW", "insert"], Index(1), Range { lastkey: -1, keystep: 2, limit: 0 }),
        ])
        .docs(
            "Set multiple keys to multiple values, only if none of the keys exist",
            "1.0.1",
            "string",
            "O(N) where N is the number of keys to set.",
        )
        .arguments(&[arg("key_value", Block(&[arg("key", Key(0)), arg("value", Str)])).multiple()]),
    spec("rename", Command::Rename, 3)
        .flags(&["write"])
        .keys(1, 2, 1)
        .acl(&["@keyspace", "@write", "@slow"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "delete"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
            key_spec(&["OW", "update"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Rename a key", "1.0.0", "generic", "O(1)")
        .arguments(&[arg("key", Key(0)), arg("newkey", Key(1))]),
    spec("renamenx", Command::Renamenx, 3)
        .flags(&["write", "fast"])
        .keys(1, 2, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "delete"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
            key_spec(&["OW", "insert"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Rename a key, only if the new key does not exist", "1.0.0", "generic", "O(1)")
        .history(&[
            ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
        ])
        .arguments(&[arg("key", Key(0)), arg("newkey", Key(1))]),
    spec("copy", Command::Copy, -3)
        .flags(&["write", "denyoom"])
        .keys(1, 2, 1)
        .acl(&["@keyspace", "@write", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
            key_spec(&["OW", "update"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Copy a key",
            "6.2.0",
            "generic",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        )
        .arguments(&[
            arg("source", Key(0)),
            arg("destination", Key(1)),
            arg("destination-db", Integer).token("DB").optional(),
            pure_token("replace", "REPLACE").optional(),
        ]),
    spec("multi", Command::Multi, 1)
        .flags(&["noscript", "loading", "stale", "fast", "allow_busy"])
        .acl(&["@fast", "@transaction"])
        .docs("Mark the start of a transaction block", "1.2.0", "transactions", "O(1)"),
    spec("exec", Command::Exec, 1)
        .flags(&["noscript", "loading", "stale", "skip_slowlog"])
        .acl(&["@slow", "@transaction"])
        .docs(
            "Execute all commands issued after MULTI",
            "1.2.0",
            "transactions",
            "Depends on commands in the transaction",
        ),
    spec("discard", Command::Discard, 1)
        .flags(&["noscript", "loading", "stale", "fast", "allow_busy"])
        .acl(&["@fast", "@transaction"])
        .docs(
            "Discard all commands issued after MULTI",
            "2.0.0",
            "transactions",
            "O(N), when N is the number of queued commands",
        ),
    spec("watch", Command::Watch, -2)
        .flags(&["noscript", "loading", "stale", "fast", "allow_busy"])
        .keys(1, -1, 1)
        .acl(&["@fast", "@transaction"])
        .key_specs(&[key_spec(&["RO"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 })])
        .docs(
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            "2.2.0",
            "transactions",
            "O(1) for every key.",
        )
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("unwatch", Command::Unwatch, 1)
        .flags(&["noscript", "loading", "stale", "fast", "allow_busy"])
        .acl(&["@fast", "@transaction"])
        .docs("Forget about all watched keys", "2.2.0", "transactions", "O(1)"),
    spec("type", Command::Type, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .key_specs(&[key_spec(&["RO"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 })])
        .docs("Determine the type stored at key", "1.0.0", "generic", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("touch", Command::Touch, -2)
        .flags(&["readonly", "fast"])
        .keys(1, -1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .key_specs(&[key_spec(&["RO"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 })])
        .docs(
            "Alters the last access time of a key(s). Returns the number of existing keys specified.",
            "3.2.1",
            "generic",
            "O(N) where N is the number of keys that will be touched.",
        )
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("unlink", Command::Unlink, -2)
        .flags(&["write", "fast"])
        .keys(1, -1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .key_specs(&[
            key_spec(&["RM", "delete"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
            "4.0.0",
            "generic",
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        )
        .arguments(&[arg("key", Key(0)).multiple()]),
    spec("randomkey", Command::Randomkey, 1)
        .flags(&["readonly"])
        .acl(&["@keyspace", "@read", "@slow"])
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .docs("Return a random key from the keyspace", "1.0.0", "generic", "O(1)"),
    spec("dump", Command::Dump, 2)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@slow"])
        .tips(&["nondeterministic_output"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Return a serialized version of the value stored at the specified key.",
            "2.6.0",
            "generic",
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        )
        .arguments(&[arg("key", Key(0))]),
    spec("restore", Command::Restore, -4)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Create a key using the provided serialized value, previously obtained using DUMP.",
            "2.6.0",
            "generic",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        )
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ])
        .arguments(&[
            arg("key", Key(0)),
            arg("ttl", Integer),
            arg("serialized-value", Str),
            pure_token("replace", "REPLACE").since("3.0.0").optional(),
            pure_token("absttl", "ABSTTL").since("5.0.0").optional(),
            arg("seconds", Integer).token("IDLETIME").since("5.0.0").optional(),
            arg("frequency", Integer).token("FREQ").since("5.0.0").optional(),
        ]),
    spec("bitop", Command::Bitop, -4)
        .flags(&["write", "denyoom"])
        .keys(2, -1, 1)
        .acl(&["@write", "@bitmap", "@slow"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
            key_spec(&["RO", "access"], Index(3), Range { lastkey: -1, keystep: 1, limit: 0 }),
        ])
        .docs("Perform bitwise operations between strings", "2.6.0", "bitmap", "O(N)")
        .arguments(&[arg("operation", Str), arg("destkey", Key(0)), arg("key", Key(1)).multiple()]),
    spec("ping", Command::Ping, -1)
        .flags(&["fast"])
        .acl(&["@fast", "@connection"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .docs("Ping the server", "1.0.0", "connection", "O(1)")
        .arguments(&[arg("message", Str).optional()]),
    spec("dbsize", Command::Dbsize, 1)
        .flags(&["readonly", "fast"])
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .docs("Return the number of keys in the selected database", "1.0.0", "server", "O(1)"),
    spec("flushdb", Command::Flushdb, -1)
        .flags(&["write"])
        .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .docs(
            "Remove all keys from the current database",
            "1.0.0",
            "server",
            "O(N) where N is the number of keys in the selected database",
        )
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .arguments(&[
            arg(
                "async",
                OneOf(&[
                    pure_token("async", "ASYNC").since("4.0.0"),
                    pure_token("sync", "SYNC").since("6.2.0"),
                ]),
            )
            .optional(),
        ]),
    spec("flushall", Command::Flushall, -1)
        .flags(&["write"])
        .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .docs(
            "Remove all keys from all databases",
            "1.0.0",
            "server",
            "O(N) where N is the total number of keys in all databases",
        )
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .arguments(&[
            arg(
                "async",
                OneOf(&[
                    pure_token("async", "ASYNC").since("4.0.0"),
                    pure_token("sync", "SYNC").since("6.2.0"),
                ]),
            )
            .optional(),
        ]),
    spec("keys", Command::Keys, 2)
        .flags(&["readonly"])
        .acl(&["@keyspace", "@read", "@slow", "@dangerous"])
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .docs(
            "Find all keys matching the given pattern",
            "1.0.0",
            "generic",
            "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        )
        .arguments(&[arg("pattern", Pattern)]),
    spec("scan", Command::Scan, -2)
        .flags(&["readonly"])
        .acl(&["@keyspace", "@read", "@slow"])
        .tips(&["nondeterministic_output", "request_policy:special"])
        .docs(
            "Incrementally iterate the keys space",
            "2.8.0",
            "generic",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .history(&[("6.0.0", "Added the `TYPE` subcommand.")])
        .arguments(&[
            arg("cursor", Integer),
            arg("pattern", Pattern).token("MATCH").optional(),
            arg("count", Integer).token("COUNT").optional(),
            arg("type", Str).token("TYPE").since("6.0.0").optional(),
        ]),
    spec("echo", Command::Echo, 2)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .docs("Echo the given string", "1.0.0", "connection", "O(1)")
        .arguments(&[arg("message", Str)]),
    spec("quit", Command::Quit, -1)
        .flags(&["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"])
        .acl(&["@fast", "@connection"])
        .docs("Close the connection", "1.0.0", "connection", "O(1)"),
    spec("select", Command::Select, 2)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .docs(
            "Change the selected database for the current connection",
            "1.0.0",
            "connection",
            "O(1)",
        )
        .arguments(&[arg("index", Integer)]),
    spec("hello", Command::Hello, -1)
        .flags(&["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"])
        .acl(&["@fast", "@connection"])
        .docs("Handshake with Redis", "6.0.0", "connection", "O(1)")
        .history(&[
            ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
        ])
        .arguments(&[
            arg(
                "arguments",
                Block(&[
                    arg("protover", Integer),
                    arg("username_password", Block(&[arg("username", Str), arg("password", Str)]))
                        .token("AUTH")
                        .optional(),
                    arg("clientname", Str).token("SETNAME").optional(),
                ]),
            )
            .optional(),
        ]),
    spec("auth", Command::Auth, -2)
        .flags(&["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"])
        .acl(&["@fast", "@connection"])
        .docs(
            "Authenticate to the server",
            "1.0.0",
            "connection",
            "O(N) where N is the number of passwords defined for the user",
        )
        .history(&[("6.0.0", "Added ACL style (username and password).")])
        .arguments(&[arg("username", Str).since("6.0.0").optional(), arg("password", Str)]),
    spec("reset", Command::Reset, 1)
        .flags(&["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"])
        .acl(&["@fast", "@connection"])
        .docs("Reset the connection", "6.2.0", "connection", "O(1)"),
    spec("readonly", Command::Readonly, 1)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .docs(
            "Enables read queries for a connection to a cluster replica node",
            "3.0.0",
            "cluster",
            "O(1)",
        ),
    spec("readwrite", Command::Readwrite, 1)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .docs(
            "Disables read queries for a connection to a cluster replica node",
            "3.0.0",
            "cluster",
            "O(1)",
        ),
    spec("client", Command::Client, -2)
        .acl(&["@slow"])
        .docs(
            "A container for client connection commands",
            "2.4.0",
            "connection",
            "Depends on subcommand.",
        )
        .subcommands(&[
            spec("client|getname", Command::Client, 2)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs("Get the current connection name", "2.6.9", "connection", "O(1)"),
            spec("client|getredir", Command::Client, 2)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Get tracking notifications redirection client ID if any",
                    "6.0.0",
                    "connection",
                    "O(1)",
                ),
            spec("client|help", Command::Client, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    "connection",
                    "O(1)",
                ),
            spec("client|id", Command::Client, 2)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Returns the client ID for the current connection",
                    "5.0.0",
                    "connection",
                    "O(1)",
                ),
            spec("client|info", Command::Client, 2)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Returns information about the current client connection.",
                    "6.2.0",
                    "connection",
                    "O(1)",
                ),
            spec("client|kill", Command::Client, -3)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous", "@connection"])
                .docs(
                    "Kill the connection of a client",
                    "2.4.0",
                    "connection",
                    "O(N) where N is the number of client connections",
                )
                .history(&[
                    ("2.8.12", "Added new filter format."),
                    ("2.8.12", "`ID` option."),
                    ("3.2.0", "Added `master` type in for `TYPE` option."),
                    ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
                    ("6.2.0", "`LADDR` option."),
                ])
                .arguments(&[
                    arg(
                        "filter",
                        OneOf(&[
                            arg("ip:port", Str).deprecated_since("2.8.12"),
                            arg(
                                "new-format",
                                OneOf(&[
                                    arg("client-id", Integer)
                                        .token("ID")
                                        .since("2.8.12")
                                        .optional(),
                                    arg(
                                        "normal_master_slave_pubsub",
                                        OneOf(&[
                                            pure_token("normal", "NORMAL"),
                                            pure_token("master", "MASTER").since("3.2.0"),
                                            pure_token("slave", "SLAVE"),
                                            pure_token("replica", "REPLICA").since("5.0.0"),
                                            pure_token("pubsub", "PUBSUB"),
                                        ]),
                                    )
                                    .token("TYPE")
                                    .since("2.8.12")
                                    .optional(),
                                    arg("username", Str).token("USER").optional(),
                                    arg("ip:port", Str).token("ADDR").optional(),
                                    arg("ip:port", Str).token("LADDR").since("6.2.0").optional(),
                                    arg("yes/no", Str).token("SKIPME").optional(),
                                ]),
                            )
                            .multiple(),
                        ]),
                    ),
                ]),
            spec("client|list", Command::Client, -2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous", "@connection"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Get the list of client connections",
                    "2.4.0",
                    "connection",
                    "O(N) where N is the number of client connections",
                )
                .history(&[
                    ("2.8.12", "Added unique client `id` field."),
                    ("5.0.0", "Added optional `TYPE` filter."),
                    ("6.0.0", "Added `user` field."),
                    ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
                    ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
                    ("7.0.3", "Added `ssub` field."),
                ])
                .arguments(&[
                    arg(
                        "normal_master_replica_pubsub",
                        OneOf(&[
                            pure_token("normal", "NORMAL"),
                            pure_token("master", "MASTER"),
                            pure_token("replica", "REPLICA"),
                            pure_token("pubsub", "PUBSUB"),
                        ]),
                    )
                    .token("TYPE")
                    .since("5.0.0")
                    .optional(),
                    arg("id", Block(&[arg("client-id", Integer).multiple()]))
                        .token("ID")
                        .since("6.2.0")
                        .optional(),
                ]),
            spec("client|no-evict", Command::Client, 3)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous", "@connection"])
                .docs(
                    "Set client eviction mode for the current connection",
                    "7.0.0",
                    "connection",
                    "O(1)",
                )
                .arguments(&[
                    arg("enabled", OneOf(&[pure_token("on", "ON"), pure_token("off", "OFF")])),
                ]),
            spec("client|no-touch", Command::Client, 3)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
                    "7.2.0",
                    "connection",
                    "O(1)",
                )
                .arguments(&[
                    arg("enabled", OneOf(&[pure_token("on", "ON"), pure_token("off", "OFF")])),
                ]),
            spec("client|reply", Command::Client, 3)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Instruct the server whether to reply to commands",
                    "3.2.0",
                    "connection",
                    "O(1)",
                )
                .arguments(&[
                    arg(
                        "on_off_skip",
                        OneOf(&[
                            pure_token("on", "ON"),
                            pure_token("off", "OFF"),
                            pure_token("skip", "SKIP"),
                        ]),
                    ),
                ]),
            spec("client|setinfo", Command::Client, 4)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Sets information specific to the client or connection.",
                    "7.2.0",
                    "connection",
                    "O(1)",
                )
                .arguments(&[arg(
                    "attr",
                    OneOf(&[
                        arg("libname", Str).token("lib-name"),
                        arg("libver", Str).token("lib-ver"),
                    ]),
                )]),
            spec("client|setname", Command::Client, 3)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs("Set the current connection name", "2.6.9", "connection", "O(1)")
                .arguments(&[arg("connection-name", Str)]),
            spec("client|tracking", Command::Client, -3)
                .flags(&["noscript", "loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Enable or disable server assisted client side caching support",
                    "6.0.0",
                    "connection",
                    "O(1). Some options may introduce additional complexity.",
                )
                .arguments(&[
                    arg("status", OneOf(&[pure_token("on", "ON"), pure_token("off", "OFF")])),
                    arg("client-id", Integer).token("REDIRECT").optional(),
                    arg("prefix", Str).token("PREFIX").optional().multiple().multiple_token(),
                    pure_token("bcast", "BCAST").optional(),
                    pure_token("optin", "OPTIN").optional(),
                    pure_token("optout", "OPTOUT").optional(),
                    pure_token("noloop", "NOLOOP").optional(),
                ]),
        ]),
    spec("subscribe", Command::Subscribe, -2)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .acl(&["@pubsub", "@slow"])
        .docs(
            "Listen for messages published to the given channels",
            "2.0.0",
            "pubsub",
            "O(N) where N is the number of channels to subscribe to.",
        )
        .arguments(&[arg("channel", Str).multiple()]),
    spec("unsubscribe", Command::Unsubscribe, -1)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .acl(&["@pubsub", "@slow"])
        .docs(
            "Stop listening for messages posted to the given channels",
            "2.0.0",
            "pubsub",
            "O(N) where N is the number of clients already subscribed to a channel.",
        )
        .arguments(&[arg("channel", Str).optional().multiple()]),
    spec("psubscribe", Command::Psubscribe, -2)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .acl(&["@pubsub", "@slow"])
        .docs(
            "Listen for messages published to channels matching the given patterns",
            "2.0.0",
            "pubsub",
            "O(N) where N is the number of patterns the client is already subscribed to.",
        )
        .arguments(&[arg("pattern", Block(&[arg("pattern", Pattern)])).multiple()]),
    spec("punsubscribe", Command::Punsubscribe, -1)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .acl(&["@pubsub", "@slow"])
        .docs(
            "Stop listening for messages posted to channels matching the given patterns",
            "2.0.0",
            "pubsub",
            "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        )
        .arguments(&[arg("pattern", Pattern).optional().multiple()]),
    spec("ssubscribe", Command::Ssubscribe, -2)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .keys(1, -1, 1)
        .acl(&["@pubsub", "@slow"])
        .key_specs(&[key_spec(&["not_key"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 })])
        .docs(
            "Listen for messages published to the given shard channels",
            "7.0.0",
            "pubsub",
            "O(N) where N is the number of shard channels to subscribe to.",
        )
        .arguments(&[arg("shardchannel", Str).multiple()]),
    spec("sunsubscribe", Command::Sunsubscribe, -1)
        .flags(&["pubsub", "noscript", "loading", "stale"])
        .keys(1, -1, 1)
        .acl(&["@pubsub", "@slow"])
        .key_specs(&[key_spec(&["not_key"], Index(1), Range { lastkey: -1, keystep: 1, limit: 0 })])
        .docs(
            "Stop listening for messages posted to the given shard channels",
            "7.0.0",
            "pubsub",
            "O(N) where N is the number of clients already subscribed to a shard channel.",
        )
        .arguments(&[arg("shardchannel", Str).optional().multiple()]),
    spec("publish", Command::Publish, 3)
        .flags(&["pubsub", "loading", "stale", "fast"])
        .acl(&["@pubsub", "@fast"])
        .docs(
            "Post a message to a channel",
            "2.0.0",
            "pubsub",
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        )
        .arguments(&[arg("channel", Str), arg("message", Str)]),
    spec("spublish", Command::Spublish, 3)
        .flags(&["pubsub", "loading", "stale", "fast"])
        .keys(1, 1, 1)
        .acl(&["@pubsub", "@fast"])
        .key_specs(&[key_spec(&["not_key"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 })])
        .docs(
            "Post a message to a shard channel",
            "7.0.0",
            "pubsub",
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        )
        .arguments(&[arg("shardchannel", Str), arg("message", Str)]),
    spec("pubsub", Command::Pubsub, -2)
        .acl(&["@slow"])
        .docs("A container for Pub/Sub commands", "2.8.0", "pubsub", "Depends on subcommand.")
        .subcommands(&[
            spec("pubsub|channels", Command::Pubsub, -2)
                .flags(&["pubsub", "loading", "stale"])
                .acl(&["@pubsub", "@slow"])
                .docs(
                    "List active channels",
                    "2.8.0",
                    "pubsub",
                    "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
                )
                .arguments(&[arg("pattern", Pattern).optional()]),
            spec("pubsub|help", Command::Pubsub, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    "pubsub",
                    "O(1)",
                ),
            spec("pubsub|numpat", Command::Pubsub, 2)
                .flags(&["pubsub", "loading", "stale"])
                .acl(&["@pubsub", "@slow"])
                .docs(
                    "Get the count of unique patterns pattern subscriptions",
                    "2.8.0",
                    "pubsub",
                    "O(1)",
                ),
            spec("pubsub|numsub", Command::Pubsub, -2)
                .flags(&["pubsub", "loading", "stale"])
                .acl(&["@pubsub", "@slow"])
                .docs(
                    "Get the count of subscribers for channels",
                    "2.8.0",
                    "pubsub",
                    "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                )
                .arguments(&[arg("channel", Str).optional().multiple()]),
            spec("pubsub|shardchannels", Command::Pubsub, -2)
                .flags(&["pubsub", "loading", "stale"])
                .acl(&["@pubsub", "@slow"])
                .docs(
                    "List active shard channels",
                    "7.0.0",
                    "pubsub",
                    "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
                )
                .arguments(&[arg("pattern", Pattern).optional()]),
            spec("pubsub|shardnumsub", Command::Pubsub, -2)
                .flags(&["pubsub", "loading", "stale"])
                .acl(&["@pubsub", "@slow"])
                .docs(
                    "Get the count of subscribers for shard channels",
                    "7.0.0",
                    "pubsub",
                    "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
                )
                .arguments(&[arg("shardchannel", Str).optional().multiple()]),
        ]),
    spec("info", Command::Info, -1)
        .flags(&["loading", "stale"])
        .acl(&["@slow", "@dangerous"])
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .docs("Get information and statistics about the server", "1.0.0", "server", "O(1)")
        .history(&[("7.0.0", "Added support for taking multiple section arguments.")])
        .arguments(&[arg("section", Str).optional().multiple()]),
    spec("command", Command::Command, -1)
        .flags(&["loading", "stale"])
        .acl(&["@slow", "@connection"])
        .tips(&["nondeterministic_output_order"])
        .docs(
            "Get array of Redis command details",
            "2.8.13",
            "server",
            "O(N) where N is the total number of Redis commands",
        )
        .subcommands(&[
            spec("command|count", Command::Command, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs("Get total number of Redis commands", "2.8.13", "server", "O(1)"),
            spec("command|docs", Command::Command, -2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .tips(&["nondeterministic_output_order"])
                .docs(
                    "Get array of specific Redis command documentation",
                    "7.0.0",
                    "server",
                    "O(N) where N is the number of commands to look up",
                )
                .arguments(&[arg("command-name", Str).optional().multiple()]),
            spec("command|getkeys", Command::Command, -4)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Extract keys given a full Redis command",
                    "2.8.13",
                    "server",
                    "O(N) where N is the number of arguments to the command",
                ),
            spec("command|getkeysandflags", Command::Command, -4)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Extract keys and access flags given a full Redis command",
                    "7.0.0",
                    "server",
                    "O(N) where N is the number of arguments to the command",
                ),
            spec("command|help", Command::Command, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    "server",
                    "O(1)",
                ),
            spec("command|info", Command::Command, -2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .tips(&["nondeterministic_output_order"])
                .docs(
                    "Get array of specific Redis command details, or all when no argument is given.",
                    "2.8.13",
                    "server",
                    "O(N) where N is the number of commands to look up",
                )
                .history(&[
                    ("7.0.0", "Allowed to be called with no argument to get info on all commands."),
                ])
                .arguments(&[arg("command-name", Str).optional().multiple()]),
            spec("command|list", Command::Command, -2)
                .flags(&["loading", "stale"])
                .acl(&["@slow", "@connection"])
                .tips(&["nondeterministic_output_order"])
                .docs(
                    "Get an array of Redis command names",
                    "7.0.0",
                    "server",
                    "O(N) where N is the total number of Redis commands",
                )
                .arguments(&[
                    arg(
                        "filterby",
                        OneOf(&[
                            arg("module-name", Str).token("MODULE"),
                            arg("category", Str).token("ACLCAT"),
                            arg("pattern", Pattern).token("PATTERN"),
                        ]),
                    )
                    .token("FILTERBY")
                    .optional(),
                ]),
        ]),
    spec("config", Command::Config, -2)
        .acl(&["@slow"])
        .docs(
            "A container for server configuration commands",
            "2.0.0",
            "server",
            "Depends on subcommand.",
        )
        .subcommands(&[
            spec("config|get", Command::Config, -3)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Get the values of configuration parameters",
                    "2.0.0",
                    "server",
                    "O(N) when N is the number of configuration parameters provided",
                )
                .history(&[
                    ("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),
                ])
                .arguments(&[arg("parameter", Block(&[arg("parameter", Str)])).multiple()]),
            spec("config|help", Command::Config, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    "server",
                    "O(1)",
                ),
            spec("config|resetstat", Command::Config, 2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Reset the stats returned by INFO", "2.0.0", "server", "O(1)"),
            spec("config|rewrite", Command::Config, 2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Rewrite the configuration file with the in memory configuration",
                    "2.8.0",
                    "server",
                    "O(1)",
                ),
            spec("config|set", Command::Config, -4)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .docs(
                    "Set configuration parameters to the given values",
                    "2.0.0",
                    "server",
                    "O(N) when N is the number of configuration parameters provided",
                )
                .history(&[("7.0.0", "Added the ability to set multiple parameters in one call.")])
                .arguments(&[
                    arg("parameter_value", Block(&[arg("parameter", Str), arg("value", Str)]))
                        .multiple(),
                ]),
        ]),
    spec("memory", Command::Memory, -2)
        .acl(&["@slow"])
        .docs(
            "A container for memory diagnostics commands",
            "4.0.0",
            "server",
            "Depends on subcommand.",
        )
        .subcommands(&[
            spec("memory|doctor", Command::Memory, 2)
                .acl(&["@slow"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .docs("Outputs memory problems report", "4.0.0", "server", "O(1)"),
            spec("memory|help", Command::Memory, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "4.0.0",
                    "server",
                    "O(1)",
                ),
            spec("memory|stats", Command::Memory, 2)
                .acl(&["@slow"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_shards",
                    "response_policy:special",
                ])
                .docs("Show memory usage details", "4.0.0", "server", "O(1)"),
            spec("memory|usage", Command::Memory, -3)
                .flags(&["readonly"])
                .keys(2, 2, 1)
                .acl(&["@read", "@slow"])
                .key_specs(&[
                    key_spec(&["RO"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
                ])
                .docs(
                    "Estimate the memory usage of a key",
                    "4.0.0",
                    "server",
                    "O(N) where N is the number of samples.",
                )
                .arguments(&[arg("key", Key(0)), arg("count", Integer).token("SAMPLES").optional()]),
        ]),
    spec("time", Command::Time, 1)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast"])
        .tips(&["nondeterministic_output"])
        .docs("Return the current server time", "2.6.0", "server", "O(1)"),
    spec("monitor", Command::Monitor, 1)
        .flags(&["admin", "noscript", "loading", "stale"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("Listen for all requests received by the server in real time", "1.0.0", "server", ""),
    spec("debug", Command::Debug, -2)
        .flags(&["admin", "noscript", "loading", "stale"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("A container for debugging commands", "1.0.0", "server", "Depends on subcommand.")
        .doc_flags(&["syscmd"]),
    spec("slowlog", Command::Slowlog, -2)
        .acl(&["@slow"])
        .docs("A container for slow log commands", "2.2.12", "server", "Depends on subcommand.")
        .subcommands(&[
            spec("slowlog|get", Command::Slowlog, -2)
                .flags(&["admin", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["request_policy:all_nodes", "nondeterministic_output"])
                .docs(
                    "Get the slow log's entries",
                    "2.2.12",
                    "server",
                    "O(N) where N is the number of entries returned",
                )
                .history(&[("4.0.0", "Added client IP address, port and name to the reply.")])
                .arguments(&[arg("count", Integer).optional()]),
            spec("slowlog|help", Command::Slowlog, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    "server",
                    "O(1)",
                ),
            spec("slowlog|len", Command::Slowlog, 2)
                .flags(&["admin", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&[
                    "request_policy:all_nodes",
                    "response_policy:agg_sum",
                    "nondeterministic_output",
                ])
                .docs("Get the slow log's length", "2.2.12", "server", "O(1)"),
            spec("slowlog|reset", Command::Slowlog, 2)
                .flags(&["admin", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .docs(
                    "Clear all entries from the slow log",
                    "2.2.12",
                    "server",
                    "O(N) where N is the number of entries in the slowlog",
                ),
        ]),
    spec("latency", Command::Latency, -2)
        .acl(&["@slow"])
        .docs(
            "A container for latency diagnostics commands",
            "2.8.13",
            "server",
            "Depends on subcommand.",
        )
        .subcommands(&[
            spec("latency|doctor", Command::Latency, 2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .docs(
                    "Return a human readable latency analysis report.",
                    "2.8.13",
                    "server",
                    "O(1)",
                ),
            spec("latency|help", Command::Latency, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands.",
                    "2.8.13",
                    "server",
                    "O(1)",
                ),
            spec("latency|histogram", Command::Latency, -2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .docs(
                    "Return the cumulative distribution of latencies of a subset of commands or all.",
                    "7.0.0",
                    "server",
                    "O(N) where N is the number of commands with latency information being retrieved.",
                )
                .arguments(&[arg("command", Str).optional().multiple()]),
            spec("latency|history", Command::Latency, 3)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .docs(
                    "Return timestamp-latency samples for the event.",
                    "2.8.13",
                    "server",
                    "O(1)",
                )
                .arguments(&[arg("event", Str)]),
            spec("latency|latest", Command::Latency, 2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .docs(
                    "Return the latest latency samples for all events.",
                    "2.8.13",
                    "server",
                    "O(1)",
                ),
            spec("latency|reset", Command::Latency, -2)
                .flags(&["admin", "noscript", "loading", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .docs("Reset latency data for one or more events.", "2.8.13", "server", "O(1)")
                .arguments(&[arg("event", Str).optional().multiple()]),
        ]),
    spec("object", Command::Object, -2)
        .acl(&["@slow"])
        .docs(
            "A container for object introspection commands",
            "2.2.3",
            "generic",
            "Depends on subcommand.",
        )
        .subcommands(&[
            spec("object|encoding", Command::Object, 3)
                .flags(&["readonly"])
                .keys(2, 2, 1)
                .acl(&["@keyspace", "@read", "@slow"])
                .tips(&["nondeterministic_output"])
                .key_specs(&[
                    key_spec(&["RO"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
                ])
                .docs(
                    "Inspect the internal encoding of a Redis object",
                    "2.2.3",
                    "generic",
                    "O(1)",
                )
                .arguments(&[arg("key", Key(0))]),
            spec("object|freq", Command::Object, 3)
                .flags(&["readonly"])
                .keys(2, 2, 1)
                .acl(&["@keyspace", "@read", "@slow"])
                .tips(&["nondeterministic_output"])
                .key_specs(&[
                    key_spec(&["RO"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
                ])
                .docs(
                    "Get the logarithmic access frequency counter of a Redis object",
                    "4.0.0",
                    "generic",
                    "O(1)",
                )
                .arguments(&[arg("key", Key(0))]),
            spec("object|help", Command::Object, 2)
                .flags(&["loading", "stale"])
                .acl(&["@keyspace", "@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "6.2.0",
                    "generic",
                    "O(1)",
                ),
            spec("object|idletime", Command::Object, 3)
                .flags(&["readonly"])
                .keys(2, 2, 1)
                .acl(&["@keyspace", "@read", "@slow"])
                .tips(&["nondeterministic_output"])
                .key_specs(&[
                    key_spec(&["RO"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
                ])
                .docs(
                    "Get the time since a Redis object was last accessed",
                    "2.2.3",
                    "generic",
                    "O(1)",
                )
                .arguments(&[arg("key", Key(0))]),
            spec("object|refcount", Command::Object, 3)
                .flags(&["readonly"])
                .keys(2, 2, 1)
                .acl(&["@keyspace", "@read", "@slow"])
                .tips(&["nondeterministic_output"])
                .key_specs(&[
                    key_spec(&["RO"], Index(2), Range { lastkey: 0, keystep: 1, limit: 0 }),
                ])
                .docs(
                    "Get the number of references to the value of the key",
                    "2.2.3",
                    "generic",
                    "O(1)",
                )
                .arguments(&[arg("key", Key(0))]),
        ]),
    spec("save", Command::Save, 1)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "Synchronously save the dataset to disk",
            "1.0.0",
            "server",
            "O(N) where N is the total number of keys in all databases",
        ),
    spec("bgsave", Command::Bgsave, -1)
        .flags(&["admin", "noscript", "no_async_loading"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("Asynchronously save the dataset to disk", "1.0.0", "server", "O(1)")
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")])
        .arguments(&[pure_token("schedule", "SCHEDULE").since("3.2.2").optional()]),
    spec("lastsave", Command::Lastsave, 1)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@admin", "@fast", "@dangerous"])
        .tips(&["nondeterministic_output"])
        .docs(
            "Get the UNIX time stamp of the last successful save to disk",
            "1.0.0",
            "server",
            "O(1)",
        ),
    spec("shutdown", Command::Shutdown, -1)
        .flags(&["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "Synchronously save the dataset to disk and then shut down the server",
            "1.0.0",
            "server",
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        )
        .history(&[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")])
        .arguments(&[
            arg(
                "nosave_save",
                OneOf(&[pure_token("nosave", "NOSAVE"), pure_token("save", "SAVE")]),
            )
            .optional(),
            pure_token("now", "NOW").since("7.0.0").optional(),
            pure_token("force", "FORCE").since("7.0.0").optional(),
            pure_token("abort", "ABORT").since("7.0.0").optional(),
        ]),
    spec("setex", Command::Setex, 4)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set the value and expiration of a key", "2.0.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0)), arg("seconds", Integer), arg("value", Str)]),
    spec("psetex", Command::Psetex, 4)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set the value and expiration in milliseconds of a key", "2.6.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0)), arg("milliseconds", Integer), arg("value", Str)]),
    spec("getex", Command::Getex, -2)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            )
            .notes("RW and UPDATE because it changes the TTL"),
        ])
        .docs(
            "Get the value of a key and optionally set its expiration",
            "6.2.0",
            "string",
            "O(1)",
        )
        .arguments(&[
            arg("key", Key(0)),
            arg(
                "expiration",
                OneOf(&[
                    arg("seconds", Integer).token("EX"),
                    arg("milliseconds", Integer).token("PX"),
                    arg("unix-time-seconds", UnixTime).token("EXAT"),
                    arg("unix-time-milliseconds", UnixTime).token("PXAT"),
                    pure_token("persist", "PERSIST"),
                ]),
            )
            .optional(),
        ]),
    spec("expire", Command::Expire, -3)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set a key's time to live in seconds", "1.0.0", "generic", "O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .arguments(&[
            arg("key", Key(0)),
            arg("seconds", Integer),
            arg(
                "condition",
                OneOf(&[
                    pure_token("nx", "NX"),
                    pure_token("xx", "XX"),
                    pure_token("gt", "GT"),
                    pure_token("lt", "LT"),
                ]),
            )
            .since("7.0.0")
            .optional(),
        ]),
    spec("pexpire", Command::Pexpire, -3)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set a key's time to live in milliseconds", "2.6.0", "generic", "O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .arguments(&[
            arg("key", Key(0)),
            arg("milliseconds", Integer),
            arg(
                "condition",
                OneOf(&[
                    pure_token("nx", "NX"),
                    pure_token("xx", "XX"),
                    pure_token("gt", "GT"),
                    pure_token("lt", "LT"),
                ]),
            )
            .since("7.0.0")
            .optional(),
        ]),
    spec("expireat", Command::Expireat, -3)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set the expiration for a key as a UNIX timestamp", "1.2.0", "generic", "O(1)")
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .arguments(&[
            arg("key", Key(0)),
            arg("unix-time-seconds", UnixTime),
            arg(
                "condition",
                OneOf(&[
                    pure_token("nx", "NX"),
                    pure_token("xx", "XX"),
                    pure_token("gt", "GT"),
                    pure_token("lt", "LT"),
                ]),
            )
            .since("7.0.0")
            .optional(),
        ]),
    spec("pexpireat", Command::Pexpireat, -3)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
            "2.6.0",
            "generic",
            "O(1)",
        )
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .arguments(&[
            arg("key", Key(0)),
            arg("unix-time-milliseconds", UnixTime),
            arg(
                "condition",
                OneOf(&[
                    pure_token("nx", "NX"),
                    pure_token("xx", "XX"),
                    pure_token("gt", "GT"),
                    pure_token("lt", "LT"),
                ]),
            )
            .since("7.0.0")
            .optional(),
        ]),
    spec("ttl", Command::Ttl, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["nondeterministic_output"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Get the time to live for a key in seconds", "1.0.0", "generic", "O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")])
        .arguments(&[arg("key", Key(0))]),
    spec("pttl", Command::Pttl, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["nondeterministic_output"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Get the time to live for a key in milliseconds", "2.6.0", "generic", "O(1)")
        .history(&[("2.8.0", "Added the -2 reply.")])
        .arguments(&[arg("key", Key(0))]),
    spec("expiretime", Command::Expiretime, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Get the expiration Unix timestamp for a key", "7.0.0", "generic", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("pexpiretime", Command::Pexpiretime, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@read", "@fast"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Get the expiration Unix timestamp for a key in milliseconds",
            "7.0.0",
            "generic",
            "O(1)",
        )
        .arguments(&[arg("key", Key(0))]),
    spec("persist", Command::Persist, 2)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Remove the expiration from a key", "2.2.0", "generic", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("incr", Command::Incr, 2)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs("Increment the integer value of a key by one", "1.0.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("decr", Command::Decr, 2)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs("Decrement the integer value of a key by one", "1.0.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("incrby", Command::Incrby, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs(
            "Increment the integer value of a key by the given amount",
            "1.0.0",
            "string",
            "O(1)",
        )
        .arguments(&[arg("key", Key(0)), arg("increment", Integer)]),
    spec("decrby", Command::Decrby, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs(
            "Decrement the integer value of a key by the given number",
            "1.0.0",
            "string",
            "O(1)",
        )
        .arguments(&[arg("key", Key(0)), arg("decrement", Integer)]),
    spec("incrbyfloat", Command::Incrbyfloat, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs("Increment the float value of a key by the given amount", "2.6.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0)), arg("increment", Double)]),
    spec("append", Command::Append, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(&["RW", "insert"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Append a value to a key",
            "2.0.0",
            "string",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        )
        .arguments(&[arg("key", Key(0)), arg("value", Str)]),
    spec("setrange", Command::Setrange, 4)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["RW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Overwrite part of a string at key starting at the specified offset",
            "2.2.0",
            "string",
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        )
        .arguments(&[arg("key", Key(0)), arg("offset", Integer), arg("value", Str)]),
    spec("getrange", Command::Getrange, 4)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .acl(&["@read", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Get a substring of the string stored at a key",
            "2.4.0",
            "string",
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        )
        .arguments(&[arg("key", Key(0)), arg("start", Integer), arg("end", Integer)]),
    spec("substr", Command::Substr, 4)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .acl(&["@read", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Get a substring of the string stored at a key",
            "1.0.0",
            "string",
            "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        )
        .doc_flags(&["deprecated"])
        .deprecated_since("2.0.0")
        .replaced_by("`GETRANGE`")
        .arguments(&[arg("key", Key(0)), arg("start", Integer), arg("end", Integer)]),
    spec("strlen", Command::Strlen, 2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@read", "@string", "@fast"])
        .key_specs(&[key_spec(&["RO"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 })])
        .docs("Get the length of the value stored in a key", "2.2.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("getdel", Command::Getdel, 2)
        .flags(&["write", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "delete"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs("Get the value of a key and delete the key", "6.2.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0))]),
    spec("getset", Command::Getset, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs("Set the string value of a key and return its old value", "1.0.0", "string", "O(1)")
        .doc_flags(&["deprecated"])
        .deprecated_since("6.2.0")
        .replaced_by("`SET` with the `!GET` argument")
        .arguments(&[arg("key", Key(0)), arg("value", Str)]),
    spec("setnx", Command::Setnx, 3)
        .flags(&["write", "denyoom", "fast"])
        .keys(1, 1, 1)
        .acl(&["@write", "@string", "@fast"])
        .key_specs(&[
            key_spec(&["OW", "insert"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Set the value of a key, only if the key does not exist", "1.0.0", "string", "O(1)")
        .arguments(&[arg("key", Key(0)), arg("value", Str)]),
    spec("setbit", Command::Setbit, 4)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@bitmap", "@slow"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
        ])
        .docs(
            "Sets or clears the bit at offset in the string value stored at key",
            "2.2.0",
            "bitmap",
            "O(1)",
        )
        .arguments(&[arg("key", Key(0)), arg("offset", Integer), arg("value", Integer)]),
    spec("getbit", Command::Getbit, 3)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@read", "@bitmap", "@fast"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Returns the bit value at offset in the string value stored at key",
            "2.2.0",
            "bitmap",
            "O(1)",
        )
        .arguments(&[arg("key", Key(0)), arg("offset", Integer)]),
    spec("bitcount", Command::Bitcount, -2)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .acl(&["@read", "@bitmap", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Count set bits in a string", "2.6.0", "bitmap", "O(N)")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")])
        .arguments(&[
            arg("key", Key(0)),
            arg(
                "index",
                Block(&[
                    arg("start", Integer),
                    arg("end", Integer),
                    arg(
                        "index_unit",
                        OneOf(&[pure_token("byte", "BYTE"), pure_token("bit", "BIT")]),
                    )
                    .since("7.0.0")
                    .optional(),
                ]),
            )
            .optional(),
        ]),
    spec("bitpos", Command::Bitpos, -3)
        .flags(&["readonly"])
        .keys(1, 1, 1)
        .acl(&["@read", "@bitmap", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs("Find first bit set or clear in a string", "2.8.7", "bitmap", "O(N)")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")])
        .arguments(&[
            arg("key", Key(0)),
            arg("bit", Integer),
            arg(
                "index",
                Block(&[
                    arg("start", Integer),
                    arg(
                        "end_index",
                        Block(&[
                            arg("end", Integer),
                            arg(
                                "index_unit",
                                OneOf(&[pure_token("byte", "BYTE"), pure_token("bit", "BIT")]),
                            )
                            .since("7.0.0")
                            .optional(),
                        ]),
                    )
                    .optional(),
                ]),
            )
            .optional(),
        ]),
    spec("bitfield", Command::Bitfield, -2)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .acl(&["@write", "@bitmap", "@slow"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "update", "variable_flags"],
                Index(1),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            )
            .notes("This command allows both access and modification of the key"),
        ])
        .find_keys(bitfield_keys)
        .docs(
            "Perform arbitrary bitfield integer operations on strings",
            "3.2.0",
            "bitmap",
            "O(1) for each subcommand specified",
        )
        .arguments(&[
            arg("key", Key(0)),
            arg(
                "operation",
                OneOf(&[
                    arg("encoding_offset", Block(&[arg("encoding", Str), arg("offset", Integer)]))
                        .token("GET"),
                    arg(
                        "write",
                        Block(&[
                            arg(
                                "wrap_sat_fail",
                                OneOf(&[
                                    pure_token("wrap", "WRAP"),
                                    pure_token("sat", "SAT"),
                                    pure_token("fail", "FAIL"),
                                ]),
                            )
                            .token("OVERFLOW")
                            .optional(),
                            arg(
                                "write_operation",
                                OneOf(&[
                                    arg(
                                        "encoding_offset_value",
                                        Block(&[
                                            arg("encoding", Str),
                                            arg("offset", Integer),
                                            arg("value", Integer),
                                        ]),
                                    )
                                    .token("SET"),
                                    arg(
                                        "encoding_offset_increment",
                                        Block(&[
                                            arg("encoding", Str),
                                            arg("offset", Integer),
                                            arg("increment", Integer),
                                        ]),
                                    )
                                    .token("INCRBY"),
                                ]),
                            ),
                        ]),
                    ),
                ]),
            )
            .optional()
            .multiple(),
        ]),
    spec("bitfield_ro", Command::BitfieldRo, -2)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .acl(&["@read", "@bitmap", "@fast"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
            "6.0.0",
            "bitmap",
            "O(1) for each subcommand specified",
        )
        .arguments(&[
            arg("key", Key(0)),
            arg("encoding_offset", Block(&[arg("encoding", Str), arg("offset", Integer)]))
                .token("GET")
                .optional()
                .multiple()
                .multiple_token(),
        ]),
    spec("lcs", Command::Lcs, -3)
        .flags(&["readonly"])
        .keys(1, 2, 1)
        .acl(&["@read", "@string", "@slow"])
        .key_specs(&[
            key_spec(&["RO", "access"], Index(1), Range { lastkey: 1, keystep: 1, limit: 0 }),
        ])
        .docs(
            "Find longest common substring",
            "7.0.0",
            "string",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        )
        .arguments(&[
            arg("key1", Key(0)),
            arg("key2", Key(0)),
            pure_token("len", "LEN").optional(),
            pure_token("idx", "IDX").optional(),
            arg("len", Integer).token("MINMATCHLEN").optional(),
            pure_token("withmatchlen", "WITHMATCHLEN").optional(),
        ]),
    spec("sync", Command::Sync, 1)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("Internal command used for replication", "1.0.0", "server", ""),
    spec("psync", Command::Psync, -3)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("Internal command used for replication", "2.8.0", "server", "")
        .arguments(&[arg("replicationid", Str), arg("offset", Integer)]),
    spec("replconf", Command::Replconf, -1)
        .flags(&["admin", "noscript", "loading", "stale", "allow_busy"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "An internal command for configuring the replication stream",
            "3.0.0",
            "server",
            "O(1)",
        )
        .doc_flags(&["syscmd"]),
    spec("replicaof", Command::Replicaof, 3)
        .flags(&["admin", "noscript", "stale", "no_async_loading"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "Make the server a replica of another instance, or promote it as master.",
            "5.0.0",
            "server",
            "O(1)",
        )
        .arguments(&[
            arg(
                "args",
                OneOf(&[
                    arg("host-port", Block(&[arg("host", Str), arg("port", Integer)])),
                    arg("no-one", Block(&[pure_token("no", "NO"), pure_token("one", "ONE")])),
                ]),
            ),
        ]),
    spec("slaveof", Command::Replicaof, 3)
        .flags(&["admin", "noscript", "stale", "no_async_loading"])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "Make the server a replica of another instance, or promote it as master.",
            "1.0.0",
            "server",
            "O(1)",
        )
        .doc_flags(&["deprecated"])
        .deprecated_since("5.0.0")
        .replaced_by("`REPLICAOF`")
        .arguments(&[
            arg(
                "args",
                OneOf(&[
                    arg("host-port", Block(&[arg("host", Str), arg("port", Integer)])),
                    arg("no-one", Block(&[pure_token("no", "NO"), pure_token("one", "ONE")])),
                ]),
            ),
        ]),
    spec("role", Command::Role, 1)
        .flags(&["noscript", "loading", "stale", "fast"])
        .acl(&["@admin", "@fast", "@dangerous"])
        .docs(
            "Return the role of the instance in the context of replication",
            "2.8.12",
            "server",
            "O(1)",
        ),
    spec("wait", Command::Wait, 3)
        .flags(&["noscript"])
        .acl(&["@slow", "@connection"])
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .docs(
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
            "3.0.0",
            "generic",
            "O(1)",
        )
        .arguments(&[arg("numreplicas", Integer), arg("timeout", Integer)]),
    spec("migrate", Command::Migrate, -6)
        .flags(&["write", "movablekeys"])
        .keys(3, 3, 1)
        .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
        .tips(&["nondeterministic_output"])
        .key_specs(&[
            key_spec(
                &["RW", "access", "delete"],
                Index(3),
                Range { lastkey: 0, keystep: 1, limit: 0 },
            ),
            key_spec(
                &["RW", "access", "delete", "incomplete"],
                Keyword { keyword: "KEYS", startfrom: -2 },
                Range { lastkey: -1, keystep: 1, limit: 0 },
            ),
        ])
        .docs(
            "Atomically transfer a key from a Redis instance to another one.",
            "2.6.0",
            "generic",
            "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
        )
        .history(&[
            ("3.0.0", "Added the `COPY` and `REPLACE` options."),
            ("3.0.6", "Added the `KEYS` option."),
            ("4.0.7", "Added the `AUTH` option."),
            ("6.0.0", "Added the `AUTH2` option."),
        ])
        .arguments(&[
            arg("host", Str),
            arg("port", Integer),
            arg(
                "key_or_empty_string",
                OneOf(&[arg("key", Key(0)), pure_token("empty_string", "")]),
            ),
            arg("destination-db", Integer),
            arg("timeout", Integer),
            pure_token("copy", "COPY").since("3.0.0").optional(),
            pure_token("replace", "REPLACE").since("3.0.0").optional(),
            arg(
                "authentication",
                OneOf(&[
                    arg("password", Str).token("AUTH").since("4.0.7").optional(),
                    arg("username_password", Block(&[arg("username", Str), arg("password", Str)]))
                        .token("AUTH2")
                        .since("6.0.0")
                        .optional(),
                ]),
            )
            .optional(),
            arg("key", Key(1)).token("KEYS").since("3.0.6").optional().multiple(),
        ]),
    spec("restore-asking", Command::RestoreAsking, -4)
        .flags(&["write", "denyoom", "asking"])
        .keys(1, 1, 1)
        .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
        .key_specs(&[
            key_spec(&["OW", "update"], Index(1), Range { lastkey: 0, keystep: 1, limit: 0 }),
        ])
        .docs(
            "An internal command for migrating keys in a cluster",
            "3.0.0",
            "server",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        )
        .doc_flags(&["syscmd"])
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ])
        .arguments(&[
            arg("key", Key(0)),
            arg("ttl", Integer),
            arg("serialized-value", Str),
            pure_token("replace", "REPLACE").since("3.0.0").optional(),
            pure_token("absttl", "ABSTTL").since("5.0.0").optional(),
            arg("seconds", Integer).token("IDLETIME").since("5.0.0").optional(),
            arg("frequency", Integer).token("FREQ").since("5.0.0").optional(),
        ]),
    spec("cluster", Command::Cluster, -2)
        .acl(&["@slow"])
        .docs("A container for cluster commands", "3.0.0", "cluster", "Depends on subcommand.")
        .subcommands(&[
            spec("cluster|addslots", Command::Cluster, -3)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Assign new hash slots to receiving node",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the total number of hash slot arguments",
                )
                .arguments(&[arg("slot", Integer).multiple()]),
            spec("cluster|addslotsrange", Command::Cluster, -4)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Assign new hash slots to receiving node",
                    "7.0.0",
                    "cluster",
                    "O(N) where N is the total number of the slots between the start slot and end slot arguments.",
                )
                .arguments(&[
                    arg(
                        "start-slot_end-slot",
                        Block(&[arg("start-slot", Integer), arg("end-slot", Integer)]),
                    )
                    .multiple(),
                ]),
            spec("cluster|bumpepoch", Command::Cluster, 2)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["nondeterministic_output"])
                .docs("Advance the cluster config epoch", "3.0.0", "cluster", "O(1)"),
            spec("cluster|count-failure-reports", Command::Cluster, 3)
                .flags(&["admin", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Return the number of failure reports active for a given node",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the number of failure reports",
                )
                .arguments(&[arg("node-id", Str)]),
            spec("cluster|countkeysinslot", Command::Cluster, 3)
                .flags(&["stale"])
                .acl(&["@slow"])
                .docs(
                    "Return the number of local keys in the specified hash slot",
                    "3.0.0",
                    "cluster",
                    "O(1)",
                )
                .arguments(&[arg("slot", Integer)]),
            spec("cluster|delslots", Command::Cluster, -3)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Set hash slots as unbound in receiving node",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the total number of hash slot arguments",
                )
                .arguments(&[arg("slot", Integer).multiple()]),
            spec("cluster|delslotsrange", Command::Cluster, -4)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Set hash slots as unbound in receiving node",
                    "7.0.0",
                    "cluster",
                    "O(N) where N is the total number of the slots between the start slot and end slot arguments.",
                )
                .arguments(&[
                    arg(
                        "start-slot_end-slot",
                        Block(&[arg("start-slot", Integer), arg("end-slot", Integer)]),
                    )
                    .multiple(),
                ]),
            spec("cluster|failover", Command::Cluster, -2)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Forces a replica to perform a manual failover of its master.",
                    "3.0.0",
                    "cluster",
                    "O(1)",
                )
                .arguments(&[
                    arg(
                        "options",
                        OneOf(&[pure_token("force", "FORCE"), pure_token("takeover", "TAKEOVER")]),
                    )
                    .optional(),
                ]),
            spec("cluster|flushslots", Command::Cluster, 2)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Delete a node's own slots information", "3.0.0", "cluster", "O(1)"),
            spec("cluster|forget", Command::Cluster, 3)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Remove a node from the nodes table", "3.0.0", "cluster", "O(1)")
                .arguments(&[arg("node-id", Str)]),
            spec("cluster|getkeysinslot", Command::Cluster, 4)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Return local key names in the specified hash slot",
                    "3.0.0",
                    "cluster",
                    "O(log(N)) where N is the number of requested keys",
                )
                .arguments(&[arg("slot", Integer), arg("count", Integer)]),
            spec("cluster|gossip", Command::Cluster, 3)
                .flags(&["admin", "stale", "noscript"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Exchanges views of the cluster between kv nodes (kv's own; nodes send it)",
                    "7.0.0",
                    "cluster",
                    "O(N) where N is the total number of Cluster nodes",
                )
                .arguments(&[arg("view", Str)]),
            spec("cluster|help", Command::Cluster, 2)
                .flags(&["loading", "stale"])
                .acl(&["@slow"])
                .docs(
                    "Show helpful text about the different subcommands",
                    "5.0.0",
                    "cluster",
                    "O(1)",
                ),
            spec("cluster|info", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs("Provides info about Redis Cluster node state", "3.0.0", "cluster", "O(1)"),
            spec("cluster|keyslot", Command::Cluster, 3)
                .flags(&["stale"])
                .acl(&["@slow"])
                .docs(
                    "Returns the hash slot of the specified key",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the number of bytes in the key",
                )
                .arguments(&[arg("key", Str)]),
            spec("cluster|links", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Returns a list of all TCP links to and from peer nodes in cluster",
                    "7.0.0",
                    "cluster",
                    "O(N) where N is the total number of Cluster nodes",
                ),
            spec("cluster|meet", Command::Cluster, -4)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Force a node cluster to handshake with another node",
                    "3.0.0",
                    "cluster",
                    "O(1)",
                )
                .history(&[("4.0.0", "Added the optional `cluster_bus_port` argument.")])
                .arguments(&[
                    arg("ip", Str),
                    arg("port", Integer),
                    arg("cluster_bus_port", Integer).since("4.0.0").optional(),
                ]),
            spec("cluster|myid", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .docs("Return the node id", "3.0.0", "cluster", "O(1)"),
            spec("cluster|nodes", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Get Cluster config for the node",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the total number of Cluster nodes",
                ),
            spec("cluster|replicas", Command::Cluster, 3)
                .flags(&["admin", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "List replica nodes of the specified master node",
                    "5.0.0",
                    "cluster",
                    "O(1)",
                )
                .arguments(&[arg("node-id", Str)]),
            spec("cluster|replicate", Command::Cluster, 3)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Reconfigure a node as a replica of the specified master node",
                    "3.0.0",
                    "cluster",
                    "O(1)",
                )
                .arguments(&[arg("node-id", Str)]),
            spec("cluster|reset", Command::Cluster, -2)
                .flags(&["admin", "noscript", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs(
                    "Reset a Redis Cluster node",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.",
                )
                .arguments(&[
                    arg(
                        "hard_soft",
                        OneOf(&[pure_token("hard", "HARD"), pure_token("soft", "SOFT")]),
                    )
                    .optional(),
                ]),
            spec("cluster|saveconfig", Command::Cluster, 2)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Forces the node to save cluster state on disk", "3.0.0", "cluster", "O(1)"),
            spec("cluster|set-config-epoch", Command::Cluster, 3)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Set the configuration epoch in a new node", "3.0.0", "cluster", "O(1)")
                .arguments(&[arg("config-epoch", Integer)]),
            spec("cluster|setslot", Command::Cluster, -4)
                .flags(&["admin", "stale", "no_async_loading"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .docs("Bind a hash slot to a specific node", "3.0.0", "cluster", "O(1)")
                .arguments(&[
                    arg("slot", Integer),
                    arg(
                        "subcommand",
                        OneOf(&[
                            arg("node-id", Str).token("IMPORTING"),
                            arg("node-id", Str).token("MIGRATING"),
                            arg("node-id", Str).token("NODE"),
                            pure_token("stable", "STABLE"),
                        ]),
                    ),
                ]),
            spec("cluster|shards", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Get array of cluster slots to node mappings",
                    "7.0.0",
                    "cluster",
                    "O(N) where N is the total number of cluster nodes",
                ),
            spec("cluster|slaves", Command::Cluster, 3)
                .flags(&["admin", "stale"])
                .acl(&["@admin", "@slow", "@dangerous"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "List replica nodes of the specified master node",
                    "3.0.0",
                    "cluster",
                    "O(1)",
                )
                .doc_flags(&["deprecated"])
                .deprecated_since("5.0.0")
                .replaced_by("`CLUSTER REPLICAS`")
                .arguments(&[arg("node-id", Str)]),
            spec("cluster|slots", Command::Cluster, 2)
                .flags(&["stale"])
                .acl(&["@slow"])
                .tips(&["nondeterministic_output"])
                .docs(
                    "Get array of Cluster slot to node mappings",
                    "3.0.0",
                    "cluster",
                    "O(N) where N is the total number of Cluster nodes",
                )
                .doc_flags(&["deprecated"])
                .deprecated_since("7.0.0")
                .replaced_by("`CLUSTER SHARDS`")
                .history(&[
                    ("4.0.0", "Added node IDs."),
                    ("7.0.0", "Added additional networking metadata field."),
                ]),
        ]),
    spec("asking", Command::Asking, 1)
        .flags(&["fast"])
        .acl(&["@fast", "@connection"])
        .docs("Sent by cluster clients after an -ASK redirect", "3.0.0", "cluster", "O(1)"),
];

/// `SET`'s keys, as Redis's `setGetKeys` finds them: the key is read as well as written when
/// the request has `GET`.
fn set_keys(argv: &[&[u8]]) -> Vec<KeyAt> {
    // Redis compares the first three bytes and then looks for the C string's end, so an
    // argument "get" followed by a NUL byte and more counts too.
    let is_get = |a: &&[u8]| {
        a.len() >= 3 && a[..3].eq_ignore_ascii_case(b"get") && a.get(3).is_none_or(|b| *b == 0)
    };
    let flags: &'static [&'static str] = if argv.iter().skip(3).any(is_get) {
        &["RW", "access", "update"]
    } else {
        &["OW", "update"]
    };
    vec![KeyAt { pos: 1, flags }]
}

/// `BITFIELD`'s key, as Redis's `bitfieldGetKeys` finds it: only read when every subcommand is a
/// `GET` or an `OVERFLOW` (a syntax error counts as a write, the safe side).
fn bitfield_keys(argv: &[&[u8]]) -> Vec<KeyAt> {
    let mut i = 2;
    let mut readonly = true;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        let is = |word: &str| crate::value::keyword::is(argv[i], word);
        if is("get") && left >= 2 {
            i += 3;
        } else if is("overflow") && left >= 1 {
            i += 2;
        } else {
            readonly = false;
            break;
        }
    }
    let flags: &'static [&'static str] = if readonly {
        &["RO", "access"]
    } else {
        &["RW", "access", "update"]
    };
    vec![KeyAt { pos: 1, flags }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::spec::{Arg, ArgKind};
    use std::collections::HashSet;

    fn every_spec() -> impl Iterator<Item = &'static Spec> {
        COMMANDS
            .iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
    }

    fn key_indexes(args: &[Arg], out: &mut Vec<i64>) {
        for arg in args {
            match arg.kind {
                ArgKind::Key(i) => out.push(i),
                ArgKind::OneOf(nested) | ArgKind::Block(nested) => key_indexes(nested, out),
                _ => {}
            }
        }
    }

    #[test]
    fn names_are_lower_case_and_unique_and_subcommands_are_their_containers() {
        let mut seen = HashSet::new();
        for spec in every_spec() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(seen.insert(spec.name), "{} twice", spec.name);
        }
        for spec in COMMANDS {
            assert!(!spec.name.contains('|'));
            for sub in spec.subcommands {
                assert_eq!(sub.name.split_once('|').unwrap().0, spec.name);
                assert_eq!(
                    sub.command, spec.command,
                    "{} is run by its container",
                    sub.name
                );
                assert!(
                    sub.subcommands.is_empty(),
                    "one level of subcommands, as Redis"
                );
            }
        }
    }

    #[test]
    fn every_entry_is_complete() {
        for spec in every_spec() {
            let d = &spec.docs;
            assert_ne!(spec.arity, 0, "{}", spec.name);
            assert!(!spec.acl.is_empty(), "{}", spec.name);
            assert!(spec.acl.iter().all(|c| c.starts_with('@')), "{}", spec.name);
            for field in [d.summary, d.since, d.group] {
                assert!(!field.is_empty(), "{} lacks documentation", spec.name);
            }
            // Redis documents no complexity for MONITOR, SYNC and PSYNC.
            assert!(
                !d.complexity.is_empty() || ["monitor", "sync", "psync"].contains(&spec.name),
                "{} lacks its complexity",
                spec.name
            );
            let mut indexes = Vec::new();
            key_indexes(d.arguments, &mut indexes);
            for i in indexes {
                assert!(
                    (i as usize) < spec.key_specs.len(),
                    "{}: key spec {i}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn key_flags_that_vary_have_a_function_to_find_them() {
        for spec in every_spec() {
            let varies = spec.key_specs.iter().any(|k| k.has("variable_flags"));
            assert_eq!(varies, spec.find_keys.is_some(), "{}", spec.name);
        }
    }

    #[test]
    fn set_reads_its_key_only_with_get() {
        let set = COMMANDS.iter().find(|s| s.name == "set").unwrap();
        let flags = |argv: &[&[u8]]| set.keys_of(argv)[0].flags;
        assert_eq!(flags(&[b"set", b"k", b"v"]), ["OW", "update"]);
        assert_eq!(
            flags(&[b"set", b"k", b"v", b"NX", b"gEt"]),
            ["RW", "access", "update"]
        );
        assert_eq!(flags(&[b"set", b"k", b"get"]), ["OW", "update"]);
        assert_eq!(
            flags(&[b"set", b"k", b"v", b"get\0x"]),
            ["RW", "access", "update"]
        );
    }
}
