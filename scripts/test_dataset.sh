#!/usr/bin/env bash
# Datasets embody records, read by third-party readers (pyarrow and PyAV, pinned in
# .venv-dataset): pick_seen recorded as a LeRobotDataset v3.0 — three episodes checked
# for agreeing counts, timestamps and decodable video; one more with the simulator's
# state and the rendered frames beside it, checked against them
# (scripts/peers/check_dataset.py says what and how closely); `embody dataset check`
# on both, and on damaged copies; `embody dataset replay` picking and placing the box
# again where the recording has it; pick_to_goal's drop-off drawn per seed, recorded as
# observation.goal, with the box put there; and the loop closed — scripts/train_bc.py trains a
# package from a recorded dataset that `embody policy check` accepts and `policy eval`
# runs, and the committed examples/policies/arm7_pick (trained by it on 200
# demonstrations, seeds 0-199) places the box in at least 90 % of 20 unseen seeds, and
# its own runs recorded with `policy run --dataset` read back as the first dataset did;
# and a real-time recording reads back the same, its late frames counted in its table.
# Usage: scripts/test_dataset.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv="$root/.venv-dataset"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import av, pyarrow, PIL" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
    "av==15.1.0" "pyarrow==26.0.1" "numpy<3" "pillow==12.0.0" "pandas<3" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
