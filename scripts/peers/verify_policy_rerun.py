"""Checks a `embody policy run --rerun save=PATH --record-policy FILE` recording with
Rerun's own Python SDK: reads the .rrd back (`rerun.experimental.RrdReader`) and asserts
that `robot/UNIT/policy/actions` holds one row per step equal to the network's output
that `--record-policy` wrote for it, that every observation term's entity
(`policy/observation/<input>/<kind>`) holds the slice of the recorded input it names,
in the manifest's order, and that `policy/latency_us` has a positive value per step.

Usage: verify_policy_rerun.py RRD --unit UNIT --record JSONL --terms INPUT:KIND:LEN,...
"""

import argparse
import json
import sys

import numpy as np
import rerun as rr


def fail(message):
    print(f"verify_policy_rerun: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def series(path, entity):
    """Rows of a Scalars entity in time order."""
    rows = []
    reader = rr.experimental.RrdReader(path)
    for chunk in reader.stream().filter(content=entity).to_chunks():
        if chunk.is_static:
            continue
        batch = chunk.to_record_batch()
        names = [n for n in batch.schema.names if n.endswith("Scalars:scalars")]
        if not names:
            continue
        times = batch.column("sim_time").cast("int64").to_numpy()
        rows += zip(times, batch.column(names[0]).to_pylist())
    rows.sort(key=lambda r: r[0])
    return [np.array(r[1], dtype=np.float64) for r in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rrd")
    parser.add_argument("--unit", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--terms", required=True)
    args = parser.parse_args()
    prefix = f"/robot/{args.unit}/policy"
    record = [json.loads(line) for line in open(args.record)]
    actions = series(args.rrd, f"{prefix}/actions")
    if len(actions) != len(record):
        fail(f"{len(actions)} action rows for {len(record)} recorded inferences")
    for k, (row, line) in enumerate(zip(actions, record)):
        out = np.array(line["outputs"]["actions"], dtype=np.float64)
        if row.shape != out.shape or np.max(np.abs(row - out)) > 1e-6:
            fail(f"step {k}: Rerun has actions {row}, the network gave {out}")
    start = {}
    for spec in args.terms.split(","):
        name, kind, size = spec.split(":")
        at = start.get(name, 0)
        start[name] = at + int(size)
        rows = series(args.rrd, f"{prefix}/observation/{name}/{kind}")
        if len(rows) != len(record):
            fail(f"{name}/{kind}: {len(rows)} rows for {len(record)} inferences")
        for k, (row, line) in enumerate(zip(rows, record)):
            want = np.array(line["inputs"][name][at:at + int(size)], dtype=np.float64)
            if np.max(np.abs(row - want)) > 1e-6:
                fail(f"step {k}: {name}/{kind} is {row} in Rerun, {want} in the network's input")
    latency = series(args.rrd, f"{prefix}/latency_us")
    if len(latency) != len(record) or min(float(v[0]) for v in latency) <= 0:
        fail(f"latency_us: {len(latency)} rows, expected {len(record)} positive")
    print(f"verify_policy_rerun: {len(record)} steps: actions, {len(start)} input(s)' terms "
          f"and latency match the network's record")


if __name__ == "__main__":
    main()
