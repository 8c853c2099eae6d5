#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (fuzz/fuzz_targets/*) with cargo-fuzz on the nightly
# toolchain, each for a bounded time, and prints a table: target, runs, crashes, corpus size.
# A crash leaves its input in fuzz/artifacts/TARGET/; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`, fix it, and keep it as a
# regression test.
# Usage: bash bench/fuzz.sh [seconds per target (default 30)] [target…]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-30}
shift || true

rustup toolchain list | grep -q '^nightly' || {
  echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "building ${#targets[@]} targets (address sanitizer, debug assertions)"
cargo +nightly fuzz build >/dev/null 2>fuzz/build.log || {
  tail -30 fuzz/build.log >&2
  exit 1
}

rows=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  before=$(find "fuzz/artifacts/$t" -type f | wc -l)
  log="fuzz/artifacts/$t.log"
  echo "fuzzing $t for ${secs} s"
  status=0
  # -max_len: requests and config files are longer than libFuzzer's default of 4 KiB.
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  done_runs=$(grep -aoE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
  [ -n "$done_runs" ] && runs=$done_runs
  crashes=$(( $(find "fuzz/artifacts/$t" -type f | wc -l) - before ))
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes="error (see $log)"
  fi
  [ "$status" -ne 0 ] && failed=1
  rows+=("| $t | ${runs:-0} | $crashes | $corpus |")
done

echo
echo "${secs} s per target, $(nproc) cores, $(cargo +nightly --version)"
echo
echo "| target | runs | crashes | corpus |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
