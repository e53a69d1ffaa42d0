#!/usr/bin/env bash
# Benchmark of the AMQP resource against the machine's RabbitMQ (127.0.0.1:5672, guest/guest):
# push/pull throughput of ~200-byte JSON messages with publisher confirms and one ack per
# message, through tamarco and through plain lapin in the same run (ratio tamarco / lapin,
# goal >= 0.9), and request/response round trips per second with 16 concurrent requesters.
# Release build.
# Usage: tests/bench/amqp.sh [MESSAGES] [ROUNDS] [SECONDS]   (defaults 50000, 3 and 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p tamarco-bench --bin bench_amqp
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
RUST_LOG="${RUST_LOG:-warn}" "$target_dir/release/bench_amqp" "${1:-50000}" "${2:-3}" "${3:-5}"
