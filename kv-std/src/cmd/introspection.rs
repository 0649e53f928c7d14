//! `COMMAND` and its subcommands: the command table as Redis 7.0 publishes its own, so clients
//! that route or classify commands by it (cluster clients by key specs, tools by flags) work.
//!
//! The replies are shaped as redis-server 7.0 shapes them: flags, ACL categories, tips, key
//! specs and history are sets; key specs and documentation are maps; a command without
//! subcommands has an empty set where a container has an array of its subcommands.

use super::spec::{Arg, ArgKind, BeginSearch, FindKeys, Spec};
use super::table::COMMANDS;
use crate::reply::Out;
use kv_nostd::resp::Args;

/// `COMMAND [COUNT | INFO [name ...] | DOCS [name ...] | LIST [FILTERBY ...] | GETKEYS ... |
/// GETKEYSANDFLAGS ... | HELP]`.
pub fn command(sub: &str, args: Args<'_>, out: &mut Out) {
    let args: Vec<&[u8]> = args.collect();
    match sub {
        "" => all_info(out),
        "count" => out.int(COMMANDS.len() as i64),
        "info" if args.is_empty() => all_info(out),
        "info" => {
            out.array(args.len());
            for name in args {
                match by_full_name(name) {
                    Some(spec) => info(spec, out),
                    None => out.null(),
                }
            }
        }
        "docs" if args.is_empty() => {
            out.map(COMMANDS.len());
            for spec in COMMANDS {
                out.bulk(spec.name.as_bytes());
                docs(spec, out);
            }
        }
        "docs" => {
            let found: Vec<&Spec> = args.into_iter().filter_map(by_full_name).collect();
            out.map(found.len());
            for spec in found {
                out.bulk(spec.name.as_bytes());
                docs(spec, out);
            }
        }
        "list" => list(&args, out),
        "getkeys" => get_keys(&args, false, out),
        "getkeysandflags" => get_keys(&args, true, out),
        _ => out.help(HELP),
    }
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// A command by the name `COMMAND INFO` and `COMMAND DOCS` take: `name`, or `container|sub`
/// for a subcommand; any case.
fn by_full_name(name: &[u8]) -> Option<&'static Spec> {
    let mut parts = name.split(|b| *b == b'|');
    let container = super::lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(container),
        (Some(sub), None) => container.subcommand(sub),
        (Some(_), Some(_)) => None,
    }
}

/// A command by the words of a request, as `COMMAND GETKEYS` takes it: the name, then the
/// subcommand's when the command is a container and more words follow.
fn by_request(argv: &[&[u8]]) -> Option<&'static Spec> {
    let spec = super::lookup(argv.first()?)?;
    match argv.get(1) {
        Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub),
        _ => Some(spec),
    }
}

fn all_info(out: &mut Out) {
    out.array(COMMANDS.len());
    for spec in COMMANDS {
        info(spec, out);
    }
}

/// One command's `COMMAND INFO` entry.
fn info(spec: &Spec, out: &mut Out) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(i64::from(spec.arity));
    simple_set(spec.flags, out);
    let (first, last, step) = spec.key_range;
    out.int(i64::from(first));
    out.int(i64::from(last));
    out.int(i64::from(step));
    simple_set(spec.acl, out);
    out.set(spec.tips.len());
    for tip in spec.tips {
        out.bulk(tip.as_bytes());
    }
    out.set(spec.key_specs.len());
    for key_spec in spec.key_specs {
        out.map(3 + usize::from(key_spec.notes.is_some()));
        if let Some(notes) = key_spec.notes {
            out.bulk(b"notes");
            out.bulk(notes.as_bytes());
        }
        out.bulk(b"flags");
        simple_set(key_spec.flags, out);
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match key_spec.begin_search {
            BeginSearch::Index(index) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                int_field("index", index, out);
            }
            BeginSearch::Keyword { keyword, startfrom } => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                int_field("startfrom", startfrom, out);
            }
            BeginSearch::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        match key_spec.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map(3);
                int_field("lastkey", lastkey, out);
                int_field("keystep", keystep, out);
                int_field("limit", limit, out);
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map(3);
                int_field("keynumidx", keynumidx, out);
                int_field("firstkey", firstkey, out);
                int_field("keystep", keystep, out);
            }
            FindKeys::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
    }
    if spec.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(spec.subcommands.len());
        for sub in spec.subcommands {
            info(sub, out);
        }
    }
}

