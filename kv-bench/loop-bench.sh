#!/usr/bin/env bash
# The worker loop's goals: kv-server against redis-server, side by side on loopback, alternating.
#
#   kv-bench/loop-bench.sh [uring|epoll|auto]
#
# Builds kv-server (release) and starts it (`--no-persist --io MODE`, MODE from the argument,
# default auto) and redis-server (`--save '' --appendonly no`), each on a free 127.0.0.1 port.
# Then, ROUNDS times, runs each of these against each server in turn (kv first in odd rounds,
# redis first in even ones), after a FLUSHALL of the server about to be measured:
#   c50_d64    redis-benchmark -t set,get -n N -r 100000 -c 50 -d 64 --csv
#   c50_d4096  redis-benchmark -t set,get -n N -r 100000 -c 50 -d 4096 --csv
#   c1         redis-benchmark -t set,get -n N_C1 -r 100000 -c 1 --csv
#   c500       redis-benchmark -t set,get -n N -r 100000 -c 500 --csv
#   P16        redis-benchmark -t set,get -n N -r 100000 -P 16 --csv
#   cpu        redis-benchmark -t set,get -n N_CPU -r 100000 -c 50 --csv, while the server is
#              counted by `perf stat -e task-clock,context-switches,cpu-migrations -p PID` and
#              by its /proc/PID/stat (utime + stime) and the voluntary and nonvoluntary context
#              switches of each of its threads (/proc/PID/task/*/status), read before and after
# (redis-benchmark's other flags at their defaults: -c 50, -d 3, -P 1). Nothing is pre-filled:
# redis-benchmark runs SET before GET, so a GET finds the key when one of the test's SETs drew
# it; the share of the 100,000 keys present after each run (DBSIZE) is printed with it.
# Prints each round's figures, then one table of medians over the rounds, the ratio kv/redis of
# the medians and of each round, and each goal of the issue with whether the medians meet it.
#
# Environment: ROUNDS (3), N (requests per test, 200000), N_C1 (for -c 1, 50000), N_CPU (for the
# cpu test, N), TESTS (which tests, default "c50_d64 c50_d4096 c1 c500 P16 cpu"), KV_ARGS (more
# kv-server flags, such as "--threads 1"; default none, so kv runs as many workers as cores),
# REDIS_ARGS (more redis-server flags), PIN ("SERVER_CPUS:CLIENT_CPUS" for taskset, such as
# "0:1"; default none: servers and client share every core), PERF (auto: use perf when it may
# count the server, 0: /proc only), SKIP_BUILD (1: use the kv-server already built),
# BUDGET_SECS (whole run, 1800), OUT (directory for the raw CSVs and counts, default a
# temporary one, removed at the end).
# Installs Debian's redis-server and redis-tools if redis-server or redis-benchmark is missing.
# Every process it started is stopped when the script ends, fails, times out or is interrupted.
set -euo pipefail

IO_MODE=${1:-auto}
case "$IO_MODE" in
uring | epoll | auto) ;;
*)
    echo "usage: $0 [uring|epoll|auto]" >&2
    exit 2
    ;;
esac

ROUNDS=${ROUNDS:-3}
N=${N:-200000}
N_C1=${N_C1:-50000}
N_CPU=${N_CPU:-$N}
TESTS=${TESTS:-c50_d64 c50_d4096 c1 c500 P16 cpu}
KV_ARGS=${KV_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}
PIN=${PIN:-}
PERF=${PERF:-auto}
SKIP_BUILD=${SKIP_BUILD:-0}
BUDGET_SECS=${BUDGET_SECS:-1800}
KEYSPACE=100000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KV_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/kv-server

declare -A TEST_FLAGS=([c50_d64]="-c 50 -d 64" [c50_d4096]="-c 50 -d 4096" [c1]="-c 1"
    [c500]="-c 500" [P16]="-P 16" [cpu]="-c 50")
declare -A TEST_N=([c50_d64]=$N [c50_d4096]=$N [c1]=$N_C1 [c500]=$N [P16]=$N [cpu]=$N_CPU)

