#!/usr/bin/env bash
# Datasets embody records, read by third-party readers (pyarrow and PyAV, pinned in
# .venv-dataset): pick_seen recorded as a LeRobotDataset v3.0 — three episodes checked
# for agreeing counts, timestamps and decodable video; one more with the simulator's
# state and the rendered frames beside it, checked against them
# (scripts/peers/check_dataset.py says what and how closely); and `embody dataset check`
# on both, and on damaged copies.
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
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
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
echo "dataset checks passed"
