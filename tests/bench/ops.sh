#!/usr/bin/env bash
# Cost of the operations endpoints: `http_hello` (examples/07) with the memory analyzer sampling
# every second (`metrics.collect_frequency: 1`, ten times the default) and the profiler compiled
# in and idle, against the same binary with the operations endpoints turned off and the
# analyzer's sampling pushed out to an hour; `wrk -t2 -c50` on each in alternating turns.
# Prints req/s per turn, the means, the ratio on/off (goal: 0.97 or better) and the load average.
# Usage: tests/bench/ops.sh [SECONDS per turn, default 10] [ROUNDS, default 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
rounds=${2:-3}
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release -p examples --example http_hello --features profiler
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exe="$target_dir/release/examples/http_hello"
server=TAMARCO__SYSTEM__RESOURCES__TAMARCO_HTTP_REPORT_SERVER__
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

start() { # NAME HTTP_PORT REPORT_PORT [VAR=VALUE...]
    local name=$1 port=$2 report=$3
    shift 3
    env RUST_LOG=warn TAMARCO__SYSTEM__RESOURCES__HTTP_SERVER__PORT="$port" "${server}PORT=$report" "$@" \
        "$exe" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -sf "127.0.0.1:$port/" >/dev/null && return 0
        sleep 0.1
    done
    echo "$name does not answer on $port" >&2
    exit 1
}

start on 18081 18091 TAMARCO__SYSTEM__RESOURCES__METRICS__COLLECT_FREQUENCY=1
start off 18082 18092 TAMARCO__SYSTEM__RESOURCES__METRICS__COLLECT_FREQUENCY=3600 \
    "${server}ENDPOINTS__INFO=false" "${server}ENDPOINTS__LOGGERS=false" \
    "${server}ENDPOINTS__SETTINGS=false" "${server}ENDPOINTS__TASKS=false" \
    "${server}ENDPOINTS__DASHBOARD=false" "${server}ENDPOINTS__PROFILER=false"
curl -sf 127.0.0.1:18091/info >/dev/null && ! curl -sf 127.0.0.1:18092/info >/dev/null

# One wrk turn on PORT: "REQ_PER_S CPU_US_PER_REQUEST"; the server's CPU time per request (perf
# task-clock, when perf is installed) moves less than the rate with the machine's other load.
rate() {
    local port=$1 pid=$2 perf_out
    perf_out=$(mktemp)
    if command -v perf >/dev/null; then
        perf stat -x, -e task-clock -p "$pid" -o "$perf_out" -- sleep "$seconds" &
    fi
    local rps
    rps=$(wrk -t2 -c50 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
    wait
    local msec
    msec=$(awk -F, '/task-clock/ {print $1}' "$perf_out")
    rm -f "$perf_out"
    echo "$rps $(awk "BEGIN {if (\"$msec\" == \"\") print \"-\"; else printf \"%.2f\", $msec * 1000 / ($rps * $seconds)}")"
}
on_all=() off_all=() on_cpu=() off_cpu=()
for round in $(seq "$rounds"); do
    # Alternate which goes first, so that a drift in the machine's load hits both alike.
    if (( round % 2 )); then on=$(rate 18081 "${pids[0]}"); off=$(rate 18082 "${pids[1]}")
    else off=$(rate 18082 "${pids[1]}"); on=$(rate 18081 "${pids[0]}"); fi
    on_all+=("${on% *}") off_all+=("${off% *}") on_cpu+=("${on#* }") off_cpu+=("${off#* }")
    echo "round $round: on ${on% *} req/s (${on#* } us CPU/request), off ${off% *} req/s (${off#* } us CPU/request), load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
mean() { printf '%s\n' "$@" | awk '{s += $1} END {printf "%.2f", s / NR}'; }
on_mean=$(mean "${on_all[@]}") off_mean=$(mean "${off_all[@]}")
echo "mean: on $on_mean req/s, off $off_mean req/s, ratio on/off $(awk "BEGIN {printf \"%.3f\", $on_mean / $off_mean}")"
if [[ "${on_cpu[0]}" != "-" ]]; then
    on_c=$(mean "${on_cpu[@]}") off_c=$(mean "${off_cpu[@]}")
    echo "CPU per request: on $on_c us, off $off_c us, throughput ratio from CPU off/on $(awk "BEGIN {printf \"%.3f\", $off_c / $on_c}")"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
