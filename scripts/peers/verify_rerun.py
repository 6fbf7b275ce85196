"""Checks an `embody run --rerun save=PATH` recording with Rerun's own Python SDK.

Reads the .rrd back with `rerun.experimental.RrdReader` and asserts that:
- every documented entity of the unit is there (joint series, links with their visual
  shapes, events, timing; base pose and contacts for a floating-base robot);
- the joint series are named after the simulator's joints, in its order;
- the logged measured joint positions equal the simulator's state (`--record` JSON Lines of
  the same run) tick by tick, to within half an encoder count: the loop measures the
  simulator through its 16-bit encoders;
- every step of the run's `--json` summary appears as a "finished <step>" event;
- the simulator's scene is drawn: each static box, and each object with its pose over
  time equal to the state record's at the same ticks, and the objects' contact forces;
- with `--mass KG` (a floating-base robot standing), the contact force arrows carry the
  robot's weight: their vertical components sum to m·g within 5 % while it stands still.

With `--live TICKS` (a real-time run, e.g. on the wire) it checks instead that the
recording is on the `wall_time` timeline, holds the same entities, and that its live
recorder kept at least 95 % of the loop's TICKS.

With `--fleet N` (a `--units N` run) it checks that the recording holds N robots
`UNIT-0` .. `UNIT-<N-1>`, each with its full joint series, drawn side by side (unit k's
links 1.5·k m along y from unit 0's).

With `--blueprint PATH` it also writes a layout (the 3D view over joint plots) for the
headless screenshot; with `--screenshot PNG` it checks that image is not blank.

Usage: verify_rerun.py RRD --unit UNIT (--states JSONL --summary JSON | --live TICKS)
       verify_rerun.py - --unit UNIT (--blueprint RBL | --screenshot PNG)
"""

import argparse
import functools
import json
import math
import sys

import numpy as np
import rerun as rr
import rerun.blueprint as rrb

ENCODER_COUNT = 2 * math.pi / 2**16
QUANTITIES = ("q", "q_ref", "dq", "dq_ref", "tau", "tau_ref")


