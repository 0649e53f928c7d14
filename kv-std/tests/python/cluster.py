"""Redis Cluster mode against the tools and clients made for it: `redis-cli --cluster`, redis-py
`RedisCluster`, `redis-cli -c` and Redis Sentinel, with real processes on loopback.

The checks, in order, share one cluster of three primaries with one replica each:
  create     `redis-cli --cluster create` over 6 empty nodes with `--cluster-replicas 1`
             succeeds; `--cluster check` is clean; every node says cluster_state:ok and all
             agree on the map; each primary has one replica (CLUSTER NODES and ROLE agree).
  clients    `RedisCluster` with its defaults runs 100,000 operations (SET, GET, INCR, DEL,
             EXPIRE, TTL, and MGET/MSET on hash-tagged keys of one slot, mostly in pipelines of
             50) and every reply equals the one a model predicts; CLUSTER KEYSLOT agrees with
             CRC16 and hash tags computed here; `redis-cli -c` follows MOVED; a plain
             connection to a node that does not own a key gets `-MOVED <slot> 127.0.0.1:<port>`.
  reshard    `redis-cli --cluster reshard` of 4,000 slots while 4 writers, each with its own
             `RedisCluster`, SET, DEL and GET keys over all slots (and MSET/MGET pairs sharing a
             hash tag), each read checked at once; afterwards every acknowledged write is readable
             with its value, no deleted key returns, `check` is clean and the target owns 4,000
             more slots. Prints the errors by kind (MOVED, ASK, TRYAGAIN, CLUSTERDOWN,
             connection) that the client handled itself and that reached the writers.
  rebalance  a 7th node joins with `add-node`; `rebalance --cluster-use-empty-masters` gives it
             slots; `rebalance --cluster-weight <id>=0` empties it; `del-node` removes it; each
             time `check` is clean, all nodes agree, and every key written so far reads back.
  failover   writes acknowledged by `WAIT 1` on one primary; that primary is killed with SIGKILL
             and its replica sent `CLUSTER FAILOVER TAKEOVER`; the `RedisCluster` client recovers
             (writes and reads succeed), other nodes route the slots to the new primary, and
             every acknowledged write is on it.
  sentinel   (kv only: redis-server in cluster mode refuses REPLICAOF, which Sentinel's promotion
             sends, so for redis this only checks that refusal and reports a skip) three
             `redis-sentinel` watch another shard's primary; it is killed with SIGKILL; Sentinel
             promotes its replica, the other nodes route the shard's slots to it, and every write
             `WAIT 1` acknowledged is on it.

Usage: python cluster.py SERVER-BINARY kv|redis [--only CHECK,...] [--verbose]

SERVER-BINARY is a kv-server or a redis-server; the second argument says which, since their
flags differ. `--only create,clients` runs those checks (the cluster is built anyway). Every
server and sentinel listens on a free loopback port (for redis-server also port+10000, its bus)
and works in a temporary directory; all of them are stopped when the script ends, fails or is
interrupted. The directory is removed on success and kept (its path printed) on failure.
Prints one line per check,
    cluster CHECK: ok in X s: what was seen
(or FAILED and why; the checks after a failure are not run), then a cargo-style "test result:"
line, and exits 0 if every check run passed, else 1. Progress goes to stderr. With --verbose
each `redis-cli` command and its output go to stderr too, and at the end each node's
`INFO commandstats`: what the tools, clients and nodes sent it.
"""

import argparse
import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import redis
from redis.cluster import RedisCluster
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError

CHECKS = ["create", "clients", "reshard", "rebalance", "failover", "sentinel"]
SLOTS = 16384
NODE_TIMEOUT_MS = 5000
# Bounds on every wait; each is far above what the step takes on loopback.
START_TIMEOUT_S = 15.0
AGREE_TIMEOUT_S = 30.0
TOOL_TIMEOUT_S = 120.0
FAILOVER_TIMEOUT_S = 30.0
SENTINEL_TIMEOUT_S = 40.0
# The clients check.
CLIENT_OPS = 100_000
PIPELINE_LEN = 50
# One batch in DIRECT_EVERY runs as single commands instead of a pipeline.
DIRECT_EVERY = 10
# The reshard check.
RESHARD_SLOTS = 4000
WRITERS = 4
KEYS_PER_WRITER = 2500
PAIRS_PER_WRITER = 250
# Writers go on this long after the reshard ends, so writes to the moved slots' new owner count.
WRITE_AFTER_RESHARD_S = 0.5
# A writer retries one operation this many times, at most RETRY_BOUND_S, before giving up on it.
RETRY_ATTEMPTS = 100
RETRY_BOUND_S = 10.0
# The failover checks.
FAILOVER_KEYS = 1000
WAIT_TIMEOUT_MS = 1000
# The sentinel check (as in sentinel.py).
MASTER_NAME = "shard1"
# Twice Sentinel's reconnection period: a sentinel reconnects a link at most once a second and
# keeps the time of its last attempt when it switches to a new primary, so with 1000 ms it may
# reach the new primary only as its 1000 ms run out, think it down, and fail over again.
DOWN_AFTER_MS = 2000
SENTINEL_FAILOVER_TIMEOUT_MS = 10000

processes = []
VERBOSE = False


def log(message):
    print("cluster: " + message, file=sys.stderr, flush=True)


def stop_all():
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
    for proc in processes:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(stop_all)


def on_signal(signum, _frame):
    # SystemExit unwinds through the `finally` blocks, which stop the processes.
    raise SystemExit(128 + signum)


def free_ports(count, bus):
    """`count` distinct ports nothing listens on, each with port+10000 free too if `bus`.

    Drawn below the kernel's ephemeral range (32768 up), so port+10000 is not taken by some
    outgoing connection between this choice and the server's start. The sockets are held until
    all are chosen.
    """
    sockets = []
    ports = []
    rnd = random.Random()
    try:
        for _ in range(2000):
            if len(ports) == count:
                return ports
            port = rnd.randrange(12000, 22000)
            wanted = [port, port + 10000] if bus else [port]
            if any(p in ports or p - 10000 in ports for p in wanted):
                continue
            held = []
            try:
                for p in wanted:
                    s = socket.socket()
                    held.append(s)
                    s.bind(("127.0.0.1", p))
            except OSError:
                for s in held:
                    s.close()
                continue
            sockets += held
            ports.append(port)
        raise AssertionError("could not find %d free ports" % count)
    finally:
        for s in sockets:
            s.close()


