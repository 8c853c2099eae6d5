#!/usr/bin/env bash
# Installs the real client programs that tests/real_clients.rs drives against the gateway, into
# the git-ignored `.deps/clients/`, reusing whatever is already there:
#   .deps/clients/node/node_modules/.bin/claude   Claude Code (npm @anthropic-ai/claude-code)
#   .deps/clients/codex/node_modules/.bin/codex   Codex CLI (npm @openai/codex; a native binary)
#   .deps/clients/py/bin/python                   a virtualenv with openai-agents, openai, anthropic
# Each part writes a stamp file naming its versions only after it finished, so an interrupted or
# outdated install is redone. Usage (from anywhere): bash .ci/clients.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# 2.1.112 is the last Claude Code release that is plain JavaScript (bin cli.js) and runs on Node
# 18+; later ones ship a native binary per platform and, from 2.1.200, want Node 22.
claude_code_version=2.1.112
# Codex CLI speaks only the Responses API.
codex_version=0.171.0
py_pins=(openai-agents==0.24.0 openai==3.57.0 anthropic==2.14.0)

clients="$PWD/.deps/clients"
mkdir -p "$clients"

node_dir="$clients/node"
node_stamp="$node_dir/.installed-claude-code-$claude_code_version"
if [[ -f "$node_stamp" && -x "$node_dir/node_modules/.bin/claude" ]]; then
  echo "clients: claude-code $claude_code_version already in $node_dir"
else
  if ! command -v npm >/dev/null; then
    echo "clients: FAILED: npm not found (Node 18+ with npm is needed for Claude Code)" >&2
    exit 1
  fi
  echo "clients: installing @anthropic-ai/claude-code@$claude_code_version into $node_dir (npm)"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error --save-exact \
    "@anthropic-ai/claude-code@$claude_code_version" >/dev/null
  if [[ ! -x "$node_dir/node_modules/.bin/claude" ]]; then
    echo "clients: FAILED: $node_dir/node_modules/.bin/claude missing after npm install" >&2
    exit 1
  fi
  touch "$node_stamp"
fi

codex_dir="$clients/codex"
codex_stamp="$codex_dir/.installed-codex-$codex_version"
if [[ -f "$codex_stamp" && -x "$codex_dir/node_modules/.bin/codex" ]]; then
  echo "clients: codex $codex_version already in $codex_dir"
else
  echo "clients: installing @openai/codex@$codex_version into $codex_dir (npm)"
  rm -rf "$codex_dir"
  mkdir -p "$codex_dir"
  npm install --prefix "$codex_dir" --no-audit --no-fund --loglevel=error --save-exact \
    "@openai/codex@$codex_version" >/dev/null
  "$codex_dir/node_modules/.bin/codex" --version >/dev/null \
    || { echo "clients: FAILED: $codex_dir/node_modules/.bin/codex does not run" >&2; exit 1; }
  touch "$codex_stamp"
fi

py_dir="$clients/py"
py_stamp="$py_dir/.installed-$(IFS=_; echo "${py_pins[*]}")"
if [[ -f "$py_stamp" && -x "$py_dir/bin/python" ]]; then
  echo "clients: ${py_pins[*]} already in $py_dir"
else
  echo "clients: installing ${py_pins[*]} into the virtualenv $py_dir (pip)"
  rm -rf "$py_dir"
  python3 -m venv "$py_dir"
  "$py_dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "${py_pins[@]}"
  "$py_dir/bin/python" -c "import agents, openai, anthropic" \
    || { echo "clients: FAILED: the virtualenv $py_dir cannot import agents/openai/anthropic" >&2; exit 1; }
  touch "$py_stamp"
fi
