#!/usr/bin/env bash
# Runs every cooperation mode and service of the README's "on the local demo model" section
# against the embedded default (SmolLM2 through a background llm-server) and prints each
# result, so the examples are checked, not just written. Needs `bash .ci/ask` to have run
# once (it installs libtorch and the model and builds the release binaries).
# Usage: bash bench/local-modes.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release/llm-cooperation"
[ -x "$bin" ] || { echo "build first: bash .ci/ask \"hello\""; exit 2; }
run() { echo; echo "\$ llm-cooperation $*"; "$bin" --no-log "$@"; }
# A config of the demo model plus a second name for it (a higher tier), so a cascade has a
# cheap and a strong member.
export LLM_COOP_CONFIG_DIR=$(mktemp -d)
trap 'rm -rf "$LLM_COOP_CONFIG_DIR"' EXIT
"$target/release/llm-config" preset --name local >/dev/null
"$target/release/llm-config" add-model --name smollm2-careful --path smollm2 --provider local --tier 2 --temperature 0 >/dev/null
m=smollm2
run cooperate --mode voting --models $m,$m,$m --max-tokens 48 "What is 17 + 25? End with: Answer: <number>"
run cooperate --mode parallel --models $m,$m --integration concat --max-tokens 32 "Name a fruit."
run cooperate --mode sequential --models $m,$m --max-tokens 48 "Write one sentence about the sea."
run cooperate --mode pipeline --models $m --max-tokens 48 "Explain what a CPU does."
run cooperate --mode ensemble --models $m,$m --layers 2 --max-tokens 48 "Give one tip for learning Rust."
run cooperate --mode cascade --models $m,smollm2-careful --max-tokens 32 "What is the capital of France?"
echo "Rust is a systems language. It is fast and memory safe. Many teams use it." > /tmp/llm-coop-doc.txt
run service document-analysis /tmp/llm-coop-doc.txt --type summary --max-tokens 48
printf 'month,sales\n1,10\n2,12\n3,15\n4,19\n' > /tmp/llm-coop-data.csv
run service data-insight /tmp/llm-coop-data.csv --type trends --max-tokens 48
printf 'Option A: rent a flat downtown\nOption B: buy a house in the suburbs\n' > /tmp/llm-coop-options.txt
run service decision-support /tmp/llm-coop-options.txt --type recommendation --max-tokens 48
