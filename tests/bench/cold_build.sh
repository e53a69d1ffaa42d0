#!/usr/bin/env bash
# Cold debug build of a newcomer's first command, `cargo build --example hello` at the workspace
# root, against a bare axum hello-world (axum 0.8 default features, tokio `full`, the
# workspace's [profile.dev]), each in a fresh target dir, alternating, ROUNDS times (default 3).
# Prints wall seconds, CPU seconds (user + sys of cargo and every rustc/linker it ran) and
# hello/axum ratios per round, then the means. CPU seconds hold up on a busy machine; wall
# seconds only on a quiet one.
#
# Both build `--offline` from the registry already in CARGO_HOME: run `cargo fetch` once at the
# workspace root before the first use. The axum project starts from the workspace's Cargo.lock,
# so the crates both builds share come in the same versions.
#
# COLD_BUILD_TIMINGS=DIR also passes `--timings` and keeps each report as DIR/{axum,hello}-N.html.
# Usage: tests/bench/cold_build.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rounds=${1:-3}
timings=${COLD_BUILD_TIMINGS:-}

# Flags from the caller's shell would change one build's work or cache it between rounds.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_INCREMENTAL RUSTC_WRAPPER \
  CARGO_BUILD_RUSTC_WRAPPER CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

work=$(mktemp -d "${TMPDIR:-/tmp}/cold_build.XXXXXX")
trap 'rm -rf "$work"' EXIT

axum="$work/axum_hello"
mkdir -p "$axum/src"
{
  cat <<'EOF'
[package]
name = "axum_hello"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
axum = "0.8"
tokio = { version = "1", features = ["full"] }

EOF
  # Every [profile.dev*] table of the workspace, as written there.
  awk '/^\[/ { keep = ($0 ~ /^\[profile\.dev[].]/) } keep' Cargo.toml
} >"$axum/Cargo.toml"
cat >"$axum/src/main.rs" <<'EOF'
use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
EOF
cp Cargo.lock "$axum/Cargo.lock"
# Resolve once (keeping the workspace's versions) so no round pays for it.
(cd "$axum" && cargo fetch --offline --quiet)
cargo fetch --offline --locked --quiet

# build NAME ROUND DIR ARGS...: one cold build; prints "wall cpu".
build() {
  local name=$1 round=$2 dir=$3
  shift 3
  local target="$work/target-$name" times="$work/times" log="$work/$name-$round.log"
  rm -rf "$target"
  local extra=()
  [[ -n $timings ]] && extra=(--timings)
  local TIMEFORMAT='%R %U %S'
  if ! { time (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build --offline "${extra[@]}" "$@" \
    >"$log" 2>&1); } 2>"$times"; then
    echo "cold_build: the $name build failed:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  if [[ -n $timings ]]; then
    mkdir -p "$timings"
    cp "$target/cargo-timings/cargo-timing.html" "$timings/$name-$round.html"
  fi
  rm -rf "$target"
  awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }' "$times"
}

printf '%-6s %21s %21s %17s\n' round "axum wall/cpu s" "hello wall/cpu s" "ratio wall/cpu"
sums="0 0 0 0"
for ((r = 1; r <= rounds; r++)); do
  # Alternate which goes first, so a machine getting busier or quieter favours neither.
  if ((r % 2)); then
    a=$(build axum "$r" "$axum")
    h=$(build hello "$r" "$root" --locked --example hello)
  else
    h=$(build hello "$r" "$root" --locked --example hello)
    a=$(build axum "$r" "$axum")
  fi
  read -r aw ac <<<"$a"
  read -r hw hc <<<"$h"
  awk -v r="$r" -v aw="$aw" -v ac="$ac" -v hw="$hw" -v hc="$hc" \
    'BEGIN { printf "%-6s %10.1f %10.1f %10.1f %10.1f %8.2f %8.2f\n", r, aw, ac, hw, hc, hw / aw, hc / ac }'
  sums=$(awk -v s="$sums" -v aw="$aw" -v ac="$ac" -v hw="$hw" -v hc="$hc" \
    'BEGIN { split(s, t, " "); printf "%f %f %f %f", t[1] + aw, t[2] + ac, t[3] + hw, t[4] + hc }')
done
awk -v s="$sums" -v n="$rounds" 'BEGIN {
  split(s, t, " ")
  printf "%-6s %10.1f %10.1f %10.1f %10.1f %8.2f %8.2f\n", "mean", t[1] / n, t[2] / n, t[3] / n, t[4] / n, t[3] / t[1], t[4] / t[2]
}'
