#!/usr/bin/env bash
# Benchmark of the Kafka resource against its own tansu broker (installed by .ci/services):
# produce and consume throughput of 200-byte JSON messages through tamarco and through plain
# rdkafka in the same run (ratio tamarco / plain, goal >= 0.9), and push-to-handler latency at
# a low rate (median, p99). Release build.
# Usage: tests/bench/kafka.sh [MESSAGES] [ROUNDS]   (defaults 50000 and 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash .ci/services >/dev/null
cargo build --quiet --release -p tamarco-bench --bin bench_kafka --bin bench_kafka_client
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
RUST_LOG="${RUST_LOG:-warn}" "$target_dir/release/bench_kafka" "${1:-50000}" "${2:-5}"
# The consume path on the client alone, with CPU time per record on both sides (mock cluster).
RUST_LOG="${RUST_LOG:-warn}" "$target_dir/release/bench_kafka_client"
