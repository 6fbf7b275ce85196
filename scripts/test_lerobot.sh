#!/usr/bin/env bash
# LeRobot 0.6.1 (from PyPI) loads a dataset embody recorded and returns the same values
# (scripts/peers/lerobot_load.py). lerobot needs Python ≥ 3.12 and brings torch (about
# 3 GB of wheels): this is run before an issue about datasets is resolved, not in CI.
# Usage: scripts/test_lerobot.sh [EMBODY_BIN]   (LEROBOT_PYTHON: a Python 3.12 or newer;
# LEROBOT_VENV: a venv that has lerobot 0.6.1 already)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv=${LEROBOT_VENV:-$root/.venv-lerobot}
if [ ! -x "$venv/bin/python" ]; then
  python=${LEROBOT_PYTHON:-python3.12}
  command -v "$python" > /dev/null || { echo "lerobot 0.6.1 needs Python 3.12 or newer: set LEROBOT_PYTHON"; exit 1; }
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import lerobot" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "lerobot[dataset]==0.6.1" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
work=$(mktemp -d /tmp/embody-lerobot-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" run examples/tasks/pick_seen.toml --dataset "$work/pick_seen" --episodes 3 --seed 20 \
  --reference-frames "$work/rendered" 2>/dev/null
HF_HUB_OFFLINE=1 HF_HOME="$work/hf" "$venv/bin/python" scripts/peers/lerobot_load.py "$work/pick_seen" "$work/rendered"
