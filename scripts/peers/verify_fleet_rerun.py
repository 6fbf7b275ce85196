"""Checks an `embody fleet rerun --rerun save=PATH` recording with Rerun's own Python SDK
against what a third-party zenoh peer decoded from the same fleet at the same time
(`zenoh_fleet.py --dump`):

- every unit is in the recording, its robot's links drawn, each unit at its own place on
  a grid of 1.5 m;
- each unit's `joints/q` rows are on `wall_time` at the stamps of the units' own states,
  each state once, no more often than `--hz` allows over the recording, and every row inside the peer's window is a state the
  peer decoded too, with the same joint positions;
- the unit the peer e-stopped has the peer's e-stop among its events, and its fault as a
  warning.

Usage: verify_fleet_rerun.py RRD DUMP_JSON UNITS HZ ESTOPPED_UNIT
"""

import json
import sys

import rerun as rr

GRID_M = 1.5


def fail(message):
    print(f"verify_fleet_rerun: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def by_entity(reader):
    """Every chunk of the recording, by entity path: read once (filtering the stream per
    entity reads the whole recording each time, minutes for a fleet)."""
    out = {}
    for chunk in reader.stream().to_chunks():
        out.setdefault(chunk.entity_path, []).append(chunk)
    return out


def rows(chunks, entity, component):
    """(wall_time ns, value) of every non-static row of `entity`, sorted by time."""
    out = []
    for chunk in chunks.get(entity, []):
        if chunk.is_static:
            continue
        batch = chunk.to_record_batch()
        names = [n for n in batch.schema.names if n.endswith(component)]
        if not names or "wall_time" not in batch.schema.names:
            continue
        times = batch.column("wall_time").cast("int64").to_pylist()
        out += zip(times, batch.column(names[0]).to_pylist())
    return sorted(out, key=lambda r: r[0])


def main():
    path, dump, units, hz, estopped = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    peer = json.load(open(dump))
    reader = rr.experimental.RrdReader(path)
    chunks = by_entity(reader)
    schema = str(reader.store().schema())
    entities = {l.split(":", 1)[1].strip() for l in schema.splitlines() if l.strip().startswith("Entity path:")}
    names = sorted(peer["states"])
    if len(names) != units:
        fail(f"the peer decoded {len(names)} units, not {units}")

    matched, places = 0, set()
    for unit in names:
        robot = f"/robot/{unit}"
        if f"{robot}/links/link7/visual_0" not in entities:
            fail(f"{unit}: no links drawn")
        base = rows(chunks, f"{robot}/links/base_link", "Transform3D:translation")
        if not base:
            fail(f"{unit}: its base link is never posed")
        x, y, z = base[0][1][0]
        column, row = x / GRID_M, y / GRID_M
        if abs(column - round(column)) > 1e-6 or abs(row - round(row)) > 1e-6 or abs(z) > 1e-9:
            fail(f"{unit}: placed at {x, y, z}, off the {GRID_M} m grid")
        places.add((round(column), round(row)))

        q = rows(chunks, f"{robot}/joints/q", "Scalars:scalars")
        if len(q) < 5:
            fail(f"{unit}: {len(q)} rows of joints/q")
        # The recorder takes each unit's latest state `hz` times a second: never the same
        # state twice, and no more rows than that over the recording (its ticks jitter).
        times = [t for t, _ in q]
        gaps = [b - a for a, b in zip(times, times[1:])]
        rate = (len(times) - 1) / ((times[-1] - times[0]) * 1e-9)
        if min(gaps) <= 0 or rate > 1.15 * hz:
            fail(f"{unit}: {rate:.1f} rows a second, closest {min(gaps) / 1e6:.1f} ms apart; at most {hz} asked")
        states = {s["stamp_ns"]: s for s in peer["states"][unit]}
        first, last = min(states), max(states)
        stamps = sorted(states)
        for t, values in q:
            if not first <= t <= last:
                continue
            # The recording keeps seconds as f64: its nanoseconds are within a microsecond.
            near = min(stamps, key=lambda s: abs(s - t))
            if abs(near - t) > 1000:
                fail(f"{unit}: a row at {t} ns is no state the peer saw (nearest {near})")
            mine = states[near]["q"]
            if len(values) != len(mine) or any(abs(a - b) > 1e-6 for a, b in zip(values, mine)):
                fail(f"{unit}: at {t} ns the recording has {values}, the peer decoded {mine}")
            matched += 1
    if len(places) != units:
        fail(f"{units} units on {len(places)} places of the grid")
    if matched < units * 5:
        fail(f"only {matched} rows inside the peer's window")

    texts = rows(chunks, f"/robot/{estopped}/events", "TextLog:text")
    levels = rows(chunks, f"/robot/{estopped}/events", "TextLog:level")
    said = [t[0] for _, t in texts]
    wanted = "estop from py-ops: done (e-stop pressed)"
    if wanted not in said:
        fail(f"{estopped}: no '{wanted}' among its events {said[-5:]}")
    warnings = [t for (_, t), (_, level) in zip(texts, levels) if level and level[0] == "WARN"]
    if not any("e-stop" in t[0] for t in warnings):
        fail(f"{estopped}: its e-stop fault is not a warning: {warnings}")
    print(
        f"rerun: {units} units drawn on {len(places)} places of a {GRID_M} m grid; "
        f"{matched} joint rows equal the states the zenoh peer decoded; "
        f"{estopped}'s e-stop by py-ops among its {len(said)} events"
    )


if __name__ == "__main__":
    main()
