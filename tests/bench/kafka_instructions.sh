#!/usr/bin/env bash
# Instructions per consumed Kafka record on the consuming side, tamarco input against a plain
# rdkafka loop (load-independent, unlike msg/s): `bench_kafka_client one SIDE N` under
# `valgrind --tool=callgrind --separate-threads=yes`, counting the tokio worker threads only
# (the consumer and everything it calls; the producer that filled the topic ran on the main
# thread, librdkafka fetches on its own threads). Per record = (Ir at 2N - Ir at N) / N, the
# median of ROUNDS. Release build; about 30 s per round.
# Usage: tests/bench/kafka_instructions.sh [N] [ROUNDS]   (defaults 2000 and 3); BIN=path runs
# that bench_kafka_client instead of building one (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
rounds=${2:-3}
# shellcheck source=tests/bench/callgrind_kafka.sh
. tests/bench/callgrind_kafka.sh
# The instructions of the threads that ran tokio's worker loop, in callgrind's files of one run.
workers() {
    local total=0 file ir
    for file in "$1"-*; do
        if grep -q 'fn=([0-9]*) tokio::runtime::scheduler::multi_thread::worker::run$' "$file"; then
            ir=$(grep -m1 -E '^(summary|totals):' "$file" | awk '{print $2}')
            total=$((total + ir))
        fi
    done
    echo "$total"
}
for side in tamarco plain; do
    per=()
    for round in $(seq "$rounds"); do
        for k in "$n" $((2 * n)); do
            RUST_LOG=warn valgrind --tool=callgrind --separate-threads=yes \
                --callgrind-out-file="$out/$side.$k.$round" \
                "$BIN" one "$side" "$k" >/dev/null 2>&1
        done
        per+=($(( ($(workers "$out/$side.$((2 * n)).$round") - $(workers "$out/$side.$n.$round")) / n )))
    done
    median=$(printf '%s\n' "${per[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    echo "$side: instructions per record ${per[*]} (median $median)"
    eval "median_$side=$median"
done
echo "ratio plain/tamarco (throughput ratio if instructions were time): $(awk "BEGIN {printf \"%.3f\", $median_plain / $median_tamarco}")"
