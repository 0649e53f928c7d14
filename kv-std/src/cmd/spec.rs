//! The shape of a command's entry in the command table: the facts Redis publishes about a command
//! through `COMMAND INFO` and `COMMAND DOCS`, the builder the table's entries are written with,
//! and how an entry's key specifications find the keys of a request.
//!
//! The same entry serves the arity check of every request, `COMMAND` and its subcommands, and
//! `COMMAND GETKEYS`: there is no second list of names or arities to keep in step.

use super::Command;

/// A command or subcommand, as Redis 7.0 describes it.
#[derive(Debug)]
pub struct Spec {
    /// Lower-case name; a subcommand's is `container|sub`, as Redis writes it.
    pub name: &'static str,
    /// What runs it: a subcommand is run by its container's command.
    pub command: Command,
    /// Redis arity: `n` is exactly `n` arguments counting the name (and a subcommand's name);
    /// `-n` at least `n`.
    pub arity: i32,
    /// Command flags (`readonly`, `fast`, `noscript`, ...), in Redis's order.
    pub flags: &'static [&'static str],
    /// The legacy key range `COMMAND INFO` gives: first key, last key, step (`0, 0, 0`: none).
    pub key_range: (i32, i32, i32),
    /// ACL categories, each with its `@`.
    pub acl: &'static [&'static str],
    /// Hints for cluster clients (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// Where the keys are among the arguments.
    pub key_specs: &'static [KeySpec],
    /// Finds the keys where the specs cannot say their flags (a spec marked `variable_flags`),
    /// as Redis's `getkeys_proc` does.
    pub find_keys: Option<KeyFinder>,
    /// What `COMMAND DOCS` says.
    pub docs: Docs,
    /// Subcommands, for a container command.
    pub subcommands: &'static [Spec],
}

/// The documentation `COMMAND DOCS` gives for a command.
#[derive(Debug)]
pub struct Docs {
    /// One line on what it does.
    pub summary: &'static str,
    /// The Redis version that added it.
    pub since: &'static str,
    /// Its group (`string`, `generic`, `connection`, `server`, `pubsub`, ...).
    pub group: &'static str,
    /// Its time complexity, in words.
    pub complexity: &'static str,
    /// `deprecated` or `syscmd`, where they apply.
    pub doc_flags: &'static [&'static str],
    /// The version that deprecated it.
    pub deprecated_since: Option<&'static str>,
    /// What to use instead.
    pub replaced_by: Option<&'static str>,
    /// What changed in which version.
    pub history: &'static [(&'static str, &'static str)],
    /// Its arguments after the name(s).
    pub arguments: &'static [Arg],
}

/// One argument in a command's documentation.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// The word that comes before it (`EX`, `MATCH`), or that it is, for a pure token.
    pub token: Option<&'static str>,
    /// A line on what it is.
    pub summary: Option<&'static str>,
    /// The version that added it.
    pub since: Option<&'static str>,
    /// The version that deprecated it.
    pub deprecated_since: Option<&'static str>,
    /// It may be left out.
    pub optional: bool,
    /// It may be repeated.
    pub multiple: bool,
    /// It may be repeated, each time with its token.
    pub multiple_token: bool,
}

/// An argument's type, as `COMMAND DOCS` names it.
#[derive(Clone, Copy, Debug)]
pub enum ArgKind {
    /// `string`.
    Str,
    /// `integer`.
    Integer,
    /// `double`.
    Double,
    /// `key`, with the index of the key spec that finds it.
    Key(i64),
    /// `pattern`.
    Pattern,
    /// `unix-time`.
    UnixTime,
    /// `pure-token`: the token alone.
    PureToken,
    /// `oneof`: one of these.
    OneOf(&'static [Arg]),
    /// `block`: these together.
    Block(&'static [Arg]),
}

impl ArgKind {
    /// The type's name in `COMMAND DOCS`.
    pub fn name(&self) -> &'static str {
        match self {
            ArgKind::Str => "string",
            ArgKind::Integer => "integer",
            ArgKind::Double => "double",
            ArgKind::Key(_) => "key",
            ArgKind::Pattern => "pattern",
            ArgKind::UnixTime => "unix-time",
            ArgKind::PureToken => "pure-token",
            ArgKind::OneOf(_) => "oneof",
            ArgKind::Block(_) => "block",
        }
    }
}

/// Where some of a command's keys are: where to start looking, then which arguments from there
/// are keys.
#[derive(Debug)]
pub struct KeySpec {
    /// Why the flags are what they are, where Redis says.
    pub notes: Option<&'static str>,
    /// Key flags (`RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`, `not_key`,
    /// `incomplete`, `variable_flags`), in Redis's order.
    pub flags: &'static [&'static str],
    /// Where the search starts.
    pub begin_search: BeginSearch,
    /// Which arguments from there are keys.
    pub find_keys: FindKeys,
}

