#!/usr/bin/env bash
# Parallel mode's wall time against its slowest member: fake upstreams with fixed, different
# latencies, `parallel` + `concat`, median of N runs (see benches/cooperation.rs). Prints a
# Markdown table; exits non-zero when a row is not within 5% (+5 ms) of the slowest member.
# Usage: bash bench/cooperation.sh [runs]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-20}
cargo bench --quiet --bench cooperation -- "$runs"