log() { echo "loop-bench: $*" >&2; }

for t in $TESTS; do
    [ -n "${TEST_FLAGS[$t]:-}" ] || { log "unknown test '$t' in TESTS"; exit 2; }
done

SERVER_PIN=()
CLIENT_PIN=()
if [ -n "$PIN" ]; then
    case "$PIN" in
    *:*) ;;
    *) log "PIN is SERVER_CPUS:CLIENT_CPUS, such as 0:1"; exit 2 ;;
    esac
    SERVER_PIN=(taskset -c "${PIN%%:*}")
    CLIENT_PIN=(taskset -c "${PIN#*:}")
fi

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    log "installing redis-server and redis-tools"
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
    # Debian's package starts a system instance on 6379; this benchmark starts its own.
fi

if [ "$SKIP_BUILD" != 1 ]; then
    log "building kv-server (release)"
    (cd "$ROOT" && cargo build --release -q -p kv-std --bin kv-server)
fi

WORK=$(mktemp -d)
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
RESULTS=$OUT/results
: >"$RESULTS"
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
        kill "$WATCHDOG" 2>/dev/null || true
        wait "$WATCHDOG" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# The whole run is bounded: past the budget the watchdog stops the script, and the EXIT trap
# stops the servers.
# Its sleep runs in the background so that stopping the watchdog stops the sleep too, quietly.
(
    trap 'kill "$SLEEP" 2>/dev/null; exit 0' TERM
    sleep "$BUDGET_SECS" &
    SLEEP=$!
    wait "$SLEEP"
    log "over the ${BUDGET_SECS}s budget, stopping"
    kill -TERM $$
) &
WATCHDOG=$!