def fail(message):
    print(f"verify_rerun: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


@functools.cache
def by_entity(path):
    """Every chunk of the recording at `path`, by entity path, read once: filtering the
    stream per entity reads the whole recording each time."""
    out = {}
    for chunk in rr.experimental.RrdReader(path).stream().to_chunks():
        out.setdefault(chunk.entity_path, []).append(chunk)
    return out


def chunks(path, entity):
    """The chunks of `entity`, or of every entity under it for `ENTITY/**`."""
    found = by_entity(path)
    if entity.endswith("/**"):
        root = entity[: -len("/**")]
        return [c for e, cs in found.items() if e == root or e.startswith(root + "/") for c in cs]
    return found.get(entity, [])


def column(batch, suffix):
    names = [n for n in batch.schema.names if n.endswith(suffix)]
    return batch.column(names[0]) if names else None


def series(path, entity, timeline="sim_time"):
    """(times in s, values per row) of a Scalars entity, sorted by time."""
    rows = []
    for chunk in chunks(path, entity):
        if chunk.is_static:
            continue
        batch = chunk.to_record_batch()
        values = column(batch, "Scalars:scalars")
        if values is None:
            continue
        times = batch.column(timeline).cast("int64").to_numpy() * 1e-9
        rows += zip(times, values.to_pylist())
    rows.sort(key=lambda r: r[0])
    return np.array([r[0] for r in rows]), [r[1] for r in rows]


def static_names(path, entity):
    for chunk in chunks(path, entity):
        if chunk.is_static:
            names = column(chunk.to_record_batch(), "SeriesLines:names")
            if names is not None:
                return names.to_pylist()[0]
    return None


def texts(path, entity):
    out = []
    for chunk in chunks(path, entity):
        text = column(chunk.to_record_batch(), "TextLog:text")
        if text is not None:
            out += [t[0] for t in text.to_pylist()]
    return out


def entities(path):
    schema = rr.experimental.RrdReader(path).store().schema()
    found = set()
    for line in str(schema).splitlines():
        line = line.strip()
        if line.startswith("Entity path:"):
            found.add(line.split(":", 1)[1].strip())
    return found


def write_blueprint(path, unit):
    robot = f"/robot/{unit}"
    blueprint = rrb.Blueprint(
        rrb.Vertical(
            rrb.Spatial3DView(
                origin="/",
                contents=[f"{robot}/links/**", f"{robot}/contacts", f"{robot}/contact_forces"],
                name="robot",
                eye_controls=rrb.EyeControls3D(
                    position=[1.7, -1.7, 1.3], look_target=[0.0, 0.0, 0.6]
                ),
            ),
            rrb.Horizontal(
                rrb.TimeSeriesView(
                    origin=f"{robot}/joints/q",
                    name="q (rad)",
                    plot_legend=rrb.PlotLegend(visible=False),
                ),
                rrb.TimeSeriesView(
                    origin=f"{robot}/joints/tau",
                    name="tau (N·m)",
                    plot_legend=rrb.PlotLegend(visible=False),
                ),
            ),
            row_shares=[3, 2],
        ),
        rrb.TimePanel(state="collapsed"),
        collapse_panels=True,
    )
    blueprint.save("embody", path)


def write_camera_blueprint(path, unit):
    """A layout of examples/scenarios/tags.toml's recording: the arm, the table and the
    tagged box with the three cameras' frustums, beside what two of them saw."""
    robot = f"/robot/{unit}"
    blueprint = rrb.Blueprint(
        rrb.Horizontal(
            rrb.Spatial3DView(
                origin="/",
                contents=[f"{robot}/links/**", f"{robot}/scene/**"]
                + [f"{robot}/cameras/{name}" for name in ("side", "above", "across")],
                name="arm7, the tagged box and three cameras",
                eye_controls=rrb.EyeControls3D(
                    position=[0.6, -1.2, 1.1], look_target=[-0.35, 0.05, 0.3]
                ),
            ),
            rrb.Vertical(
                *[rrb.Spatial2DView(origin=f"{robot}/cameras/{name}",
                                    contents=[f"{robot}/cameras/{name}/rgb"], name=name)
                  for name in ("side", "above")]
            ),
            column_shares=[3, 2],
        ),
        rrb.TimePanel(state="collapsed"),
        collapse_panels=True,
    )
    blueprint.save("embody", path)


def check_screenshot(path):
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    height, width, _ = image.shape
    if width < 1280 or height < 800:
        fail(f"screenshot {path} is {width}x{height}, expected at least 1280x800")
    colours = len(np.unique(image.reshape(-1, 3)[::7], axis=0))
    spread = image.std()
    if colours < 200 or spread < 8.0:
        fail(f"screenshot {path} looks blank: {colours} colours, std {spread:.1f}")
    print(f"screenshot {path}: {width}x{height}, {colours} colours, std {spread:.1f}")


def check_weight(path, robot, mass):
    """The first second's contact force arrows (1 mm per N) hold the robot up."""
    totals = []
    for chunk in chunks(path, f"{robot}/contact_forces"):
        batch = chunk.to_record_batch()
        vectors = column(batch, "Arrows3D:vectors")
        times = batch.column("sim_time").cast("int64").to_numpy() * 1e-9
        for t, arrows in zip(times, vectors.to_pylist()):
            if 0.1 <= t <= 1.0:
                totals.append(sum(a[2] for a in arrows) / 1e-3)
    if not totals:
        fail("no contact force arrows in the first second")
    weight = mass * 9.81
    worst = max(abs(f - weight) / weight for f in totals)
    if worst > 0.05:
        fail(f"contact forces sum to {min(totals):.0f}..{max(totals):.0f} N, weight {weight:.0f} N")
    print(f"contact forces carry the weight ({weight:.0f} N) within {worst:.1%} over {len(totals)} poses")


def check_scene(path, robot, header, states):
    """The objects' logged poses equal the state record's at the same times."""
    objects = header.get("objects", [])
    if not objects:
        return ""
    at = {round(state["t"], 9): state["objects"] for state in states}
    for k, name in enumerate(objects):
        logged = []
        for chunk in chunks(path, f"{robot}/scene/{name}"):
            if chunk.is_static:
                continue
            batch = chunk.to_record_batch()
            translation = column(batch, "Transform3D:translation")
            if translation is None:
                continue
            times = batch.column("sim_time").cast("int64").to_numpy() * 1e-9
            logged += list(zip(times, translation.to_pylist()))
        matched = [(p[0], at[round(t, 9)][k]) for t, p in logged if round(t, 9) in at]
        if len(matched) < 10:
            fail(f"object {name}: {len(matched)} logged poses match the state record's ticks")
        worst = max(max(abs(a - b) for a, b in zip(p, pose[:3])) for p, pose in matched)
        if worst > 1e-5:
            fail(f"object {name}: logged position differs from the simulator's by {worst:.3g} m")
        rise = max(p[2] for p, _ in matched) - matched[0][0][2]
        print(f"object {name}: {len(matched)} poses equal the simulator's within {worst:.2g} m, "
              f"rose at most {rise * 1e3:.0f} mm")
    arrows = 0
    for chunk in chunks(path, f"{robot}/scene/contact_forces"):
        vectors = column(chunk.to_record_batch(), "Arrows3D:vectors")
        arrows += sum(len(v) for v in vectors.to_pylist()) if vectors is not None else 0
    if arrows == 0:
        fail("no object contact force arrows")
    return f", {len(objects)} objects with {arrows} contact force arrows"


def check_seen(path, robot, summary):
    """What the pick_seen task's camera saw: 2D boxes over the overhead camera's images
    (labelled `box`, inside the image, about the tag's size in pixels) and the box's
    pose with its axes, on the table top where the task found it, at times the camera
    captured images."""
    if summary.get("result") != "succeeded":
        fail(f"the run did not succeed: {summary.get('result')}")
    boxes, labels, times = [], [], []
    for chunk in chunks(path, f"{robot}/cameras/overhead/detections/box"):
        batch = chunk.to_record_batch()
        half = column(batch, "Boxes2D:half_sizes")
        if half is None:
            continue
        centers = column(batch, "Boxes2D:centers").to_pylist()
        label = column(batch, "Boxes2D:labels")
        labels += [row[0] for row in label.to_pylist()] if label is not None else []
        boxes += [(c[0], h[0]) for c, h in zip(centers, half.to_pylist())]
        times += batch.column("sim_time").cast("int64").to_numpy().tolist()
    if len(boxes) < 5:
        fail(f"{len(boxes)} detection boxes logged, expected the box seen in several frames")
    for (c, h) in boxes:
        if not (0 < c[0] < 640 and 0 < c[1] < 480 and 8 < 2 * h[0] < 120 and 8 < 2 * h[1] < 120):
            fail(f"a detection box at {c} of size {[2 * x for x in h]} px is not the tag in a 640x480 image")
    if not all(lab.startswith("box ") for lab in labels):
        fail(f"labels {set(labels)} do not name the box")
    period_ns = round(1e9 / 5.0)
    if any(t % period_ns > 2_500_000 for t in times):
        fail("detections are not at the 5 Hz camera's capture times")
    poses = []
    for chunk in chunks(path, f"{robot}/seen/box"):
        t = column(chunk.to_record_batch(), "Transform3D:translation")
        if t is not None:
            poses += t.to_pylist()
    axes = [c for c in chunks(path, f"{robot}/seen/box")
            if column(c.to_record_batch(), "TransformAxes3D:axis_length") is not None]
    if not poses or not axes:
        fail("the seen box's pose or axes are missing")
    first = np.array(poses[0], dtype=float).reshape(3)
    if abs(first[2] - 0.25) > 0.005 or not (-0.52 < first[0] < -0.38) or abs(first[1]) > 0.11:
        fail(f"the box was first seen at {first}: not its tag on the table top")
    print(f"verify_rerun: {len(boxes)} detections of the box by the overhead camera, first seen at "
          f"[{first[0]:.3f}, {first[1]:.3f}, {first[2]:.3f}] m, with its pose and axes")


def check_cameras(path, robot, summary, live=False):
    """Each simulated camera's images are in the recording once each, on its frame grid,
    with its lens and pose: the JPEGs decode (Pillow) to the lens's size and show a scene,
    and the depth images, placed in the world by the logged pinhole and pose, put the
    ground's pixels at z = 0."""
    import io

    from PIL import Image
    cameras = summary.get("cameras") or []
    if not cameras:
        fail("the run reports no cameras")
    for camera in cameras:
        root = f"{robot}/cameras/{camera['name']}"
        rows = {}
        for suffix, field in (("", "Transform3D:translation"), ("", "Pinhole:image_from_camera"),
                              ("/rgb", "EncodedImage:blob"), ("/depth", "DepthImage:buffer"),
                              ("/depth", "DepthImage:meter")):
            for chunk in chunks(path, root + suffix):
                batch = chunk.to_record_batch()
                values = column(batch, field)
                if values is None:
                    continue
                times = batch.column("sim_time").cast("int64").to_numpy()
                rows.setdefault(field, []).extend(zip(times, values.to_pylist()))
        for field in rows:
            rows[field].sort(key=lambda r: r[0])
        rgb = rows.get("EncodedImage:blob", [])
        # Live (real time), the recorder reads each camera's newest image every 10 ms:
        # one replaced before it was read, or published after the recording stopped, is
        # not logged; none twice.
        least = 0.8 * camera["images"] if live else camera["images"] - 1
        if not least <= len(rgb) <= camera["images"]:
            fail(f"{root}: {len(rgb)} colour images logged, the camera published {camera['images']}")
        period_ns = round(1e9 / 30.0)
        if live:
            # On the loop's time from its origin: each frame once, about a period apart
            # (a late tick offers a frame late, the next one on time).
            times = [t for t, _ in rgb]
            close = [b - a for a, b in zip(times, times[1:]) if b - a < period_ns // 2]
            if close:
                fail(f"{root}: images {close[:3]} ns apart, under half the 30 Hz period")
        else:
            # Captured at the first loop tick (1 ms) that saw the frame due, read a tick later.
            off_grid = [t for t, _ in rgb if (t % period_ns) > 2_500_000]
            if off_grid:
                fail(f"{root}: images at {off_grid[:3]} ns, not within 2 ms after the 30 Hz grid")
        k = np.array(rows["Pinhole:image_from_camera"][0][1]).reshape(3, 3).T  # column-major
        t, q = rows["Transform3D:translation"][-1][1], None
        for chunk in chunks(path, root):
            quat = column(chunk.to_record_batch(), "Transform3D:quaternion")
            if quat is not None:
                q = quat.to_pylist()[-1]
        x, y, z, w = np.array(q, dtype=float).reshape(4)
        rotation = np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ])
        # Each row holds one blob (a list of one list of bytes).
        picture = Image.open(io.BytesIO(bytes(rgb[-1][1][0]))).convert("RGB")
        width, height = picture.size
        pixels = np.asarray(picture, dtype=float)
        if abs(k[0, 2] * 2 - width) > 1 or pixels.std() < 10:
            fail(f"{root}: a {width}×{height} JPEG, principal point {k[0, 2]}, spread {pixels.std():.1f}")
        # 16-bit, in the units the logged meter says (millimetres, as depth cameras give it).
        raw = np.frombuffer(bytes(rows["DepthImage:buffer"][-1][1][0]), dtype="<u2").reshape(height, width)
        depth = raw / float(np.ravel(rows["DepthImage:meter"][-1][1])[0])
        v, u = np.nonzero(depth > 0)
        d = depth[v, u].astype(float)
        cam = np.stack([(u - k[0, 2]) / k[0, 0] * d, (v - k[1, 2]) / k[1, 1] * d, d])
        world = rotation @ cam + np.array(t, dtype=float).reshape(3, 1)
        ground = np.abs(world[2]) < 2e-3  # the millimetre rounds to 0.5 mm of z
        if ground.mean() < 0.3:
            fail(f"{root}: only {ground.mean():.0%} of the depth pixels land on the ground plane")
        timing = "each once, live" if live else "within 2 ms of the 30 Hz grid"
        print(f"camera {camera['name']}: {len(rgb)} of {camera['images']} JPEGs of {width}×{height} {timing}, "
              f"depth puts {ground.mean():.0%} of pixels on the ground within 2 mm")


