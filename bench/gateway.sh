#!/usr/bin/env bash
# What llm-server adds over calling an upstream directly, all on loopback and bounded in time:
# latency p50/p99 at concurrency 1, requests/s at concurrency 64 (non-streaming, by wrk),
# time to first token when streaming (p50/p99 over sequential requests), and RSS idle and
# under load. When a `litellm` command exists, its proxy runs against the same upstream.
# Usage: bash bench/gateway.sh [seconds per run (default 10)] [upstream delay ms (default 0)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
delay=${2:-0}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

cargo build --release --quiet --bin llm-server
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
tools=$(cargo bench --bench gateway --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="gateway" and m.get("executable"): print(m["executable"])' | tail -1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up_port=$(free_port); gw_port=$(free_port)
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

"$tools" upstream "$up_port" "$delay" & pids+=($!)
cat > "$dir/config.toml" <<TOML
[defaults]
max_retries = 0
[router]
decision_cache_ttl_ms = 2000
[providers.bench]
kind = "openai"
base_url = "http://127.0.0.1:$up_port/v1"
needs_key = false
[[models]]
name = "bench"
provider = "bench"
upstream = "bench-model"
TOML
LLM_COOP_CONFIG_DIR="$dir" LOG_LEVEL=error "$target/release/llm-server" --port "$gw_port" 2>/dev/null & gw_pid=$!; pids+=($gw_pid)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/health" >/dev/null && break; sleep 0.05; done
sleep 0.5
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
idle_rss=$(rss "$gw_pid")

cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hello"}]}'
LUA
# wrk prints latency percentiles with --latency; pick p50/p99 (in ms) and requests/s.
run_wrk() { # url connections
  wrk -t1 -c"$2" -d"${secs}s" --latency -s "$dir/post.lua" "$1" 2>/dev/null | python3 -c '
import re,sys
t=sys.stdin.read()
def ms(v,u): return float(v)*{"us":1e-3,"ms":1.0,"s":1e3}[u]
p={}
for q in ("50","99"):
    m=re.search(r"^\s+"+q+r"(?:\.000)?%\s+([\d.]+)(us|ms|s)",t,re.M); p[q]=ms(*m.groups())
rps=float(re.search(r"Requests/sec:\s+([\d.]+)",t).group(1))
errs=re.search(r"Non-2xx or 3xx responses: (\d+)",t)
n=errs.group(1) if errs else 0
print("%.3f %.3f %.0f %s" % (p["50"], p["99"], rps, n))'
}
direct="http://127.0.0.1:$up_port/v1/chat/completions"
gw="http://127.0.0.1:$gw_port/v1/chat/completions"
read -r d50 d99 _ _ <<<"$(run_wrk "$direct" 1)"
read -r g50 g99 _ gerr1 <<<"$(run_wrk "$gw" 1)"
read -r _ _ drps _ <<<"$(run_wrk "$direct" 64)"
read -r _ gc99 grps gerr64 <<<"$(run_wrk "$gw" 64 & sleep $((secs / 2)); rss "$gw_pid" > "$dir/loaded_rss"; wait)"
loaded_rss=$(cat "$dir/loaded_rss")
read -r dt50 dt99 _ <<<"$("$tools" ttft "$direct" 300)"
read -r gt50 gt99 _ <<<"$("$tools" ttft "$gw" 300)"

echo
echo "upstream delay ${delay} ms, ${secs} s per wrk run, wrk -t1, $(nproc) cores shared by upstream, gateway and load"
echo
echo "| | direct | via llm-server | added |"
echo "|---|---|---|---|"
python3 - "$d50" "$g50" "$d99" "$g99" "$drps" "$grps" "$dt50" "$gt50" "$dt99" "$gt99" <<'PY'
import sys
d50,g50,d99,g99,drps,grps,dt50,gt50,dt99,gt99=map(float,sys.argv[1:])
print(f"| c=1 p50 latency | {d50:.3f} ms | {g50:.3f} ms | {g50-d50:+.3f} ms |")
print(f"| c=1 p99 latency | {d99:.3f} ms | {g99:.3f} ms | {g99-d99:+.3f} ms |")
print(f"| c=64 requests/s | {drps:,.0f} | {grps:,.0f} | |")
print(f"| streaming TTFT p50 | {dt50:.3f} ms | {gt50:.3f} ms | {gt50-dt50:+.3f} ms |")
print(f"| streaming TTFT p99 | {dt99:.3f} ms | {gt99:.3f} ms | {gt99-dt99:+.3f} ms |")
PY
echo "| llm-server RSS idle / under c=64 load | | ${idle_rss} MB / ${loaded_rss} MB | |"
echo "| non-2xx responses via llm-server | | ${gerr1} (c=1), ${gerr64} (c=64) | |"

if command -v litellm >/dev/null; then
  lt_port=$(free_port)
  cat > "$dir/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/bench-model, api_base: "http://127.0.0.1:$up_port/v1", api_key: none }
YAML
  litellm --config "$dir/litellm.yaml" --port "$lt_port" >/dev/null 2>&1 & lt_pid=$!; pids+=($lt_pid)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$lt_port/health/liveliness" >/dev/null && break; sleep 0.1; done
  lt="http://127.0.0.1:$lt_port/v1/chat/completions"
  read -r l50 l99 _ _ <<<"$(run_wrk "$lt" 1)"
  read -r _ _ lrps _ <<<"$(run_wrk "$lt" 64)"
  echo
  echo "| LiteLLM proxy, same upstream | p50 ${l50} ms | p99 ${l99} ms | ${lrps} requests/s at c=64 | RSS $(rss "$lt_pid") MB |"
else
  echo
  echo "(LiteLLM is not installed here; BENCHMARKS.md has its figures on this machine: p50 9.9 ms, 128 requests/s.)"
fi
