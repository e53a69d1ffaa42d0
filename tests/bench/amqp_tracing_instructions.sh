#!/usr/bin/env bash
# Instructions per message of AMQP push/pull through tamarco (producer and consumer in one
# process, bench_amqp's tamarco round) under callgrind, with tracing off, on at sampling 0 and
# on at sampling 1, exporting to a receiver that discards (bench_http receiver), against the
# machine's RabbitMQ (127.0.0.1:5672). Counted on every thread of the process (the exporter's
# batch thread too), so it does not depend on the machine's other load. Each variant runs twice,
# with N and 2N messages; instructions per message = (Ir at 2N - Ir at N) / N, which leaves out
# start and stop; the median of ROUNDS such pairs (the count moves by about 1.5k per message from
# run to run: how many deliveries each wakeup finds depends on timing). The bytes exported per message are printed too (the same at N and 2N, or spans
# were dropped). The calibration of quanta's clock is left out (it loops for a time).
# Release build of the current target dir first:
#   cargo build --release -p tamarco-bench --bin bench_http --bin bench_amqp
# Usage: tests/bench/amqp_tracing_instructions.sh [N, default 2000] [VARIANTS, default "off 0 1"]
#        [ROUNDS, default 3]
# Keeps each run's callgrind file in $OUT (default /tmp/amqp-tracing-instructions), for
# callgrind_annotate --inclusive=yes.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-2000}"
variants="${2:-off 0 1}"
rounds="${3:-3}"
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
out="${OUT:-/tmp/amqp-tracing-instructions}"
mkdir -p "$out"

# shellcheck source=tests/bench/discarding_receiver.sh
. tests/bench/discarding_receiver.sh
start_discarding_receiver "$target_dir/release/bench_http" "$out"

# shellcheck source=tests/bench/callgrind_http.sh
. tests/bench/callgrind_http.sh

# "Ir exported-bytes" of one round of $2 messages; $1 is the variant.
run() {
    local variant=$1 messages=$2 file before
    file="$out/callgrind.$variant.$messages"
    before=$(received)
    BENCH_AMQP_RECEIVER="$receiver" RUST_LOG=warn valgrind --tool=callgrind \
        --callgrind-out-file="$file" "$target_dir/release/bench_amqp" count "$variant" "$messages" \
        >/dev/null 2>"$file.log"
    sleep 0.5 # the last export's report
    echo "$(counted_instructions "$file") $(($(received) - before))"
}

printf '%-8s %12s %12s %16s\n' variant "Ir at $n" "Ir at $((2 * n))" "Ir/message"
for variant in $variants; do
    per=()
    for round in $(seq "$rounds"); do
        read -r one one_bytes < <(run "$variant" "$n")
        read -r two two_bytes < <(run "$variant" "$((2 * n))")
        per+=($(((two - one) / n)))
        printf '%-8s %12s %12s %16s   exported bytes/message %s, %s\n' "$variant" "$one" "$two" \
            "$(((two - one) / n))" "$((one_bytes / n))" "$(((two_bytes - one_bytes) / n))"
    done
    median=$(printf '%s\n' "${per[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    echo "$variant: median $median instructions per message"
done
