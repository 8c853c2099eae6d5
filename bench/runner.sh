#!/usr/bin/env bash
# Local runner benchmark: prefill and decode tokens/s at batch 1, aggregate tokens/s of 8
# concurrent requests, native (GGUF blocks), f32 and bf16, tp = 1 and 2, next to the
# memory-bandwidth ceiling, with the resident memory of a fresh process per engine; then
# llama.cpp on the same file and prompt when `python3 -c 'import llama_cpp'` works (optional:
# `pip install llama-cpp-python`, which compiles llama.cpp), and native ÷ llama.cpp.
# Prints a markdown table. Needs the demo model and libtorch (`bash .ci/deps.sh`).
# With LLM_COOP_BENCH_LARGE=FILE.gguf it also measures the native path on that (larger) model,
# e.g. the Qwen2-1.5B-shaped Q4_K file that bench/reference/synthetic_gguf.py writes.
# Usage: bash bench/runner.sh [runs] [only]   (only: e.g. native:1,bf16:2 measures just those dtype:tp pairs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash .ci/deps.sh >&2
export LIBTORCH="$PWD/.deps/torch-pkg/torch"
export LLM_COOP_BENCH_RUNS="${1:-3}"
export LLM_COOP_BENCH_ONLY="${2:-}"
cargo test --release --quiet --features local --test main runner::bench_runner \
  -- --ignored --nocapture --test-threads 1
