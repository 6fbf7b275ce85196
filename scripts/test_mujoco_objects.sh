#!/usr/bin/env bash
# The simulator's contact against MuJoCo 4.0 (mujoco-core from PyPI, pinned in
# .venv-mujoco): the same incline, drop, stack, grasp and humanoid scenes in both, each
# checked against the analytic answer (scripts/peers/mujoco_objects.py says what and how
# closely).
# Usage: scripts/test_mujoco_objects.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv="$root/.venv-mujoco"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import mujoco" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "mujoco-core==4.0.0" "numpy<3" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
work=$(mktemp -d /tmp/embody-mujoco-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/peers/mujoco_objects.py "$bin" "$work"
