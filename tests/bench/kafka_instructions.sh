#!/usr/bin/env bash
# Instructions per consumed Kafka record on the consuming side, tamarco input against a plain
# rdkafka loop (load-independent, unlike msg/s): `bench_kafka_client one SIDE N` under
# `valgrind --tool=callgrind --separate-threads=yes`, counting the tokio worker threads only
# (the consumer and everything it calls; the producer that filled the topic ran on the main
# thread, librdkafka fetches on its own threads). Per record = (Ir at 2N - Ir at N) / N, the
# median of ROUNDS. Then, from the last round, the functions whose own instructions per record
# (not those of what they call) differ most between the two sides: where the gap lies, without
# a script of one's own over callgrind's files. Release build; about 30 s per round.
# Usage: tests/bench/kafka_instructions.sh [N] [ROUNDS] [FUNCTIONS]   (defaults 2000, 3 and 25);
# BIN=path runs that bench_kafka_client instead of building one (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
rounds=${2:-3}
top=${3:-25}
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
PYTHONPATH=tests/bench PYTHONDONTWRITEBYTECODE=1 python3 - "$out" "$n" "$rounds" "$top" <<'PYTHON'
"""Own instructions per record of each function on the worker threads, both sides, from the
last round's callgrind files."""
import collections
import sys

from callgrind_files import worker_costs

out, n, last, top = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def own(prefix):
    """Instructions per function, less those of the functions it calls."""
    per_function = collections.Counter()
    for function, _, events in worker_costs(prefix):
        if events:
            per_function[function] += events[0]
    return per_function


per_record = {}
for side in ("plain", "tamarco"):
    before, after = own(f"{out}/{side}.{n}.{last}"), own(f"{out}/{side}.{2 * n}.{last}")
    per_record[side] = {f: (after[f] - before[f]) / n for f in set(before) | set(after)}
plain, tamarco = per_record["plain"], per_record["tamarco"]
functions = set(plain) | set(tamarco)
ranked = sorted(functions, key=lambda f: -abs(tamarco.get(f, 0) - plain.get(f, 0)))
print(f"own instructions per record, the {top} functions that differ most (round {last}):")
print(f"  {'plain':>7} {'tamarco':>7} {'diff':>7}  function")
for function in ranked[:top]:
    p, t = plain.get(function, 0), tamarco.get(function, 0)
    print(f"  {p:7.0f} {t:7.0f} {t - p:+7.0f}  {function[:120]}")
PYTHON
