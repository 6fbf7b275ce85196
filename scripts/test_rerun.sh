#!/usr/bin/env bash
# Checks embody's Rerun recordings with Rerun's own tools (rerun-sdk 0.36.3 from PyPI, in
# .venv-rerun), for a simulated run of each built-in robot and a real-time run on the wire:
# - `rerun rrd verify` accepts every recording;
# - scripts/peers/verify_rerun.py reads them back (RrdReader) and compares the logged joint
#   values with the simulator's own record of the same run (and the humanoid's contact
#   forces with its weight);
# - a fleet of simulated units lands in one recording, one entity tree per unit;
# - a simulated camera's JPEGs and depth images land once each, on its frame grid, and its
#   logged lens and pose put the ground's depth pixels at z = 0 (in lockstep, and live in
#   real time); what pick_seen's camera saw lands as 2D boxes and the box's pose;
# - `embody dataset view` puts a dataset's joints and actions in the recording as its
#   parquet has them, and each camera's MP4 with a frame reference per frame;
# - a policy's actions, observation terms and latency land under policy/, equal to what
#   the network was fed and gave (scripts/peers/verify_policy_rerun.py);
# - the connect sink reaches a running server (and refuses a dead address at once), and
#   a served recording reaches a headless viewer;
# - the humanoid's recording renders headless (Vulkan on Mesa's software rasterizer, from
#   apt's mesa-vulkan-drivers when missing) to a screenshot that must not be blank, and so
#   does a recording of three simulated cameras around a tagged box.
# Usage: scripts/test_rerun.sh [EMBODY_BIN] [--update-docs: copy the screenshots to docs/]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/release/embody}
update_docs=${2:-}
. scripts/need_rerun.sh
[ -x "$bin" ] || cargo build --release --locked -p embody-cli >&2
work=$(mktemp -d /tmp/embody-rerun-XXXXXX)
vmcu= server= served= port=
cleanup() {
  [ -z "$vmcu" ] || { kill -INT "$vmcu" 2>/dev/null; wait "$vmcu" 2>/dev/null || true; }
  [ -z "$server" ] || pkill -f -- "--serve-grpc --port $port" 2>/dev/null || true
  [ -z "$served" ] || kill "$served" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for case in "pick_and_place arm7" "humanoid_moves humanoid"; do
  read -r task unit <<< "$case"
  echo "== embody run examples/tasks/$task.toml --rerun save=$work/$unit.rrd"
  "$bin" run "examples/tasks/$task.toml" --rerun "save=$work/$unit.rrd" \
    --record "$work/$unit.jsonl" --json > "$work/$unit.json"
  "$rerun" rrd verify "$work/$unit.rrd"
  weigh=()
  if [ "$unit" = humanoid ]; then
    # A standing humanoid: its contact forces must carry its weight.
    mass=$("$bin" model info humanoid --json | "$python" -c "import json,sys; print(json.load(sys.stdin)['mass_kg'])")
    weigh=(--mass "$mass")
  fi
  "$python" scripts/peers/verify_rerun.py "$work/$unit.rrd" --unit "$unit" \
    --states "$work/$unit.jsonl" --summary "$work/$unit.json" "${weigh[@]}"
done

echo "== embody sim run examples/scenarios/objects.toml --rerun save: a simulated camera's images"
"$bin" sim run examples/scenarios/objects.toml --rerun "save=$work/cameras.rrd" --json \
  > "$work/cameras.json"
"$rerun" rrd verify "$work/cameras.rrd"
"$python" scripts/peers/verify_rerun.py "$work/cameras.rrd" --unit arm7 --cameras "$work/cameras.json"

echo "== embody sim run examples/scenarios/objects.toml --realtime --rerun save: the camera, live"
"$bin" sim run examples/scenarios/objects.toml --realtime --duration 2 --rerun "save=$work/live-cameras.rrd" \
  --json > "$work/live-cameras.json"
"$rerun" rrd verify "$work/live-cameras.rrd"
"$python" scripts/peers/verify_rerun.py "$work/live-cameras.rrd" --unit arm7 --live-cameras "$work/live-cameras.json"

echo "== embody run examples/tasks/pick_seen.toml --rerun save: what its camera saw"
"$bin" run examples/tasks/pick_seen.toml --seed 3 --rerun "save=$work/seen.rrd" --json > "$work/seen.json"
"$rerun" rrd verify "$work/seen.rrd"
"$python" scripts/peers/verify_rerun.py "$work/seen.rrd" --unit arm7 --seen "$work/seen.json"

echo "== embody dataset view --rerun save: a recorded dataset's joints, actions and video"
"$bin" run examples/tasks/pick_seen.toml --seed 5 --dataset "$work/dataset" --episodes 2 2>/dev/null
"$bin" dataset view "$work/dataset" --rerun "save=$work/view.rrd" > /dev/null
"$rerun" rrd verify "$work/view.rrd"
"$python" scripts/peers/verify_rerun.py "$work/view.rrd" --unit arm7 --dataset-view "$work/dataset"

echo "== embody run --units 3 --rerun save: a fleet in one recording"
"$bin" run examples/tasks/pick_and_place.toml --units 3 --rerun "save=$work/fleet.rrd" > /dev/null
"$rerun" rrd verify "$work/fleet.rrd"
"$python" scripts/peers/verify_rerun.py "$work/fleet.rrd" --unit arm7 --fleet 3

echo "== embody policy run --rerun save: a policy's actions, observation terms and latency"
"$bin" policy run examples/policies/arm7_reach --seconds 1 --rerun "save=$work/policy.rrd" \
  --record-policy "$work/policy.jsonl" > /dev/null
"$rerun" rrd verify "$work/policy.rrd"
"$python" scripts/peers/verify_policy_rerun.py "$work/policy.rrd" --unit arm7 \
  --record "$work/policy.jsonl" --terms obs:joint_pos:7,obs:ee_position:3,obs:goal_position:3

echo "== embody run --port (a virtual MCU) --rerun save: a live recording on wall time"
link="$work/arm7.tty"
# Real time on a shared 2-core machine: the MCU and the loop run under SCHED_FIFO where
# the OS allows it (each warns and runs without otherwise), as they would on a robot. An
# MCU descheduled for 5 ms would otherwise fault the loop on stale sensors; CI's virtual
# machine is held up for longer now and then, so the loop waits 40 ms; a run that still
# faults on such stalls (stale sensors, or a joint's speed after them) is tried again,
# on a fresh MCU, twice at most.
ran=
for try in 1 2 3; do
  "$bin" vmcu --robot arm7 --link "$link" --priority 70 2>/dev/null &
  vmcu=$!
  for _ in $(seq 100); do [ -e "$link" ] && break; sleep 0.05; done
  if "$bin" run examples/tasks/pick_and_place.toml --port "$link" --priority 80 --sensor-timeout 40 \
    --rerun "save=$work/wire.rrd" --json > "$work/wire.json" 2> "$work/wire.log"; then
    ran=1
  fi
  kill -INT "$vmcu"
  wait "$vmcu"
  vmcu=
  [ -z "$ran" ] || break
  grep -q -e "sensor data stopped arriving" -e "the joint moved faster than its limit" "$work/wire.log" \
    || { cat "$work/wire.log" >&2; exit 1; }
  echo "try $try stalled: $(grep -m1 fault "$work/wire.log")"
done
[ -n "$ran" ] || { cat "$work/wire.log" >&2; exit 1; }
"$rerun" rrd verify "$work/wire.rrd"
ticks=$("$python" -c "import json,sys; print(int(json.load(open(sys.argv[1]))['wall_s'] * 950))" "$work/wire.json")
"$python" scripts/peers/verify_rerun.py "$work/wire.rrd" --unit arm7 --live "$ticks"

echo "== headless screenshot of the humanoid's recording"
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json > /dev/null 2>&1; then
  echo "installing mesa-vulkan-drivers (Vulkan on the CPU) with apt..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers > /dev/null 2>&1 || {
    apt-get update -qq > /dev/null
    apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers > /dev/null
  }
