# shellcheck shell=bash
# Sourced by the Kafka consume counts under callgrind (kafka_instructions.sh,
# kafka_footprint.sh): installs valgrind when missing, sets BIN to the release
# bench_kafka_client (built here unless BIN is given, to compare two builds) and `out` to a
# directory for callgrind's files, removed when the sourcing script exits.
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
if [[ -z "${BIN:-}" ]]; then
    cargo build --quiet --release -p tamarco-bench --bin bench_kafka_client
    target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
    BIN="$target_dir/release/bench_kafka_client"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
