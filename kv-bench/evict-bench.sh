#!/usr/bin/env bash
# kv-server against redis-server at a memory limit: hit ratio, then throughput while evicting.
#
#   kv-bench/evict-bench.sh
#
# Builds kv-server and the replay driver (release), then:
#   1. Hit ratio, once per policy in POLICIES (allkeys-lru allkeys-lfu): fresh servers, both with
#      --maxmemory MAXMEMORY (256mb), the policy and maxmemory-samples SAMPLES (5), replayed
#      at once by kv-bench/src/bin/hit-ratio.rs: a Zipf(0.99) trace of REQUESTS (5,000,000)
#      requests over 1,000,000 keys drawn with seed SEED (1), GET and on a miss SET of a 1 KiB
#      value, the first WARMUP (1,000,000) not counted; under 3 minutes a policy. Prints its table: hit ratio, keys held, and exact LRU and the
#      hottest keys for as many keys as each server held.
#   2. Throughput while evicting: fresh servers under allkeys-lru at the same limit, each filled
#      past it with FILL (1,000,000) SETs of 1 KiB values over KEYSPACE (10,000,000) keys, about
#      1 GiB, of which a fortieth fits. Then `redis-benchmark -t set -n SET_REQUESTS -r KEYSPACE
#      -d 1024 -c 50 -P 16` once against each, which says whether a server refused a SET
#      (redis-benchmark stops at the first error). Then ROUNDS (3) rounds of the same load from
#      kv-bench/src/bin/set-load.rs, which counts refused SETs instead of stopping:
#        set-load --requests SET_REQUESTS --keyspace KEYSPACE --value 1024 --clients 50
#          --pipeline 1|16
#      against each, kv then redis in odd rounds and redis then kv in even ones. Nearly every SET
#      is of a key not held and evicts. Prints SETs a second, the time of a turn of the 50
#      clients, the server's CPU time (user and system, /proc/PID/stat) per SET (medians over
#      rounds), evictions per SET, SETs refused, and the kv/redis ratio (the median of the
#      per-round ratios).
#
#   3. The same rounds on both servers emptied (FLUSHALL) and loaded with FIT_KEYS (150,000) keys,
#      which fit in both at this limit, over those keys only: nothing is evicted, so the ratio
#      against step 2's says what eviction itself costs each server.
#
# Environment: POLICIES, MAXMEMORY, SAMPLES, REQUESTS, WARMUP, SEED, ROUNDS, FILL, KEYSPACE,
# SET_REQUESTS (1,000,000), FIT_KEYS, KV_THREADS (kv-server --threads, default 1), KV_ARGS (more
# kv-server flags), STEPS ("hit throughput": which parts to run), BUDGET_SECS (whole run, 1800).
# Needs redis-server and redis-benchmark on PATH (Debian: redis-server, redis-tools).
# Both servers are stopped when the script ends, fails, times out or is interrupted.
set -euo pipefail

POLICIES=${POLICIES:-"allkeys-lru allkeys-lfu"}
MAXMEMORY=${MAXMEMORY:-256mb}
SAMPLES=${SAMPLES:-5}
REQUESTS=${REQUESTS:-5000000}
WARMUP=${WARMUP:-1000000}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
FILL=${FILL:-1000000}
KEYSPACE=${KEYSPACE:-10000000}
SET_REQUESTS=${SET_REQUESTS:-1000000}
FIT_KEYS=${FIT_KEYS:-150000}
KV_THREADS=${KV_THREADS:-1}
KV_ARGS=${KV_ARGS:-}
STEPS=${STEPS:-"hit throughput"}
BUDGET_SECS=${BUDGET_SECS:-1800}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "evict-bench: $*" >&2; }

for tool in redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || { log "$tool is not installed (Debian: redis-server, redis-tools)"; exit 1; }
done

log "building kv-server, hit-ratio and set-load (release)"
(cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server \
    && cargo build --release -q -p kv-bench --bin hit-ratio --bin set-load)
KV_BIN=$ROOT/target/release/kv-server
DRIVER=$ROOT/target/release/hit-ratio

WORK=$(mktemp -d)
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

# Fresh, empty servers with the limit and the policy given.
start_servers() {
    local policy=$1
    KV_PORT=$(free_port 17978)
    # KV_ARGS is split into words on purpose: it holds flags.
    # shellcheck disable=SC2086
    "$KV_BIN" --bind 127.0.0.1 --port "$KV_PORT" --no-persist --threads "$KV_THREADS" \
        --log-level warn --maxmemory "$MAXMEMORY" --maxmemory-policy "$policy" \
        --maxmemory-samples "$SAMPLES" $KV_ARGS &
    KV_PID=$!
    REDIS_PORT=$(free_port $((KV_PORT + 1)))
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --maxmemory "$MAXMEMORY" --maxmemory-policy "$policy" --maxmemory-samples "$SAMPLES" \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    wait_ready "$KV_PORT"
    wait_ready "$REDIS_PORT"
}

