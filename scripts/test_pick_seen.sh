#!/usr/bin/env bash
# The pick_seen example's success rate: 50 simulated units side by side (seeds 0–49, so
# 50 places of the box on the table), each finding the box's AprilTag with the overhead
# camera and picking and placing it; at least 95 % (48) must succeed, the last step of
# each checking against the simulator's truth that its box was put down where it should.
# Usage: scripts/test_pick_seen.sh [EMBODY_BIN] [UNITS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
units=${2:-50}
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
out=$(mktemp /tmp/embody-pick-seen-XXXXXX.json)
trap 'rm -f "$out"' EXIT
# A failed unit makes the command fail; the count below is the verdict.
"$bin" run examples/tasks/pick_seen.toml --units "$units" --seed 0 --json > "$out" || true
python3 - "$out" "$units" <<'PY'
import json, sys
units = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
want = int(sys.argv[2])
ok = [u for u in units if u["result"] == "succeeded"]
for u in units:
    if u["result"] != "succeeded":
        print(f"  {u['robot']}: {u['result']}")
need = -(-95 * want // 100)
print(f"pick_seen: {len(ok)} of {want} seeds succeeded ({100 * len(ok) / want:.0f} %, need {need})")
sys.exit(0 if len(units) == want and len(ok) >= need else 1)
PY
