#!/usr/bin/env bash
# Overhead of distributed tracing (feature tracing-otel), side by side in one run, each exporting
# to an OTLP receiver inside the benchmark that discards what it gets:
# - http_hello (wrk -t2 -c50, turns alternating): tracing off, on at sampling 0, on at sampling 1;
#   ratios to off (goals: 0.97 at sampling 0, 0.85 at sampling 1), with server CPU per request
#   when `perf` is installed;
# - AMQP push/pull through tamarco against the machine's RabbitMQ (127.0.0.1:5672): the same
#   three, alternating per round; median msg/s and ratios to off.
# Release build. Run it on a quiet machine: the three variants share its cores.
# Usage: tests/bench/tracing.sh [SECONDS per turn, default 10] [ROUNDS, default 3] [MESSAGES, default 50000]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
profile="${BENCH_PROFILE:-release}"
flag=(--release)
[ "$profile" = release ] || flag=()
cargo build --quiet "${flag[@]}" -p tamarco-bench --bin bench_http --bin bench_amqp
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
dir="$target_dir/$([ "$profile" = release ] && echo release || echo debug)"
"$dir/bench_http" tracing "${1:-10}" "${2:-3}"
RUST_LOG="${RUST_LOG:-warn}" "$dir/bench_amqp" tracing "${3:-50000}" "${2:-3}"
