#!/usr/bin/env bash
# Builds the firmware images and runs each on QEMU's Cortex-M4 board (mps2-an386), failing on a
# failed check, a crash or a run longer than 60 s; then prints their flash and RAM sizes. Installs
# what it needs on a fresh machine (QEMU and the ARM binutils with apt-get, the Rust target with
# rustup).
#
# Images: kv-firmware (table, interrupt-time calls and native codec), kv-firmware without the
# `native` feature (the table alone), and baseline (heapless::FnvIndexMap doing the same table work).
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null || need+=(binutils-arm-none-eabi)
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "run.sh: needs ${need[*]}: run as root, or apt-get install them first" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' ../../rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$toolchain"; then
    rustup toolchain install "$toolchain" --profile minimal --component clippy,rustfmt
fi
rustup target add --toolchain "$toolchain" thumbv7em-none-eabihf

release=target/thumbv7em-none-eabihf/release
images=target/images
mkdir -p "$images"
# The table-only build first: both builds write the same file, so each is copied aside.
cargo build --release --bin kv-firmware --no-default-features
cp "$release/kv-firmware" "$images/kv-table-only"
cargo build --release --bins
cp "$release/kv-firmware" "$images/kv-firmware"
cp "$release/baseline" "$images/baseline"

run() {
    echo "--- $1 on qemu-system-arm -machine mps2-an386"
    local rc=0
    timeout 60 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -kernel "$images/$1" </dev/null || rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "run.sh: $1 ran longer than 60 s" >&2
    fi
    if [ "$rc" -ne 0 ]; then
        echo "run.sh: $1 failed (exit status $rc)" >&2
        exit 1
    fi
}
run kv-firmware
run kv-table-only
run baseline

# Flash holds the vector table, code, read-only data and the initial values of .data; RAM holds
# .data, .bss and .uninit (the stack comes on top: see each run's "stack" line).
echo "--- sizes in bytes (opt-level \"s\", fat LTO)"
sizes() {
    arm-none-eabi-size -A "$images/$1" | awk -v name="$1" '
        { s[$1] = $2 }
        END {
            flash = s[".vector_table"] + s[".text"] + s[".rodata"] + s[".data"]
            ram = s[".data"] + s[".bss"] + s[".uninit"]
            printf "%-14s %7d %7d %7d %7d %7d %7d\n", name, s[".text"], s[".rodata"], flash, s[".data"], s[".bss"], ram
        }'
}
printf "%-14s %7s %7s %7s %7s %7s %7s\n" image .text .rodata flash .data .bss RAM
sizes kv-firmware
sizes kv-table-only
sizes baseline