def wait_for(what, predicate, timeout, interval=0.05):
    """Polls `predicate` until it returns a true value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (redis.RedisError, OSError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(
        "%s: not within %.0f s%s" % (what, timeout, " (last error: %s)" % last_error if last_error else "")
    )


def crc16(data):
    """CRC16-XMODEM (polynomial 0x1021, initial value 0), the cluster's key hash."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """The slot of `key`: of the part between the first `{` and the next `}` if not empty."""
    if isinstance(key, str):
        key = key.encode()
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16(key) % SLOTS


def slot_count(ranges):
    return sum(end - start + 1 for start, end in ranges)


class NodeView:
    """One line of CLUSTER NODES."""

    def __init__(self, line):
        fields = line.split()
        self.id = fields[0]
        address = fields[1].split(",")[0]
        self.port = int(address.split("@")[0].rsplit(":", 1)[1])
        self.flags = set(fields[2].split(","))
        self.master_id = fields[3]
        self.link = fields[7]
        self.ranges = []
        for token in fields[8:]:
            if token.startswith("["):
                # An importing or migrating marker, not ownership.
                continue
            start, _, end = token.partition("-")
            self.ranges.append((int(start), int(end or start)))
        self.ranges.sort()

    @property
    def role(self):
        return "master" if "master" in self.flags else "slave" if "slave" in self.flags else "?"

    def shape(self):
        """What every node must agree on about this one."""
        return (self.id, self.port, self.role, self.master_id if self.role == "slave" else "-", tuple(self.ranges))


class Node:
    """One kv-server or redis-server in cluster mode, with its own directory."""

    def __init__(self, ctx, port, name):
        self.ctx = ctx
        self.port = port
        self.name = name
        self.dir = os.path.join(ctx.root, name)
        os.makedirs(self.dir)
        # Sentinel's promotion runs CONFIG REWRITE, which needs a file to rewrite.
        self.config = os.path.join(self.dir, "server.conf")
        with open(self.config, "w") as f:
            f.write("# written by cluster.py\n")
        self.proc = None
        self.id = None
        self.last_stats = None

    def launch(self):
        nodes_conf = os.path.join(self.dir, "nodes.conf")
        args = [self.ctx.binary, self.config, "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--cluster-enabled", "yes", "--cluster-config-file", nodes_conf]
        args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        if self.ctx.kind == "kv":
            args += ["--no-persist"]
        else:
            # repl-diskless-sync-delay 0: Redis otherwise waits 5 s for more replicas before a
            # full sync; kv starts at once.
            args += ["--save", "", "--appendonly", "no", "--dir", self.dir, "--repl-diskless-sync-delay", "0"]
        out = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        processes.append(self.proc)

    def wait_started(self):
        wait_for("%s answers PING" % self.name, self.answers, START_TIMEOUT_S)
        with self.client() as r:
            self.id = r.execute_command("CLUSTER", "MYID")
        assert re.fullmatch(r"[0-9a-f]{40}", self.id), "%s: CLUSTER MYID answered %r" % (self.name, self.id)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def answers(self):
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                tail = f.read()[-600:].strip()
            raise AssertionError("%s exited with status %d: %s" % (self.name, self.proc.returncode, tail))
        with self.client() as r:
            return r.ping()

    def snapshot_stats(self):
        if self.ctx.verbose and self.alive:
            try:
                self.last_stats = commandstats(self)
            except (redis.RedisError, OSError):
                pass

    def kill(self):
        self.snapshot_stats()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)

    def client(self, decode_responses=True):
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=5,
            socket_connect_timeout=2,
            decode_responses=decode_responses,
        )

    def command(self, *args):
        with self.client() as r:
            return r.execute_command(*args)

    def cluster_info(self):
        text = self.command("CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def view(self):
        """This node's CLUSTER NODES, by node id."""
        text = self.command("CLUSTER", "NODES")
        views = [NodeView(line) for line in text.splitlines() if line.strip()]
        return {v.id: v for v in views}

    def role(self):
        return self.command("ROLE")

    def __repr__(self):
        return "%s(%d)" % (self.name, self.port)


def commandstats(node):
    with node.client() as r:
        stats = r.info("commandstats")
    return ", ".join("%s=%d" % (name[len("cmdstat_") :], v["calls"]) for name, v in sorted(stats.items()))


class Context:
    """The processes and the state the checks share."""

    def __init__(self, args, root):
        self.binary = args.binary
        self.kind = args.kind
        self.cli = args.redis_cli
        self.sentinel_binary = args.sentinel
        self.verbose = args.verbose
        self.root = root
        ports = free_ports(7, bus=True)
        self.nodes = [Node(self, port, "node-%d" % i) for i, port in enumerate(ports)]
        self.sentinel_ports = free_ports(3, bus=False)
        self.built = False
        self.disagreement = None
        # Every key a check wrote and kept track of: key -> the set of values it may hold (None:
        # absent). More than one value only where a write's outcome is unknown.
        self.expected = {}

    def live(self):
        return [n for n in self.nodes if n.alive]

    def by_id(self, node_id):
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise AssertionError("no node of ours has id %s" % node_id)

    def redis_cli(self, *args, check=True, timeout=TOOL_TIMEOUT_S):
        """Runs `redis-cli ARGS`; returns its output (stdout and stderr). Fails if it exits
        non-zero (with `check`) or prints an [ERR] line."""
        command = [self.cli] + [str(a) for a in args]
        began = time.monotonic()
        try:
            done = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout
            )
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"")[-2000:]
            raise AssertionError("%s: still running after %.0f s; output ends: %s" % (" ".join(command), timeout, out))
        output = done.stdout + done.stderr
        if self.verbose:
            log("$ %s  (exit %d, %.1f s)\n%s" % (" ".join(command), done.returncode, time.monotonic() - began, output))
        if check:
            assert done.returncode == 0, "%s exited with %d: %s" % (
                " ".join(command),
                done.returncode,
                output[-2000:],
            )
            errors = [line for line in output.splitlines() if "[ERR]" in line]
            assert not errors, "%s printed %s" % (" ".join(command), errors[:5])
        return output

    def cluster_client(self, node=None, **kwargs):
        node = node or self.live()[0]
        return RedisCluster(host="127.0.0.1", port=node.port, **kwargs)

    def ensure_cluster(self):
        if not self.built:
            build_cluster(self)


