#!/usr/bin/env bash
# kv-server against redis-server, side by side on loopback, measured with redis-benchmark.
#
#   kv-bench/server-bench.sh
#
# Builds kv-server (release), starts it and redis-server with nothing kept on disk, and runs
#   redis-benchmark -t ping,set,get -n 1000000 -r 1000000 -d 64 -c 50 [-P 16] --csv
# against each in turn (kv, redis, then redis, kv in the next round, ...), ROUNDS times. Prints
# one table: requests/s, p50 and p99 (medians over the rounds) for each server and the kv/Redis
# ratio (the median of the per-round ratios). Then loads 1,000,000 distinct keys (16-byte keys,
# 64-byte values) into fresh servers with `redis-cli --pipe` and prints memory per key: kv's RSS
# growth and Redis's `used_memory` growth.
#
# Environment: KV_THREADS (kv-server --threads, default 1), KV_ARGS (more kv-server flags, such
# as "--busy-poll 100"; default none), ROUNDS (3), REQUESTS (1000000), DATA (value size for
# redis-benchmark's -d, default 64), KEYSPACE (its -r, default 1000000), MEMORY (1: also the
# memory step; 0: skip it), BUDGET_SECS (whole run, 1500), OUT (directory for the raw CSVs,
# default a temporary one).
# Installs Debian's redis-server and redis-tools if redis-server or redis-benchmark is missing.
# Both servers are stopped when the script ends, fails, times out or is interrupted.
set -euo pipefail

KV_THREADS=${KV_THREADS:-1}
KV_ARGS=${KV_ARGS:-}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-1000000}
BUDGET_SECS=${BUDGET_SECS:-1500}
DATA=${DATA:-64}
KEYSPACE=${KEYSPACE:-1000000}
MEMORY=${MEMORY:-1}
LOAD_KEYS=1000000
ROOT=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "server-bench: $*" >&2; }

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    log "installing redis-server and redis-tools"
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
    # Debian's package starts a system instance on 6379; this benchmark starts its own.
fi

log "building kv-server (release)"
(cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server)
KV_BIN=$ROOT/target/release/kv-server

WORK=$(mktemp -d)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
KV_PID=""
REDIS_PID=""
WATCHDOG=""
CHILD=""

# Runs a command in the background and waits for it, so a signal is handled at once rather
# than after the command ends.
run_bg() {
    "$@" <&0 &
    CHILD=$!
    wait "$CHILD"
    CHILD=""
}

stop_servers() {
    for pid in $KV_PID $REDIS_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $KV_PID $REDIS_PID; do
        wait "$pid" 2>/dev/null || true
    done
    KV_PID=""
    REDIS_PID=""
}