def check_live(path, robot, ticks):
    found = entities(path)
    expected = [f"{robot}/joints/{q}" for q in QUANTITIES]
    expected += [f"{robot}/events", f"{robot}/timing/compute_us", f"{robot}/viz/dropped"]
    expected += [f"{robot}/link"]
    missing = [e for e in expected if e not in found]
    if missing:
        fail(f"entities missing: {missing}")
    times, q = series(path, f"{robot}/joints/q", timeline="wall_time")
    _, dropped = series(path, f"{robot}/viz/dropped", timeline="wall_time")
    if len(q) < 0.95 * ticks:
        fail(f"{len(q)} samples of q recorded over {ticks} loop ticks")
    if np.any(np.diff(times) <= 0):
        fail("wall_time samples are not strictly increasing")
    print(
        f"{path}: {len(found)} entities on wall_time, {len(q)} samples over {ticks} ticks "
        f"({times[-1] - times[0]:.2f} s), {int(dropped[-1][0])} dropped while behind"
    )


def link_positions(path, robot):
    """Translation of every moving link entity's first logged pose."""
    out = {}
    for chunk in chunks(path, f"{robot}/links/**"):
        if chunk.is_static:
            continue
        batch = chunk.to_record_batch()
        translation = column(batch, "Transform3D:translation")
        if translation is not None and batch.num_rows:
            name = str(chunk.entity_path).split("/links/", 1)[1]
            out.setdefault(name, translation.to_pylist()[0][0])
    return out