port_of() { if [ "$1" = kv ]; then echo "$KV_PORT"; else echo "$REDIS_PORT"; fi; }
info_field() {
    redis-cli -h 127.0.0.1 -p "$(port_of "$1")" info "$2" | tr -d '\r' \
        | awk -F: -v f="$3" '$1 == f { print $2 }'
}
dbsize() { redis-cli -h 127.0.0.1 -p "$(port_of "$1")" dbsize | tr -d '\r'; }
pid_of() { if [ "$1" = kv ]; then echo "$KV_PID"; else echo "$REDIS_PID"; fi; }
# User and system time of a server process so far, in clock ticks (/proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(pid_of "$1")/stat"; }

log "load before: $(uptime)"
log "kv-server --threads $KV_THREADS $KV_ARGS, redis-server $(redis-server --version | awk '{print $3}'), maxmemory $MAXMEMORY, samples $SAMPLES"

if [[ " $STEPS " == *" hit "* ]]; then
    for policy in $POLICIES; do
        start_servers "$policy"
        log "hit ratio, $policy"
        echo
        echo "Hit ratio, $policy, maxmemory $MAXMEMORY, maxmemory-samples $SAMPLES:"
        echo
        run_bg timeout 600 "$DRIVER" --server "kv=127.0.0.1:$KV_PORT" \
            --server "redis=127.0.0.1:$REDIS_PORT" --requests "$REQUESTS" --warmup "$WARMUP" \
            --seed "$SEED"
        stop_servers
    done
fi

if [[ " $STEPS " != *" throughput "* ]]; then
    exit 0
fi

start_servers allkeys-lru
LOAD=$ROOT/target/release/set-load
for server in kv redis; do
    log "filling $server: $FILL SETs of 1 KiB over $KEYSPACE keys, 50 clients, -P 16"
    run_bg timeout 300 "$LOAD" --server "127.0.0.1:$(port_of "$server")" --requests "$FILL" \
        --keyspace "$KEYSPACE" --pipeline 16 --seed 99 >&2
    log "$server holds $(dbsize "$server") keys, used_memory $(info_field "$server" memory used_memory), evicted $(info_field "$server" stats evicted_keys)"
done

# redis-benchmark stops at the first error reply; whether it gets through says whether a server
# refused a SET.
echo
echo "redis-benchmark -t set -n $SET_REQUESTS -r $KEYSPACE -d 1024 -c 50 -P 16, once each:"
echo
for server in kv redis; do
    before=$(info_field "$server" stats total_commands_processed)
    if result=$(timeout 300 redis-benchmark -h 127.0.0.1 -p "$(port_of "$server")" -t set \
        -n "$SET_REQUESTS" -r "$KEYSPACE" -d 1024 -c 50 -P 16 --csv 2>&1); then
        echo "- $server: $(echo "$result" | tail -n 1 | cut -d, -f2 | tr -d '"') SET/s"
    else
        after=$(info_field "$server" stats total_commands_processed)
        echo "- $server: stopped after about $((after - before)) commands: $(echo "$result" | grep -m 1 -o 'Error from server.*')"
    fi
done

# ROUNDS rounds of set-load over $1 keys into $OUT/$2; prints the table.
rounds() {
    local keyspace=$1 out=$WORK/$2
    mkdir -p "$out"
    for round in $(seq "$ROUNDS"); do
        for pipeline in 1 16; do
            # Alternate which server goes first, so a drift in the machine's load favours neither.
            if [ $((round % 2)) -eq 1 ]; then order="kv redis"; else order="redis kv"; fi
            for server in $order; do
                before=$(info_field "$server" stats evicted_keys)
                cpu_before=$(cpu_ticks "$server")
                run_bg timeout 300 "$LOAD" --server "127.0.0.1:$(port_of "$server")" \
                    --requests "$SET_REQUESTS" --keyspace "$keyspace" --pipeline "$pipeline" \
                    --seed "$round" >"$out/${round}_${server}_P${pipeline}.txt"
                cpu=$(($(cpu_ticks "$server") - cpu_before))
                after=$(info_field "$server" stats evicted_keys)
                echo $((after - before)) >"$out/${round}_${server}_P${pipeline}.evicted"
                echo "$cpu" >"$out/${round}_${server}_P${pipeline}.cpu"
                log "$2 round $round, -P $pipeline, $server: $(cat "$out/${round}_${server}_P${pipeline}.txt"); $((after - before)) evicted; $cpu ticks of CPU"
            done
        done
    done
    echo
    echo "set-load --requests $SET_REQUESTS --keyspace $keyspace --value 1024 --clients 50 --pipeline 1|16"
    echo
    table "$out"
}