/// One command's `COMMAND DOCS` map (without its name).
fn docs(spec: &Spec, out: &mut Out) {
    let d = &spec.docs;
    let fields = 3
        + usize::from(!d.complexity.is_empty())
        + usize::from(!d.doc_flags.is_empty())
        + usize::from(d.deprecated_since.is_some())
        + usize::from(d.replaced_by.is_some())
        + usize::from(!d.history.is_empty())
        + usize::from(!d.arguments.is_empty())
        + usize::from(!spec.subcommands.is_empty());
    out.map(fields);
    text_field("summary", d.summary, out);
    text_field("since", d.since, out);
    text_field("group", d.group, out);
    // MONITOR's documentation gives no complexity, and Redis leaves the field out.
    if !d.complexity.is_empty() {
        text_field("complexity", d.complexity, out);
    }
    if !d.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        simple_set(d.doc_flags, out);
    }
    if let Some(version) = d.deprecated_since {
        text_field("deprecated_since", version, out);
    }
    if let Some(what) = d.replaced_by {
        text_field("replaced_by", what, out);
    }
    if !d.history.is_empty() {
        out.bulk(b"history");
        out.set(d.history.len());
        for (version, change) in d.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !d.arguments.is_empty() {
        out.bulk(b"arguments");
        arguments(d.arguments, out);
    }
    if !spec.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk(sub.name.as_bytes());
            docs(sub, out);
        }
    }
}

fn arguments(args: &[Arg], out: &mut Out) {
    out.array(args.len());
    for arg in args {
        let nested = match arg.kind {
            ArgKind::OneOf(nested) | ArgKind::Block(nested) => Some(nested),
            _ => None,
        };
        let key_spec_index = match arg.kind {
            ArgKind::Key(index) => Some(index),
            _ => None,
        };
        let flags: Vec<&str> = arg.flag_names().collect();
        let fields = 2
            + usize::from(key_spec_index.is_some())
            + usize::from(arg.token.is_some())
            + usize::from(arg.summary.is_some())
            + usize::from(arg.since.is_some())
            + usize::from(arg.deprecated_since.is_some())
            + usize::from(!flags.is_empty())
            + usize::from(nested.is_some());
        out.map(fields);
        text_field("name", arg.name, out);
        text_field("type", arg.kind.name(), out);
        if let Some(index) = key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(index);
        }
        let optional = [
            ("token", arg.token),
            ("summary", arg.summary),
            ("since", arg.since),
            ("deprecated_since", arg.deprecated_since),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                text_field(name, value, out);
            }
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            simple_set(&flags, out);
        }
        if let Some(nested) = nested {
            out.bulk(b"arguments");
            arguments(nested, out);
        }
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`: the names of the
/// commands and subcommands that pass the filter. kv has no modules, so a module filter passes
/// none.
fn list(args: &[&[u8]], out: &mut Out) {
    let filter = match args {
        [] => None,
        [filterby, kind, arg] if filterby.eq_ignore_ascii_case(b"filterby") => {
            if kind.eq_ignore_ascii_case(b"module") {
                Some(Filter::Module)
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                Some(Filter::AclCategory(arg))
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                Some(Filter::Pattern(arg.to_ascii_lowercase()))
            } else {
                return out.error(super::SYNTAX_ERROR);
            }
        }
        _ => return out.error(super::SYNTAX_ERROR),
    };
    let passes = |spec: &Spec| match &filter {
        None => true,
        Some(Filter::Module) => false,
        Some(Filter::AclCategory(wanted)) => spec
            .acl
            .iter()
            .any(|category| category.as_bytes()[1..].eq_ignore_ascii_case(wanted)),
        // Redis matches without regard to case; names are lower case, so the pattern is too.
        Some(Filter::Pattern(pattern)) => crate::pattern::matches(pattern, spec.name.as_bytes()),
    };
    let names: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        .filter(|spec| passes(spec))
        .map(|spec| spec.name)
        .collect();
    out.array(names.len());
    for name in names {
        out.bulk(name.as_bytes());
    }
}

/// A `COMMAND LIST` filter.
enum Filter<'a> {
    Module,
    AclCategory(&'a [u8]),
    Pattern(Vec<u8>),
}

/// `COMMAND GETKEYS command [arg ...]` and `COMMAND GETKEYSANDFLAGS`: the keys of a request, by
/// the command's key specs, with their flags for the latter.
fn get_keys(argv: &[&[u8]], with_flags: bool, out: &mut Out) {
    let Some(spec) = by_request(argv) else {
        return out.error("ERR Invalid command specified");
    };
    if !spec.has_keys() {
        return out.error("ERR The command has no key arguments");
    }
    if !spec.arity_ok(argv.len()) {
        return out.error("ERR Invalid number of arguments specified for command");
    }
    let keys = spec.keys_of(argv);
    if keys.is_empty() && !spec.flags.contains(&"no_mandatory_keys") {
        return out.error("ERR Invalid arguments specified for command");
    }
    out.array(keys.len());
    for key in keys {
        if with_flags {
            out.array(2);
            out.bulk(argv[key.pos]);
            simple_set(key.flags, out);
        } else {
            out.bulk(argv[key.pos]);
        }
    }
}

/// A set of simple strings: flags, categories.
fn simple_set(items: &[&str], out: &mut Out) {
    out.set(items.len());
    for item in items {
        out.simple(item.as_bytes());
    }
}

fn text_field(name: &str, value: &str, out: &mut Out) {
    out.bulk(name.as_bytes());
    out.bulk(value.as_bytes());
}

fn int_field(name: &str, value: i32, out: &mut Out) {
    out.bulk(name.as_bytes());
    out.int(i64::from(value));
}
