#!/usr/bin/env bash
# What llm-server adds over calling an upstream directly, all on loopback and bounded in time:
# latency p50/p99 at concurrency 1 (chat completions, and the Responses API bridged to the
# same chat upstream), requests/s at concurrency 64 (non-streaming, by wrk),
# time to first token when streaming (p50/p99 over sequential requests), and RSS idle and
# under load. When a `litellm` command exists, its proxy runs against the same upstream.
# Usage: bash bench/gateway.sh [seconds per run (default 10)] [upstream delay ms (default 0)]
#        [rounds of the concurrency-1 comparison (default 5)]
# GATEWAY_BASELINE=path/to/another/llm-server runs that build beside this one on the small
# request, alternating, and prints both: this machine's speed varies 2–3× within the hour, so
# builds are compared in one run, not against figures from another hour. For example, the
# build before the protocol layer: `git worktree add /tmp/base f3180f3^ && (cd /tmp/base &&
# cargo build --release --bin llm-server)`, then GATEWAY_BASELINE=/tmp/base/target/release/llm-server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
delay=${2:-0}
rounds=${3:-5}
# llm-server runs with its default, one HTTP thread per core; GATEWAY_WORKERS=N sets --workers.
# (With an upstream as cheap as nginx, the second thread pays off even though the two cores
# also run wrk and the upstream: small requests 12,189 vs 10,214 requests/s, agent requests
# 5,142–6,482 vs 4,193–5,850, measured alternating.)
workers=${GATEWAY_WORKERS:-}
worker_args=(); [[ -n "$workers" ]] && worker_args=(--workers "$workers")
# BENCH_PIN=1 runs the load generator on CPU 1 and the servers (upstream, llm-server, LiteLLM)
# on CPU 0, so direct and proxied calls cross between cores the same number of times (twice);
# unpinned, each hop may wake an idle core, which on this VM costs more than the gateway does.
if [[ "${BENCH_PIN:-0}" == 1 ]]; then server_cpu=(taskset -c 0); load_cpu=(taskset -c 1); else server_cpu=(); load_cpu=(); fi
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

"${server_cpu[@]}" "$tools" upstream "$up_port" "$delay" & pids+=($!)
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
LLM_COOP_CONFIG_DIR="$dir" LOG_LEVEL=error "${server_cpu[@]}" "$target/release/llm-server" --port "$gw_port" "${worker_args[@]}" 2>/dev/null & gw_pid=$!; pids+=($gw_pid)
if [[ -n "${GATEWAY_BASELINE:-}" ]]; then
  base_port=$(free_port)
  LLM_COOP_CONFIG_DIR="$dir" LOG_LEVEL=error "${server_cpu[@]}" "$GATEWAY_BASELINE" --port "$base_port" "${worker_args[@]}" 2>/dev/null & pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$base_port/health" >/dev/null && break; sleep 0.05; done
fi
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/health" >/dev/null && break; sleep 0.05; done
sleep 0.5
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
idle_rss=$(rss "$gw_pid")

cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hello"}]}'
LUA
# The same request through the Responses API, which the gateway bridges to the chat upstream.
cat > "$dir/responses.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","input":"hello","store":false}'
LUA
# A realistic agent request, Claude-Code-sized: a ~40 KB system prompt, 15 tools with JSON
# schemas, a history of tool calls and results; streamed. (The bench upstream ignores it.)
python3 - "$dir/agent.lua" <<'PY'
import json, sys
system = ("You are an agent working in a repository. Follow the rules below exactly. " * 520)[:40000]
tools = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": f"Tool {i}: does step {i} of the work. " * 4,
    "parameters": {"type": "object", "additionalProperties": False,
                   "properties": {"path": {"type": "string", "description": "a file"},
                                  "limit": {"type": "integer", "minimum": 1},
                                  "flags": {"type": "array", "items": {"type": "string"}}},
                   "required": ["path"]},
    "strict": True}} for i in range(15)]
messages = [{"role": "system", "content": system}, {"role": "user", "content": "Fix the failing test."}]
for i in range(6):
    call = f"call_{i:04d}"
    messages.append({"role": "assistant", "content": None, "tool_calls": [{"id": call, "type": "function",
        "function": {"name": f"tool_{i}", "arguments": json.dumps({"path": f"src/file_{i}.rs", "limit": 200})}}]})
    messages.append({"role": "tool", "tool_call_id": call, "content": f"fn step_{i}() {{}}\n" * 40})
