#!/usr/bin/env bash
# The policy work's third-party check: onnxruntime (from PyPI, pinned in .venv-policy)
# recomputes the outputs of every inference `embody policy run --record-policy` made, from
# the inputs it recorded; they must agree within 1e-5. The optional in-process engine
# (feature `ort`, the wheel's libonnxruntime loaded at run time) must agree with tract.
# And a GRU that runs in reverse (written with onnx) is refused by `embody policy
# check`, since tract would run it forward.
# Usage: scripts/test_policy.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
python=$(scripts/policy_venv.sh)
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
record=$(mktemp /tmp/embody-policy-XXXXXX.jsonl)
scratch=$(mktemp -d /tmp/embody-policy-XXXXXX)
trap 'rm -rf "$record" "$scratch"' EXIT
# Each package, and its recurrent pairs to check the carried state of.
while read -r package pairs; do
  "$bin" policy run "$package" --seconds 1 --command vx=0.3,wz=-0.2 --record-policy "$record" > /dev/null
  # shellcheck disable=SC2086
  "$python" scripts/peers/onnxruntime_policy.py "$package/model.onnx" "$record" $pairs
done <<'PACKAGES'
examples/policies/humanoid_probe
examples/policies/arm7_gru_probe h_in=h_out
examples/policies/arm7_reach
PACKAGES

cp -r examples/policies/arm7_gru_probe "$scratch/reverse_gru"
"$python" - "$scratch/reverse_gru/model.onnx" <<'PY'
import sys
import onnx
model = onnx.load(sys.argv[1])
for node in model.graph.node:
    if node.op_type == "GRU":
        node.attribute.append(onnx.helper.make_attribute("direction", "reverse"))
onnx.save(model, sys.argv[1])
PY
if "$bin" policy check "$scratch/reverse_gru" 2> "$scratch/check.log"; then
  echo "embody policy check accepted a reverse GRU" >&2
  exit 1
fi
grep -q "runs reverse: only forward recurrence runs here" "$scratch/check.log" \
  || { cat "$scratch/check.log" >&2; exit 1; }
echo "embody policy check refuses a reverse GRU: $(cat "$scratch/check.log")"

# Only the ort_engine test's own crates build here (the workspace's features otherwise).
library=$(ls "$root"/.venv-policy/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
ORT_DYLIB_PATH="$library" cargo test -q --locked --workspace --features embody-policy/ort \
  --test ort_engine 2>&1 | grep -E "^test result|FAILED|panicked"
