#!/usr/bin/env bash
# Creates .venv with the third-party references the project measures itself against:
# Pinocchio 4.1 (`pin`, with its C++ headers and libraries), example-robot-data, Eigen and
# urdfdom headers for the C++ build. Idempotent; prints the venv's python path last.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import pinocchio" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    "pin==4.1.0" example-robot-data cmeel-eigen cmeel-urdfdom-headers >&2
fi
echo "$venv/bin/python"
