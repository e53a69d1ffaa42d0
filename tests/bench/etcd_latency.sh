#!/usr/bin/env bash
# Benchmark: time from a put in etcd to the value being visible in a service (watch callback),
# median over PUTS (default 100) puts on loopback. The program starts its own etcd (free
# loopback ports, its own data dir) and stops it at the end; etcd must be installed
# (.ci/services installs it).
# Usage: tests/bench/etcd_latency.sh [PUTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v etcd >/dev/null || bash .ci/services
cargo build --quiet --release -p tamarco-bench --bin bench_etcd_latency
"${CARGO_TARGET_DIR:-target}/release/bench_etcd_latency" "${1:-100}"
