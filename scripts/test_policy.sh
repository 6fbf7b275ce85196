#!/usr/bin/env bash
# The policy work's third-party check: onnxruntime (from PyPI, pinned in .venv-policy)
# recomputes the outputs of every inference `embody policy run --record-policy` made, from
# the inputs it recorded; they must agree within 1e-5.
# Usage: scripts/test_policy.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
python=$(scripts/policy_venv.sh)
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
record=$(mktemp /tmp/embody-policy-XXXXXX.jsonl)
trap 'rm -f "$record"' EXIT
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