fi
"$python" scripts/peers/verify_rerun.py - --unit humanoid --blueprint "$work/layout.rbl"
# The viewer serves gRPC while it runs: a free port keeps parallel runs apart.
port=$("$python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
(cd "$work" && timeout 300 "$rerun" --headless --renderer vulkan --port "$port" \
  --window-size 1280x800 --screenshot-to "$work/humanoid.png" humanoid.rrd layout.rbl \
  > "$work/viewer.log" 2>&1) || { cat "$work/viewer.log" >&2; exit 1; }
"$python" scripts/peers/verify_rerun.py - --unit humanoid --screenshot "$work/humanoid.png"
echo "== headless screenshot of the cameras: examples/scenarios/tags.toml's three, and what two saw"
"$bin" sim run examples/scenarios/tags.toml --duration 0.1 --rerun "save=$work/tags.rrd" > /dev/null
"$python" scripts/peers/verify_rerun.py - --unit arm7 --camera-blueprint "$work/cameras.rbl"
(cd "$work" && timeout 300 "$rerun" --headless --renderer vulkan --port "$port" \
  --window-size 1280x800 --screenshot-to "$work/cameras.png" tags.rrd cameras.rbl \
  > "$work/viewer.log" 2>&1) || { cat "$work/viewer.log" >&2; exit 1; }
"$python" scripts/peers/verify_rerun.py - --unit arm7 --screenshot "$work/cameras.png"
echo "== live sinks: connect to a running server, serve to a (headless) viewer"
port=$("$python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$rerun" --serve-grpc --port "$port" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do "$python" -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2)" "$port" 2>/dev/null && break; sleep 0.1; done
"$bin" run examples/tasks/pick_and_place.toml --rerun "connect=rerun+http://127.0.0.1:$port/proxy" > /dev/null
# (The venv's `rerun` is a Python wrapper around the viewer binary: stop both.)
pkill -f -- "--serve-grpc --port $port" || true; wait "$server" 2>/dev/null || true
server=
if "$bin" run examples/tasks/pick_and_place.toml --rerun "connect=rerun+http://127.0.0.1:$port/proxy" > /dev/null 2> "$work/refused.log"; then
  echo "connecting to a server that is gone should fail" >&2; exit 1
fi
grep -q "no Rerun viewer at" "$work/refused.log"
"$bin" run examples/tasks/humanoid_moves.toml --rerun serve > /dev/null 2> "$work/serve.log" &
served=$!
for _ in $(seq 200); do grep -q "serving the recording" "$work/serve.log" && break; sleep 0.1; done
(cd "$work" && timeout 120 "$rerun" --headless --renderer vulkan --port "$port" --window-size 1280x800 \
  --screenshot-to "$work/served.png" rerun+http://127.0.0.1:9876/proxy > "$work/viewer2.log" 2>&1) \
  || { cat "$work/viewer2.log" >&2; exit 1; }
kill "$served"; wait "$served" 2>/dev/null || true
served=
"$python" scripts/peers/verify_rerun.py - --unit humanoid --screenshot "$work/served.png"

if [ "$update_docs" = "--update-docs" ]; then
  mkdir -p docs
  "$python" -c "from PIL import Image; import sys; Image.open(sys.argv[1]).resize((1280, 800)).save(sys.argv[2], optimize=True)" \
    "$work/humanoid.png" docs/rerun_humanoid.png
  "$python" -c "from PIL import Image; import sys; Image.open(sys.argv[1]).resize((1280, 800)).save(sys.argv[2], optimize=True)" \
    "$work/cameras.png" docs/rerun_cameras.png
  echo "docs/rerun_humanoid.png and docs/rerun_cameras.png updated"
fi
echo "rerun checks passed"