def check_clean(ctx, timeout=AGREE_TIMEOUT_S):
    """Polls `redis-cli --cluster check` until it exits 0 without [ERR] or [WARNING] lines (a
    replica can learn a change a moment after the primaries). Returns the output."""
    seed = ctx.live()[0]
    last = []

    def clean():
        output = ctx.redis_cli("--cluster", "check", "127.0.0.1:%d" % seed.port, check=False)
        bad = [line for line in output.splitlines() if "[ERR]" in line or "[WARNING]" in line]
        last[:] = [output]
        return not bad and "[OK] All 16384 slots covered." in output and "[OK] All nodes agree" in output

    try:
        wait_for("redis-cli --cluster check clean", clean, timeout, interval=0.5)
    except AssertionError as e:
        raise AssertionError("%s; last output: %s" % (e, last[0][-2000:] if last else ""))
    return last[0]


def agreed_view(ctx, nodes=None):
    """The view every node in `nodes` (default: all live ones) holds, if they all hold the
    same one and it lists them; else None, with the difference in ctx.disagreement."""
    nodes = nodes or ctx.live()
    first = None
    for node in nodes:
        view = node.view()
        shape = sorted(v.shape() for v in view.values())
        if node.id not in view or "myself" not in view[node.id].flags:
            ctx.disagreement = "%s does not list itself as myself" % node
            return None
        if first is None:
            first, views = (node, shape), view
        elif shape != first[1]:
            ctx.disagreement = "%s and %s differ: %s against %s" % (
                first[0],
                node,
                sorted(set(first[1]) - set(shape)),
                sorted(set(shape) - set(first[1])),
            )
            return None
    # Every live node is listed; any other listed node is one of ours that was killed (no node
    # here detects failures, so a killed node stays in the map).
    ids = set(views)
    ours = {n.id for n in ctx.nodes if n.id}
    missing = {n.id for n in nodes} - ids
    if missing or not ids <= ours or any(ctx.by_id(i).alive and ctx.by_id(i) not in nodes for i in ids):
        ctx.disagreement = "the nodes list %s; missing %s" % (sorted(ids), sorted(missing))
        return None
    return views


def wait_agreed(ctx, what, nodes=None):
    ctx.disagreement = None
    try:
        return wait_for(what, lambda: agreed_view(ctx, nodes), AGREE_TIMEOUT_S, interval=0.1)
    except AssertionError as e:
        raise AssertionError("%s; last difference: %s" % (e, ctx.disagreement))


def shards(view):
    """[(primary view, [replica views])] of the primaries that own slots, by first slot."""
    result = []
    for v in view.values():
        if v.role == "master" and v.ranges:
            replicas = [r for r in view.values() if r.role == "slave" and r.master_id == v.id]
            result.append((v, replicas))
    result.sort(key=lambda s: s[0].ranges[0])
    return result


def roles_linked(ctx, primary, replica):
    """ROLE on both ends shows the replication link up."""
    role = primary.role()
    if role[0] != "master" or [int(r[1]) for r in role[2]] != [replica.port]:
        return False
    role = replica.role()
    return role[0] == "slave" and int(role[2]) == primary.port and role[3] == "connected"


def cluster_ok_everywhere(ctx, nodes=None):
    for node in nodes or ctx.live():
        info = node.cluster_info()
        if info.get("cluster_state") != "ok" or info.get("cluster_slots_assigned") != str(SLOTS):
            return False
    return True


def owner_in_slots(node, slot):
    """The port CLUSTER SLOTS on `node` names as the primary of `slot`."""
    for entry in node.command("CLUSTER", "SLOTS"):
        if int(entry[0]) <= slot <= int(entry[1]):
            return int(entry[2][1])
    return None


def verify_expected(ctx, what, rc=None):
    """Reads every key in ctx.expected through a `RedisCluster` and compares."""
    if not ctx.expected:
        return 0
    own = rc is None
    rc = rc or ctx.cluster_client()
    try:
        keys = list(ctx.expected)
        wrong = []
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            pipe = rc.pipeline()
            for k in batch:
                pipe.get(k)
            for k, got in zip(batch, pipe.execute()):
                if got not in ctx.expected[k]:
                    wrong.append((k, got, sorted(ctx.expected[k], key=repr)))
        assert not wrong, "%s: %d of %d keys wrong, first %s" % (what, len(wrong), len(keys), wrong[:3])
        return len(keys)
    finally:
        if own:
            rc.close()


def build_cluster(ctx):
    """Starts six nodes and runs `redis-cli --cluster create` over them; waits until every
    node says cluster_state:ok. Returns create's output."""
    six = ctx.nodes[:6]
    for node in six:
        node.launch()
    for node in six:
        node.wait_started()
    log("6 nodes on ports %s" % ", ".join(str(n.port) for n in six))
    for node in six:
        info = node.cluster_info()
        assert info.get("cluster_known_nodes") == "1", "%s is not empty: %s" % (node.name, info)
    output = ctx.redis_cli(
        "--cluster", "create", *["127.0.0.1:%d" % n.port for n in six], "--cluster-replicas", 1, "--cluster-yes"
    )
    assert "[OK] All 16384 slots covered." in output, "create did not report all slots covered: %s" % output[-2000:]
    wait_for("cluster_state:ok on every node", lambda: cluster_ok_everywhere(ctx, six), AGREE_TIMEOUT_S, 0.1)
    ctx.built = True
    return output


def check_create(ctx):
    began = time.monotonic()
    build_cluster(ctx)
    log("create done in %.1f s" % (time.monotonic() - began))
    view = wait_agreed(ctx, "all 6 nodes agree on the map")
    found = shards(view)
    assert len(found) == 3, "expected 3 primaries owning slots, found %d" % len(found)
    total = 0
    for primary, replicas in found:
        assert len(replicas) == 1, "primary %d has %d replicas" % (primary.port, len(replicas))
        total += slot_count(primary.ranges)
        p, r = ctx.by_id(primary.id), ctx.by_id(replicas[0].id)
        wait_for("ROLE shows %s replicating %s" % (r, p), lambda: roles_linked(ctx, p, r), AGREE_TIMEOUT_S, 0.1)
    assert total == SLOTS, "primaries own %d slots" % total
    check_clean(ctx)
    return "6 nodes, 3 primaries (%s slots) with one replica each, check clean" % "/".join(
        str(slot_count(p.ranges)) for p, _ in found
    )


class Model:
    """What the clients check's keys hold: value and whether a TTL is set."""

    def __init__(self):
        self.values = {}
        self.ttl = set()

    def set(self, key, value):
        self.values[key] = value
        self.ttl.discard(key)


