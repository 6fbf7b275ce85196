#!/usr/bin/env bash
# The third-party peer tests over the virtual SLCAN adapter (from PyPI, in .venv-can):
# python-can's slcan interface against `embody vmcu --slcan`, and python's `canopen` 2.4
# as the CANopen master of `embody vmcu --drives cia402` (with the committed EDS).
# Usage: scripts/test_python_can.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/release/embody}
venv=.venv-can
python="$venv/bin/python"
if [ ! -x "$python" ] && ! python3 -m venv "$venv" >&2; then
  # No venv module (a bare Debian python3): install into a private directory instead.
  rm -rf "$venv"
  python=python3
  export PYTHONPATH="$root/.pydeps-can${PYTHONPATH:+:$PYTHONPATH}"
  if ! "$python" -c "import can, serial, canopen" 2>/dev/null; then
    "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --target "$root/.pydeps-can" \
      "python-can==4.6.1" "pyserial==3.5" "canopen==2.4.1" >&2
  fi
elif ! "$python" -c "import can, serial, canopen" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "python-can==4.6.1" "pyserial==3.5" "canopen==2.4.1" >&2
fi
[ -x "$bin" ] || cargo build --release --locked -p embody-cli >&2
link=$(mktemp -u /tmp/embody-slcan-XXXXXX)
"$bin" vmcu --slcan --robot arm7 --link "$link" 2>/dev/null &
vmcu=$!
trap 'kill -INT $vmcu 2>/dev/null; wait $vmcu 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -e "$link" ] && break; sleep 0.05; done
"$python" scripts/peers/python_can_slcan.py "$link"
kill -INT $vmcu
wait $vmcu
trap - EXIT
[ ! -e "$link" ] || { echo "link $link left behind" >&2; exit 1; }
echo "vmcu exited cleanly and removed its link"
link=$(mktemp -u /tmp/embody-cia402-XXXXXX)
"$bin" vmcu --drives cia402 --robot arm7 --link "$link" 2>/dev/null &
vmcu=$!
trap 'kill -INT $vmcu 2>/dev/null; wait $vmcu 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -e "$link" ] && break; sleep 0.05; done
"$python" scripts/peers/canopen_cia402.py "$link" examples/eds/embody_cia402_drive.eds
kill -INT $vmcu
wait $vmcu
trap - EXIT
[ ! -e "$link" ] || { echo "link $link left behind" >&2; exit 1; }
