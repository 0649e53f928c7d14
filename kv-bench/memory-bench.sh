#!/usr/bin/env bash
# Memory of kv-server against redis-server, side by side on loopback, in one run.
#
#   kv-bench/memory-bench.sh [--duration SECS] [--keys N] [--seed S] [--settle SECS]
#
# Builds kv-server, kv-client and the overwrite driver (release), then measures:
#   1. the resident set (VmRSS in /proc/PID/status) of each server just started with its default
#      flags (kv-server --port P --no-persist; redis-server --port P --save '' --appendonly no);
#   2. the same servers after `redis-benchmark -t set -n 1000000 -r 100000000 -d 64 -P 16`:
#      about 995,000 distinct 16-byte keys (`key:000012345678`; random draws from 10^8 names
#      repeat a few) with 64-byte values. Bytes per key are the growth divided by each server's
#      own DBSIZE, for RSS and for INFO memory's used_memory. Then kv's table alone, in-process,
#      with exactly 1,000,000 keys (`cargo run --release -p kv-std --example bytes_per_key`);
#   3. fresh servers under `overwrite-bench` (kv-bench/src/bin/overwrite-bench.rs): --keys keys
#      (default 100,000) set once, then overwritten for --duration seconds (default 600) with
#      values of 16 B to 16 KiB, uniformly, the same commands to both servers at once; then
#      every other key deleted, then the rest, each followed by a pause of --settle seconds
#      (default 30) for memory an allocator gives back lazily. RSS against the live bytes (keys
#      plus values) at each point, and each server's used_memory and mem_fragmentation_ratio.
# Prints markdown tables on stdout, progress on stderr. Takes --duration plus about 3 minutes.
# Needs redis-server, redis-cli and redis-benchmark on PATH (Debian: redis-server, redis-tools).
# Every process it starts is stopped when it ends, fails or is interrupted.
set -euo pipefail

DURATION=600
FRAG_KEYS=100000
SEED=1
SETTLE=30
LOAD_REQUESTS=1000000
LOAD_KEYSPACE=100000000
INPROCESS_KEYS=1000000
ROOT=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "memory-bench: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=${2:?--duration SECS}; shift 2 ;;
        --keys) FRAG_KEYS=${2:?--keys N}; shift 2 ;;
        --seed) SEED=${2:?--seed S}; shift 2 ;;
        --settle) SETTLE=${2:?--settle SECS}; shift 2 ;;
        -h|--help) usage 0 ;;
        *) log "unknown argument $1"; usage 2 ;;
    esac
done
for n in "$DURATION" "$FRAG_KEYS" "$SEED" "$SETTLE"; do
    [[ $n =~ ^[0-9]+$ ]] || { log "expected a number, got '$n'"; exit 2; }
done
for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { log "$tool is not installed (Debian: redis-server, redis-tools)"; exit 1; }
done

log "building kv-server, kv-client, overwrite-bench and the bytes_per_key example (release)"
(cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server --bin kv-client \
    && cargo build --release -q -p kv-std --example bytes_per_key \
    && cargo build --release -q -p kv-bench --bin overwrite-bench)
KV_BIN=$ROOT/target/release/kv-server
DRIVER=$ROOT/target/release/overwrite-bench
EXAMPLE=$ROOT/target/release/examples/bytes_per_key

WORK=$(mktemp -d)
KV_PID=""
REDIS_PID=""
CHILD=""

# Runs a command in the background and waits for it, so a signal is handled at once rather
# than after the command ends.
run_bg() {
    "$@" <&0 &
    CHILD=$!
    wait "$CHILD"
    CHILD=""
}

# SIGTERM, then SIGKILL if the process is still there after 10 s.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_servers() {
    stop_pid "$KV_PID"
    stop_pid "$REDIS_PID"
    KV_PID=""
    REDIS_PID=""
}

# Runs under `set -e` too: every step that may find its process gone must not fail.
cleanup() {
    stop_pid "$CHILD"
    stop_servers
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

free_port() {
    local port=$1
    for _ in $(seq 1000); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
        port=$((port + 1))
    done
    log "no free port from $1"
    return 1
}

wait_ready() {
    for _ in $(seq 100); do
        redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    log "server on port $1 did not answer within 10 s"
    return 1
}

# Default flags but for the port and, for both, nothing kept on disk.
start_servers() {
    KV_PORT=$(free_port 17978)
    "$KV_BIN" --port "$KV_PORT" --no-persist 2>>"$WORK/kv.log" &
    KV_PID=$!
    REDIS_PORT=$(free_port $((KV_PORT + 1)))
    redis-server --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    wait_ready "$KV_PORT"
    wait_ready "$REDIS_PORT"
    # Idle servers: whatever they do at start (threads, the first cron ticks) is done.
    sleep 1
}

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
info_field() {
    redis-cli -h 127.0.0.1 -p "$1" info memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}
dbsize() { redis-cli -h 127.0.0.1 -p "$1" dbsize | tr -d '\r'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (b == 0) print "-"; else printf f, a / b }'; }

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)
log "load before: $(uptime)"
STARTED=$(date -u '+%Y-%m-%d %H:%M')

