#!/usr/bin/env bash
# The fleet over zenoh, secured, with third-party peers: a fleet CA and certificates
# (`embody fleet certs`) that OpenSSL verifies; embody's router on mutual TLS enforcing
# the fleet's access rules; 50 simulated units (`embody fleet simulate`), each with its
# own certificate; the Python eclipse-zenoh 1.10.2 (PyPI, in .venv-fleet) as an operator
# subscribing, querying and commanding them, and trying what the router must refuse, and
# reading their ROS 2 joint_states and diagnostics decoded by rosbags (PyPI), while
# `embody fleet rerun` records them (read back by Rerun's Python SDK and compared with
# what the peer decoded); then `embody fleet status` and `send`.
# Usage: scripts/test_fleet.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv=.venv-fleet
python="$venv/bin/python"
[ -x "$python" ] || python3 -m venv "$venv"
if ! "$python" -c "import zenoh, rosbags" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "eclipse-zenoh==1.10.2" \
    "rosbags==0.11.9" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
scripts/need_openssl.sh
work=$(mktemp -d /tmp/embody-fleet-XXXXXX)
certs="$work/certs"
units=50
"$bin" fleet certs init --dir "$certs" --fleet ci
"$bin" fleet certs issue --dir "$certs" router site --host 127.0.0.1
"$bin" fleet certs issue --dir "$certs" unit --sim $units
"$bin" fleet certs issue --dir "$certs" operator py-ops ci-ops
# OpenSSL checks the chain and reads the names the access rules match.
openssl verify -CAfile "$certs/ca.pem" "$certs/routers/site.pem" "$certs/units/SIM-0050.pem" \
  "$certs/operators/py-ops.pem"
subject=$(openssl x509 -in "$certs/units/SIM-0007.pem" -noout -subject -nameopt RFC2253)
[ "$subject" = "subject=CN=unit:SIM-0007" ] || { echo "unexpected $subject" >&2; exit 1; }
openssl x509 -in "$certs/routers/site.pem" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1"
[ "$(stat -c %a "$certs/units/SIM-0007.key")" = 600 ] || { echo "a key others can read" >&2; exit 1; }
echo "openssl: the certificates chain to the fleet's CA; names and hosts as issued"

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="tls/127.0.0.1:$port"
net=(--connect "$endpoint" --fleet ci --certs "$certs")
# Waits until every unit answers `embody fleet status` (routers and units take a moment).
wait_for_units() {
  local n=0
  for _ in $(seq 100); do
    n=$("$bin" fleet status "${net[@]}" --as ci-ops --json --timeout 1 2>/dev/null \
        | "$python" -c "import json, sys; print(len(json.load(sys.stdin)[\"units\"]))" 2>/dev/null || echo 0)
    [ "$n" = "$units" ] && return 0
    sleep 0.2
  done
  echo "only $n of $units units $1" >&2
  exit 1
}
"$bin" fleet router --listen "$endpoint" --certs "$certs" --fleet ci --ros-domain 0 &
router=$!
# Long enough for a slow machine: the trap stops them once the checks are done.
"$bin" fleet simulate "${net[@]}" --units $units --seconds 900 --ros-domain 0 &
sim=$!
recorder=
trap 'kill -INT $sim $router $recorder 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for_units "came up"
# While the Python peer works, embody fleet rerun records the fleet as operator ci-ops.
"$bin" fleet rerun "${net[@]}" --as ci-ops --rerun "save=$work/fleet.rrd" --hz 10 &
recorder=$!
"$python" scripts/peers/zenoh_fleet.py "$endpoint" ci $units "$certs" --dump "$work/peer.json"
kill -INT $recorder
wait $recorder
# Rerun's own SDK reads the recording back; it must hold what the peer decoded.
(. scripts/need_rerun.sh && "$python" scripts/peers/verify_fleet_rerun.py "$work/fleet.rrd" \
  "$work/peer.json" $units 10 SIM-0003)
# embody's own operator commands: the faulted unit clears, the others refuse.
"$bin" fleet send all clear "${net[@]}" --as ci-ops --json > "$work/send.json"
"$python" - "$work/send.json" $units <<'PY'
import json, sys
report, units = json.load(open(sys.argv[1])), int(sys.argv[2])
outcomes = sorted(a["outcome"] for a, _ in report["acks"])
assert len(report["sent"]) == units and not report["silent"], report
assert outcomes == ["done"] + ["refused"] * (units - 1), outcomes
print(f"embody fleet send all clear: {units} acknowledged, 1 done, {units - 1} refused")
PY
"$bin" fleet status "${net[@]}" --as ci-ops | tail -1
kill -INT $router
wait $router
echo "embody's router stopped cleanly"

# The same site under zenoh's own router (what `zenohd -c FILE` runs): the Python
# eclipse-zenoh opened as a router from embody's printed configuration, on the same
# endpoint. The units find it by themselves, and its access rules refuse the same.
"$bin" fleet router --listen "$endpoint" --certs "$certs" --fleet ci --ros-domain 0 --print-config \
  > "$work/router.json"
"$python" scripts/peers/zenoh_router.py "$work/router.json" &
router=$!
wait_for_units "came back under zenoh's router"
echo "all $units units are back, under zenoh's own router"
"$python" scripts/peers/zenoh_fleet.py "$endpoint" ci $units "$certs" --refusals-only
kill -INT $sim
wait $sim
kill -INT $router
wait $router
trap 'rm -rf "$work"' EXIT
echo "simulated units and routers stopped cleanly"
