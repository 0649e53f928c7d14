#!/usr/bin/env bash
# Replication, kv-server against redis-server, side by side on loopback, one run of each step.
#
#   kv-bench/repl-bench.sh
#
# Builds kv-server (release) and, for each server in turn (kv, then redis), measures:
#   (a) full sync: a primary holding 1,000,000 distinct keys (16-byte keys, 64-byte values,
#       loaded with `redis-cli --pipe`) and a fresh, empty replica; the time from REPLICAOF to
#       `master_link_status:up` in the replica's INFO, polled every 10 ms;
#   (b) SET throughput of a primary with two replicas attached:
#       redis-benchmark -c 50 -P 16 -t set -n 2000000 -r 1000000 -q
#   (c) replica lag: a probe sets a key to a new value on the primary and reads the replica
#       until the value is there, SAMPLES times, idle and then under the load of (b); p50 and p99;
#   (d) failover time under Sentinel, from kv-std/tests/python/sentinel.py: SIGKILL of the
#       primary to the first write accepted again.
# Prints one table with each figure for kv and redis and the ratio kv/redis.
#
# Environment: SERVERS (which to run, default "kv redis"; "redis" alone needs no build),
# KV_THREADS (kv-server --threads, default 1), KV_ARGS (more kv-server flags), REDIS_ARGS (more
# redis-server flags), DISKLESS (repl-diskless-sync of both primaries, yes|no, default yes),
# SAMPLES (lag probes per case, 2000), PYTHON (a Python with redis-py for step (d), default
# target/venv/bin/python as .ci/test-all makes it; without redis-py step (d) is skipped),
# BUDGET_SECS (whole run, 900).
# redis-server runs with `repl-diskless-sync-delay 0`: by default it waits 5 s for more replicas
# before a full sync, which kv does not do.
# Installs Debian's redis-server, redis-tools and redis-sentinel if one is missing.
# Every server is stopped when the script ends, fails, times out or is interrupted.
set -euo pipefail

SERVERS=${SERVERS:-kv redis}
KV_THREADS=${KV_THREADS:-1}
KV_ARGS=${KV_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
DISKLESS=${DISKLESS:-yes}
SAMPLES=${SAMPLES:-2000}
BUDGET_SECS=${BUDGET_SECS:-900}
LOAD_KEYS=1000000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/target/venv/bin/python}

log() { echo "repl-bench: $*" >&2; }

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null \
    || ! command -v redis-sentinel >/dev/null; then
    log "installing redis-server, redis-tools and redis-sentinel"
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools \
        redis-sentinel >/dev/null
fi

KV_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/kv-server
case " $SERVERS " in
*" kv "*)
    log "building kv-server (release)"
    (cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server)
    ;;
esac

WORK=$(mktemp -d)
PIDS=""
WATCHDOG=""
CHILD=""
LOAD=""

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
    for pid in $CHILD $LOAD; do kill "$pid" 2>/dev/null || true; done
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
# stops the servers.
(sleep "$BUDGET_SECS" && log "over the ${BUDGET_SECS}s budget, stopping" && kill -TERM $$) &
WATCHDOG=$!

