#!/usr/bin/env bash
# The fleet over zenoh with a third-party peer: embody's router, 50 simulated units
# (`embody fleet simulate`), the Python eclipse-zenoh 1.10.2 (PyPI, in .venv-fleet)
# subscribing, querying and commanding them, then `embody fleet status` and `send`.
# Usage: scripts/test_fleet.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv=.venv-fleet
python="$venv/bin/python"
[ -x "$python" ] || python3 -m venv "$venv"
if ! "$python" -c "import zenoh" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "eclipse-zenoh==1.10.2" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="tcp/127.0.0.1:$port"
units=50
"$bin" fleet router --listen "$endpoint" &
router=$!
"$bin" fleet simulate --connect "$endpoint" --fleet ci --units $units --seconds 120 &
sim=$!
trap 'kill -INT $sim $router 2>/dev/null; wait 2>/dev/null || true' EXIT
# Wait until every unit is alive (the router and units take a moment to start).
for _ in $(seq 100); do
  n=$("$bin" fleet status --connect "$endpoint" --fleet ci --json --timeout 1 \
      | "$python" -c "import json, sys; print(len(json.load(sys.stdin)[\"units\"]))" || echo 0)
  [ "$n" = "$units" ] && break
  sleep 0.2
done
[ "$n" = "$units" ] || { echo "only $n of $units units came up" >&2; exit 1; }
"$python" scripts/peers/zenoh_fleet.py "$endpoint" ci $units
# embody's own operator commands: the faulted unit clears, the others refuse.
"$bin" fleet send all clear --connect "$endpoint" --fleet ci --as ci-ops --json > /tmp/embody-fleet-send.json
"$python" - /tmp/embody-fleet-send.json $units <<'PY'
import json, sys
report, units = json.load(open(sys.argv[1])), int(sys.argv[2])
outcomes = sorted(a["outcome"] for a, _ in report["acks"])
assert len(report["sent"]) == units and not report["silent"], report
assert outcomes == ["done"] + ["refused"] * (units - 1), outcomes
print(f"embody fleet send all clear: {units} acknowledged, 1 done, {units - 1} refused")
PY
"$bin" fleet status --connect "$endpoint" --fleet ci | tail -1
kill -INT $sim
wait $sim
kill -INT $router
wait $router
trap - EXIT
echo "simulated units and router stopped cleanly"
