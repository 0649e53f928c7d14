"""Failover under Redis Sentinel: three `redis-sentinel` processes watch a primary with two
replicas; the primary is killed with SIGKILL while a redis-py `Sentinel` client writes, each
write followed by `WAIT 1`.

Passes when a replica is promoted, the writer goes on through `master_for`, every write that
`WAIT 1` acknowledged is on the new primary, and the old primary, restarted, becomes a replica of
the new one and holds those writes too.

Usage: python sentinel.py SERVER-BINARY kv|redis [--sentinel PATH] [--verbose]

SERVER-BINARY is a kv-server or a redis-server; the second argument says which, since their
flags for "keep nothing on disk" differ. Every server and sentinel listens on a free loopback
port and works in a temporary directory; all of them are stopped when the script ends, fails or
is interrupted. The directory is removed on success and kept (its path printed) on failure.
Prints one line,
    sentinel: N acknowledged writes, all present; failover took X s
and exits 0, or prints what failed and exits 1. With --verbose it also prints each server's
`INFO commandstats` at the end: what Sentinel and the servers sent one another.
"""

import argparse
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis
from redis.sentinel import Sentinel

MASTER_NAME = "mymaster"
# Twice Sentinel's reconnection period: a sentinel reconnects a link at most once a second and
# keeps the time of its last attempt when it switches to a new primary, so with 1000 ms it may
# reach the new primary only as its 1000 ms run out, think it down, and fail over again.
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000
# Writes before the kill, so the replicas hold data the failover must keep.
WRITE_BEFORE_KILL_S = 2.0
# Acknowledged writes wanted on the new primary before the writer stops.
WRITES_AFTER_FAILOVER = 200
# Bounds on every wait; each is far above what a failover on loopback takes.
START_TIMEOUT_S = 15.0
DISCOVERY_TIMEOUT_S = 30.0
FAILOVER_DEADLINE_S = 40.0
REJOIN_TIMEOUT_S = 60.0
WAIT_TIMEOUT_MS = 1000

processes = []


def log(message):
    print("sentinel: " + message, file=sys.stderr, flush=True)


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