NEXT_PORT=17900
free_port() {
    local port=$NEXT_PORT
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    NEXT_PORT=$((port + 1))
    echo "$port"
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
info_field() { cli "$1" info replication | awk -F: -v f="$2" '$1 == f { print $2 }'; }
now_ns() { date +%s%N; }

# Starts a server of kind $1 on a free port, as a replica of port $2 if given; sets PORT.
start_server() {
    local kind=$1 primary=${2:-} dir
    PORT=$(free_port)
    dir=$WORK/$kind-$PORT
    mkdir -p "$dir"
    local replicaof=()
    if [ -n "$primary" ]; then replicaof=(--replicaof 127.0.0.1 "$primary"); fi
    if [ "$kind" = kv ]; then
        # KV_ARGS is split into words on purpose: it holds flags.
        # shellcheck disable=SC2086
        (cd "$dir" && exec "$KV_BIN" --bind 127.0.0.1 --port "$PORT" --no-persist \
            --threads "$KV_THREADS" --log-level warn --repl-diskless-sync "$DISKLESS" \
            "${replicaof[@]}" $KV_ARGS >"$dir/server.log" 2>&1) &
    else
        # shellcheck disable=SC2086
        redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no \
            --dir "$dir" --logfile "$dir/server.log" --repl-diskless-sync "$DISKLESS" \
            --repl-diskless-sync-delay 0 "${replicaof[@]}" $REDIS_ARGS &
    fi
    PIDS="$PIDS $!"
    wait_ready "$PORT"
}

# Waits (at most $2 seconds) until the replica on port $1 reports its link up.
wait_link_up() {
    local deadline=$(($(date +%s) + $2))
    until [ "$(info_field "$1" master_link_status)" = up ]; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "replica on $1 not linked within $2 s"
            return 1
        fi
        sleep 0.01
    done
}

log "generating $LOAD_KEYS SET commands"
awk -v n="$LOAD_KEYS" 'BEGIN {
    for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$64\r\n%064d\r\n", i, i
}' >"$WORK/load.resp"

# The lag probe: plain RESP over two sockets, so the figure is the servers' and not a client
# library's. Prints p50 and p99 in milliseconds.
cat >"$WORK/lag.py" <<'EOF'
import socket, sys, time

def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")

def command(conn, *args):
    s, f = conn
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    line = f.readline()
    if line.startswith(b"$"):
        n = int(line[1:])
        if n < 0:
            return None
        return f.read(n + 2)[:-2]
    if line.startswith(b"-"):
        raise RuntimeError(line.decode().strip())
    return line

primary, replica, samples = connect(int(sys.argv[1])), connect(int(sys.argv[2])), int(sys.argv[3])
lags = []
for i in range(samples):
    value = b"%d:%d" % (i, time.time_ns())
    began = time.perf_counter()
    command(primary, b"SET", b"lag:probe", value)
    deadline = began + 5
    while command(replica, b"GET", b"lag:probe") != value:
        if time.perf_counter() > deadline:
            sys.exit("sample %d: not on the replica within 5 s" % i)
    lags.append(time.perf_counter() - began)