def client_workload(rnd, model):
    """One operation: (method name, args, check) where check(reply) says if the reply is right;
    the model is updated as if the operation ran (in order, as a pipeline runs them)."""
    strings = [b"s:%d" % i for i in range(2000)]
    counters = [b"c:%d" % i for i in range(500)]
    users = range(200)

    def any_key():
        pick = rnd.random()
        if pick < 0.5:
            return rnd.choice(strings)
        if pick < 0.75:
            return rnd.choice(counters)
        return b"{user%d}:%s" % (rnd.choice(users), rnd.choice([b"a", b"b", b"c"]))

    def value():
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 64)))

    while True:
        pick = rnd.random()
        if pick < 0.25:
            key, v = rnd.choice(strings), value()
            model.set(key, v)
            yield "set", (key, v), lambda reply: reply is True
        elif pick < 0.50:
            key = any_key()
            want = model.values.get(key)
            yield "get", (key,), lambda reply, want=want: reply == want
        elif pick < 0.62:
            key = rnd.choice(counters)
            n = int(model.values.get(key, b"0")) + 1
            model.values[key] = b"%d" % n
            yield "incr", (key,), lambda reply, n=n: reply == n
        elif pick < 0.69:
            key = any_key()
            want = 1 if key in model.values else 0
            model.values.pop(key, None)
            model.ttl.discard(key)
            yield "delete", (key,), lambda reply, want=want: reply == want
        elif pick < 0.76:
            key = any_key()
            want = key in model.values
            if want:
                model.ttl.add(key)
            yield "expire", (key, 100000), lambda reply, want=want: reply == want
        elif pick < 0.82:
            key = any_key()
            if key not in model.values:
                yield "ttl", (key,), lambda reply: reply == -2
            elif key not in model.ttl:
                yield "ttl", (key,), lambda reply: reply == -1
            else:
                yield "ttl", (key,), lambda reply: 0 < reply <= 100000
        elif pick < 0.91:
            user = rnd.choice(users)
            keys = [b"{user%d}:%s" % (user, f) for f in (b"a", b"b", b"c")]
            want = [model.values.get(k) for k in keys]
            # ClusterPipeline refuses its mget/mset methods even within one slot; the command
            # itself goes through.
            yield "execute_command", ("MGET", *keys), lambda reply, want=want: list(reply) == want
        else:
            user = rnd.choice(users)
            mapping = {b"{user%d}:%s" % (user, f): value() for f in rnd.sample([b"a", b"b", b"c"], 2)}
            for k, v in mapping.items():
                model.set(k, v)
            flat = [x for kv in mapping.items() for x in kv]
            yield "execute_command", ("MSET", *flat), lambda reply: reply is True


def raw_reply(port, *args):
    """Sends one command on a fresh plain connection; returns the first reply line, raw."""
    payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n")[0]


def check_clients(ctx):
    ctx.ensure_cluster()
    seed = ctx.live()[0]

    # The server's KEYSLOT against CRC16 here, hash tags included.
    rnd = random.Random(19)
    samples = ["foo", "{user42}:a", "{user42}:b", "{}", "{}x", "a{}b{c}", "{a", "a}", "{{a}}", "x{y}z{w}", ""]
    samples += ["k:%d" % rnd.randrange(10**9) for _ in range(200)]
    with seed.client() as r:
        pipe = r.pipeline(transaction=False)
        for key in samples:
            pipe.execute_command("CLUSTER", "KEYSLOT", key)
        slots = pipe.execute()
    wrong = [(k, s, key_slot(k)) for k, s in zip(samples, slots) if s != key_slot(k)]
    assert not wrong, "CLUSTER KEYSLOT differs from CRC16 (key, server, expected): %s" % wrong[:5]

    # The mixed workload.
    model = Model()
    ops = client_workload(random.Random(42), model)
    rc = ctx.cluster_client()
    began = time.monotonic()
    done = 0
    batch = 0
    pipelined = 0
    try:
        while done < CLIENT_OPS:
            batch_ops = [next(ops) for _ in range(min(PIPELINE_LEN, CLIENT_OPS - done))]
            if batch % DIRECT_EVERY == DIRECT_EVERY - 1:
                replies = [getattr(rc, name)(*args) for name, args, _ in batch_ops]
            else:
                pipe = rc.pipeline()
                for name, args, _ in batch_ops:
                    getattr(pipe, name)(*args)
                replies = pipe.execute()
                pipelined += len(batch_ops)
            for (name, args, check), reply in zip(batch_ops, replies):
                assert check(reply), "op %d: %s%r answered %r" % (done, name, args, reply)
                done += 1
            batch += 1
        elapsed = time.monotonic() - began
        log("%d operations (%d in pipelines) in %.1f s" % (done, pipelined, elapsed))
        # The end state, read back whole.
        every = [b"s:%d" % i for i in range(2000)] + [b"c:%d" % i for i in range(500)]
        every += [b"{user%d}:%s" % (u, f) for u in range(200) for f in (b"a", b"b", b"c")]
        assert set(model.values) <= set(every)
        for key in every:
            ctx.expected[key] = {model.values.get(key)}
        verify_expected(ctx, "after the workload", rc)
    finally:
        rc.close()

    # redis-cli -c and a plain connection at a node that does not own "foo".
    slot = key_slot("foo")
    owner = owner_in_slots(seed, slot)
    view = seed.view()
    other = ctx.by_id([p.id for p, _ in shards(view) if p.port != owner][0])
    out = ctx.redis_cli("-c", "-p", other.port, "SET", "foo", "bar").strip()
    assert out == "OK", "redis-cli -c -p %d SET foo bar printed %r" % (other.port, out)
    out = ctx.redis_cli("-c", "-p", other.port, "GET", "foo").strip()
    assert out == "bar", "redis-cli -c -p %d GET foo printed %r" % (other.port, out)
    ctx.expected[b"foo"] = {b"bar"}
    line = raw_reply(other.port, b"GET", b"foo")
    want = b"-MOVED %d 127.0.0.1:%d" % (slot, owner)
    assert line == want, "GET foo on %d: %r, expected %r" % (other.port, line, want)
    return "%d operations (%d pipelined) in %.1f s, all replies as modelled; redis-cli -c and MOVED right" % (
        done,
        pipelined,
        elapsed,
    )


def classify(error):
    if isinstance(error, MovedError):
        return "MOVED"
    if isinstance(error, AskError):
        return "ASK"
    if isinstance(error, TryAgainError):
        return "TRYAGAIN"
    if isinstance(error, ClusterDownError):
        return "CLUSTERDOWN"
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return "connection"
    return "%s %s" % (type(error).__name__, str(error)[:60])


