#!/usr/bin/env bash
# Benchmark of the data resources against their bare clients in one run: Postgres SELECT by
# primary key (resource vs bare deadpool-postgres, goal >= 0.95x), Redis SET+GET (resource vs
# bare connection manager, goal >= 0.95x), InfluxDB points/s (batching writer vs bare HTTP
# posts of the same batches, goal >= 0.9x). Needs the machine's PostgreSQL and Redis and the
# `influxd` binary (it starts its own). Prints the load average before and after. Release build.
# Usage: tests/bench/data.sh [ROUNDS [postgres|redis|influxdb ...]]   (default 3 rounds, all)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release -p tamarco-bench --bin bench_data
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
RUST_LOG="${RUST_LOG:-warn}" "$target_dir/release/bench_data" "${1:-3}" "${@:2}"