# Runs under `set -e` too: every step that may find its process gone must not fail.
cleanup() {
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
# stops the servers.
(sleep "$BUDGET_SECS" && log "over the ${BUDGET_SECS}s budget, stopping" && kill -TERM $$) &
WATCHDOG=$!

free_port() {
    local port=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
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

start_servers() {
    KV_PORT=$(free_port 17878)
    # KV_ARGS is split into words on purpose: it holds flags.
    # shellcheck disable=SC2086
    "$KV_BIN" --bind 127.0.0.1 --port "$KV_PORT" --no-persist \
        --threads "$KV_THREADS" --log-level warn $KV_ARGS &
    KV_PID=$!
    REDIS_PORT=$(free_port $((KV_PORT + 1)))
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    wait_ready "$KV_PORT"
    wait_ready "$REDIS_PORT"
}

port_of() { if [ "$1" = kv ]; then echo "$KV_PORT"; else echo "$REDIS_PORT"; fi; }

# One redis-benchmark run; its CSV goes to $OUT/<round>_<server>_P<pipeline>.csv.
run_one() {
    local round=$1 server=$2 pipeline=$3
    run_bg timeout 300 redis-benchmark -h 127.0.0.1 -p "$(port_of "$server")" -t ping,set,get \
        -n "$REQUESTS" -r "$KEYSPACE" -d "$DATA" -c 50 -P "$pipeline" --csv \
        >"$OUT/${round}_${server}_P${pipeline}.csv"
}

log "load before: $(uptime)"
start_servers
log "kv-server (--threads $KV_THREADS $KV_ARGS) on $KV_PORT, redis-server $(redis-server --version | awk '{print $3}') on $REDIS_PORT"
for round in $(seq "$ROUNDS"); do
    for pipeline in 1 16; do
        # Alternate which server goes first, so a drift in the machine's load favours neither.
        if [ $((round % 2)) -eq 1 ]; then order="kv redis"; else order="redis kv"; fi
        for server in $order; do
            log "round $round, -P $pipeline, $server"
            run_one "$round" "$server" "$pipeline"
        done
    done
done

# The table: per test and pipeline depth, medians over the rounds.
summarise() {
    awk -F, -v rounds="$ROUNDS" '
        function median(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
                t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
            }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        FNR == 1 { split(FILENAME, f, "/"); split(f[length(f)], p, "[_.]"); next }
        {
            gsub(/"/, "")
            round = p[1]; server = p[2]; pipe = substr(p[3], 2); test = $1
            key = test SUBSEP pipe
            if (!(key in seen)) { seen[key] = 1; order[++count] = key }
            rps[key, server] = rps[key, server] " " $2
            p50[key, server] = p50[key, server] " " $5
            p99[key, server] = p99[key, server] " " $7
            r[key, server, round] = $2
        }
        END {
            print "| test | -P | kv rps | kv p50 ms | kv p99 ms | redis rps | redis p50 ms | redis p99 ms | kv/redis |"
            print "|---|---|---|---|---|---|---|---|---|"
            for (i = 1; i <= count; i++) {
                key = order[i]; split(key, kp, SUBSEP); ratios = ""
                for (round = 1; round <= rounds; round++)
                    if ((key, "kv", round) in r && r[key, "redis", round] > 0)
                        ratios = ratios " " r[key, "kv", round] / r[key, "redis", round]
                printf "| %s | %s | %.0f | %.3f | %.3f | %.0f | %.3f | %.3f | %.2f |\n", kp[1], kp[2],
                    median(rps[key, "kv"]), median(p50[key, "kv"]), median(p99[key, "kv"]),
                    median(rps[key, "redis"]), median(p50[key, "redis"]), median(p99[key, "redis"]),
                    median(ratios)
            }
        }' "$OUT"/*_P1.csv "$OUT"/*_P16.csv
}

echo
echo "kv-server --threads $KV_THREADS $KV_ARGS against redis-server, $ROUNDS rounds, medians;"
echo "redis-benchmark -t ping,set,get -n $REQUESTS -r $KEYSPACE -d $DATA -c 50 [-P 16]"
echo
summarise
echo
for round in $(seq "$ROUNDS"); do
    for f in "$OUT/${round}"_*.csv; do
        echo "raw $(basename "$f"): $(tail -n +2 "$f" | cut -d, -f1,2 | tr -d '"' | tr '\n' ' ')"
    done
done >&2

# Memory per key: fresh servers, 1,000,000 distinct 16-byte keys with 64-byte values.
stop_servers
if [ "$MEMORY" = 0 ]; then
    exit 0
fi
log "generating $LOAD_KEYS SET commands"
awk -v n="$LOAD_KEYS" 'BEGIN {
    for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$64\r\n%064d\r\n", i, i
}' >"$WORK/load.resp"
start_servers

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$KV_PID/status"; }
info_field() { redis-cli -h 127.0.0.1 -p "$1" info memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'; }
used_memory() { info_field "$REDIS_PORT" used_memory; }
dbsize() { redis-cli -h 127.0.0.1 -p "$1" dbsize | tr -d '\r'; }

kv_before=$(rss_kb)
redis_before=$(used_memory)
run_bg timeout 300 redis-cli -h 127.0.0.1 -p "$KV_PORT" --pipe <"$WORK/load.resp" >&2
run_bg timeout 300 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe <"$WORK/load.resp" >&2
kv_after=$(rss_kb)
redis_after=$(used_memory)
kv_keys=$(dbsize "$KV_PORT")
redis_keys=$(dbsize "$REDIS_PORT")

kv_pages=$(info_field "$KV_PORT" arena_pages_in_use)
kv_page_bytes=$(info_field "$KV_PORT" arena_page_bytes)
kv_segments=$(info_field "$KV_PORT" index_segments)
kv_segment_bytes=$(info_field "$KV_PORT" index_segment_bytes)

echo
echo "Memory after loading $LOAD_KEYS distinct keys (16-byte keys, 64-byte values):"
echo
echo "| server | keys | before | after | growth | bytes per key |"
echo "|---|---|---|---|---|---|"
awk -v b="$kv_before" -v a="$kv_after" -v k="$kv_keys" 'BEGIN {
    printf "| kv (RSS) | %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f |\n",
        k, b / 1024, a / 1024, (a - b) / 1024, (a - b) * 1024 / k }'
awk -v b="$redis_before" -v a="$redis_after" -v k="$redis_keys" 'BEGIN {
    printf "| redis (used_memory) | %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f |\n",
        k, b / 1048576, a / 1048576, (a - b) / 1048576, (a - b) / k }'
echo
awk -v p="$kv_pages" -v pb="$kv_page_bytes" -v s="$kv_segments" -v sb="$kv_segment_bytes" \
    -v k="$kv_keys" 'BEGIN {
    printf "kv: %d arena pages of %d bytes (%.1f bytes per key), %d index segments of %d bytes (%.1f bytes per key).\n",
        p, pb, p * pb / k, s, sb, s * sb / k }'
log "load after: $(uptime)"