def free_ports(count):
    """`count` distinct ports nothing listens on; the sockets are held until all are chosen."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
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


class Server:
    """One kv-server or redis-server, with its own directory and config file."""

    def __init__(self, binary, kind, port, root, name):
        self.binary = binary
        self.kind = kind
        self.port = port
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        # Sentinel's reconfiguration runs CONFIG REWRITE, which needs a file to rewrite.
        self.config = os.path.join(self.dir, "server.conf")
        with open(self.config, "w") as f:
            f.write("# written by sentinel.py\n")
        self.proc = None

    def start(self, replicaof=None):
        args = [self.binary, self.config, "--bind", "127.0.0.1", "--port", str(self.port)]
        if self.kind == "kv":
            args += ["--no-persist"]
        else:
            # repl-diskless-sync-delay 0: Redis otherwise waits 5 s for more replicas before a
            # full sync; kv starts at once.
            args += ["--save", "", "--appendonly", "no", "--dir", self.dir, "--repl-diskless-sync-delay", "0"]
        if replicaof is not None:
            args += ["--replicaof", "127.0.0.1", str(replicaof)]
        out = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        processes.append(self.proc)
        wait_for("%s answers PING" % self.name, self.answers, START_TIMEOUT_S)

    def answers(self):
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                tail = f.read()[-600:].strip()
            raise AssertionError("%s exited with status %d: %s" % (self.name, self.proc.returncode, tail))
        with self.client() as r:
            return r.ping()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def info(self, section=None):
        with self.client() as r:
            return r.info(section) if section else r.info()


def start_sentinel(port, master_port, root, index):
    directory = os.path.join(root, "sentinel-%d" % index)
    os.makedirs(directory)
    config = os.path.join(directory, "sentinel.conf")
    with open(config, "w") as f:
        f.write(
            "port %d\n"
            "bind 127.0.0.1\n"
            "daemonize no\n"
            "dir %s\n"
            "logfile %s\n"
            "sentinel monitor %s 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds %s %d\n"
            "sentinel failover-timeout %s %d\n"
            "sentinel parallel-syncs %s 1\n"
            % (
                port,
                directory,
                os.path.join(directory, "sentinel.log"),
                MASTER_NAME,
                master_port,
                MASTER_NAME,
                DOWN_AFTER_MS,
                MASTER_NAME,
                FAILOVER_TIMEOUT_MS,
                MASTER_NAME,
            )
        )
    proc = subprocess.Popen(
        [SENTINEL_BINARY, config], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    processes.append(proc)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
    wait_for("sentinel on %d answers PING" % port, client.ping, START_TIMEOUT_S)
    return client


def link_up(server, primary_port):
    info = server.info("replication")
    return (
        info.get("role") == "slave"
        and info.get("master_port") == primary_port
        and info.get("master_link_status") == "up"
    )


def sentinel_ready(client):
    """This sentinel knows the primary, both replicas and the two other sentinels."""
    state = client.sentinel_master(MASTER_NAME)
    return state["num-slaves"] == 2 and state["num-other-sentinels"] == 2 and "s_down" not in state["flags"]


def missing_keys(server, acknowledged):
    """The acknowledged writes that `server` does not hold with their value."""
    missing = []
    with server.client() as r:
        for start in range(0, len(acknowledged), 500):
            batch = acknowledged[start : start + 500]
            values = r.mget([k for k, _ in batch])
            missing += [k for (k, v), got in zip(batch, values) if got != v]
    return missing


def write_through_failover(master, primary):
    """Writes through `master` (a `master_for` client); kills `primary` after a while.

    Returns the acknowledged (key, value) pairs, the time from the kill to the first write
    accepted again, and the time from the kill to the first write `WAIT 1` acknowledged again.
    """
    acknowledged = []
    started = time.monotonic()
    killed_at = None
    accepted_again = None
    acknowledged_again = None
    after = 0
    i = 0
    while True:
        now = time.monotonic()
        if killed_at is None and now - started >= WRITE_BEFORE_KILL_S:
            log("%d acknowledged writes; killing the primary (SIGKILL)" % len(acknowledged))
            primary.kill()
            killed_at = time.monotonic()
        if killed_at is not None and now - killed_at > FAILOVER_DEADLINE_S:
            raise AssertionError(
                "writer: %d acknowledged writes after the failover within %.0f s of the kill (first accepted write: %s)"
                % (after, FAILOVER_DEADLINE_S, "none" if accepted_again is None else "%.2f s" % accepted_again)
            )
        key, value = "w:%08d" % i, b"v%d" % i
        i += 1
        try:
            master.set(key, value)
            if killed_at is not None and accepted_again is None:
                accepted_again = time.monotonic() - killed_at
                log("first write accepted %.2f s after the kill" % accepted_again)
            replicas = master.execute_command("WAIT", 1, WAIT_TIMEOUT_MS)
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.sentinel.MasterNotFoundError):
            # The primary is gone or not yet replaced; `master_for` asks the sentinels again on
            # the next connection.
            time.sleep(0.05)
            continue
        if replicas >= 1:
            acknowledged.append((key, value))
            if killed_at is not None:
                if acknowledged_again is None:
                    acknowledged_again = time.monotonic() - killed_at
                    log("first write acknowledged by WAIT 1 %.2f s after the kill" % acknowledged_again)
                after += 1
                if after >= WRITES_AFTER_FAILOVER:
                    return acknowledged, accepted_again, acknowledged_again


def run(binary, kind, root, verbose):
    ports = free_ports(6)
    primary = Server(binary, kind, ports[0], root, "server-a")
    replicas = [Server(binary, kind, ports[i], root, "server-%s" % "abc"[i]) for i in (1, 2)]
    primary.start()
    for replica in replicas:
        replica.start(replicaof=primary.port)
    for replica in replicas:
        wait_for("%s linked to the primary" % replica.name, lambda: link_up(replica, primary.port), START_TIMEOUT_S)
    log("primary on %d, replicas on %d and %d" % (primary.port, replicas[0].port, replicas[1].port))

    sentinels = [start_sentinel(port, primary.port, root, n) for n, port in enumerate(ports[3:])]
    for s in sentinels:
        wait_for("sentinel sees 2 replicas and 2 sentinels", lambda: sentinel_ready(s), DISCOVERY_TIMEOUT_S)
    log("sentinels on %s agree on the primary, its replicas and each other" % ", ".join(str(p) for p in ports[3:]))

    client = Sentinel(
        [("127.0.0.1", p) for p in ports[3:]],
        socket_timeout=1,
        socket_connect_timeout=1,
        sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1},
    )
    master = client.master_for(MASTER_NAME, socket_timeout=2, socket_connect_timeout=1)
    failover_began = time.monotonic()
    acknowledged, accepted_again, acknowledged_again = write_through_failover(master, primary)
    master.close()

    # Every sentinel names the same replica as the primary.
    def agreed():
        addresses = {tuple(s.sentinel_get_master_addr_by_name(MASTER_NAME)) for s in sentinels}
        return addresses.pop() if len(addresses) == 1 else None

    host, port = wait_for("sentinels agree on the new primary", agreed, DISCOVERY_TIMEOUT_S)
    port = int(port)
    promoted = [r for r in replicas if r.port == port]
    assert promoted, "sentinels name %s:%s, which is not one of the replicas" % (host, port)
    new_primary = promoted[0]
    other = [r for r in replicas if r is not new_primary][0]
    assert new_primary.info("replication")["role"] == "master"
    missing = missing_keys(new_primary, acknowledged)
    assert not missing, "%d acknowledged writes missing on the new primary, first %s" % (len(missing), missing[:5])
    log("%s promoted; all %d acknowledged writes on it" % (new_primary.name, len(acknowledged)))

    wait_for(
        "%s replicates the new primary" % other.name, lambda: link_up(other, new_primary.port), REJOIN_TIMEOUT_S
    )
    # The old primary restarts as a primary; the sentinels see it claim the role and make it a
    # replica of the new one.
    primary.start()
    rejoin_began = time.monotonic()
    wait_for(
        "restarted old primary becomes a replica of the new one",
        lambda: link_up(primary, new_primary.port),
        REJOIN_TIMEOUT_S,
        interval=0.2,
    )
    rejoined = time.monotonic() - rejoin_began
    log("old primary rejoined as a replica %.1f s after its restart" % rejoined)
    for server in (primary, other):
        wait_for(
            "%s holds every acknowledged write" % server.name,
            lambda: not missing_keys(server, acknowledged),
            REJOIN_TIMEOUT_S,
            interval=0.2,
        )

    if verbose:
        for server in (new_primary, other, primary):
            stats = server.info("commandstats")
            calls = ", ".join("%s=%d" % (name[len("cmdstat_") :], v["calls"]) for name, v in sorted(stats.items()))
            log("%s commandstats: %s" % (server.name, calls))
    log("writer ran %.1f s" % (time.monotonic() - failover_began))
    return len(acknowledged), accepted_again, acknowledged_again


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="path to kv-server or redis-server")
    parser.add_argument("kind", choices=["kv", "redis"])
    parser.add_argument("--sentinel", default=shutil.which("redis-sentinel") or "redis-sentinel")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    global SENTINEL_BINARY
    SENTINEL_BINARY = args.sentinel
    # The servers run in their own directories, so a relative path would not find the binary.
    binary = os.path.abspath(shutil.which(args.binary) or args.binary)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    root = tempfile.mkdtemp(prefix="kv-sentinel-")
    began = time.monotonic()
    ok = False
    try:
        count, accepted_again, acknowledged_again = run(binary, args.kind, root, args.verbose)
        ok = True
    except (AssertionError, redis.RedisError, OSError) as e:
        print("sentinel: FAILED: %s" % e, file=sys.stderr)
    finally:
        stop_all()
        if ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("sentinel: logs kept in %s" % root, file=sys.stderr)
    # A cargo-style line, so the test command can total it.
    print("test result: %s. %d passed; %d failed; 0 ignored" % ("ok" if ok else "FAILED", int(ok), int(not ok)))
    if not ok:
        return 1
    print(
        "sentinel: %d acknowledged writes, all present; failover took %.2f s "
        "(first write acknowledged by WAIT 1 after %.2f s; whole test %.1f s)"
        % (count, accepted_again, acknowledged_again, time.monotonic() - began)
    )
    return 0


SENTINEL_BINARY = "redis-sentinel"

if __name__ == "__main__":
    sys.exit(main())
