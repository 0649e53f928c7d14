#!/usr/bin/env python3
"""Prints entries of kv's command table (kv-std/src/cmd/table.rs) from a running redis-server.

The table holds facts about Redis's commands: what `COMMAND INFO` and `COMMAND DOCS` answer for
each. This script asks a redis-server for them and writes each command as a Rust expression in
the table's builder form, laid out in rustfmt's style within 100 columns, to paste into the
table:

    redis-server --port 7000 --save '' --appendonly no --databases 1 &
    python3 kv-std/tools/command_spec.py --port 7000 get memory 'memory|usage' 'memory|help'

A name `container|sub` keeps only the subcommands named that way for `container` (kv has a part
of some containers' subcommands); a container named alone gets all of Redis's. The Rust variant
of `Command` is the name in CamelCase. Entries are printed in the order named; subcommands in
alphabetical order. What redis-server does not say is added by hand: `.find_keys(...)` for a
command whose key spec is marked `variable_flags` (the table's tests ask for it). Standard
library only.
"""

import argparse
import socket
import sys


class Resp3:
    """A RESP3 connection that decodes replies into Python values, keeping sets and maps apart."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""
        self.call("HELLO", "3")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            self.more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def more(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("redis-server closed the connection")
        self.buf += chunk

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+",):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"_":
            return None
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.more()
            text, self.buf = self.buf[:n], self.buf[n + 2:]
            return text.decode()
        if kind in (b"*", b"~"):
            items = [self.read() for _ in range(int(rest))]
            return items if kind == b"*" else ("set", items)
        if kind == b"%":
            return [(self.read(), self.read()) for _ in range(int(rest))]
        raise ValueError("unexpected reply type %r" % kind)


WIDTH = 100


class Atom:
    """Text that is never broken."""

    def __init__(self, text):
        self.text = text

    def render(self, indent, room):
        return self.text


class Call:
    """`func(args)`; broken one argument a line when too long, a last list argument kept open."""

    def __init__(self, func, *args):
        self.func, self.args = func, list(args)

    def flat(self):
        return "%s(%s)" % (self.func, ", ".join(flat(a) for a in self.args))

    def render(self, indent, room):
        text = self.flat()
        if len(text) <= room and "\n" not in text:
            return text
        pad = "    " * indent
        if self.args and isinstance(self.args[-1], List):
            head = "%s(%s" % (self.func, "".join(flat(a) + ", " for a in self.args[:-1]))
            if len(head) < room:
                return head + self.args[-1].render(indent, room - len(head)) + ")"
        inner = "    " * (indent + 1)
        lines = [inner + a.render(indent + 1, WIDTH - len(inner) - 1) + "," for a in self.args]
        return "%s(\n%s\n%s)" % (self.func, "\n".join(lines), pad)


class List:
    """`&[items]`; one item a line when too long."""

    def __init__(self, items):
        self.items = list(items)

    def flat(self):
        return "&[%s]" % ", ".join(flat(i) for i in self.items)

    def render(self, indent, room):
        text = self.flat()
        if len(text) <= room and "\n" not in text:
            return text
        pad, inner = "    " * indent, "    " * (indent + 1)
        lines = [inner + i.render(indent + 1, WIDTH - len(inner) - 1) + "," for i in self.items]
        return "&[\n%s\n%s]" % ("\n".join(lines), pad)


class Chain:
    """`base.m(..).n(..)`; one method a line when too long, or always for a table entry."""

    def __init__(self, base, methods, always_break=False):
        self.base, self.methods, self.always_break = base, methods, always_break

    def flat(self):
        return flat(self.base) + "".join("." + flat(m) for m in self.methods)

    def render(self, indent, room):
        text = self.flat()
        if not self.always_break and len(text) <= room and "\n" not in text:
            return text
        out = self.base.render(indent, room)
        # After a base broken over lines, the methods line up with its closing bracket.
        inner = "    " * (indent if "\n" in out else indent + 1)
        for m in self.methods:
            out += "\n" + inner + "." + m.render(indent + 1, WIDTH - len(inner) - 2)
        return out


def flat(node):
    return node.text if isinstance(node, Atom) else node.flat()


def rust_str(s):
    return Atom('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')


def str_list(items):
    return List(rust_str(i) for i in items)


def elements(value):
    """The elements of a set or an array."""
    return value[1] if isinstance(value, tuple) else value


def variant(name):
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def struct(name, fields):
    return Atom("%s { %s }" % (name, ", ".join("%s: %s" % f for f in fields)))


def key_spec(spec):
    fields = dict(spec)
    begin = dict(fields["begin_search"])
    bspec = dict(begin["spec"])
    if begin["type"] == "index":
        b = Atom("Index(%d)" % bspec["index"])
    elif begin["type"] == "keyword":
        b = struct("Keyword", [("keyword", rust_str(bspec["keyword"]).text),
                               ("startfrom", bspec["startfrom"])])
    else:
        b = Atom("BeginSearch::Unknown")
    find = dict(fields["find_keys"])
    fspec = dict(find["spec"])
    if find["type"] == "range":
        f = struct("Range", [(k, fspec[k]) for k in ("lastkey", "keystep", "limit")])
    elif find["type"] == "keynum":
        f = struct("Keynum", [(k, fspec[k]) for k in ("keynumidx", "firstkey", "keystep")])
    else:
        f = Atom("FindKeys::Unknown")
    call = Call("key_spec", str_list(elements(fields["flags"])), b, f)
    if "notes" in fields:
        return Chain(call, [Call("notes", rust_str(fields["notes"]))])
    return call


KINDS = {
    "string": "Str",
    "integer": "Integer",
    "double": "Double",
    "pattern": "Pattern",
    "unix-time": "UnixTime",
}


def argument(a):
    fields = dict(a)
    kind = fields["type"]
    methods = []
    if kind == "pure-token":
        base = Call("pure_token", rust_str(fields["name"]), rust_str(fields["token"]))
    else:
        if kind == "key":
            k = Atom("Key(%d)" % fields["key_spec_index"])
        elif kind in ("oneof", "block"):
            k = Call("OneOf" if kind == "oneof" else "Block",
                     List(argument(n) for n in fields["arguments"]))
        else:
            k = Atom(KINDS[kind])
        base = Call("arg", rust_str(fields["name"]), k)
        if "token" in fields:
            methods.append(Call("token", rust_str(fields["token"])))
    for key in ("summary", "since", "deprecated_since"):
        if key in fields:
            methods.append(Call(key, rust_str(fields[key])))
    for flag in elements(fields.get("flags", [])):
        methods.append(Call(flag))
    known = {"name", "type", "key_spec_index", "token", "summary", "since", "deprecated_since",
             "flags", "arguments"}
    unknown = set(fields) - known
    if unknown:
        sys.exit("argument %s has fields the table cannot hold: %s" % (fields["name"], unknown))
    return Chain(base, methods) if methods else base


def entry(info, docs, command, keep):
    (name, arity, flags, first, last, step, acl, tips, specs, subs) = info
    docs = dict(docs)
    base = Call("spec", rust_str(name), Atom("Command::" + command), Atom(str(arity)))
    methods = []
    if elements(flags):
        methods.append(Call("flags", str_list(elements(flags))))
    if (first, last, step) != (0, 0, 0):
        methods.append(Call("keys", Atom(str(first)), Atom(str(last)), Atom(str(step))))
    methods.append(Call("acl", str_list(elements(acl))))
    if elements(tips):
        methods.append(Call("tips", str_list(elements(tips))))
    if elements(specs):
        methods.append(Call("key_specs", List(key_spec(s) for s in elements(specs))))
    # MONITOR alone has no complexity: the table holds an empty one, left out of COMMAND DOCS.
    docs.setdefault("complexity", "")
    for key in ("summary", "since", "group", "complexity"):
        if key not in docs:
            sys.exit("%s has no %s; the table expects one" % (name, key))
    methods.append(Call("docs", *(rust_str(docs[k])
                                  for k in ("summary", "since", "group", "complexity"))))
    if "doc_flags" in docs:
        methods.append(Call("doc_flags", str_list(elements(docs["doc_flags"]))))
    for key in ("deprecated_since", "replaced_by"):
        if key in docs:
            methods.append(Call(key, rust_str(docs[key])))
    if "history" in docs:
        methods.append(Call("history", List(
            Atom("(%s, %s)" % (rust_str(v).text, rust_str(t).text))
            for v, t in elements(docs["history"]))))
    if "arguments" in docs:
        methods.append(Call("arguments", List(argument(a) for a in docs["arguments"])))
    if elements(subs):
        sub_docs = dict(docs["subcommands"])
        chosen = sorted((s for s in elements(subs) if keep is None or s[0] in keep),
                        key=lambda s: s[0])
        methods.append(Call("subcommands", List(
            entry(s, sub_docs[s[0]], command, None) for s in chosen)))
    return Chain(base, methods, always_break=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("names", nargs="+", help="command names; container|sub keeps a subcommand")
    opts = parser.parse_args()
    order, keep = [], {}
    for raw in opts.names:
        name = raw.lower()
        container, _, sub = name.partition("|")
        if container not in keep:
            order.append(container)
            keep[container] = None
        if sub:
            keep[container] = (keep[container] or set()) | {name}
    redis = Resp3(opts.host, opts.port)
    for name in order:
        (info,) = redis.call("COMMAND", "INFO", name)
        if info is None:
            sys.exit("redis-server does not know %s" % name)
        ((_, docs),) = redis.call("COMMAND", "DOCS", name)
        print("    " + entry(info, docs, variant(name), keep[name]).render(1, WIDTH - 5) + ",")


if __name__ == "__main__":
    main()
