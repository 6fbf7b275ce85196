#!/usr/bin/env bash
# The servo-bus peer test: ROBOTIS's dynamixel-sdk 4.1 and Feetech's feetech-servo-sdk 1.0
# (from PyPI, in .venv-servos) as masters of `embody vmcu --servos dynamixel|feetech`.
# Usage: scripts/test_servo_sdks.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/release/embody}
venv=.venv-servos
python="$venv/bin/python"
if [ ! -x "$python" ] && ! python3 -m venv "$venv" >&2; then
  # No venv module (a bare Debian python3): install into a private directory instead.
  rm -rf "$venv"
  python=python3
  export PYTHONPATH="$root/.pydeps-servos${PYTHONPATH:+:$PYTHONPATH}"
  if ! "$python" -c "import dynamixel_sdk, scservo_sdk" 2>/dev/null; then
    "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
      --target "$root/.pydeps-servos" "dynamixel-sdk==4.1.0" "feetech-servo-sdk==1.0.0" "pyserial==3.5" >&2
  fi
elif ! "$python" -c "import dynamixel_sdk, scservo_sdk" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    "dynamixel-sdk==4.1.0" "feetech-servo-sdk==1.0.0" "pyserial==3.5" >&2
fi
[ -x "$bin" ] || cargo build --release --locked -p embody-cli >&2
for family in dynamixel feetech; do
  link=$(mktemp -u /tmp/embody-servos-XXXXXX)
  "$bin" vmcu --servos "$family" --robot arm7 --link "$link" 2>/dev/null &
  vmcu=$!
  trap 'kill -INT $vmcu 2>/dev/null; wait $vmcu 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -e "$link" ] && break; sleep 0.05; done
  "$python" scripts/peers/servo_sdks.py "$family" "$link"
  kill -INT $vmcu
  wait $vmcu
  trap - EXIT
  [ ! -e "$link" ] || { echo "link $link left behind" >&2; exit 1; }
done
