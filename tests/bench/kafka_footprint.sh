#!/usr/bin/env bash
# Code footprint per consumed Kafka record, tamarco input against a plain rdkafka loop: the
# distinct 64-byte lines of machine code that the consuming threads run for every record (at
# least once per two records). The instruction cache holds 32 KiB on this kind of machine, 8
# lines per set: the more lines a record's path touches, the likelier some sets overflow and
# miss on every record, depending on where the linker placed each function. Unlike msg/s, the
# count does not depend on the machine's load, and hardly on that placement (within a line or
# two between builds), so it shows whether a change makes the path more compact.
#
# How: `bench_kafka_client one SIDE N` and `... 2N` under `valgrind --tool=callgrind
# --separate-threads=yes --dump-instr=yes`; per instruction address, the count at 2N less the
# count at N, on the tokio worker threads; a line counts when its instructions ran N/2 times or
# more. Prints the lines of each side and, per function, the lines of tamarco's path. Release
# build; about 15 s per side.
# Usage: tests/bench/kafka_footprint.sh [N, default 2000] [FUNCTIONS listed, default 15];
# BIN=path runs that bench_kafka_client instead of building one (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
top=${2:-15}
# shellcheck source=tests/bench/callgrind_kafka.sh
. tests/bench/callgrind_kafka.sh
for side in plain tamarco; do
    for k in "$n" $((2 * n)); do
        RUST_LOG=warn valgrind --tool=callgrind --separate-threads=yes --dump-instr=yes \
            --dump-line=no --callgrind-out-file="$out/$side.$k" \
            "$BIN" one "$side" "$k" >/dev/null 2>&1
    done
done
PYTHONPATH=tests/bench PYTHONDONTWRITEBYTECODE=1 python3 - "$out" "$n" "$top" <<'PYTHON'
import collections
import sys

from callgrind_files import worker_costs

out, n, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def costs(prefix):
    """Instructions run per address, and each address's function, on the worker threads."""
    per_address, function_of = collections.Counter(), {}
    for function, address, events in worker_costs(prefix):
        per_address[address] += events[0] if events else 0
        function_of[address] = function
    return per_address, function_of


footprint, lines_by_function = {}, {}
for side in ("plain", "tamarco"):
    before, _ = costs(f"{out}/{side}.{n}")
    after, function_of = costs(f"{out}/{side}.{2 * n}")
    lines_of = collections.defaultdict(set)
    for address, count in after.items():
        if count - before.get(address, 0) >= n // 2:
            lines_of[function_of[address]].add(address // 64)
    lines = set().union(*lines_of.values())
    footprint[side] = len(lines)
    lines_by_function[side] = lines_of
    print(f"{side}: {len(lines)} lines of code per record ({len(lines) * 64 / 1024:.1f} KiB)")
print(f"tamarco / plain: {footprint['tamarco'] / footprint['plain']:.3f}")
print(f"tamarco's lines per function (the {top} with most):")
ranked = sorted(lines_by_function["tamarco"].items(), key=lambda item: -len(item[1]))
for function, lines in ranked[:top]:
    print(f"  {len(lines):4d}  {function}")
PYTHON