/// Where a key spec's search starts.
#[derive(Debug)]
pub enum BeginSearch {
    /// At this argument (the name is 0).
    Index(i32),
    /// After this keyword, looked for from `startfrom` (from the end when negative).
    Keyword {
        /// The keyword, matched case-insensitively.
        keyword: &'static str,
        /// Where to look from.
        startfrom: i32,
    },
    /// Only the command knows.
    Unknown,
}

/// Which arguments from a key spec's start are keys.
#[derive(Debug)]
pub enum FindKeys {
    /// A range: up to `lastkey` after the start (counted from the end of the arguments when
    /// negative; with a `limit`, a `1/limit` share of what is left), every `keystep`-th.
    Range {
        /// The last key, relative to the start, or from the end when negative.
        lastkey: i32,
        /// How many arguments from one key to the next.
        keystep: i32,
        /// With `lastkey` -1: the share of the remaining arguments that are keys.
        limit: i32,
    },
    /// A count of keys in an argument: at `keynumidx` after the start, the keys following from
    /// `firstkey` after the start, every `keystep`-th.
    Keynum {
        /// Where the count is, relative to the start.
        keynumidx: i32,
        /// Where the first key is, relative to the start.
        firstkey: i32,
        /// How many arguments from one key to the next.
        keystep: i32,
    },
    /// Only the command knows.
    Unknown,
}

/// A function that finds the keys of a request (its arguments, the command's name first).
pub type KeyFinder = fn(&[&[u8]]) -> Vec<KeyAt>;

/// A key found in a request: its position (the command's name is 0) and its flags.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyAt {
    /// Position among the request's arguments.
    pub pos: usize,
    /// Its key spec's flags.
    pub flags: &'static [&'static str],
}

/// An entry with nothing but its name, what runs it and its arity; the builder methods add the
/// rest.
pub const fn spec(name: &'static str, command: Command, arity: i32) -> Spec {
    Spec {
        name,
        command,
        arity,
        flags: &[],
        key_range: (0, 0, 0),
        acl: &[],
        tips: &[],
        key_specs: &[],
        find_keys: None,
        docs: Docs {
            summary: "",
            since: "",
            group: "",
            complexity: "",
            doc_flags: &[],
            deprecated_since: None,
            replaced_by: None,
            history: &[],
            arguments: &[],
        },
        subcommands: &[],
    }
}

