#!/usr/bin/env bash
# Benchmark of the release build of the `hello` example: start to first /status 200, idle RSS,
# SIGTERM to exit; median of RUNS (default 20) runs, with ratios to the Python original.
# Usage: tests/bench/hello.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tamarco/target}"
cargo build --quiet --release -p examples --example hello
cargo build --quiet --release -p tamarco-bench --bin bench_hello
"$CARGO_TARGET_DIR/release/bench_hello" "$CARGO_TARGET_DIR/release/examples/hello" "${1:-20}"