def counting_connection(counts):
    """A redis-py Connection class that counts in `counts`, by kind, the error replies it reads
    and the connection errors it meets: what RedisCluster handles without telling its caller."""

    class CountingConnection(redis.connection.Connection):
        connecting = False

        def on_connect(self, *args, **kwargs):
            # The handshake's errors (redis-server 7.0 has no CLIENT SETINFO) are not the
            # cluster's.
            self.connecting = True
            try:
                return super().on_connect(*args, **kwargs)
            finally:
                self.connecting = False

        def count(self, error):
            if not self.connecting:
                kind = classify(error)
                counts[kind] = counts.get(kind, 0) + 1

        def connect(self, *args, **kwargs):
            try:
                return super().connect(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                self.count(e)
                raise

        def send_packed_command(self, *args, **kwargs):
            try:
                return super().send_packed_command(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                self.count(e)
                raise

        def read_response(self, *args, **kwargs):
            try:
                return super().read_response(*args, **kwargs)
            except (redis.ResponseError, redis.ConnectionError, redis.TimeoutError) as e:
                self.count(e)
                raise

    return CountingConnection


def counting_cluster_client(node, counts):
    """A RedisCluster with its defaults, but counting the error replies it reads in `counts`.
    Only its from_url path passes a connection class down to the node clients."""
    return RedisCluster.from_url("redis://127.0.0.1:%d" % node.port, connection_class=counting_connection(counts))


class Writer(threading.Thread):
    """Sets, deletes and reads its own keys through its own RedisCluster, single keys and, with
    MSET and MGET, pairs of keys that share a hash tag (what a slot in migration answers with
    TRYAGAIN when it holds one of them); remembers for each key the values it may hold."""

    def __init__(self, ctx, index, seed_node, stop):
        super().__init__(name="writer-%d" % index, daemon=True)
        self.index = index
        self.stop = stop
        self.keys = [b"rw%d:%d" % (index, n) for n in range(KEYS_PER_WRITER)]
        self.pairs = [(b"{rw%d:p%d}:a" % (index, n), b"{rw%d:p%d}:b" % (index, n)) for n in range(PAIRS_PER_WRITER)]
        # key -> set of values it may hold (None: absent); one value unless a write was given up
        # with an unknown outcome.
        self.state = {}
        self.redirects = {}
        self.errors = {}
        self.ops = 0
        self.acknowledged = 0
        self.given_up = 0
        self.wrong_reads = []
        self.failure = None
        self.ready = threading.Event()
        self.rc = counting_cluster_client(seed_node, self.redirects)
        self.rnd = random.Random(1000 + index)
        self.seq = 0

    def unique(self):
        self.seq += 1
        return b"w%d-%d-%d" % (self.index, self.seq, self.rnd.getrandbits(32))

    def attempt(self, fn):
        """Runs fn until it is acknowledged, at most RETRY_ATTEMPTS times within RETRY_BOUND_S.
        Returns (True, reply, failed tries) or (False, the last error's kind, failed tries)."""
        deadline = time.monotonic() + RETRY_BOUND_S
        kind = None
        for tries in range(RETRY_ATTEMPTS):
            try:
                return True, fn(), tries
            except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as e:
                kind = classify(e)
                self.errors[kind] = self.errors.get(kind, 0) + 1
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return False, kind, RETRY_ATTEMPTS

    def preload(self):
        every = self.keys + [k for pair in self.pairs for k in pair]
        for start in range(0, len(every), 250):
            pipe = self.rc.pipeline()
            batch = every[start : start + 250]
            values = [self.unique() for _ in batch]
            for k, v in zip(batch, values):
                pipe.set(k, v)
            replies = pipe.execute()
            assert all(r is True for r in replies), "preload: %r" % replies
            for k, v in zip(batch, values):
                self.state[k] = {v}
            self.acknowledged += len(batch)
            self.ops += len(batch)

    def step(self):
        key = self.rnd.choice(self.keys)
        pick = self.rnd.random()
        self.ops += 1
        if pick < 0.1:
            pair = self.rnd.choice(self.pairs)
            values = [self.unique(), self.unique()]
            args = [x for kv in zip(pair, values) for x in kv]
            ok, reply, _ = self.attempt(lambda: self.rc.execute_command("MSET", *args))
            for k, v in zip(pair, values):
                self.state[k] = {v} if ok else self.state[k] | {v}
            if ok:
                assert reply is True, "MSET %r answered %r" % (args, reply)
                self.acknowledged += 1
            else:
                self.given_up += 1
        elif pick < 0.15:
            pair = self.rnd.choice(self.pairs)
            ok, reply, _ = self.attempt(lambda: self.rc.execute_command("MGET", *pair))
            if not ok:
                self.given_up += 1
            elif any(got not in self.state[k] for k, got in zip(pair, reply)):
                self.wrong_reads.append((pair, reply, [self.state[k] for k in pair]))
        elif pick < 0.6:
            v = self.unique()
            ok, reply, _ = self.attempt(lambda: self.rc.set(key, v))
            if ok:
                assert reply is True, "SET %r answered %r" % (key, reply)
                self.state[key] = {v}
                self.acknowledged += 1
            else:
                # Unknown outcome: it may have been applied.
                self.state[key] = self.state[key] | {v}
                self.given_up += 1
        elif pick < 0.7:
            if self.rnd.random() < 0.3:
                # A pair with one key gone: a source in migration holding the other answers a
                # MGET of both with TRYAGAIN.
                key = self.rnd.choice(self.rnd.choice(self.pairs))
            before = self.state[key]
            ok, reply, failed = self.attempt(lambda: self.rc.delete(key))
            if ok:
                # A failed try may have deleted it already; else the count says if it was there.
                if not failed and len(before) == 1:
                    want = 0 if None in before else 1
                    assert reply == want, "DEL %r answered %r; the key held %r" % (key, reply, before)
                self.state[key] = {None}
                self.acknowledged += 1
            else:
                self.state[key] = self.state[key] | {None}
                self.given_up += 1
        else:
            ok, reply, _ = self.attempt(lambda: self.rc.get(key))
            if ok and reply not in self.state[key]:
                self.wrong_reads.append((key, reply, self.state[key]))
            elif not ok:
                self.given_up += 1

    def run(self):
        try:
            self.preload()
            self.ready.set()
            while not self.stop.is_set():
                self.step()
        except BaseException as e:  # reported by the main thread
            self.failure = "%s: %s" % (type(e).__name__, e)
            self.ready.set()


def check_reshard(ctx):
    ctx.ensure_cluster()
    view = wait_agreed(ctx, "all nodes agree before resharding")
    primaries = [p for p, _ in shards(view)]
    source, target = primaries[0], primaries[1]
    target_before = slot_count(target.ranges)
    assert slot_count(source.ranges) >= RESHARD_SLOTS, "source owns only %d slots" % slot_count(source.ranges)
    stop = threading.Event()
    writers = [Writer(ctx, i, ctx.by_id(primaries[i % len(primaries)].id), stop) for i in range(WRITERS)]
    try:
        for w in writers:
            w.start()
        for w in writers:
            assert w.ready.wait(START_TIMEOUT_S * 2), "%s did not finish preloading" % w.name
            assert w.failure is None, "%s: %s" % (w.name, w.failure)
        log("writers preloaded %d keys; resharding %d slots from %d to %d" % (
            sum(len(w.state) for w in writers), RESHARD_SLOTS, source.port, target.port))
        began = time.monotonic()
        ctx.redis_cli(
            "--cluster", "reshard", "127.0.0.1:%d" % target.port,
            "--cluster-from", source.id, "--cluster-to", target.id,
            "--cluster-slots", RESHARD_SLOTS, "--cluster-yes",
        )
        took = time.monotonic() - began
        log("reshard took %.1f s" % took)
        time.sleep(WRITE_AFTER_RESHARD_S)
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=RETRY_BOUND_S * 3)
    for w in writers:
        assert not w.is_alive(), "%s did not stop" % w.name
        assert w.failure is None, "%s: %s" % (w.name, w.failure)
        assert not w.wrong_reads, "%s read values it never wrote or deleted: %s" % (w.name, w.wrong_reads[:3])
        w.rc.close()
    ops = sum(w.ops for w in writers)
    acknowledged = sum(w.acknowledged for w in writers)
    given_up = sum(w.given_up for w in writers)
    errors, redirects = {}, {}
    for w in writers:
        for k, n in w.errors.items():
            errors[k] = errors.get(k, 0) + n
        for k, n in w.redirects.items():
            redirects[k] = redirects.get(k, 0) + n
    log("writers: %d ops, %d acknowledged, %d given up" % (ops, acknowledged, given_up))
    assert given_up == 0, "%d operations failed for %.0f s each: %s" % (given_up, RETRY_BOUND_S, errors)

    for w in writers:
        ctx.expected.update(w.state)
    checked = verify_expected(ctx, "after the reshard")
    check_clean(ctx)
    view = wait_agreed(ctx, "all nodes agree after the reshard")
    after = slot_count(view[target.id].ranges)
    assert after == target_before + RESHARD_SLOTS, "target owns %d slots, had %d" % (after, target_before)
    return (
        "%d slots moved in %.1f s under %d writers: %d ops, %d acknowledged, all %d keys right; "
        "errors the client handled: %s; errors the writers saw: %s"
        % (RESHARD_SLOTS, took, WRITERS, ops, acknowledged, checked, error_counts(redirects), error_counts(errors))
    )


def error_counts(counts):
    """The counts by kind, the cluster's kinds always named."""
    kinds = ["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "connection"]
    kinds += sorted(k for k in counts if k not in kinds)
    return ", ".join("%s %d" % (k, counts.get(k, 0)) for k in kinds)


def write_dataset(ctx, prefix, count):
    rc = ctx.cluster_client()
    try:
        for start in range(0, count, 500):
            pipe = rc.pipeline()
            keys = [b"%s:%d" % (prefix, n) for n in range(start, min(count, start + 500))]
            for k in keys:
                pipe.set(k, b"v-" + k)
            assert all(r is True for r in pipe.execute())
            for k in keys:
                ctx.expected[k] = {b"v-" + k}
    finally:
        rc.close()


def check_rebalance(ctx):
    ctx.ensure_cluster()
    write_dataset(ctx, b"rb", 5000)
    existing = ctx.live()
    new = ctx.nodes[6]
    new.launch()
    new.wait_started()
    ctx.redis_cli("--cluster", "add-node", "127.0.0.1:%d" % new.port, "127.0.0.1:%d" % existing[0].port)
    view = wait_agreed(ctx, "all 7 nodes agree after add-node")
    # A node that joins reports the cluster down for a while (Redis: a rejoin delay of up to
    # the node timeout) and refuses keys meanwhile, MIGRATE's included.
    wait_for("cluster_state:ok on every node", lambda: cluster_ok_everywhere(ctx), AGREE_TIMEOUT_S, 0.1)
    assert view[new.id].role == "master" and not view[new.id].ranges, "new node: %s" % (view[new.id].shape(),)
    check_clean(ctx)

    began = time.monotonic()
    ctx.redis_cli(
        "--cluster", "rebalance", "127.0.0.1:%d" % existing[0].port, "--cluster-use-empty-masters", "--cluster-yes"
    )
    took_in = time.monotonic() - began
    check_clean(ctx)
    view = wait_agreed(ctx, "all nodes agree after the rebalance")
    gained = slot_count(view[new.id].ranges)
    primaries = [p for p, _ in shards(view)]
    counts = sorted(slot_count(p.ranges) for p in primaries)
    assert gained > 0, "the new node got no slots: %s" % counts
    assert counts[-1] - counts[0] <= SLOTS // 20, "rebalance left %s" % counts
    wait_for("cluster_state:ok on every node", lambda: cluster_ok_everywhere(ctx), AGREE_TIMEOUT_S, 0.1)
    verify_expected(ctx, "after the rebalance onto the new node")
    log("rebalance gave the new node %d slots in %.1f s: %s" % (gained, took_in, counts))

    began = time.monotonic()
    ctx.redis_cli(
        "--cluster", "rebalance", "127.0.0.1:%d" % existing[0].port, "--cluster-weight", "%s=0" % new.id,
        "--cluster-yes",
    )
    took_out = time.monotonic() - began
    check_clean(ctx)
    view = wait_agreed(ctx, "all nodes agree after emptying the new node")
    assert not view[new.id].ranges, "the new node still owns %d slots" % slot_count(view[new.id].ranges)
    verify_expected(ctx, "after emptying the new node")
    log("rebalance emptied the new node in %.1f s (it is now a %s)" % (took_out, view[new.id].role))

    ctx.redis_cli("--cluster", "del-node", "127.0.0.1:%d" % existing[0].port, new.id)
    wait_for("the new node gone from every view", lambda: all(new.id not in n.view() for n in existing),
             AGREE_TIMEOUT_S, 0.1)
    if new.alive:
        new.kill()
    wait_agreed(ctx, "the 6 nodes agree after del-node")
    check_clean(ctx)
    checked = verify_expected(ctx, "after del-node")
    return "add-node, rebalance (%d slots onto it, %.1f s), weight 0 (%.1f s), del-node; check clean, %d keys right" % (
        gained,
        took_in,
        took_out,
        checked,
    )


def pick_shard(ctx, avoid=()):
    """A primary owning slots whose one replica is alive, not in `avoid`: (primary, replica,
    primary's ranges)."""
    view = wait_agreed(ctx, "all nodes agree before the failover")
    for primary, replicas in shards(view):
        p = ctx.by_id(primary.id)
        live = [ctx.by_id(r.id) for r in replicas if ctx.by_id(r.id).alive]
        if p.alive and len(live) == 1 and p not in avoid and live[0] not in avoid:
            wait_for("ROLE shows %s replicating %s" % (live[0], p), lambda: roles_linked(ctx, p, live[0]),
                     AGREE_TIMEOUT_S, 0.1)
            return p, live[0], primary.ranges
    raise AssertionError("no shard with a live primary and one live replica")


def keys_in(ranges, prefix, count):
    owned = set()
    for start, end in ranges:
        owned.update(range(start, end + 1))
    keys = []
    n = 0
    while len(keys) < count:
        key = b"%s:%d" % (prefix, n)
        if key_slot(key) in owned:
            keys.append(key)
        n += 1
    return keys


def write_acknowledged(primary, keys):
    """SET each key on `primary` followed by `WAIT 1`; returns the writes one replica
    acknowledged, as {key: value}. Then waits until the replica holds everything written
    before (so all of ctx.expected on this shard must survive too)."""
    acknowledged = {}
    with primary.client(decode_responses=False) as r:
        for key in keys:
            value = b"ack-" + key
            assert r.set(key, value) is True
            if r.execute_command("WAIT", 1, WAIT_TIMEOUT_MS) == 1:
                acknowledged[key] = value
        assert r.execute_command("WAIT", 1, 5000) == 1, "WAIT 1 5000 on %s: no replica" % primary
    assert len(acknowledged) >= len(keys) * 9 // 10, "WAIT 1 acknowledged only %d of %d writes" % (
        len(acknowledged),
        len(keys),
    )
    return acknowledged


def missing_on(node, acknowledged):
    missing = []
    with node.client(decode_responses=False) as r:
        items = list(acknowledged.items())
        for start in range(0, len(items), 500):
            pipe = r.pipeline(transaction=False)
            for k, _ in items[start : start + 500]:
                pipe.get(k)
            missing += [k for (k, v), got in zip(items[start : start + 500], pipe.execute()) if got != v]
    return missing


def routed_to(ctx, node, ranges, avoid):
    """Every live node but `avoid` names `node` in CLUSTER SLOTS for the first and last slot of
    each of `ranges`."""
    for other in ctx.live():
        if other in avoid:
            continue
        for start, end in ranges:
            if owner_in_slots(other, start) != node.port or owner_in_slots(other, end) != node.port:
                return False
    return True


def recover_client(ctx, rc, keys, acknowledged, timeout):
    """Writes and reads through `rc` until both succeed; returns (seconds, errors by kind).
    Each write is a key in a probed key's slot, so it goes to the shard that failed over; the
    one that succeeded must hold its value afterwards, one that failed may or may not."""
    errors = {}
    began = time.monotonic()
    deadline = began + timeout
    n = 0
    while True:
        probe = keys[n % len(keys)]
        n += 1
        after = b"{%s}:after" % probe
        ctx.expected.setdefault(after, {None, b"x"})
        try:
            assert rc.set(after, b"x") is True
            ctx.expected[after] = {b"x"}
            got = rc.get(probe)
            assert got == acknowledged[probe], "%r read %r after the failover" % (probe, got)
            return time.monotonic() - began, errors
        except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as e:
            kind = classify(e)
            errors[kind] = errors.get(kind, 0) + 1
        if time.monotonic() > deadline:
            raise AssertionError("the client did not recover within %.0f s: %s" % (timeout, errors))
        time.sleep(0.1)


def check_failover(ctx):
    ctx.ensure_cluster()
    primary, replica, ranges = pick_shard(ctx)
    keys = keys_in(ranges, b"fo", FAILOVER_KEYS)
    acknowledged = write_acknowledged(primary, keys)
    other = [n for n in ctx.live() if n not in (primary, replica)][0]
    handled = {}
    rc = counting_cluster_client(other, handled)
    try:
        # The client's map and a connection to the primary, both about to go stale.
        assert rc.get(keys[0]) == b"ack-" + keys[0]
        log("%d writes acknowledged by WAIT 1 on %s; killing it (SIGKILL)" % (len(acknowledged), primary))
        primary.kill()
        killed = time.monotonic()
        assert replica.command("CLUSTER", "FAILOVER", "TAKEOVER") == "OK"
        # The client goes on at once, its map naming the dead primary.
        recovered, errors = recover_client(ctx, rc, keys, acknowledged, FAILOVER_TIMEOUT_S)
        wait_for("%s says it is a primary" % replica, lambda: replica.role()[0] == "master", FAILOVER_TIMEOUT_S, 0.05)
        wait_for("the other nodes route the slots to %s" % replica,
                 lambda: routed_to(ctx, replica, ranges, ()), FAILOVER_TIMEOUT_S, 0.05)
        routed = time.monotonic() - killed
        missing = missing_on(replica, acknowledged)
        assert not missing, "%d acknowledged writes missing on %s, first %s" % (len(missing), replica, missing[:3])
        ctx.expected.update({k: {v} for k, v in acknowledged.items()})
        checked = verify_expected(ctx, "after the failover", rc)
    finally:
        rc.close()
    return (
        "%d WAIT-acknowledged writes all on the new primary; client wrote and read again %.2f s after "
        "TAKEOVER (errors it handled: %s; errors it raised: %s); all nodes routed the slots to the "
        "new primary %.2f s after the kill; %d keys right"
        % (len(acknowledged), recovered, error_counts(handled), error_counts(errors), routed, checked)
    )


def start_sentinel(ctx, port, primary_port, index):
    directory = os.path.join(ctx.root, "sentinel-%d" % index)
    os.makedirs(directory)
    config = os.path.join(directory, "sentinel.conf")
    with open(config, "w") as f:
        f.write(
            "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n"
            "sentinel monitor %s 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds %s %d\n"
            "sentinel failover-timeout %s %d\n"
            "sentinel parallel-syncs %s 1\n"
            % (port, directory, os.path.join(directory, "sentinel.log"), MASTER_NAME, primary_port,
               MASTER_NAME, DOWN_AFTER_MS, MASTER_NAME, SENTINEL_FAILOVER_TIMEOUT_MS, MASTER_NAME)
        )
    proc = subprocess.Popen(
        [ctx.sentinel_binary, config], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    processes.append(proc)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
    wait_for("sentinel on %d answers PING" % port, client.ping, START_TIMEOUT_S)
    return client


def check_sentinel(ctx):
    ctx.ensure_cluster()
    if ctx.kind == "redis":
        # Sentinel promotes with REPLICAOF NO ONE, which Redis in cluster mode refuses.
        _, replica, _ = pick_shard(ctx)
        try:
            replica.command("REPLICAOF", "NO", "ONE")
        except redis.ResponseError as e:
            assert "cluster" in str(e).lower(), "REPLICAOF NO ONE refused with %s" % e
            return None
        raise AssertionError("redis-server in cluster mode accepted REPLICAOF NO ONE")
    primary, replica, ranges = pick_shard(ctx)
    sentinels = [start_sentinel(ctx, port, primary.port, i) for i, port in enumerate(ctx.sentinel_ports)]

    def ready(s):
        state = s.sentinel_master(MASTER_NAME)
        return state["num-slaves"] == 1 and state["num-other-sentinels"] == 2 and "s_down" not in state["flags"]

    for s in sentinels:
        wait_for("sentinel sees the replica and 2 sentinels", lambda: ready(s), SENTINEL_TIMEOUT_S, 0.1)
    keys = keys_in(ranges, b"se", FAILOVER_KEYS)
    acknowledged = write_acknowledged(primary, keys)
    other = [n for n in ctx.live() if n not in (primary, replica)][0]
    handled = {}
    rc = counting_cluster_client(other, handled)
    try:
        assert rc.get(keys[0]) == b"ack-" + keys[0]
        log("%d writes acknowledged by WAIT 1 on %s; killing it (SIGKILL)" % (len(acknowledged), primary))
        primary.kill()
        killed = time.monotonic()
        chosen, routed = sentinel_failover(ctx, sentinels, replica, ranges, killed)
        missing = missing_on(replica, acknowledged)
        assert not missing, "%d acknowledged writes missing on %s, first %s" % (len(missing), replica, missing[:3])
        recovered, errors = recover_client(ctx, rc, keys, acknowledged, FAILOVER_TIMEOUT_S)
        ctx.expected.update({k: {v} for k, v in acknowledged.items()})
        checked = verify_expected(ctx, "after the Sentinel failover", rc)
    finally:
        rc.close()
    return (
        "Sentinel promoted %s %.2f s after the kill; all nodes routed its slots to it after %.2f s; %d "
        "WAIT-acknowledged writes on it; client wrote and read again %.2f s later (errors it handled: "
        "%s; errors it raised: %s); %d keys right"
        % (replica, chosen, routed, len(acknowledged), recovered, error_counts(handled), error_counts(errors), checked)
    )


def sentinel_failover(ctx, sentinels, replica, ranges, killed):
    """Waits until the sentinels name `replica` the primary and every node routes `ranges` to
    it; returns the seconds from `killed` to each."""

    def promoted():
        addresses = {tuple(s.sentinel_get_master_addr_by_name(MASTER_NAME)) for s in sentinels}
        return len(addresses) == 1 and int(addresses.pop()[1]) == replica.port

    wait_for("the sentinels name %s the primary" % replica, promoted, SENTINEL_TIMEOUT_S, 0.1)
    chosen = time.monotonic() - killed
    wait_for("the other nodes route the slots to %s" % replica,
             lambda: routed_to(ctx, replica, ranges, ()), FAILOVER_TIMEOUT_S, 0.05)
    routed = time.monotonic() - killed
    assert replica.role()[0] == "master", "%s is not a primary: %s" % (replica, replica.role())
    return chosen, routed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="path to kv-server or redis-server")
    parser.add_argument("kind", choices=["kv", "redis"])
    parser.add_argument("--only", default=",".join(CHECKS), help="comma-separated checks: " + ",".join(CHECKS))
    parser.add_argument("--redis-cli", default=shutil.which("redis-cli") or "redis-cli")
    parser.add_argument("--sentinel", default=shutil.which("redis-sentinel") or "redis-sentinel")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in only if c not in CHECKS]
    if unknown:
        parser.error("unknown checks %s; known: %s" % (unknown, ", ".join(CHECKS)))
    # The servers run in their own directories, so a relative path would not find the binary.
    args.binary = os.path.abspath(shutil.which(args.binary) or args.binary)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    root = tempfile.mkdtemp(prefix="kv-cluster-")
    began = time.monotonic()
    passed = failed = skipped = 0
    finished = False
    try:
        try:
            ctx = Context(args, root)
        except (AssertionError, OSError) as e:
            failed += 1
            print("cluster setup: FAILED: %s" % e, flush=True)
            ctx = None
        for name in CHECKS if ctx else []:
            if name not in only:
                continue
            check = globals()["check_" + name]
            started = time.monotonic()
            try:
                summary = check(ctx)
            except Exception as e:
                failed += 1
                if not isinstance(e, AssertionError) or args.verbose:
                    traceback.print_exc()
                print("cluster %s: FAILED after %.1f s: %s: %s" % (name, time.monotonic() - started,
                                                                  type(e).__name__, e), flush=True)
                break
            if summary is None:
                skipped += 1
                print("cluster %s: skipped (redis-server in cluster mode refuses REPLICAOF, which Sentinel "
                      "sends to promote; checked that it does)" % name, flush=True)
            else:
                passed += 1
                print("cluster %s: ok in %.1f s: %s" % (name, time.monotonic() - started, summary), flush=True)
        if args.verbose and ctx:
            for node in ctx.nodes:
                node.snapshot_stats()
                if node.last_stats:
                    log("%s (%d) commandstats: %s" % (node.name, node.port, node.last_stats))
        finished = True
    finally:
        stop_all()
        if finished and failed == 0:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("cluster: logs kept in %s" % root, file=sys.stderr)
    ok = failed == 0
    print(
        "test result: %s. %d passed; %d failed; %d ignored; finished in %.1f s"
        % ("ok" if ok else "FAILED", passed, failed, skipped, time.monotonic() - began)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