lags.sort()
print("%.3f %.3f" % (lags[len(lags) // 2] * 1000, lags[len(lags) * 99 // 100] * 1000))
EOF

declare -A SYNC_S RPS LAG_IDLE LAG_LOAD FAILOVER_S

for kind in $SERVERS; do
    log "$kind: (a) full sync of $LOAD_KEYS keys"
    start_server "$kind"
    primary=$PORT
    run_bg timeout 300 redis-cli -h 127.0.0.1 -p "$primary" --pipe <"$WORK/load.resp" >/dev/null
    keys=$(cli "$primary" dbsize)
    [ "$keys" = "$LOAD_KEYS" ] || { log "$kind primary holds $keys keys, not $LOAD_KEYS"; exit 1; }
    start_server "$kind"
    replica=$PORT
    began=$(now_ns)
    cli "$replica" replicaof 127.0.0.1 "$primary" >/dev/null
    wait_link_up "$replica" 300
    SYNC_S[$kind]=$(awk -v a="$began" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    keys=$(cli "$replica" dbsize)
    [ "$keys" = "$LOAD_KEYS" ] || { log "$kind replica holds $keys keys, not $LOAD_KEYS"; exit 1; }
    log "$kind: full sync ${SYNC_S[$kind]} s"
    stop_servers

    log "$kind: (b) SET throughput with 2 replicas"
    start_server "$kind"
    primary=$PORT
    start_server "$kind" "$primary"
    replica=$PORT
    start_server "$kind" "$primary"
    wait_link_up "$replica" 30
    wait_link_up "$PORT" 30
    RPS[$kind]=$(timeout 300 redis-benchmark -h 127.0.0.1 -p "$primary" -c 50 -P 16 -t set \
        -n 2000000 -r 1000000 -q | tr '\r' '\n' | awk '/^SET:/ { print $2 }' | tail -1)
    log "$kind: ${RPS[$kind]} SET/s"

    log "$kind: (c) replica lag, $SAMPLES samples idle and under load"
    read -r p50 p99 < <(timeout 120 python3 "$WORK/lag.py" "$primary" "$replica" "$SAMPLES")
    LAG_IDLE[$kind]="$p50 $p99"
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$primary" -c 50 -P 16 -t set \
        -n 100000000 -r 1000000 -q >/dev/null 2>&1 &
    LOAD=$!
    sleep 1
    # The load's rate while the probe runs, so a load that died shows.
    commands=$(cli "$primary" info stats | awk -F: '$1 == "total_commands_processed" { print $2 }')
    began=$(now_ns)
    read -r p50 p99 < <(timeout 120 python3 "$WORK/lag.py" "$primary" "$replica" "$SAMPLES")
    rate=$(cli "$primary" info stats | awk -F: -v c="$commands" -v a="$began" -v b="$(now_ns)" \
        '$1 == "total_commands_processed" { printf "%.0f", ($2 - c) / ((b - a) / 1e9) }')
    log "$kind: the primary ran $rate commands/s during the probe under load"
    kill "$LOAD" 2>/dev/null || true
    wait "$LOAD" 2>/dev/null || true
    LOAD=""
    LAG_LOAD[$kind]="$p50 $p99"
    log "$kind: lag p50/p99 idle ${LAG_IDLE[$kind]} ms, under load ${LAG_LOAD[$kind]} ms"
    stop_servers

    if "$PYTHON" -c 'import redis' 2>/dev/null; then
        log "$kind: (d) failover under Sentinel"
        if [ "$kind" = kv ]; then bin=$KV_BIN; else bin=$(command -v redis-server); fi
        summary=$(timeout 180 "$PYTHON" "$ROOT/kv-std/tests/python/sentinel.py" "$bin" "$kind")
        echo "$summary" >&2
        FAILOVER_S[$kind]=$(echo "$summary" | sed -n 's/.*failover took \([0-9.]*\) s.*/\1/p')
    else
        log "no redis-py in $PYTHON: skipping (d); set PYTHON to a Python that has it"
    fi
done

# One row: name, then the kv and redis figures; the ratio when both are there.
row() {
    awk -v name="$1" -v kv="${2:-}" -v redis="${3:-}" 'BEGIN {
        ratio = (kv != "" && redis != "" && redis + 0 > 0) ? sprintf("%.2f", kv / redis) : "-"
        printf "| %s | %s | %s | %s |\n", name, kv == "" ? "-" : kv, redis == "" ? "-" : redis, ratio
    }'
}
field() { echo "${1:-}" | awk -v i="$2" '{ print $i }'; }

echo
echo "Replication, kv-server (--threads $KV_THREADS${KV_ARGS:+ $KV_ARGS}) against redis-server $(redis-server --version | awk '{print $3}'),"
echo "repl-diskless-sync $DISKLESS, one run each"
echo
echo "| measure | kv | redis | kv/redis |"
echo "|---|---|---|---|"
row "(a) full sync of $LOAD_KEYS keys, s" "${SYNC_S[kv]:-}" "${SYNC_S[redis]:-}"
row "(b) SET/s, 2 replicas, -c 50 -P 16" "${RPS[kv]:-}" "${RPS[redis]:-}"
row "(c) lag p50 idle, ms" "$(field "${LAG_IDLE[kv]:-}" 1)" "$(field "${LAG_IDLE[redis]:-}" 1)"
row "(c) lag p99 idle, ms" "$(field "${LAG_IDLE[kv]:-}" 2)" "$(field "${LAG_IDLE[redis]:-}" 2)"
row "(c) lag p50 under load, ms" "$(field "${LAG_LOAD[kv]:-}" 1)" "$(field "${LAG_LOAD[redis]:-}" 1)"
row "(c) lag p99 under load, ms" "$(field "${LAG_LOAD[kv]:-}" 2)" "$(field "${LAG_LOAD[redis]:-}" 2)"
row "(d) failover under Sentinel, s" "${FAILOVER_S[kv]:-}" "${FAILOVER_S[redis]:-}"
log "load after: $(uptime)"