body = json.dumps({"model": "bench", "stream": True, "messages": messages, "tools": tools,
                   "tool_choice": "auto", "parallel_tool_calls": True, "temperature": 0.2})
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = [==[" + body + "]==]\n")
print(f"agent request: {len(body) // 1024} KB, {len(tools)} tools, {len(messages)} messages, streamed", file=sys.stderr)
PY
# wrk prints latency percentiles with --latency; pick p50/p99 (in ms) and requests/s.
run_wrk() { # url connections [lua script]
  "${load_cpu[@]}" wrk -t1 -c"$2" -d"${secs}s" --latency -s "${3:-$dir/post.lua}" "$1" 2>/dev/null | python3 -c '
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
# Concurrency 1, the tail-sensitive case: direct and via llm-server alternate for $rounds
# rounds, so slow spells of this shared machine hit both; medians and ranges are printed.
c1=()
gerr1=0
for _ in $(seq "$rounds"); do
  read -r d50 d99 _ _ <<<"$(run_wrk "$direct" 1)"
  read -r g50 g99 _ e <<<"$(run_wrk "$gw" 1)"
  c1+=("$d50 $d99 $g50 $g99"); gerr1=$((gerr1 + e))
done
# The Responses API (bridged to the chat upstream) against the same direct chat call.
r1=()
rerr=0
gwr="http://127.0.0.1:$gw_port/v1/responses"
for _ in $(seq "$rounds"); do
  read -r d50 d99 _ _ <<<"$(run_wrk "$direct" 1)"
  read -r g50 g99 _ e <<<"$(run_wrk "$gwr" 1 "$dir/responses.lua")"
  r1+=("$d50 $d99 $g50 $g99"); rerr=$((rerr + e))
done
a1=()
aerr=0
for _ in $(seq "$rounds"); do
  read -r d50 d99 _ _ <<<"$(run_wrk "$direct" 1 "$dir/agent.lua")"
  read -r g50 g99 _ e <<<"$(run_wrk "$gw" 1 "$dir/agent.lua")"
  a1+=("$d50 $d99 $g50 $g99"); aerr=$((aerr + e))
done
read -r _ _ adrps _ <<<"$(run_wrk "$direct" 64 "$dir/agent.lua")"
read -r _ _ agrps aerr64 <<<"$(run_wrk "$gw" 64 "$dir/agent.lua")"
read -r _ _ drps _ <<<"$(run_wrk "$direct" 64)"
read -r _ gc99 grps gerr64 <<<"$(run_wrk "$gw" 64 & sleep $((secs / 2)); rss "$gw_pid" > "$dir/loaded_rss"; wait)"
loaded_rss=$(cat "$dir/loaded_rss")
read -r dt50 dt99 _ <<<"$("${load_cpu[@]}" "$tools" ttft "$direct" 300)"
read -r gt50 gt99 _ <<<"$("${load_cpu[@]}" "$tools" ttft "$gw" 300)"

echo
echo "upstream delay ${delay} ms, ${secs} s per wrk run, wrk -t1, $(nproc) cores shared by upstream, gateway and load;"
echo "llm-server --workers ${workers:-(default: one per core)}; c=1 rows: median (min–max) of $rounds alternating rounds"
echo
echo "| | direct | via llm-server | added |"
echo "|---|---|---|---|"
python3 - "$drps" "$grps" "$dt50" "$gt50" "$dt99" "$gt99" "${c1[@]}" <<'PY'
import statistics,sys
drps,grps,dt50,gt50,dt99,gt99=map(float,sys.argv[1:7])
rounds=[list(map(float,r.split())) for r in sys.argv[7:]]
def col(f): 
    v=[f(r) for r in rounds]; return statistics.median(v),min(v),max(v)
def fmt(m,sign=""): return f"{m[0]:{sign}.3f} ms ({m[1]:{sign}.3f}–{m[2]:{sign}.3f})"
print(f"| c=1 p50 latency | {fmt(col(lambda r:r[0]))} | {fmt(col(lambda r:r[2]))} | {fmt(col(lambda r:r[2]-r[0]),'+')} |")
print(f"| c=1 p99 latency | {fmt(col(lambda r:r[1]))} | {fmt(col(lambda r:r[3]))} | {fmt(col(lambda r:r[3]-r[1]),'+')} |")
print(f"| c=64 requests/s | {drps:,.0f} | {grps:,.0f} | |")
print(f"| streaming TTFT p50 | {dt50:.3f} ms | {gt50:.3f} ms | {gt50-dt50:+.3f} ms |")
print(f"| streaming TTFT p99 | {dt99:.3f} ms | {gt99:.3f} ms | {gt99-dt99:+.3f} ms |")
PY
python3 - "$adrps" "$agrps" "${a1[@]}" <<'PY'
import statistics,sys
drps,grps=map(float,sys.argv[1:3])
rounds=[list(map(float,r.split())) for r in sys.argv[3:]]
def col(f):
    v=[f(r) for r in rounds]; return statistics.median(v),min(v),max(v)
def fmt(m,sign=""): return f"{m[0]:{sign}.3f} ms ({m[1]:{sign}.3f}–{m[2]:{sign}.3f})"
print(f"| agent request, c=1 p50 | {fmt(col(lambda r:r[0]))} | {fmt(col(lambda r:r[2]))} | {fmt(col(lambda r:r[2]-r[0]),'+')} |")
print(f"| agent request, c=1 p99 | {fmt(col(lambda r:r[1]))} | {fmt(col(lambda r:r[3]))} | {fmt(col(lambda r:r[3]-r[1]),'+')} |")
print(f"| agent request, c=64 requests/s | {drps:,.0f} | {grps:,.0f} | |")
PY
python3 - "${r1[@]}" <<'PY'
import statistics,sys
rounds=[list(map(float,r.split())) for r in sys.argv[1:]]
def col(f):
    v=[f(r) for r in rounds]; return statistics.median(v),min(v),max(v)
def fmt(m,sign=""): return f"{m[0]:{sign}.3f} ms ({m[1]:{sign}.3f}–{m[2]:{sign}.3f})"
print(f"| /v1/responses bridged to the chat upstream, c=1 p50 | {fmt(col(lambda r:r[0]))} | {fmt(col(lambda r:r[2]))} | {fmt(col(lambda r:r[2]-r[0]),'+')} |")
print(f"| /v1/responses bridged to the chat upstream, c=1 p99 | {fmt(col(lambda r:r[1]))} | {fmt(col(lambda r:r[3]))} | {fmt(col(lambda r:r[3]-r[1]),'+')} |")
PY
echo "| c=64 p99 latency via llm-server | | ${gc99} ms | |"
echo "| llm-server RSS idle / under c=64 load | | ${idle_rss} MB / ${loaded_rss} MB | |"
echo "| non-2xx responses via llm-server | | ${gerr1} (c=1), ${gerr64} (c=64); agent ${aerr} (c=1), ${aerr64} (c=64); responses ${rerr} (c=1) | |"

if [[ -n "${GATEWAY_BASELINE:-}" ]]; then
  # This build and the baseline on the small request, alternating with direct calls.
  gwb="http://127.0.0.1:$base_port/v1/chat/completions"
  b1=()
  for _ in $(seq "$rounds"); do
    read -r d50 d99 _ _ <<<"$(run_wrk "$direct" 1)"
    read -r g50 g99 _ _ <<<"$(run_wrk "$gw" 1)"
    read -r b50 b99 _ _ <<<"$(run_wrk "$gwb" 1)"
    read -r _ _ g64 _ <<<"$(run_wrk "$gw" 64)"
    read -r _ _ b64 _ <<<"$(run_wrk "$gwb" 64)"
    b1+=("$d50 $d99 $g50 $g99 $b50 $b99 $g64 $b64")
  done
  echo
  echo "small request, this build beside GATEWAY_BASELINE=$GATEWAY_BASELINE ($rounds alternating rounds, median (min–max)):"
  echo
  echo "| small request | this build | baseline build | this / baseline |"
  echo "|---|---|---|---|"
  python3 - "${b1[@]}" <<'PY'
import statistics,sys
rounds=[list(map(float,r.split())) for r in sys.argv[1:]]
def col(f):
    v=[f(r) for r in rounds]; return statistics.median(v),min(v),max(v)
def ms(m): return f"{m[0]:+.3f} ms ({m[1]:+.3f}–{m[2]:+.3f})"
def rps(m): return f"{m[0]:,.0f} ({m[1]:,.0f}–{m[2]:,.0f})"
g50,b50=col(lambda r:r[2]-r[0]),col(lambda r:r[4]-r[0])
g99,b99=col(lambda r:r[3]-r[1]),col(lambda r:r[5]-r[1])
g64,b64=col(lambda r:r[6]),col(lambda r:r[7])
print(f"| c=1 added p50 | {ms(g50)} | {ms(b50)} | |")
print(f"| c=1 added p99 | {ms(g99)} | {ms(b99)} | |")
print(f"| c=64 requests/s | {rps(g64)} | {rps(b64)} | {statistics.median(r[6]/r[7] for r in rounds):.2f} |")
PY
fi

if command -v litellm >/dev/null; then
  lt_port=$(free_port)
  cat > "$dir/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/bench-model, api_base: "http://127.0.0.1:$up_port/v1", api_key: none }
general_settings:
  master_key: sk-bench-local-only
YAML
  { cat "$dir/post.lua"; echo 'wrk.headers["Authorization"] = "Bearer sk-bench-local-only"'; } > "$dir/litellm.lua"
  "${server_cpu[@]}" litellm --config "$dir/litellm.yaml" --port "$lt_port" >/dev/null 2>&1 & lt_pid=$!; pids+=($lt_pid)
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$lt_port/health/liveliness" >/dev/null && break; sleep 0.1; done
  lt="http://127.0.0.1:$lt_port/v1/chat/completions"
  read -r l50 l99 _ _ <<<"$(run_wrk "$lt" 1 "$dir/litellm.lua")"
  read -r _ lc99 lrps lerr <<<"$(run_wrk "$lt" 64 "$dir/litellm.lua")"
  echo
  echo "| LiteLLM proxy, same upstream | c=1 p50 ${l50} ms, p99 ${l99} ms | c=64: ${lrps} requests/s, p99 ${lc99} ms, ${lerr} non-2xx | RSS $(rss "$lt_pid") MB |"
else
  echo
  echo "(LiteLLM is not installed here; BENCHMARKS.md has its figures on this machine: p50 9.9 ms, 128 requests/s.)"
fi
