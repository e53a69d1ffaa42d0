#!/usr/bin/env bash
# Instructions per request of the hello-world server (bench_http's tamarco mode, the handler of
# the http_hello example) under callgrind, with tracing off, on at sampling 0 and on at sampling
# 1, exporting to a receiver that discards (bench_http receiver). Counted on every thread of the
# server (the exporter's batch thread too), so it does not depend on the machine's other load.
# Each variant runs twice, with N and 2N keep-alive requests (curl, one connection) after the
# start; instructions per request = (Ir at 2N - Ir at N) / N, which leaves out start and stop.
# The bytes exported per request are printed too: the same at N and 2N, or spans were dropped.
# The calibration of quanta's clock (the metrics recorder's) is left out: it loops for a time,
# so its count differs from run to run.
# Release build of the current target dir first:
#   cargo build --release -p tamarco-bench --bin bench_http
# Usage: tests/bench/tracing_instructions.sh [N, default 1000] [VARIANTS, default "off 0 1"]
# Keeps each run's callgrind file in $OUT (default /tmp/tracing-instructions), for
# callgrind_annotate --inclusive=yes.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000}"
variants="${2:-off 0 1}"
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
bin="$target_dir/release/bench_http"
out="${OUT:-/tmp/tracing-instructions}"
mkdir -p "$out"

# shellcheck source=tests/bench/discarding_receiver.sh
. tests/bench/discarding_receiver.sh
start_discarding_receiver "$bin" "$out"

# shellcheck source=tests/bench/callgrind_http.sh
. tests/bench/callgrind_http.sh

# "Ir exported-bytes" of one server run with $2 requests; $1 is the variant.
run() {
    local variant=$1 requests=$2 port tracing before instructions
    port=$(free_port)
    case $variant in
        off) tracing='{}' ;;
        *) tracing="{\"enabled\": true, \"endpoint\": \"$receiver\", \"sampling_ratio\": $variant}" ;;
    esac
    before=$(received)
    instructions=$(BENCH_HTTP_TRACING="$tracing" RUST_LOG=info callgrind_requests \
        "$out/callgrind.$variant.$requests" "$port" "$requests" "$bin" tamarco "$port")
    sleep 0.5 # the last export's report
    echo "$instructions $(($(received) - before))"
}

printf '%-8s %14s %14s %12s %16s\n' variant "Ir at $n" "Ir at $((2 * n))" "Ir/request" "bytes/request"
for variant in $variants; do
    read -r one one_bytes < <(run "$variant" "$n")
    read -r two two_bytes < <(run "$variant" "$((2 * n))")
    printf '%-8s %14s %14s %12s %7s, %7s\n' "$variant" "$one" "$two" "$(((two - one) / n))" \
        "$((one_bytes / n))" "$(((two_bytes - one_bytes) / n))"
done
