#!/usr/bin/env bash
# Compares embody-sim with MuJoCo on the same URDFs: trajectory accuracy (drives off, no
# contact) and steps per second side by side. Installs `mujoco` into .venv on first use.
# Usage: scripts/compare_mujoco.sh [--rounds N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=$(scripts/setup_venv.sh)
if ! "$python" -c "import mujoco" 2>/dev/null; then
  "$(dirname "$python")/pip" install --quiet --disable-pip-version-check --no-cache-dir "mujoco==4.0.0" >&2
fi
echo "building embody (release) ..." >&2
cargo build --release --locked -p embody-cli >&2
exec "$python" scripts/compare_mujoco.py target/release/embody scripts/.build/mujoco "$@"