work=$(mktemp -d /tmp/embody-dataset-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== embody run pick_seen --dataset --episodes 3"
"$bin" run examples/tasks/pick_seen.toml --dataset "$work/three" --episodes 3 --seed 10 2>/dev/null
"$bin" dataset check "$work/three" > /dev/null
"$venv/bin/python" scripts/peers/check_dataset.py "$work/three"

echo "== embody run pick_seen --dataset --record --reference-frames"
"$bin" run examples/tasks/pick_seen.toml --dataset "$work/one" --seed 4 \
  --record "$work/states.jsonl" --reference-frames "$work/rendered" 2>/dev/null
"$bin" dataset check "$work/one" > /dev/null
"$venv/bin/python" scripts/peers/check_dataset.py "$work/one" "$work/states.jsonl" "$work/rendered"

echo "== embody dataset check names what is damaged"
cp -r "$work/one" "$work/damaged"
printf 'not a video' > "$work/damaged/videos/observation.images.overhead/chunk-000/file-000.mp4"
if "$bin" dataset check "$work/damaged" > "$work/damaged.txt"; then
  echo "a damaged video passed the check"; exit 1
fi
grep -q "file-000.mp4" "$work/damaged.txt"
echo "== embody dataset replay: the recorded actions pick and place the box again"
"$bin" dataset replay "$work/three" --episode 2 --json > "$work/replay.json"
"$venv/bin/python" - "$work/three" "$work/replay.json" <<'PY'
import json, sys
import numpy as np
import pyarrow.parquet as pq
frames = pq.read_table(f"{sys.argv[1]}/data/chunk-000/file-000.parquet")
episode = frames.column("episode_index").to_numpy()
boxes = np.stack(frames.column("observation.environment_state").to_numpy(zero_copy_only=False))
recorded = boxes[episode == 2][-1][:3]
replayed = next(o["position_m"] for o in json.load(open(sys.argv[2]))["objects"] if o["name"] == "box")
miss = float(np.linalg.norm(np.array(replayed) - recorded))
print(f"replay: the box ended {miss * 1e3:.1f} mm from where the recording left it")
if miss > 0.01:
    sys.exit(f"replayed box at {replayed}, recorded at {recorded.tolist()}")
PY

echo "== embody run pick_to_goal --dataset: a goal drawn per seed, and the box put there"
"$bin" run examples/tasks/pick_to_goal.toml --dataset "$work/goals" --episodes 3 --seed 20 2>/dev/null
"$bin" run examples/tasks/pick_to_goal.toml --dataset "$work/again" --seed 21 2>/dev/null
"$venv/bin/python" scripts/peers/check_dataset.py "$work/goals"
"$venv/bin/python" - "$work/goals" "$work/again" <<'PY'
import json, sys
import numpy as np
import pyarrow.parquet as pq

def episodes(root):
    info = json.load(open(f"{root}/meta/info.json"))
    names = info["features"]["observation.goal"]["names"]
    if names != ["drop.x", "drop.y", "drop.z"]:
        sys.exit(f"{root}: observation.goal names {names}")
    frames = pq.read_table(f"{root}/data/chunk-000/file-000.parquet")
    index = frames.column("episode_index").to_numpy()
    goal = np.stack(frames.column("observation.goal").to_numpy(zero_copy_only=False))
    boxes = np.stack(frames.column("observation.environment_state").to_numpy(zero_copy_only=False))
    ok = pq.read_table(f"{root}/meta/episodes/chunk-000/file-000.parquet").column("embody_success").to_pylist()
    out = []
    for k in sorted(set(index.tolist())):
        g = goal[index == k]
        if np.ptp(g, axis=0).max() > 0:
            sys.exit(f"{root} episode {k}: the goal moved within the episode")
        out.append((g[0].astype(float), boxes[index == k][-1][:3].astype(float), ok[k]))
    return out

three = episodes(sys.argv[1])
for k, (goal, box, ok) in enumerate(three):
    # The task's drop-off [-0.30, 0.30, 0.225] moved by x in [-0.08, 0], y in [-0.08, 0.08].
    if not (-0.38 - 1e-6 <= goal[0] <= -0.30 + 1e-6 and 0.22 - 1e-6 <= goal[1] <= 0.38 + 1e-6
            and abs(goal[2] - 0.225) < 1e-6):
        sys.exit(f"episode {k}: goal {goal.tolist()} outside the task's ranges")
    miss = float(np.linalg.norm(box[:2] - goal[:2]))
    print(f"episode {k}: goal ({goal[0]:.3f}, {goal[1]:.3f}) m, the box put {miss * 1e3:.1f} mm from it")
    if not ok or miss > 0.02:
        sys.exit(f"episode {k}: the box at {box.tolist()}, the goal at {goal.tolist()}")
apart = min(np.linalg.norm(a[0] - b[0]) for i, a in enumerate(three) for b in three[i + 1:])
if apart < 1e-3:
    sys.exit(f"two seeds drew goals {apart * 1e3:.2f} mm apart")
again = episodes(sys.argv[2])[0][0]
if np.abs(again - three[1][0]).max() > 1e-6:
    sys.exit(f"seed 21 drew {three[1][0].tolist()} in a run of three and {again.tolist()} alone")
print(f"3 seeds, 3 goals at least {apart * 1e3:.0f} mm apart, each box within 2 cm of its goal; seed 21 again the same")
PY

echo "== scripts/train_bc.py: a dataset becomes a policy package"
py=$(scripts/policy_venv.sh)
"$py" scripts/train_bc.py "$work/three" "$work/bc" --task examples/tasks/pick_seen.toml \
  --embody "$bin" --epochs 2 --success-object box --success-position -0.30 0.30 0.225 2>/dev/null
"$bin" policy check "$work/bc" > /dev/null
"$bin" policy eval "$work/bc" --episodes 1 --seed 1000 > /dev/null

echo "== embody policy eval examples/policies/arm7_pick: 20 unseen seeds (>= 90 %)"
"$bin" policy eval examples/policies/arm7_pick --episodes 20 --seed 1000 --json > "$work/eval.json"
"$venv/bin/python" - "$work/eval.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
print(f"arm7_pick: {result['succeeded']} of {result['episodes']} placed")
if result["success_rate"] < 0.9:
    sys.exit(f"arm7_pick placed the box in {result['succeeded']} of {result['episodes']}")
PY
echo "== embody policy run arm7_pick --dataset: a policy's own runs recorded"
"$bin" policy run examples/policies/arm7_pick --seconds 14.4 --seed 3000 \
  --dataset "$work/policy" --episodes 2 2>/dev/null
"$bin" dataset check "$work/policy" > /dev/null
"$venv/bin/python" scripts/peers/check_dataset.py "$work/policy"
echo "== embody run --realtime --dataset: frames taken off the loop's snapshots in real time"
"$bin" run examples/tasks/pick_seen.toml --realtime --seed 6 --dataset "$work/live" --json \
  > "$work/live.json" 2>/dev/null
"$bin" dataset check "$work/live" > /dev/null
"$venv/bin/python" scripts/peers/check_dataset.py "$work/live"
"$venv/bin/python" - "$work/live" "$work/live.json" <<'PY'
import json, sys
import pyarrow.parquet as pq
said = json.load(open(sys.argv[2]))["each"][0]
table = pq.read_table(f"{sys.argv[1]}/meta/episodes/chunk-000/file-000.parquet").to_pydict()
late, length = table["embody_late_frames"][0], table["length"][0]
print(f"real time: {length} frames at 30 fps, {late} taken more than 1.5 ms after their time")
if late != said["late_frames"] or length != said["frames"]:
    sys.exit(f"the episodes' table says {length} frames, {late} late; the run said {said}")
PY
echo "dataset checks passed"
