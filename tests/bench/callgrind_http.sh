# Sourced by the instruction-count benchmarks (http.sh instructions, tracing_instructions.sh,
# amqp_tracing_instructions.sh): one server run under callgrind, driven by curl from outside
# valgrind, and the count of a callgrind run less the clock calibration.

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# callgrind_requests FILE PORT REQUESTS COMMAND...: runs COMMAND (a server listening on
# 127.0.0.1:PORT) under callgrind into FILE, waits until it answers (bounded: 2 minutes), sends
# REQUESTS keep-alive requests on one connection, stops it with SIGTERM and prints its
# instructions less the calibration of quanta's clock (the metrics recorder's), which loops for
# a time, not a number of steps, and moved the difference by up to 6k instructions per request.
callgrind_requests() {
    local file=$1 port=$2 requests=$3 pid
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$file" "$@" >/dev/null 2>"$file.log" &
    pid=$!
    for _ in $(seq 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.2
    done
    curl -sf "http://127.0.0.1:$port/?[1-$requests]" >/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    counted_instructions "$file"
}

# counted_instructions FILE: the instructions of the callgrind run in FILE less the calibration
# of quanta's clock.
counted_instructions() {
    local total calibration
    total=$(sed -n 's/^summary: //p; s/^totals: //p' "$1" | head -1)
    calibration=$(callgrind_annotate --inclusive=yes --tree=none --auto=no "$1" |
        awk '/:quanta::Clock::new \[/ && !found { gsub(",", "", $1); print $1; found = 1 }')
    echo "$((total - ${calibration:-0}))"
}
