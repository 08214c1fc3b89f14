#!/usr/bin/env bash
# Runs the protocol's fuzz targets (protocol/fuzz/, cargo-fuzz) from their
# committed corpus, FUZZ_SECONDS each (default 30), FUZZ_JOBS at a time
# (default: one per core). With arguments, only those targets:
#   scripts/fuzz.sh                           # all of them, as CI does
#   FUZZ_SECONDS=600 scripts/fuzz.sh catchup  # a longer run of one
#   FUZZ_RUNS=10000000 FUZZ_SECONDS=3600 scripts/fuzz.sh wire  # until 10 M runs (or the time)
#   FUZZ_FAST=1 ...   # without comparison tracing: fewer hints, more runs a second
# What a run finds goes to a scratch folder, not the committed corpus; a
# crash is kept in protocol/fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="$HOME/.cache/communs"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-$(nproc)}"
all=(cbor event manifest tree wire paths gossip catchup governance bundle announcement search preview)
targets=("${all[@]}")
[ "$#" -gt 0 ] && targets=("$@")

# cargo-fuzz is installed once, outside the clone, and reused.
export PATH="$cache/cargo-bin/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz into $cache/cargo-bin"
    cargo install cargo-fuzz --version 0.13.2 --locked --root "$cache/cargo-bin"
fi

# The fuzz crate is not in the workspace; its build (instrumented, its own
# flags) is kept apart from the workspace's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$cache/fuzz-target}"
# cargo-fuzz passes -Z flags (coverage instrumentation) to rustc, which a
# stable toolchain accepts only with this.
export RUSTC_BOOTSTRAP=1
# Release with overflow checks and debug assertions, no sanitizer: the
# protocol has no unsafe code, and AddressSanitizer costs 2 to 7 times the
# runs per second.
flags=(-O --debug-assertions --sanitizer none)
# Long runs of the slow targets (catchup, governance): comparison tracing
# costs about a third of their runs; built apart, not to rebuild CI's.
if [ -n "${FUZZ_FAST:-}" ]; then
    flags+=(--no-trace-compares)
    export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$cache/fuzz-target-fast}"
fi

cd protocol
cargo fuzz build "${flags[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
run() {
    local target="$1"
    mkdir -p "$scratch/$target"
    if cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=10 -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1; then
        local runs took
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log")"
        took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$scratch/$target.log")"
        echo "fuzz $target: ${runs:-?} runs in ${took:-$seconds} s, no crash"
    else
        echo "fuzz $target: FAILED"
        tail -n 40 "$scratch/$target.log"
        return 1
    fi
}

failed=0
pids=()
for target in "${targets[@]}"; do
    run "$target" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
exit "$failed"
