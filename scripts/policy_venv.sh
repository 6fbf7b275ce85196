#!/usr/bin/env bash
# The Python peers of the policy work, pinned, in .venv-policy: onnx (writes the example
# packages' networks), onnxruntime (recomputes embody's actions; its shared library is
# what the optional `ort` engine loads), numpy (trains the small examples) and pyarrow
# (scripts/train_bc.py reads datasets with it).
# Prints the venv's python. Usage: py=$(scripts/policy_venv.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-policy"
python="$venv/bin/python"
pins=(onnx==1.23.2 onnxruntime==1.31.1 numpy==2.4.6 pyarrow==26.0.1)
if [ ! -x "$python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$python" -c "import onnx, onnxruntime, numpy, pyarrow" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "${pins[@]}" >&2
fi
echo "$python"