# 1 and 2: resident at start, then bytes per key.
start_servers
log "kv-server on $KV_PORT (pid $KV_PID), redis-server $(redis-server --version | awk '{print $3}') on $REDIS_PORT (pid $REDIS_PID)"
kv_rss0=$(rss "$KV_PID")
redis_rss0=$(rss "$REDIS_PID")
kv_used0=$(info_field "$KV_PORT" used_memory)
redis_used0=$(info_field "$REDIS_PORT" used_memory)
for server in kv redis; do
    if [ $server = kv ]; then port=$KV_PORT; else port=$REDIS_PORT; fi
    log "loading $server: redis-benchmark -t set -n $LOAD_REQUESTS -r $LOAD_KEYSPACE -d 64 -P 16"
    run_bg timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -t set -n "$LOAD_REQUESTS" \
        -r "$LOAD_KEYSPACE" -d 64 -P 16 -q </dev/null >"$WORK/load-$server.txt" 2>&1
    tr '\r' '\n' <"$WORK/load-$server.txt" | grep -a 'requests per second' | tail -1 >&2 || true
done
sleep 1
kv_rss1=$(rss "$KV_PID")
redis_rss1=$(rss "$REDIS_PID")
kv_used1=$(info_field "$KV_PORT" used_memory)
redis_used1=$(info_field "$REDIS_PORT" used_memory)
kv_keys=$(dbsize "$KV_PORT")
redis_keys=$(dbsize "$REDIS_PORT")
kv_pages=$(info_field "$KV_PORT" arena_pages_in_use)
kv_page_bytes=$(info_field "$KV_PORT" arena_page_bytes)
kv_segments=$(info_field "$KV_PORT" index_segments)
kv_segment_bytes=$(info_field "$KV_PORT" index_segment_bytes)
stop_servers

log "kv's table in-process: bytes_per_key $INPROCESS_KEYS"
run_bg timeout 300 "$EXAMPLE" "$INPROCESS_KEYS" </dev/null >"$WORK/inprocess.txt"
cat "$WORK/inprocess.txt" >&2
# "used_bytes  N (105.1 bytes/key; ...)" and "resident growth (RSS)  N bytes (105.0 bytes/key)"
inproc_used=$(awk '/^used_bytes/ { sub(/\(/, "", $3); print $3 }' "$WORK/inprocess.txt")
inproc_rss=$(awk '/^resident growth/ { sub(/\(/, "", $6); print $6 }' "$WORK/inprocess.txt")

# 3: fragmentation under overwrites, fresh servers.
start_servers
log "overwrite-bench: $FRAG_KEYS keys, ${DURATION}s of overwrites, values of 16 B to 16 KiB, seed $SEED"
run_bg timeout $((DURATION + 2 * SETTLE + 600)) "$DRIVER" --server "kv=127.0.0.1:$KV_PORT" \
    --server "redis=127.0.0.1:$REDIS_PORT" --duration "$DURATION" --keys "$FRAG_KEYS" \
    --seed "$SEED" --settle "$SETTLE" </dev/null >"$WORK/frag.md"
stop_servers
log "load after: $(uptime)"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Memory, kv-server against redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)," \
    "run $STARTED UTC at commit $COMMIT$DIRTY;"
echo "$(nproc) CPUs ($cpu), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)."
echo
echo "Resident at start, and after loading 16-byte keys with 64-byte values"
echo "(redis-benchmark -t set -n $LOAD_REQUESTS -r $LOAD_KEYSPACE -d 64 -P 16; per key: growth ÷ DBSIZE):"
echo
echo "| figure | kv | redis | kv ÷ redis |"
echo "|---|---|---|---|"
echo "| RSS at start | $(mib "$kv_rss0") | $(mib "$redis_rss0") | $(div "$kv_rss0" "$redis_rss0" %.2f) |"
echo "| used_memory at start | $kv_used0 B | $redis_used0 B | |"
echo "| keys after loading (DBSIZE) | $kv_keys | $redis_keys | |"
echo "| RSS after loading | $(mib "$kv_rss1") | $(mib "$redis_rss1") | $(div "$kv_rss1" "$redis_rss1" %.2f) |"
kv_rss_pk=$(div $((kv_rss1 - kv_rss0)) "$kv_keys")
redis_rss_pk=$(div $((redis_rss1 - redis_rss0)) "$redis_keys")
kv_used_pk=$(div $((kv_used1 - kv_used0)) "$kv_keys")
redis_used_pk=$(div $((redis_used1 - redis_used0)) "$redis_keys")
echo "| RSS growth per key | $kv_rss_pk B | $redis_rss_pk B | $(div "$kv_rss_pk" "$redis_rss_pk" %.2f) |"
echo "| used_memory growth per key | $kv_used_pk B | $redis_used_pk B | $(div "$kv_used_pk" "$redis_used_pk" %.2f) |"
echo "| kv's table in-process, $INPROCESS_KEYS keys: used_bytes per key, RSS growth per key |" \
    "$inproc_used B, $inproc_rss B | | |"
echo
echo "kv after loading: $kv_pages arena pages of $kv_page_bytes bytes" \
    "($(div $((kv_pages * kv_page_bytes)) "$kv_keys") B per key)," \
    "$kv_segments index segments of $kv_segment_bytes bytes" \
    "($(div $((kv_segments * kv_segment_bytes)) "$kv_keys") B per key)."
echo
echo "Overwrites: $FRAG_KEYS keys, values of 16 B to 16 KiB drawn uniformly, ${DURATION}s," \
    "the same commands to both servers (seed $SEED); live bytes are keys plus values;" \
    "each delete step followed by ${SETTLE}s of waiting:"
echo
cat "$WORK/frag.md"
