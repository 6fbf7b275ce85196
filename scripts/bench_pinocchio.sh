#!/usr/bin/env bash
# Benchmarks embody-model against Pinocchio's C++ library in one run, on the same robots
# (ur5, panda, solo12 and talos_full_v2 on a free-flyer) and the same states, and prints
# the median ns per call of each and the ratio ours/Pinocchio per algorithm.
#
# Pinocchio comes from the `pin` wheel (C++ headers and libraries included); the harness
# scripts/bench/pinocchio_bench.cpp is compiled with g++ -O3 for the same baseline x86-64
# target as our release build. Machines here are noisy, so each robot is timed in
# alternating rounds (ROUNDS, default 3) and the median of the round medians is reported.
# Usage: [ROUNDS=N] scripts/bench_pinocchio.sh [SAMPLES]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
samples=${1:-51}
python=$(scripts/setup_venv.sh)
prefix=$("$python" -c "import cmeel, os; print(os.path.join(os.path.dirname(cmeel.__file__), '..', 'cmeel.prefix'))" 2>/dev/null \
  || echo "$(dirname "$(dirname "$python")")/lib/python3.11/site-packages/cmeel.prefix")
prefix=$(cd "$prefix" && pwd)
work=scripts/.build/bench
mkdir -p "$work"
echo "building the Pinocchio harness (g++ -O3) ..." >&2
g++ -O3 -DNDEBUG -std=c++17 -w \
  -DBOOST_MPL_LIMIT_LIST_SIZE=30 -DBOOST_MPL_LIMIT_VECTOR_SIZE=30 \
  -DBOOST_MPL_CFG_NO_PREPROCESSED_HEADERS -DBOOST_FUSION_INVOKE_MAX_ARITY=12 \
  -I"$prefix/include" -I"$prefix/include/eigen3" \
  scripts/bench/pinocchio_bench.cpp -o "$work/pinocchio_bench" \
  -L"$prefix/lib" -Wl,-rpath,"$prefix/lib" -lboost_serialization
echo "building embody (release) ..." >&2
cargo build --release --locked -p embody-cli >&2
"$python" scripts/bench/prepare.py "$work" > "$work/robots.tsv"

rounds=${ROUNDS:-3}
echo "timing: $rounds alternating rounds per robot, $samples samples each; median of round medians" >&2
printf '%-14s %-10s %12s %14s %8s\n' robot algorithm "embody ns" "Pinocchio ns" ratio
while IFS=$'\t' read -r name urdf floating; do
  flags=(--mimic independent --states "$work/$name.json" --samples "$samples" --json)
  [ "$floating" = 1 ] && flags+=(--floating-base)
  : > "$work/$name.rounds"
  for _ in $(seq "$rounds"); do
    target/release/embody model bench "$urdf" "${flags[@]}" >> "$work/$name.rounds"
    "$work/pinocchio_bench" "$work/$name.bin" "$work/$name.txt" "$samples" >> "$work/$name.rounds"
  done
  "$python" - "$name" "$work/$name.rounds" <<'PY'
import json, statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(path)]
ours = [{r["algorithm"]: r["median_ns"] for r in row["results"]} for row in rows[0::2]]
theirs = rows[1::2]
for alg in ours[0]:
    ns = statistics.median(o[alg] for o in ours)
    ref = statistics.median(t[alg] for t in theirs)
    print(f"{name:<14} {alg:<10} {ns:12.1f} {ref:14.1f} {ns / ref:7.2f}x", flush=True)
PY
done < "$work/robots.tsv"
