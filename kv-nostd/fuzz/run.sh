#!/bin/sh
# Runs every fuzz target for SECONDS (default 30) each, one at a time, one process each; fails on
# the first crash, leaving the input under artifacts/<target>/.
set -eu
seconds="${1:-30}"
cd "$(dirname "$0")"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo +nightly install cargo-fuzz --locked
fi
for target in native_request native_response native_scan resp_request resp_reply resp3_reply; do
    case "$target" in
        native_*) dict=native.dict ;;
        resp3_*) dict=resp3.dict ;;
        *) dict=resp.dict ;;
    esac
    mkdir -p "corpus/$target"
    echo "fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -dict="$dict" -print_final_stats=1
done
