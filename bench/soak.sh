#!/usr/bin/env bash
# Soak: mixed load against a real `llm-server` (release build) for N seconds: both protocols,
# streamed and whole, native `/query`, sessions, clients that go away mid-request, and faults
# injected upstream (5xx, 429, silence, disconnects, error events, malformed JSON and SSE,
# oversized answers, a refusing replica). Prints requests, errors by cause (each explained by
# an injected fault or not), p50/p99 latency, RSS after start, after warm-up, peak and end,
# and the in-flight gauges after the load (after a 15 s warm-up, so stored responses reach their
# steady state); exits non-zero on any unexplained error, RSS
# growth of 10% or more, a gauge not back at zero, or an unclean exit (see benches/soak.rs).
# Also: four gateway tokens and 3% of requests with a fresh wrong one (must be 401), and a
# SIGHUP reload every 5 s under load.
# Usage: bash bench/soak.sh [seconds (default 60)] [workers (default 16)] [seed (default 1)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-60}
workers=${2:-16}
seed=${3:-1}
cargo build --release --quiet --bin llm-server
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo bench --quiet --bench soak -- --server "$target/release/llm-server" \
  --secs "$secs" --workers "$workers" --warmup 15 --seed "$seed"