def check_fleet(path, unit, count):
    found = entities(path)
    samples = set()
    reference = None
    for k in range(count):
        robot = f"/robot/{unit}-{k}"
        wanted = (f"{robot}/joints/q", f"{robot}/events")
        missing = [e for e in wanted if e not in found]
        if missing:
            fail(f"unit {k}: entities missing: {missing}")
        samples.add(len(series(path, f"{robot}/joints/q")[1]))
        links = link_positions(path, robot)
        if not links:
            fail(f"unit {k}: no link poses")
        reference = reference or links
        for name, p in links.items():
            r = reference[name]
            if abs(p[1] - r[1] - 1.5 * k) > 1e-4 or abs(p[0] - r[0]) > 1e-4:
                fail(f"unit {k}: link {name} at {p}, unit 0's at {r}: not 1.5·{k} m along y")
    if len(samples) != 1 or 0 in samples:
        fail(f"units logged different numbers of samples: {samples}")
    print(f"{path}: {count} units of {unit} side by side, {samples.pop()} samples each")


def check_dataset_view(path, robot, dataset):
    """`embody dataset view`: every frame's joints and actions as the dataset's parquet
    has them, each camera's MP4 logged once byte for byte, and one frame reference per
    frame at the episode's video time."""
    import pathlib
    import pyarrow.parquet as pq
    root = pathlib.Path(dataset)
    info = json.loads((root / "meta" / "info.json").read_text())
    fps = info["fps"]
    frames = pq.read_table(root / "data" / "chunk-000" / "file-000.parquet")
    episodes = pq.read_table(root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    state = np.stack(frames.column("observation.state").to_numpy(zero_copy_only=False))
    action = np.stack(frames.column("action").to_numpy(zero_copy_only=False))
    for name, want in (("q", state), ("q_ref", action)):
        _, got = series(path, f"{robot}/joints/{name}")
        got = np.array(got)
        if got.shape != want.shape or np.abs(got - want).max() > 1e-6:
            fail(f"joints/{name}: {got.shape} logged, the dataset's {want.shape}")
    cameras = [k for k, f in info["features"].items() if f["dtype"] == "video"]
    for key in cameras:
        camera = key.removeprefix("observation.images.")
        blob = None
        for chunk in chunks(path, f"/dataset/{key}/000-000"):
            column_ = column(chunk.to_record_batch(), "AssetVideo:blob")
            if chunk.is_static and column_ is not None:
                blob = bytes(column_.to_pylist()[0][0])
        mp4 = (root / info["video_path"].format(video_key=key, chunk_index=0, file_index=0))
        if blob != mp4.read_bytes():
            fail(f"{key}: the logged video is not the dataset's file {mp4}")
        rows = []
        for chunk in chunks(path, f"{robot}/cameras/{camera}/video"):
            batch = chunk.to_record_batch()
            stamps = column(batch, "VideoFrameReference:timestamp")
            if stamps is None:
                continue
            times = batch.column("sim_time").cast("int64").to_numpy() * 1e-9
            rows += zip(times, [v[0] * 1e-9 for v in stamps.to_pylist()])
        rows.sort()
        starts = episodes.column(f"videos/{key}/from_timestamp").to_pylist()
        lengths = episodes.column("length").to_pylist()
        want = [start + k / fps for start, n in zip(starts, lengths) for k in range(n)]
        got = [r[1] for r in rows]
        if len(got) != len(want) or max(abs(a - b) for a, b in zip(got, want)) > 1e-6:
            fail(f"{key}: {len(got)} frame references, the dataset has {len(want)} frames")
    print(f"{path}: {len(state)} frames of joints and actions, {len(cameras)} camera videos"
          f" with a reference per frame, as the dataset has them")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rrd")
    parser.add_argument("--states", help="the run's --record JSON Lines")
    parser.add_argument("--summary", help="the run's --json summary")
    parser.add_argument("--unit", required=True)
    parser.add_argument("--live", type=int, help="ticks the real-time loop ran")
    parser.add_argument("--fleet", type=int, help="units of a --units run")
    parser.add_argument("--mass", type=float, help="the robot's mass (kg), to weigh it")
    parser.add_argument("--blueprint", help="write the screenshot layout here and stop")
    parser.add_argument("--screenshot", help="check this PNG is not blank and stop")
    parser.add_argument("--cameras", help="an `embody sim run --json` summary: check its cameras and stop")
    parser.add_argument("--camera-blueprint", help="write the cameras' layout (.rbl) here and stop")
    parser.add_argument("--live-cameras", help="as --cameras, for a real-time run")
    parser.add_argument("--dataset-view", help="the dataset `embody dataset view` drew: check it and stop")
    parser.add_argument("--seen", help="an `embody run --json` summary of pick_seen: check what its camera saw and stop")
    args = parser.parse_args()
    if args.blueprint:
        write_blueprint(args.blueprint, args.unit)
        return
    if args.camera_blueprint:
        write_camera_blueprint(args.camera_blueprint, args.unit)
        return
    if args.screenshot:
        check_screenshot(args.screenshot)
        return

    if args.cameras:
        check_cameras(args.rrd, f"/robot/{args.unit}", json.load(open(args.cameras)))
        return
    if args.live_cameras:
        check_cameras(args.rrd, f"/robot/{args.unit}", json.load(open(args.live_cameras)), live=True)
        return
    if args.dataset_view:
        check_dataset_view(args.rrd, f"/robot/{args.unit}", args.dataset_view)
        return
    if args.seen:
        check_seen(args.rrd, f"/robot/{args.unit}", json.loads(open(args.seen).readline()))
        return
    if args.live:
        check_live(args.rrd, f"/robot/{args.unit}", args.live)
        return
    if args.fleet:
        check_fleet(args.rrd, args.unit, args.fleet)
        return
    lines = open(args.states).read().splitlines()
    header = json.loads(lines[0])
    states = [json.loads(line) for line in lines[1:]]
    summary = json.load(open(args.summary))
    robot = f"/robot/{args.unit}"
    floating = header["nq"] > len(header["joints"])

    found = entities(args.rrd)
    expected = [f"{robot}/joints/{q}" for q in QUANTITIES]
    expected += [f"{robot}/events", f"{robot}/timing/compute_us", f"{robot}/link"]
    expected += [f"{robot}/timing/jitter_us", f"{robot}/timing/overruns"]
    if floating:
        expected += [f"{robot}/base/position", f"{robot}/base/attitude", f"{robot}/contacts"]
        expected += [f"{robot}/contact_forces"]
    missing = [e for e in expected if e not in found]
    if missing:
        fail(f"entities missing: {missing}")
    links = [e for e in found if e.startswith(f"{robot}/links/") and "/visual_" not in e]
    visuals = [e for e in found if "/visual_" in e]
    if not links or not visuals:
        fail(f"no links ({len(links)}) or visual shapes ({len(visuals)})")

    names = static_names(args.rrd, f"{robot}/joints/q")
    if names != header["joints"]:
        fail(f"joint series named {names}, simulator joints {header['joints']}")

    times, q = series(args.rrd, f"{robot}/joints/q")
    if len(q) != len(states):
        fail(f"{len(q)} logged samples of q, {len(states)} simulator ticks")
    offset = header["nq"] - len(header["joints"])
    worst = 0.0
    for t, logged, state in zip(times, q, states):
        if abs(t - state["t"]) > 1e-9:
            fail(f"logged sample at {t} s, simulator tick at {state['t']} s")
        truth = state["q"][offset:]
        worst = max(worst, max(abs(a - b) for a, b in zip(logged, truth)))
    if worst > ENCODER_COUNT / 2 + 1e-12:
        fail(f"logged q differs from the simulator's by {worst:.3g} rad (> half a count)")

    if args.mass:
        check_weight(args.rrd, robot, args.mass)
    scene = check_scene(args.rrd, robot, header, states)

    events = texts(args.rrd, f"{robot}/events")
    for step in summary["steps"]:
        if step["result"] == "done" and not any(
            e.startswith(f"finished {step['name']} (") for e in events
        ):
            fail(f"no 'finished {step['name']}' event among {len(events)}")

    print(
        f"{args.rrd}: {len(found)} entities ({len(links)} links, {len(visuals)} shapes), "
        f"{len(q)} samples of {len(names)} joints equal the simulator's within "
        f"{worst:.2g} rad (half a count: {ENCODER_COUNT / 2:.2g}), "
        f"{len(events)} events cover all {len(summary['steps'])} steps{scene}"
    )


if __name__ == "__main__":
    main()
