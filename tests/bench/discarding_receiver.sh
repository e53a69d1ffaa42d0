# shellcheck shell=bash
# The OTLP receiver that discards (bench_http receiver), shared by the tracing instruction
# counts (tracing_instructions.sh, amqp_tracing_instructions.sh). Sourced, not run.

# Starts the receiver of bench binary $1, logging in dir $2, until the sourcing script's end
# closes its stdin; sets `receiver` to its URL.
start_discarding_receiver() {
    receiver_log="$2/receiver.log"
    rm -f "$2/receiver-url" "$receiver_log"
    exec {to_receiver}> >(exec "$1" receiver >"$2/receiver-url" 2>"$receiver_log")
    for _ in $(seq 100); do [ -s "$2/receiver-url" ] && break; sleep 0.1; done
    receiver=$(cat "$2/receiver-url")
}

# The bytes the receiver has got so far.
received() {
    { grep -o '[0-9]*$' "$receiver_log" || echo 0; } | tail -1
}