impl Spec {
    /// Sets the command flags.
    pub const fn flags(self, flags: &'static [&'static str]) -> Self {
        Self { flags, ..self }
    }

    /// Sets the legacy key range: first key, last key, step.
    pub const fn keys(self, first: i32, last: i32, step: i32) -> Self {
        Self {
            key_range: (first, last, step),
            ..self
        }
    }

    /// Sets the ACL categories.
    pub const fn acl(self, acl: &'static [&'static str]) -> Self {
        Self { acl, ..self }
    }

    /// Sets the tips.
    pub const fn tips(self, tips: &'static [&'static str]) -> Self {
        Self { tips, ..self }
    }

    /// Sets the key specs.
    pub const fn key_specs(self, key_specs: &'static [KeySpec]) -> Self {
        Self { key_specs, ..self }
    }

    /// Sets the function that finds the keys in place of the specs.
    pub const fn find_keys(self, find: KeyFinder) -> Self {
        Self {
            find_keys: Some(find),
            ..self
        }
    }

    /// Sets the documentation every command has.
    pub const fn docs(
        self,
        summary: &'static str,
        since: &'static str,
        group: &'static str,
        complexity: &'static str,
    ) -> Self {
        Self {
            docs: Docs {
                summary,
                since,
                group,
                complexity,
                ..self.docs
            },
            ..self
        }
    }

    /// Sets the documentation flags.
    pub const fn doc_flags(self, doc_flags: &'static [&'static str]) -> Self {
        Self {
            docs: Docs {
                doc_flags,
                ..self.docs
            },
            ..self
        }
    }

    /// Sets the version that deprecated the command.
    pub const fn deprecated_since(self, version: &'static str) -> Self {
        Self {
            docs: Docs {
                deprecated_since: Some(version),
                ..self.docs
            },
            ..self
        }
    }

    /// Sets what replaces the command.
    pub const fn replaced_by(self, what: &'static str) -> Self {
        Self {
            docs: Docs {
                replaced_by: Some(what),
                ..self.docs
            },
            ..self
        }
    }

    /// Sets the history: (version, change).
    pub const fn history(self, history: &'static [(&'static str, &'static str)]) -> Self {
        Self {
            docs: Docs {
                history,
                ..self.docs
            },
            ..self
        }
    }

    /// Sets the documented arguments.
    pub const fn arguments(self, arguments: &'static [Arg]) -> Self {
        Self {
            docs: Docs {
                arguments,
                ..self.docs
            },
            ..self
        }
    }

    /// Sets the subcommands.
    pub const fn subcommands(self, subcommands: &'static [Spec]) -> Self {
        Self {
            subcommands,
            ..self
        }
    }

    /// The subcommand called `name` (without its container's name), if there is one.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Spec> {
        self.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .is_some_and(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// Whether `argc` arguments (counting the name) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        }
    }

    /// Whether the command takes keys: a function finds them, or a key spec is not marked
    /// `not_key` (a shard channel is not a key).
    pub fn has_keys(&self) -> bool {
        self.find_keys.is_some() || self.key_specs.iter().any(|k| !k.has("not_key"))
    }

    /// The keys of request `argv` (the name first), as Redis's `COMMAND GETKEYS` finds them: by
    /// the key specs when their flags hold for every request, and when the request fits them;
    /// otherwise by the command's function, if it has one. Empty when neither finds any.
    pub fn keys_of(&self, argv: &[&[u8]]) -> Vec<KeyAt> {
        let by_specs = self.key_specs.iter().any(|k| !k.has("not_key"))
            && !self.key_specs.iter().any(|k| k.has("variable_flags"));
        if by_specs {
            if let Some(keys) = self.keys_by_specs(argv) {
                return keys;
            }
        }
        self.find_keys.map(|find| find(argv)).unwrap_or_default()
    }

    /// The keys the specs find, or `None` when the request does not fit them.
    fn keys_by_specs(&self, argv: &[&[u8]]) -> Option<Vec<KeyAt>> {
        let argc = argv.len() as i64;
        let mut keys = Vec::new();
        for spec in self.key_specs.iter().filter(|k| !k.has("not_key")) {
            let first = match spec.begin_search {
                BeginSearch::Index(i) => i64::from(i),
                BeginSearch::Keyword { keyword, startfrom } => {
                    match keyword_position(argv, keyword, i64::from(startfrom)) {
                        Some(at) => at + 1,
                        // A keyword that is not there finds no keys, and is not an error.
                        None => continue,
                    }
                }
                BeginSearch::Unknown => return None,
            };
            let (first, last, step) = match spec.find_keys {
                FindKeys::Range {
                    lastkey,
                    keystep,
                    limit,
                } => {
                    let (lastkey, limit) = (i64::from(lastkey), i64::from(limit));
                    let last = if lastkey >= 0 {
                        first + lastkey
                    } else if limit == 0 {
                        argc + lastkey
                    } else {
                        first + ((argc - first) / limit + lastkey)
                    };
                    (first, last, i64::from(keystep))
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    keystep,
                } => {
                    let at = usize::try_from(first + i64::from(keynumidx)).ok()?;
                    let count = super::parse_int(argv.get(at)?).filter(|n| *n >= 0)?;
                    let first = first + i64::from(firstkey);
                    (first, first + count - 1, i64::from(keystep))
                }
                FindKeys::Unknown => return None,
            };
            if last >= argc || last < first || first >= argc {
                return None;
            }
            let mut pos = first;
            while pos <= last {
                keys.push(KeyAt {
                    pos: pos as usize,
                    flags: spec.flags,
                });
                pos += step.max(1);
            }
        }
        Some(keys)
    }
}

/// Where `keyword` is among `argv`, as Redis looks for it: from `startfrom` towards the end
/// (the last argument left out: no key could follow it), or with `startfrom` negative from that
/// far before the end back towards the start (the first argument left out).
fn keyword_position(argv: &[&[u8]], keyword: &str, startfrom: i64) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end) = if startfrom > 0 {
        (startfrom, argc - 1)
    } else {
        (argc + startfrom, 1)
    };
    let step = if start <= end { 1 } else { -1 };
    let mut i = start;
    while i != end && (1..argc).contains(&i) {
        if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i += step;
    }
    None
}

impl KeySpec {
    /// Sets the notes.
    pub const fn notes(self, notes: &'static str) -> Self {
        Self {
            notes: Some(notes),
            ..self
        }
    }

    /// Whether the spec has flag `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// A key spec without notes.
pub const fn key_spec(
    flags: &'static [&'static str],
    begin_search: BeginSearch,
    find_keys: FindKeys,
) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin_search,
        find_keys,
    }
}

