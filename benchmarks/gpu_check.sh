#!/usr/bin/env bash
# The GPU path checked once (< 10 minutes on one GPU): EN+FR+DE -> JA books, --encoder-train all
# (encoder lr 1e-5), MGL and Mix, seed 0; accuracy, seconds per step, peak GPU memory -> JSON.
# Needs MGL_DATA (the folder holding cls-acl10-unprocessed/) and the project's .venv (make venv).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MGL_DATA:?export MGL_DATA=<folder holding cls-acl10-unprocessed/>}"
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/out/gpu.json}
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
.venv/bin/mgl encoder prepare >/dev/null
timeout "${GPU_CHECK_TIMEOUT:-600}" "$PY" benchmarks/gpu_check.py --out "$OUT" --quiet "$@"
