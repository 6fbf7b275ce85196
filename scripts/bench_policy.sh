#!/usr/bin/env bash
# A policy step on tract (embody policy bench) beside onnxruntime's inference on the same
# network, medians, and their ratio; then a 50 Hz policy in real time beside the 1 kHz
# loop (steps on time, the loop's overruns with and without it). Not part of the tests
# (timings are not tests).
# Usage: scripts/bench_policy.sh [EMBODY_BIN] [PACKAGE] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/release/embody}
[ "$bin" = target/release/embody ] || echo "note: $bin is timed as given; the release build made here has the ort engine" >&2
package=${2:-examples/policies/humanoid_mlp_bench}
seconds=${3:-20}
python=$(scripts/policy_venv.sh)
# With the optional onnxruntime engine, so tract and onnxruntime are timed in the same
# process on the same inputs (the library is the pinned wheel's).
cargo build --release --locked -p embody-cli --features ort >&2
export ORT_DYLIB_PATH
ORT_DYLIB_PATH=$(ls "$root"/.venv-policy/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
ours=$("$bin" policy bench "$package" --json)
theirs=$("$python" scripts/peers/onnxruntime_bench.py "$package/model.onnx")
"$python" - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{ours['policy']}: embody step (observation + tract inference + action) {ours['step_us']:.1f} µs median, "
      f"p99 {ours['step_p99_us']:.1f} µs")
print(f"inference: tract {ours['inference_us']:.1f} µs, {theirs['engine']} {theirs['inference_us']:.1f} µs "
      f"(from Python); tract / onnxruntime = {ours['inference_us'] / theirs['inference_us']:.2f}")
if ours.get("onnxruntime_us"):
    print(f"in process: tract {ours['inference_us']:.1f} µs, onnxruntime {ours['onnxruntime_us']:.1f} µs; "
          f"tract / onnxruntime = {ours['inference_us'] / ours['onnxruntime_us']:.2f}")
PY
"$bin" policy bench examples/policies/arm7_gru_probe --beside-loop "$seconds"
