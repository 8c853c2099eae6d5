#!/usr/bin/env bash
# Start-up time of the CLIs: median wall time of `llm-config list` (nine presets configured)
# and `llm-cooperation --help`, release build. Also checks that neither links libtorch.
# Usage: bash bench/startup.sh [runs]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-200}
cargo build --release --quiet --bin llm-config --bin llm-cooperation
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export LLM_COOP_CONFIG_DIR="$dir"
for p in openai anthropic deepseek openrouter dashscope aigcbest ollama vllm local; do
  "$target/release/llm-config" preset --name "$p" --api-key "sk-bench-000000000000" >/dev/null
done

python3 - "$runs" "$target" <<'PY'
import statistics, subprocess, sys, time
runs, target = int(sys.argv[1]), sys.argv[2]
cases = [
    ("llm-config list", [f"{target}/release/llm-config", "list"]),
    ("llm-cooperation --help", [f"{target}/release/llm-cooperation", "--help"]),
]
print(f"| command | median ms | p10 ms | p90 ms | runs |")
print(f"|---|---|---|---|---|")
for name, cmd in cases:
    for _ in range(5):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - t) * 1e3)
    samples.sort()
    q = lambda f: samples[int(f * (len(samples) - 1))]
    print(f"| `{name}` | {statistics.median(samples):.2f} | {q(0.1):.2f} | {q(0.9):.2f} | {runs} |")
# The cost of starting any process from here, to read the figures against.
samples = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(["/bin/true"], check=True)
    samples.append((time.perf_counter() - t) * 1e3)
print(f"| `/bin/true` (baseline) | {statistics.median(samples):.2f} | | | {runs} |")
PY

for b in llm-config llm-cooperation; do
  if ldd "$target/release/$b" | grep -qi torch; then
    echo "FAIL: $b links libtorch"; exit 1
  fi
done
echo "ldd: neither llm-config nor llm-cooperation links libtorch"
