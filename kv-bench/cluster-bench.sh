#!/usr/bin/env bash
# Cluster mode, kv-server against redis-server, side by side on loopback.
#
#   kv-bench/cluster-bench.sh
#
# Builds kv-server (release) and measures, for each server kind, clusters of 3 primaries (no
# replicas, nothing kept on disk) made with `redis-cli --cluster create ... --cluster-yes`:
#   (a) throughput: one cluster of each kind, then ROUNDS rounds (kv first in odd rounds, redis
#       first in even ones) of
#         redis-benchmark --cluster -h 127.0.0.1 -p PORT -t set,get -P 16 -c 50 -n REQUESTS -q
#       SET and GET requests/s per round, the kv/redis ratio per round, and the medians;
#   (b) resharding: for each --cluster-pipeline in PIPELINES and each round, a fresh cluster
#       whose first primary A holds KEYS distinct keys (16-byte keys, 64-byte values), all in
#       A's own slots (loaded with `redis-cli --pipe`), and the time of
#         redis-cli --cluster reshard 127.0.0.1:A --cluster-from A --cluster-to B
#             --cluster-slots <all of A's slots> --cluster-yes --cluster-pipeline N
#       moving them all to the second primary B, which must hold KEYS keys afterwards. Meanwhile
#       one client (plain RESP from Python, no client library, so every redirection is seen)
#       runs GET, SET and MGET of two keys of one slot (4:4:2) at CLIENT_RATE operations/s on
#       the keys of the slot A marks as migrating in its CLUSTER NODES (polled every 20 ms;
#       random moving keys while none is marked); it follows MOVED and ASK, retries TRYAGAIN
#       and CLUSTERDOWN, and counts each; it checks every read against the last acknowledged
#       write of the key (stale reads), and at the end reads back every key it wrote (lost
#       writes).
# Prints the tables for docs/BENCHMARKS.md: the ratio is kv/redis, in (a) of requests/s (higher
# is better for kv), in (b) of seconds (lower is better for kv).
#
# Environment: SERVERS (which to run, default "kv redis"; "redis" alone needs no build), STEPS
# (default "bench reshard"), ROUNDS (3), REQUESTS (redis-benchmark -n, 1000000), CLIENTS (its -c,
# 50), PIPELINE (its -P, 16), KEYSPACE (its -r, default none: every SET hits one key per node, as
# in the bare command), KEYS (keys moved by the reshard, 1000000), PIPELINES (redis-cli
# --cluster-pipeline values, default "10 100"; redis-cli's own default is 10), CLIENT_RATE
# (operations/s of the client during a reshard, 2000; 0: as fast as it goes), CLIENT_AIM
# ("migrating", the default, or "random": random moving keys throughout), KV_SERVER (the
# kv-server binary, default target/release/kv-server, built with cargo unless SKIP_BUILD=1),
# KV_THREADS (kv-server --threads, 1), KV_ARGS (more kv-server flags), REDIS_ARGS (more
# redis-server flags), PYTHON (for the key generator and the client; the standard library is
# enough; default target/venv/bin/python if there, else python3), BUDGET_SECS (whole run, 5400).
# redis-server keeps its defaults otherwise: a primary left without slots by the reshard becomes
# a replica of B (cluster-allow-replica-migration yes), after the last slot has moved.
# Ports: each node on a free port whose port+10000 (redis-server's cluster bus; the bus port kv
# shows) is free too.
# Installs Debian's redis-server and redis-tools if redis-server or redis-benchmark is missing.
# Every process is stopped when the script ends, fails, times out or is interrupted.
set -euo pipefail

SERVERS=${SERVERS:-kv redis}
STEPS=${STEPS:-bench reshard}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-1000000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
KEYSPACE=${KEYSPACE:-}
KEYS=${KEYS:-1000000}
PIPELINES=${PIPELINES:-10 100}
CLIENT_RATE=${CLIENT_RATE:-2000}
CLIENT_AIM=${CLIENT_AIM:-migrating}
KV_THREADS=${KV_THREADS:-1}
KV_ARGS=${KV_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
BUDGET_SECS=${BUDGET_SECS:-5400}
RESHARD_TIMEOUT=900
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KV_SERVER=${KV_SERVER:-${CARGO_TARGET_DIR:-$ROOT/target}/release/kv-server}
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/target/venv/bin/python" ]; then PYTHON=$ROOT/target/venv/bin/python; else PYTHON=python3; fi
fi

# Messages go to the script's stderr (descriptor 9) even from a function whose output is
# redirected, as run_bg's is, when the INT/TERM trap runs inside it.
exec 9>&2
log() { echo "cluster-bench: $*" >&9; }

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    log "installing redis-server and redis-tools"
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi

case " $SERVERS " in
*" kv "*)
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "building kv-server (release)"
        (cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server)
    fi
    [ -x "$KV_SERVER" ] || { log "no kv-server at $KV_SERVER"; exit 1; }
    ;;
