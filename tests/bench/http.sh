#!/usr/bin/env bash
# Benchmark: a hello-world handler through tamarco's HttpServer (default settings: request ids,
# metrics, the request span at debug level under RUST_LOG=info) against the same handler on bare
# axum, with the same `wrk -t2 -c50`, both servers in each round, which goes first alternating;
# prints req/s of both, the ratio of the means and the median of the rounds' own ratios (goal:
# 0.95 or better), and, with `perf` (Debian package linux-perf, optional), the CPU time per
# request of each server; and, from /proc, how each server's CPU time splits between user and
# system (the kernel's share sets how much the servers' own code moves the ratio). Rounds of one
# server on this 2-core machine swing by 20%, and runs of 10 rounds gave ratios from 0.88 to 1.03:
# take 30 rounds or more (two runs of 30 on one quiet machine gave 0.931 and 0.907, ratio of the
# means). The ratio also depends on the machine: on another of the same size (AMD EPYC, 2 vCPUs)
# two runs of 30 gave 0.975 and 0.957 for the same code, so compare rates from one machine only
# (instruction counts travel).
#
# `instructions` mode counts instead, under callgrind, the instructions each server executes per
# request, which does not depend on the machine's other load: each server runs twice, serving N
# and then 2N keep-alive requests on one connection (curl, outside valgrind) after a first
# request; instructions per request = (Ir at 2N - Ir at N) / N, which leaves out start and stop.
# Every thread of the server is counted, less the calibration of quanta's clock. Keeps the
# callgrind files in $OUT (default /tmp/http-instructions) for callgrind_annotate.
#
# Usage: tests/bench/http.sh [SECONDS per turn, default 10] [ROUNDS, default 2]
#        tests/bench/http.sh instructions [N, default 2000]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p tamarco-bench --bin bench_http
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
bin="$target_dir/release/bench_http"

if [ "${1:-}" != instructions ]; then
    if ! command -v wrk >/dev/null; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
    exec "$bin" run "${1:-10}" "${2:-2}"
fi

n="${2:-2000}"
out="${OUT:-/tmp/http-instructions}"
mkdir -p "$out"

# shellcheck source=tests/bench/callgrind_http.sh
. tests/bench/callgrind_http.sh

# Ir of one run of server $1 (axum or tamarco) serving $2 requests.
run() {
    local port
    port=$(free_port)
    RUST_LOG=info callgrind_requests "$out/callgrind.$1.$2" "$port" "$2" "$bin" "$1" "$port"
}

printf '%-10s %14s %14s %12s\n' server "Ir at $n" "Ir at $((2 * n))" "Ir/request"
declare -A per
for mode in axum tamarco; do
    one=$(run "$mode" "$n")
    two=$(run "$mode" "$((2 * n))")
    per[$mode]=$(((two - one) / n))
    printf '%-10s %14s %14s %12s\n' "$mode" "$one" "$two" "${per[$mode]}"
done
awk -v a="${per[axum]}" -v t="${per[tamarco]}" \
    'BEGIN { printf "instructions per request, bare axum / tamarco: %.3f (goal: 0.95 or better)\n", a / t }'