# The table of one set of rounds: medians, and the median of the per-round kv/redis ratios.
table() {
local OUT=$1
for pipeline in 1 16; do
    for f in "$OUT"/*_P"$pipeline".txt; do
        name=$(basename "$f" .txt)
        round=${name%%_*}; rest=${name#*_}; server=${rest%%_*}
        # set-load's line: "N SETs in T s: R a second; ... took P50 ms (median), P99 ms (p99); E refused"
        awk -v r="$round" -v s="$server" -v p="$pipeline" -v e="$(cat "${f%.txt}.evicted")" \
            -v n="$SET_REQUESTS" -v cpu="$(cat "${f%.txt}.cpu")" -v hz="$(getconf CLK_TCK)" '{
                rps = $6; p50 = $(NF - 6); p99 = $(NF - 4); ref = $(NF - 1)
                for (i = 1; i <= NF; i++) {
                    if ($i == "second;") rps = $(i - 2)
                    if ($i == "(median),") p50 = $(i - 2)
                    if ($i == "(p99);") { p99 = $(i - 2); ref = $(i + 1) }
                }
                print p, r, s, rps, p50, p99, e / n, ref, cpu / hz * 1e6 / n
            }' "$f"
    done
done | awk '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        p = $1; r = $2; s = $3
        if (!(p in seen)) { seen[p] = 1; order[++count] = p }
        rps[p, s] = rps[p, s] " " $4; p50[p, s] = p50[p, s] " " $5; p99[p, s] = p99[p, s] " " $6
        ev[p, s] = ev[p, s] " " $7; ref[p, s] = ref[p, s] " " $8; one[p, s, r] = $4
        cpu[p, s] = cpu[p, s] " " $9
        if (!((p, r) in inround)) { inround[p, r] = 1; rounds[p] = rounds[p] " " r }
    }
    END {
        print "| -P | kv SET/s | kv turn p50 ms | kv turn p99 ms | kv evictions per SET | kv refused | kv CPU µs per SET | redis SET/s | redis turn p50 ms | redis turn p99 ms | redis evictions per SET | redis refused | redis CPU µs per SET | kv/redis (per round) |"
        print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= count; i++) {
            p = order[i]; ratios = ""
            n = split(rounds[p], rs, " ")
            for (j = 1; j <= n; j++)
                if (one[p, "redis", rs[j]] > 0)
                    ratios = ratios " " sprintf("%.2f", one[p, "kv", rs[j]] / one[p, "redis", rs[j]])
            printf "| %s | %.0f | %.3f | %.3f | %.2f | %s | %.2f | %.0f | %.3f | %.3f | %.2f | %s | %.2f | %.2f (%s) |\n", p,
                median(rps[p, "kv"]), median(p50[p, "kv"]), median(p99[p, "kv"]), median(ev[p, "kv"]),
                substr(ref[p, "kv"], 2), median(cpu[p, "kv"]), median(rps[p, "redis"]),
                median(p50[p, "redis"]), median(p99[p, "redis"]), median(ev[p, "redis"]),
                substr(ref[p, "redis"], 2), median(cpu[p, "redis"]), median(ratios), substr(ratios, 2)
        }
    }'
}

echo
echo "SET while evicting: kv-server --threads $KV_THREADS $KV_ARGS against redis-server,"
echo "allkeys-lru, maxmemory $MAXMEMORY, $ROUNDS rounds, medians:"
rounds "$KEYSPACE" evicting
echo
for server in kv redis; do
    echo "$server after the evicting rounds: $(dbsize "$server") keys, used_memory $(info_field "$server" memory used_memory), evicted_keys $(info_field "$server" stats evicted_keys)"
done

# The same load on keys that fit: what eviction itself costs each server.
for server in kv redis; do
    redis-cli -h 127.0.0.1 -p "$(port_of "$server")" flushall >/dev/null
    run_bg timeout 300 "$LOAD" --server "127.0.0.1:$(port_of "$server")" --requests "$FIT_KEYS" \
        --keyspace "$FIT_KEYS" --pipeline 16 --seed 99 >/dev/null
done
echo
echo "The same SETs over $FIT_KEYS keys, which fit (nothing evicted), same servers, $ROUNDS rounds, medians:"
rounds "$FIT_KEYS" fitting
echo
for server in kv redis; do
    echo "$server at the end: $(dbsize "$server") keys, used_memory $(info_field "$server" memory used_memory), evicted_keys $(info_field "$server" stats evicted_keys)"
done
log "load after: $(uptime)"