# Sets PORT to a free port (not in a subshell, so that the next call looks past it).
NEXT_PORT=18100
free_port() {
    PORT=$NEXT_PORT
    while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
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

free_port
KV_PORT=$PORT
free_port
REDIS_PORT=$PORT
# KV_ARGS and REDIS_ARGS are split into words on purpose: they hold flags.
KV_CMD="$KV_BIN --bind 127.0.0.1 --port $KV_PORT --no-persist --io $IO_MODE${KV_ARGS:+ $KV_ARGS}"
REDIS_CMD="redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no --dir $WORK --logfile $WORK/redis.log${REDIS_ARGS:+ $REDIS_ARGS}"
# shellcheck disable=SC2086
(cd "$WORK" && exec "${SERVER_PIN[@]}" "$KV_BIN" --bind 127.0.0.1 --port "$KV_PORT" \
    --no-persist --io "$IO_MODE" $KV_ARGS >"$WORK/kv.log" 2>&1) &
KV_PID=$!
# shellcheck disable=SC2086
"${SERVER_PIN[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
    --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" $REDIS_ARGS &
REDIS_PID=$!
wait_ready "$KV_PORT"
wait_ready "$REDIS_PORT"

pid_of() { if [ "$1" = kv ]; then echo "$KV_PID"; else echo "$REDIS_PID"; fi; }
port_of() { if [ "$1" = kv ]; then echo "$KV_PORT"; else echo "$REDIS_PORT"; fi; }

PERF_EVENTS="task-clock,context-switches,cpu-migrations"
# Whether perf may count a server of ours: not when perf_event_paranoid or a container forbids
# it, in which case it prints "<not counted>" or fails.
if [ "$PERF" != 0 ]; then
    if command -v perf >/dev/null \
        && perf stat -e "$PERF_EVENTS" -x, -o "$WORK/perf-probe" -p "$REDIS_PID" -- sleep 0.2 \
            >/dev/null 2>&1 \
        && awk -F, '$3 == "task-clock" && $1 ~ /^[0-9.]+$/ { ok = 1 } END { exit !ok }' \
            "$WORK/perf-probe"; then
        PERF=1
    else
        log "perf cannot count the servers here; CPU and context switches from /proc only"
        PERF=0
    fi
fi
CLK_TCK=$(getconf CLK_TCK)

# The server's CPU time in clock ticks ("cpu TICKS"), then one line per thread with its
# voluntary and nonvoluntary context switches ("task TID VOLUNTARY NONVOLUNTARY").
proc_snapshot() {
    local pid=$1 task
    # The command name in field 2 may hold spaces; the fields after it are counted from ")".
    awk '{ sub(/^.*\) /, ""); print "cpu", $12 + $13 }' "/proc/$pid/stat"
    for task in "/proc/$pid/task/"*; do
        awk -v tid="${task##*/}" '
            $1 == "voluntary_ctxt_switches:" { v = $2 }
            $1 == "nonvoluntary_ctxt_switches:" { n = $2 }
            END { if (v != "") print "task", tid, v, n }' "$task/status" 2>/dev/null || true
    done
}

# Prints "CPU_US CONTEXT_SWITCHES THREADS_GONE" between two snapshots. A thread that ended in
# between took its context switches with it (its CPU time stays in the process's): one seen in
# the first snapshot is counted in THREADS_GONE so that the loss shows; one that began and ended
# in between is missed here, and counted by perf, whose counters its threads inherit.
proc_delta() {
    awk -v hz="$CLK_TCK" '
        FNR == NR && $1 == "cpu" { cpu0 = $2; next }
        FNR == NR && $1 == "task" { before[$2] = $3 + $4; next }
        $1 == "cpu" { cpu1 = $2; next }
        $1 == "task" { cs += $3 + $4 - before[$2]; seen[$2] = 1 }
        END {
            for (t in before) if (!(t in seen)) gone++
            printf "%.0f %d %d\n", (cpu1 - cpu0) * 1e6 / hz, cs, gone
        }' "$1" "$2"
}

record() { echo "$1 $2 $3 $4" >>"$RESULTS"; }

# Records a CSV's SET and GET rows: requests/s, p50 and p99 in milliseconds.
record_csv() {
    local round=$1 server=$2 test=$3 csv=$4 op rps p50 p99
    while IFS=, read -r op rps _ _ p50 _ p99 _; do
        record "$round" "$server" "$test.$op.rps" "$rps"
        record "$round" "$server" "$test.$op.p50" "$p50"
        record "$round" "$server" "$test.$op.p99" "$p99"
    done < <(tail -n +2 "$csv" | tr -d '"')
}

# One test against one server: FLUSHALL, then redis-benchmark; the cpu test under the counters.
run_one() {
    local round=$1 server=$2 test=$3 pid port base keys line
    pid=$(pid_of "$server")
    port=$(port_of "$server")
    base=$OUT/r${round}_${server}_${test}
    [ "$(cli "$port" flushall)" = OK ] || { log "FLUSHALL failed on $server"; exit 1; }
    local flags bench
    read -ra flags <<<"${TEST_FLAGS[$test]}"
    bench=("${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t "set,get"
        -n "${TEST_N[$test]}" -r "$KEYSPACE" "${flags[@]}" --csv)
    if [ "$test" != cpu ]; then
        run_bg timeout 600 "${bench[@]}" >"$base.csv"
    else
        proc_snapshot "$pid" >"$base.proc0"
        if [ "$PERF" = 1 ]; then
            run_bg timeout 600 perf stat -e "$PERF_EVENTS" -x, -o "$base.perf" -p "$pid" \
                -- "${bench[@]}" >"$base.csv"
        else
            run_bg timeout 600 "${bench[@]}" >"$base.csv"
        fi
        proc_snapshot "$pid" >"$base.proc1"
    fi
    kill -0 "$pid" 2>/dev/null || { log "$server (pid $pid) is gone"; exit 1; }
    [ "$(wc -l <"$base.csv")" -ge 3 ] || { log "no SET and GET rows in $base.csv"; exit 1; }
    record_csv "$round" "$server" "$test" "$base.csv"
    keys=$(cli "$port" dbsize)
    record "$round" "$server" "$test.keys" "$keys"
    line=$(tail -n +2 "$base.csv" | tr -d '"' | awk -F, '{
        printf "%s%s %.0f/s p50 %s p99 %s", (NR > 1 ? "; " : ""), $1, $2, $5, $7 }')
    line="$line; $keys keys"
    if [ "$test" = cpu ]; then
        local requests=$((2 * TEST_N[cpu])) us cs gone us_req cs_req mg
        read -r us cs gone < <(proc_delta "$base.proc0" "$base.proc1")
        record "$round" "$server" cpu.proc_us "$(awk -v a="$us" -v n="$requests" 'BEGIN { print a / n }')"
        record "$round" "$server" cpu.proc_cs "$(awk -v a="$cs" -v n="$requests" 'BEGIN { print a / n }')"
        line="$line; /proc: $us us CPU, $cs context switches"
        if [ "$gone" -gt 0 ]; then line="$line ($gone threads ended, their switches not counted)"; fi
        if [ "$PERF" = 1 ]; then
            local perf
            perf=$(awk -F, -v n="$requests" '
                $3 == "task-clock" { tc = $1 } $3 == "context-switches" { cs = $1 }
                $3 == "cpu-migrations" { mg = $1 }
                END {
                    if (tc !~ /^[0-9.]+$/ || cs !~ /^[0-9]+$/) exit 1
                    printf "%s %s %s %s %s", tc * 1000 / n, cs / n, mg, tc * 1000, cs
                }' "$base.perf") || { log "perf counted nothing: $(cat "$base.perf")"; exit 1; }
            read -r us_req cs_req mg us cs <<<"$perf"
            record "$round" "$server" cpu.perf_us "$us_req"
            record "$round" "$server" cpu.perf_cs "$cs_req"
            line="$line; perf: $us us task-clock, $cs context switches, $mg migrations"
        fi
    fi
    echo "round $round $server $test (${TEST_FLAGS[$test]}, -n ${TEST_N[$test]}): $line"
}

KV_VERSION=$("$KV_BIN" --version 2>/dev/null || echo "kv-server (no --version)")
KV_COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOOP_LOG=$(grep -i loop "$WORK/kv.log" || echo "(nothing about its loop in kv's log)")
echo "kv-server against redis-server, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) cores"
echo "kv: $KV_VERSION, commit $KV_COMMIT, --io $IO_MODE"
echo "kv: $KV_CMD"
echo "kv's log on its loop: $LOOP_LOG"
echo "kv's log at start: $(grep -m1 'listening' "$WORK/kv.log" || true)"
echo "redis: $(redis-server --version)"
echo "redis: $REDIS_CMD"
echo "client: $(redis-benchmark --version); every test: redis-benchmark -h 127.0.0.1 -p PORT -t set,get -r $KEYSPACE -n COUNT FLAGS --csv"
if [ -n "$PIN" ]; then
    echo "pinned: servers on CPUs ${PIN%%:*}, redis-benchmark on CPUs ${PIN#*:} (taskset -c)"
else
    echo "not pinned: the servers and redis-benchmark share the $(nproc) cores"
fi
echo "CPU and context switches: $([ "$PERF" = 1 ] && echo "perf stat -e $PERF_EVENTS -p PID, and /proc" || echo "/proc only (utime + stime; each thread's context switches)")"
echo "Not pre-filled: FLUSHALL before each run; SET runs before GET, so GETs hit the keys the SETs drew (keys = DBSIZE after the run, of $KEYSPACE)."
echo "load at start: $(uptime)"
echo

for round in $(seq "$ROUNDS"); do
    # Alternate which server goes first, so a drift in the machine's load favours neither.
    if [ $((round % 2)) -eq 1 ]; then order="kv redis"; else order="redis kv"; fi
    for test in $TESTS; do
        for server in $order; do
            log "round $round, $test, $server"
            run_one "$round" "$server" "$test"
        done
    done
done
echo

# The goals table: key | test | figure | goal (ge: kv/redis at least, le: at most, -: none).
cat >"$WORK/rows" <<'EOF'
c50_d64.SET.rps|-c 50 -d 64|SET requests/s|ge|1.2
c50_d64.GET.rps|-c 50 -d 64|GET requests/s|ge|1.2
c50_d4096.SET.rps|-c 50 -d 4096|SET requests/s|ge|1.2
c50_d4096.GET.rps|-c 50 -d 4096|GET requests/s|ge|1.2
c1.SET.p50|-c 1|SET p50 ms|le|1
c1.SET.p99|-c 1|SET p99 ms|le|1
c1.GET.p50|-c 1|GET p50 ms|le|1
c1.GET.p99|-c 1|GET p99 ms|le|1
c1.SET.rps|-c 1|SET requests/s|-|
c1.GET.rps|-c 1|GET requests/s|-|
c500.SET.rps|-c 500|SET requests/s|ge|1.2
c500.GET.rps|-c 500|GET requests/s|ge|1.2
P16.SET.rps|-P 16|SET requests/s|ge|1.5
P16.GET.rps|-P 16|GET requests/s|ge|1.5
cpu.perf_us|-c 50, perf|CPU us per request|le|1
cpu.perf_cs|-c 50, perf|context switches per request|-|
cpu.proc_us|-c 50, /proc|CPU us per request|le|1
cpu.proc_cs|-c 50, /proc|context switches per request|-|
EOF

echo "kv-server --io $IO_MODE${KV_ARGS:+ $KV_ARGS} against redis-server, medians of $ROUNDS rounds."
echo "kv/redis is kv's median over redis's (then each round's, in round order): above 1 means"
echo "kv's figure is larger, so better for requests/s and worse for latency and CPU; a latency or"
echo "CPU goal is met when kv/redis <= 1.00. A request is one SET or one GET: the cpu test's"
echo "counts are divided by 2 x $N_CPU."
echo
echo "| test | figure | kv | redis | kv/redis | per round | goal | met |"
echo "|---|---|---|---|---|---|---|---|"
awk -v rounds="$ROUNDS" '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function show(key, v) {
        if (key ~ /rps$/) return sprintf("%.0f", v)
        if (key ~ /_cs$/) return sprintf("%.4f", v)
        return sprintf("%.3f", v)
    }
    FNR == NR { all[$3, $2] = all[$3, $2] " " $4; one[$3, $2, $1] = $4; next }
    {
        split($0, f, "|"); key = f[1]
        if (!((key, "kv") in all) || !((key, "redis") in all)) next
        kv = median(all[key, "kv"]); redis = median(all[key, "redis"])
        ratio = redis > 0 ? kv / redis : 0
        per = ""
        for (r = 1; r <= rounds; r++)
            if ((key, "kv", r) in one && one[key, "redis", r] > 0)
                per = per (per == "" ? "" : " ") sprintf("%.2f", one[key, "kv", r] / one[key, "redis", r])
        if (f[4] == "ge") { goal = ">= " f[5]; met = ratio >= f[5] ? "yes" : "no" }
        else if (f[4] == "le") { goal = "<= " f[5]; met = (redis > 0 && kv <= redis) ? "yes" : "no" }
        else { goal = "-"; met = "-" }
        printf "| %s | %s | %s | %s | %.3f | %s | %s | %s |\n", f[2], f[3], show(key, kv),
            show(key, redis), ratio, per, goal, met
    }' "$RESULTS" "$WORK/rows"
echo
echo "Keys after each run, of $KEYSPACE (a GET of that run found its key with about that share), by round:"
awk '$3 ~ /\.keys$/ {
        t = $3; sub(/\.keys$/, "", t)
        if (!(t in seen)) { seen[t] = 1; order[++n] = t }
        k[t, $2] = k[t, $2] " " $4
    }
    END { for (i = 1; i <= n; i++) printf "  %s: kv%s; redis%s\n", order[i], k[order[i], "kv"], k[order[i], "redis"] }' "$RESULTS"
echo "load at end: $(uptime)"
log "done"
