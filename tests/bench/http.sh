#!/usr/bin/env bash
# Benchmark: a hello-world handler through tamarco's HttpServer (request metrics and logs on)
# against the same handler on bare axum, with the same `wrk -t2 -c50` in alternating turns;
# prints req/s of both and their ratio (goal: 0.95 or better), and, with `perf` (Debian package
# linux-perf, optional), the CPU time per request of each server.
# Usage: tests/bench/http.sh [SECONDS per turn, default 10] [ROUNDS, default 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release -p tamarco-bench --bin bench_http
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
"$target_dir/release/bench_http" run "${1:-10}" "${2:-2}"
