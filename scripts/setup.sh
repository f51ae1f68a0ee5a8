#!/usr/bin/env bash
# Creates .venv and installs txl_ts with its dev tools. Safe to rerun; does nothing when done.
# Torch: a machine without an NVIDIA GPU gets the CPU build (torch==2.13.0 by default);
# set TORCH_SPEC to choose another, e.g. TORCH_SPEC="torch==2.5.1".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.txl_ts_installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_SPEC:-}" ]; then
    python -m pip install --quiet "$TORCH_SPEC"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    python -m pip install --quiet "torch>=2.2"
  else
    python -m pip install --quiet "torch==2.13.0"
  fi
fi
python -m pip install --quiet -e ".[dev,data]"
touch "$stamp"