/// An argument of type `kind`; the builder methods add the rest.
pub const fn arg(name: &'static str, kind: ArgKind) -> Arg {
    Arg {
        name,
        kind,
        token: None,
        summary: None,
        since: None,
        deprecated_since: None,
        optional: false,
        multiple: false,
        multiple_token: false,
    }
}

/// An argument that is a token alone (`NX`, `GET`).
pub const fn pure_token(name: &'static str, token: &'static str) -> Arg {
    arg(name, ArgKind::PureToken).token(token)
}

impl Arg {
    /// Sets the token that comes before the argument.
    pub const fn token(self, token: &'static str) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// Sets the summary.
    pub const fn summary(self, summary: &'static str) -> Self {
        Self {
            summary: Some(summary),
            ..self
        }
    }

    /// Sets the version that added the argument.
    pub const fn since(self, since: &'static str) -> Self {
        Self {
            since: Some(since),
            ..self
        }
    }

    /// Sets the version that deprecated the argument.
    pub const fn deprecated_since(self, version: &'static str) -> Self {
        Self {
            deprecated_since: Some(version),
            ..self
        }
    }

    /// Marks the argument optional.
    pub const fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }

    /// Marks the argument repeatable.
    pub const fn multiple(self) -> Self {
        Self {
            multiple: true,
            ..self
        }
    }

    /// Marks the argument repeatable with its token each time.
    pub const fn multiple_token(self) -> Self {
        Self {
            multiple_token: true,
            ..self
        }
    }

    /// The flags `COMMAND DOCS` lists, in Redis's order.
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.optional, "optional"),
            (self.multiple, "multiple"),
            (self.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::BeginSearch::*;
    use super::FindKeys::*;
    use super::*;

    fn positions(spec: &Spec, request: &str) -> Vec<usize> {
        let argv: Vec<&[u8]> = request
            .split(' ')
            .map(|w| if w == "\"\"" { &b""[..] } else { w.as_bytes() })
            .collect();
        spec.keys_of(&argv).into_iter().map(|k| k.pos).collect()
    }

    // The specs of three Redis commands kv does not have, for the kinds of search its own
    // commands do not use; the expected keys are what redis-server 7.0's GETKEYS answers.

    const XREAD: Spec = spec("xread", Command::Get, -4).key_specs(&[key_spec(
        &["RO", "access"],
        Keyword {
            keyword: "STREAMS",
            startfrom: 1,
        },
        Range {
            lastkey: -1,
            keystep: 1,
            limit: 2,
        },
    )]);

    const LMPOP: Spec = spec("lmpop", Command::Get, -4).key_specs(&[key_spec(
        &["RW", "access", "delete"],
        Index(1),
        Keynum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    )]);

    const MIGRATE: Spec = spec("migrate", Command::Get, -6).key_specs(&[
        key_spec(
            &["RW", "access", "delete"],
            Index(3),
            Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        ),
        key_spec(
            &["RW", "access", "delete", "incomplete"],
            Keyword {
                keyword: "KEYS",
                startfrom: -2,
            },
            Range {
                lastkey: -1,
                keystep: 1,
                limit: 0,
            },
        ),
    ]);

    #[test]
    fn a_keyword_starts_the_search_and_a_limit_takes_a_share_of_the_rest() {
        assert_eq!(positions(&XREAD, "xread COUNT 2 STREAMS s1 s2 0 0"), [4, 5]);
        assert_eq!(positions(&XREAD, "xread count 2 streams s1 s2 0"), [4]);
        assert_eq!(positions(&XREAD, "xread COUNT 2 s1 s2"), [0usize; 0]);
    }

    #[test]
    fn a_key_count_says_how_many_keys_follow() {
        assert_eq!(positions(&LMPOP, "lmpop 2 a b LEFT"), [2, 3]);
        assert_eq!(positions(&LMPOP, "lmpop 0 a b LEFT"), [0usize; 0]);
        assert_eq!(positions(&LMPOP, "lmpop x a b LEFT"), [0usize; 0]);
        assert_eq!(positions(&LMPOP, "lmpop 5 a b LEFT"), [0usize; 0]);
    }

    #[test]
    fn a_keyword_searched_from_the_end_may_be_missing() {
        assert_eq!(
            positions(&MIGRATE, "migrate h p \"\" 0 5 KEYS a b c"),
            [3, 7, 8, 9]
        );
        assert_eq!(positions(&MIGRATE, "migrate h p k 0 5"), [3]);
    }

    #[test]
    fn not_keys_are_not_keys() {
        const SPUBLISH: Spec = spec("spublish", Command::Spublish, 3).key_specs(&[key_spec(
            &["not_key"],
            Index(1),
            Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        )]);
        assert!(!SPUBLISH.has_keys());
        assert!(MIGRATE.has_keys());
    }
}