esac

WORK=$(mktemp -d)
PIDS=""
WATCHDOG=""
CHILD=""
CLIENT=""

# Runs a command in the background and waits for it, so a signal is handled at once rather
# than after the command ends.
run_bg() {
    "$@" <&0 &
    CHILD=$!
    wait "$CHILD"
    CHILD=""
}

stop_servers() {
    for pid in $PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=""
}

# Runs under `set -e` too: every step that may find its process gone must not fail.
cleanup() {
    # SIGHUP: the client (under timeout, which passes it on) stops without checking its writes.
    if [ -n "$CLIENT" ]; then kill -HUP "$CLIENT" 2>/dev/null || true; fi
    if [ -n "$CHILD" ]; then kill "$CHILD" 2>/dev/null || true; fi
    stop_servers
    if [ -n "$WATCHDOG" ]; then
        pkill -P "$WATCHDOG" 2>/dev/null || true
        kill "$WATCHDOG" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# The whole run is bounded: past the budget the watchdog stops the script, and the EXIT trap
# stops the servers. Its own stderr goes nowhere, so that the cleanup stopping its sleep prints
# no "Terminated".
(
    exec 2>/dev/null
    sleep "$BUDGET_SECS" && log "over the ${BUDGET_SECS}s budget, stopping" && kill -TERM $$
) &
WATCHDOG=$!

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sets PORT to a port not used before in this run (a node's directory is named after it), free
# together with port+10000.
NEXT_PORT=17300
free_port() {
    PORT=$NEXT_PORT
    while in_use "$PORT" || in_use $((PORT + 10000)); do
        PORT=$((PORT + 1))
    done
    NEXT_PORT=$((PORT + 1))
}

wait_ready() {
    for _ in $(seq 100); do
        redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    log "server on port $1 did not answer"
    return 1
}

cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" "$@" | tr -d '\r'; }
now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# Starts a cluster-mode node of kind $1 on a free port; sets PORT.
start_node() {
    local kind=$1 dir
    free_port
    dir=$WORK/$kind-$PORT
    mkdir -p "$dir"
    if [ "$kind" = kv ]; then
        # KV_ARGS is split into words on purpose: it holds flags.
        # shellcheck disable=SC2086
        (cd "$dir" && exec "$KV_SERVER" --bind 127.0.0.1 --port "$PORT" --no-persist \
            --threads "$KV_THREADS" --log-level warn --cluster-enabled yes \
            --cluster-config-file "$dir/nodes.conf" $KV_ARGS >"$dir/server.log" 2>&1) &
    else
        # shellcheck disable=SC2086
        redis-server --bind 127.0.0.1 --port "$PORT" --cluster-enabled yes \
            --cluster-config-file "$dir/nodes.conf" --save '' --appendonly no --dir "$dir" \
            --logfile "$dir/server.log" $REDIS_ARGS &
    fi
    PIDS="$PIDS $!"
    wait_ready "$PORT"
}

# Waits (at most 30 s) until every node of the cluster says cluster_state:ok and
# `redis-cli --cluster check` finds all 16384 slots covered and no error.
wait_cluster_ok() {
    local deadline=$(($(date +%s) + 30)) port ok
    while :; do
        ok=1
        for port in "$@"; do
            cli "$port" cluster info | grep -qx 'cluster_state:ok' || ok=0
        done
        if [ "$ok" = 1 ]; then
            redis-cli --cluster check "127.0.0.1:$1" >"$WORK/check.log" 2>&1 || true
            if grep -q 'All 16384 slots covered' "$WORK/check.log" \
                && ! grep -q '\[ERR\]' "$WORK/check.log"; then
                return 0
            fi
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "cluster on $* not ok within 30 s:"
            cat "$WORK/check.log" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.1
    done
}

# Starts 3 nodes of kind $1 and makes them a cluster of 3 primaries; sets CLUSTER (the ports,
# in the order given to `create`, which gives the first one slots 0-5460).
start_cluster() {
    local kind=$1 addrs=()
    CLUSTER=()
    for _ in 1 2 3; do
        start_node "$kind"
        CLUSTER+=("$PORT")
        addrs+=("127.0.0.1:$PORT")
    done
    if ! run_bg timeout 120 redis-cli --cluster create "${addrs[@]}" --cluster-yes \
        >"$WORK/create.log" 2>&1; then
        log "$kind: redis-cli --cluster create failed:"
        cat "$WORK/create.log" >&2
        return 1
    fi
    wait_cluster_ok "${CLUSTER[@]}"
}

# The helper: key generation and the client that runs during a reshard. Plain sockets and the
# standard library only.
cat >"$WORK/helper.py" <<'EOF'
import binascii, random, re, signal, socket, sys, time

def keyslot(key):
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return binascii.crc_hqx(key, 0) & 16383

# A key's value as loaded: 64 bytes the key determines, so a read can be checked.
def initial_value(key):
    return key * 4

def make_keys(ranges, count, prefix):
    """PREFIX.resp: SET commands for COUNT 16-byte keys in the slots RANGES ("0-5460,7000");
    PREFIX.keys: the keys, back to back."""
    owned = bytearray(16384)
    for part in ranges.split(","):
        lo, _, hi = part.partition("-")
        for slot in range(int(lo), int(hi or lo) + 1):
            owned[slot] = 1
    made = 0
    i = 0
    with open(prefix + ".resp", "wb") as resp, open(prefix + ".keys", "wb") as keys:
        while made < count:
            key = b"key:%012d" % i
            i += 1
            if owned[keyslot(key)]:
                resp.write(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$64\r\n%s\r\n" % (key, initial_value(key)))
                keys.write(key)
                made += 1

class ReplyError(str):
    pass

class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, *commands):
        out = []
        for args in commands:
            out.append(b"*%d\r\n" % len(args))
            out.extend(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body
        if kind == b"-":
            return ReplyError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(body)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

class Cluster:
    """Routes each command by the slot map from CLUSTER SLOTS and follows redirections as
    cluster clients do, counting each kind."""

    def __init__(self, port):
        self.conns = {}
        self.owner = [port] * 16384
        self.counts = dict(moved=0, ask=0, tryagain=0, clusterdown=0)
        self.conn(port).send([b"CLUSTER", b"SLOTS"])
        for entry in self.conn(port).read():
            for slot in range(entry[0], entry[1] + 1):
                self.owner[slot] = int(entry[2][1])

    def conn(self, port):
        if port not in self.conns:
            self.conns[port] = Conn(port)
        return self.conns[port]

    def execute(self, key, *args):
        slot = keyslot(key)
        port, asking = self.owner[slot], False
        for _ in range(1000):
            conn = self.conn(port)
            if asking:
                conn.send([b"ASKING"], args)
                conn.read()
            else:
                conn.send(args)
            reply = conn.read()
            if not isinstance(reply, ReplyError):
                return reply
            word = reply.split(" ", 1)[0]
            if word == "MOVED":
                self.counts["moved"] += 1
                _, moved_slot, addr = reply.split()
                port, asking = int(addr.rpartition(":")[2]), False
                self.owner[int(moved_slot)] = port
            elif word == "ASK":
                self.counts["ask"] += 1
                port, asking = int(reply.split()[2].rpartition(":")[2]), True
            elif word == "TRYAGAIN":
                self.counts["tryagain"] += 1
                port, asking = self.owner[slot], False
                time.sleep(0.001)
            elif word == "CLUSTERDOWN":
                self.counts["clusterdown"] += 1
                port, asking = self.owner[slot], False
                time.sleep(0.01)
            else:
                return reply
        raise RuntimeError("no answer for %r after 1000 redirections or retries" % key)

def migrating_slot(conn):
    """The slot the source marks [slot->-target] in its CLUSTER NODES line, or None."""
    conn.send([b"CLUSTER", b"NODES"])
    reply = conn.read()
    if isinstance(reply, bytes):
        for line in reply.split(b"\n"):
            if b"myself" in line:
                found = re.search(rb"\[(\d+)->-", line)
                return int(found.group(1)) if found else None
    return None

def client(port, keys_path, rate, aim, ready_path, max_secs):
    """Runs GET, SET and MGET of two keys of one slot (4:4:2) on keys of KEYS_PATH until
    SIGTERM: with AIM "migrating", keys of the slot the source at PORT marks as migrating
    (polled every 20 ms; random keys between slots), with "random", random keys. Prints
    ops ops_in_migrating_slot moved ask tryagain clusterdown other_errors stale_reads
    lost_writes written."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    with open(keys_path, "rb") as f:
        data = f.read()
    keys = [data[i:i + 16] for i in range(0, len(data), 16)]
    by_slot = {}
    for key in keys:
        by_slot.setdefault(keyslot(key), []).append(key)
    cluster = Cluster(port)
    source = Conn(port)
    rng = random.Random(19)
    written = {}
    uncertain = set()
    ops = aimed = other = stale = 0
    hot, polled = None, 0.0

    def check(key, reply):
        nonlocal stale
        if key not in uncertain and reply != written.get(key, initial_value(key)):
            stale += 1

    interval = 1.0 / rate if rate > 0 else 0.0
    began = next_at = time.monotonic()
    open(ready_path, "w").close()
    while not stopping and time.monotonic() - began < max_secs:
        if aim == "migrating" and time.monotonic() - polled >= 0.02:
            hot, polled = migrating_slot(source), time.monotonic()
        if hot is not None and hot in by_slot:
            key = rng.choice(by_slot[hot])
            aimed += 1
        else:
            key = rng.choice(keys)
        pick = rng.random()
        if pick < 0.4:
            value = b"w%063d" % ops
            reply = cluster.execute(key, b"SET", key, value)
            if reply == b"OK":
                written[key] = value
                uncertain.discard(key)
            else:
                other += 1
                uncertain.add(key)
        elif pick < 0.8 or len(by_slot[keyslot(key)]) < 2:
            reply = cluster.execute(key, b"GET", key)
            if isinstance(reply, ReplyError):
                other += 1
            else:
                check(key, reply)
        else:
            other_key = rng.choice([k for k in by_slot[keyslot(key)] if k != key])
            reply = cluster.execute(key, b"MGET", key, other_key)
            if isinstance(reply, list) and len(reply) == 2:
                check(key, reply[0])
                check(other_key, reply[1])
            else:
                other += 1
        ops += 1
        if interval:
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    # The redirections the checks below meet come after the reshard: not counted.
    c = dict(cluster.counts)
    lost = 0
    for key, value in written.items():
        if key not in uncertain and cluster.execute(key, b"GET", key) != value:
            lost += 1
    print(ops, aimed, c["moved"], c["ask"], c["tryagain"], c["clusterdown"], other, stale, lost,
          len(written))

if sys.argv[1] == "keys":
    make_keys(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif sys.argv[1] == "client":
    client(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6],
           float(sys.argv[7]))
else:
    sys.exit("usage: helper.py keys RANGES COUNT PREFIX | client PORT KEYS RATE AIM READY MAX_SECS")
EOF

# Servers of SERVERS in the order of round $1: kv first in odd rounds, redis first in even ones.
order() {
    local kinds="kv redis" kind
    if [ $(($1 % 2)) -eq 0 ]; then kinds="redis kv"; fi
    for kind in $kinds; do
        case " $SERVERS " in *" $kind "*) echo "$kind" ;; esac
    done
}

version_line() {
    echo "kv-server (--threads $KV_THREADS${KV_ARGS:+ $KV_ARGS}) against redis-server $(redis-server --version | awk '{ sub(/^v=/, "", $3); print $3 }'),"
}

# (a) redis-benchmark --cluster against both clusters, alternating.
BENCH_CMD="redis-benchmark --cluster -t set,get -P $PIPELINE -c $CLIENTS -n $REQUESTS${KEYSPACE:+ -r $KEYSPACE} -q"
bench_step() {
    declare -A first_port
    local kind round out sets gets
    for kind in $SERVERS; do
        start_cluster "$kind"
        first_port[$kind]=${CLUSTER[0]}
        log "$kind: cluster of 3 primaries on ports ${CLUSTER[*]}"
    done
    for round in $(seq "$ROUNDS"); do
        for kind in $(order "$round"); do
            log "(a) round $round, $kind: $BENCH_CMD"
            out=$WORK/bench-$round-$kind.txt
            # KEYSPACE is empty or one number.
            # shellcheck disable=SC2086
            run_bg timeout 600 redis-benchmark --cluster -h 127.0.0.1 -p "${first_port[$kind]}" \
                -t set,get -P "$PIPELINE" -c "$CLIENTS" -n "$REQUESTS" \
                ${KEYSPACE:+-r $KEYSPACE} -q >"$out" 2>&1
            sets=$(tr '\r' '\n' <"$out" | awk '/^SET:/ { print $2 }' | tail -1)
            gets=$(tr '\r' '\n' <"$out" | awk '/^GET:/ { print $2 }' | tail -1)
            if [ -z "$sets" ] || [ -z "$gets" ]; then
                log "no figures from redis-benchmark:"
                cat "$out" >&2
                exit 1
            fi
            log "$kind: SET $sets/s, GET $gets/s"
            echo "$kind $round $sets $gets" >>"$WORK/bench.results"
        done
    done
    stop_servers
}

# (b) one reshard of KEYS keys, with --cluster-pipeline $2, in round $3, on a fresh cluster of
# kind $1.
reshard_one() {
    local kind=$1 pipeline=$2 round=$3 a b id_a id_b ranges slots prefix keys began secs
    local summary status=0
    start_cluster "$kind"
    a=${CLUSTER[0]}
    b=${CLUSTER[1]}
    id_a=$(cli "$a" cluster myid)
    id_b=$(cli "$b" cluster myid)
    ranges=$(cli "$a" cluster nodes | awk '/myself/ {
        for (i = 9; i <= NF; i++) if ($i !~ /^\[/) { printf "%s%s", sep, $i; sep = "," } }')
    slots=$(echo "$ranges" | tr ',' '\n' | awk -F- '{ n += ($2 == "" ? 1 : $2 - $1 + 1) } END { print n }')
    prefix=$WORK/keys-$(echo "$ranges" | cksum | cut -d' ' -f1)
    if [ ! -f "$prefix.keys" ]; then
        log "generating $KEYS keys in slots $ranges"
        run_bg timeout 300 "$PYTHON" "$WORK/helper.py" keys "$ranges" "$KEYS" "$prefix"
    fi
    began=$(now_ns)
    run_bg timeout 300 redis-cli -h 127.0.0.1 -p "$a" --pipe <"$prefix.resp" >"$WORK/load.log"
    keys=$(cli "$a" dbsize)
    [ "$keys" = "$KEYS" ] || { log "$kind: A holds $keys keys, not $KEYS"; exit 1; }
    log "$kind: $KEYS keys loaded into A in $(seconds_since "$began") s"

    rm -f "$WORK/client.ready"
    timeout $((RESHARD_TIMEOUT + 300)) "$PYTHON" "$WORK/helper.py" client "$a" "$prefix.keys" \
        "$CLIENT_RATE" "$CLIENT_AIM" "$WORK/client.ready" "$RESHARD_TIMEOUT" >"$WORK/client.out" &
    CLIENT=$!
    for _ in $(seq 300); do
        [ -f "$WORK/client.ready" ] && break
        sleep 0.1
    done
    [ -f "$WORK/client.ready" ] || { log "the client did not start"; exit 1; }

    log "(b) --cluster-pipeline $pipeline, round $round, $kind: moving $slots slots holding $KEYS keys"
    began=$(now_ns)
    run_bg timeout "$RESHARD_TIMEOUT" redis-cli --cluster reshard "127.0.0.1:$a" \
        --cluster-from "$id_a" --cluster-to "$id_b" --cluster-slots "$slots" --cluster-yes \
        --cluster-pipeline "$pipeline" >"$WORK/reshard.log" 2>&1 || status=$?
    secs=$(seconds_since "$began")
    kill -TERM "$CLIENT" 2>/dev/null || true
    wait "$CLIENT" || { log "the client failed"; status=1; }
    CLIENT=""
    if [ "$status" != 0 ]; then
        log "$kind: the reshard failed ($status):"
        tail -20 "$WORK/reshard.log" >&2
        exit 1
    fi
    summary=$(cat "$WORK/client.out")
    keys=$(cli "$b" dbsize)
    [ "$keys" = "$KEYS" ] || { log "$kind: B holds $keys keys after the reshard, not $KEYS"; exit 1; }
    wait_cluster_ok "${CLUSTER[@]}" || log "$kind: the cluster is not clean after the reshard"
    log "$kind: $secs s; client: ops aimed MOVED ASK TRYAGAIN CLUSTERDOWN other stale lost written = $summary"
    echo "$kind $pipeline $round $secs $summary" >>"$WORK/reshard.results"
    stop_servers
}

reshard_step() {
    local pipeline round kind
    for pipeline in $PIPELINES; do
        for round in $(seq "$ROUNDS"); do
            for kind in $(order "$round"); do
                reshard_one "$kind" "$pipeline" "$round"
            done
        done
    done
}

log "load before: $(uptime)"
case " $STEPS " in *" bench "*) bench_step ;; esac
case " $STEPS " in *" reshard "*) reshard_step ;; esac

# Medians in awk: median(" a b c").
AWK_MEDIAN='
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return ""
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
        t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ratio(kv, redis) { return (kv != "" && redis != "" && redis + 0 > 0) ? sprintf("%.2f", kv / redis) : "-" }
function show(x, format) { return x == "" ? "-" : sprintf(format, x) }'

if [ -f "$WORK/bench.results" ]; then
    echo
    version_line
    echo "3 primaries each, medians of $ROUNDS rounds; $BENCH_CMD"
    echo
    echo "| round | kv SET/s | redis SET/s | kv/redis | kv GET/s | redis GET/s | kv/redis |"
    echo "|---|---|---|---|---|---|---|"
    awk -v rounds="$ROUNDS" "$AWK_MEDIAN"'
        { set[$1, $2] = $3; get[$1, $2] = $4 }
        END {
            for (r = 1; r <= rounds; r++) {
                sr = ratio(set["kv", r], set["redis", r]); gr = ratio(get["kv", r], get["redis", r])
                printf "| %d | %s | %s | %s | %s | %s | %s |\n", r, show(set["kv", r], "%.0f"),
                    show(set["redis", r], "%.0f"), sr, show(get["kv", r], "%.0f"),
                    show(get["redis", r], "%.0f"), gr
                ks = ks " " set["kv", r]; rs = rs " " set["redis", r]
                kg = kg " " get["kv", r]; rg = rg " " get["redis", r]
                if (sr != "-") srs = srs " " sr
                if (gr != "-") grs = grs " " gr
            }
            printf "| median | %s | %s | %s | %s | %s | %s |\n", show(median(ks), "%.0f"),
                show(median(rs), "%.0f"), show(median(srs), "%.2f"), show(median(kg), "%.0f"),
                show(median(rg), "%.0f"), show(median(grs), "%.2f")
        }' "$WORK/bench.results"
fi

if [ -f "$WORK/reshard.results" ]; then
    echo
    version_line
    echo "3 primaries each; redis-cli --cluster reshard of all the slots of one primary, holding"
    echo "$KEYS keys (16-byte keys, 64-byte values), to another; medians of $ROUNDS rounds; one"
    echo "client meanwhile at $CLIENT_RATE GET/SET/MGET per second on the moving keys (aim: $CLIENT_AIM)"
    echo
    echo "| --cluster-pipeline | kv s | redis s | kv/redis |"
    echo "|---|---|---|---|"
    awk "$AWK_MEDIAN"'
        {
            if (!($2 in seen)) { seen[$2] = 1; order[++count] = $2 }
            secs[$1, $2] = secs[$1, $2] " " $4; one[$1, $2, $3] = $4; rounds[$2, $3] = 1
        }
        END {
            for (i = 1; i <= count; i++) {
                p = order[i]; ratios = ""
                for (key in rounds) {
                    split(key, k, SUBSEP)
                    if (k[1] == p && (("kv", p, k[2]) in one) && (("redis", p, k[2]) in one))
                        ratios = ratios " " one["kv", p, k[2]] / one["redis", p, k[2]]
                }
                printf "| %s | %s | %s | %s |\n", p, show(median(secs["kv", p]), "%.2f"),
                    show(median(secs["redis", p]), "%.2f"), show(median(ratios), "%.2f")
            }
        }' "$WORK/reshard.results"
    echo
    echo "Each reshard, with what the client saw (in slot: operations on a slot being migrated;"
    echo "stale: a read not returning the last acknowledged write; lost: a written key not holding"
    echo "its last acknowledged value at the end):"
    echo
    echo "| --cluster-pipeline | round | server | s | client ops | in slot | MOVED | ASK | TRYAGAIN | CLUSTERDOWN | other errors | stale reads | lost writes |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk '{ printf "| %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        $2, $3, $1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$WORK/reshard.results"
fi
log "load after: $(uptime)"
