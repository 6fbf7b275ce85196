"""Free objects in embody's simulator and in MuJoCo 4.0, the same scenes side by side.

For each scene it writes an embody scenario, runs `embody sim run --record` on it, builds
the same scene in MuJoCo (MJCF, same timestep, friction and masses), steps it, and
checks both against the analytic answer:

- a 0.1 m box (1 kg, μ = 0.5) on an incline: it sticks at atan μ − 0.5° and slides at
  atan μ + 0.5° in both (so both put the threshold within 0.5° of atan μ); at 30°, 35°
  and 45° its sliding acceleration (a quadratic fit of its travel over 0.5–1.5 s) is within
  2 % of g·(sin θ − μ·cos θ) in both;
- a sphere (r 0.05 m) and a box (0.1 m) dropped from 0.3 m rest at r and h/2 within
  1 mm, and move less than 0.1 mm over the next 10 s;
- five 0.1 m boxes of 1 kg stacked: the top one moves less than 1 mm over 10 s once the
  stack has settled (1 s in: MuJoCo's own stack sinks 2 mm while it settles).

MuJoCo creeps under static friction (its friction is soft), so "sticks" is an average
speed below 1 cm/s, and "slides" is accelerating at more than half the analytic rate.

Usage: mujoco_objects.py EMBODY_BINARY WORKDIR
"""

import json
import math
import os
import subprocess
import sys

import mujoco
import numpy as np

G = 9.81
MU = 0.5
DT = 0.001
# How long a box slides on the incline (s); its acceleration is fitted from 0.5 s on.
SLIDE_S = 1.5


def fail(message):
    print(f"mujoco_objects: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def toml_list(values):
    return "[" + ", ".join(f"{v:.12g}" for v in values) + "]"


def embody_run(embody, work, name, boxes, objects, seconds):
    """Runs the scene in embody; (times, positions per object) from the state record."""
    lines = [
        "robot = \"arm7\"",
        f"duration_s = {seconds}",
        "[sim]",
        f"dt_s = {DT}",
        "[sim.contact]",
        f"friction = {MU}  # the ground's and the static boxes' (a pair has the larger)",
        "[environment]",
        f"ground = {'true' if not boxes else 'false'}",
    ]
    if boxes:
        items = ", ".join(
            f"{{ center = {toml_list(c)}, size = {toml_list(s)}, rpy_rad = {toml_list(r)} }}"
            for c, s, r in boxes
        )
        lines.append(f"boxes = [{items}]")
    for k, o in enumerate(objects):
        lines += ["[[environment.objects]]", f"name = \"o{k}\""]
        lines += [f"{key} = {json.dumps(v) if isinstance(v, str) else toml_list(v) if isinstance(v, (list, tuple)) else v}"
                  for key, v in o.items()]
    path = os.path.join(work, f"{name}.toml")
    record = os.path.join(work, f"{name}.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([embody, "sim", "run", path, "--record", record, "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(record) as f:
        rows = [json.loads(line) for line in f.read().splitlines()[1:]]
    times = np.array([r["t"] for r in rows])
    positions = np.array([[p[:3] for p in r["objects"]] for r in rows])
    return times, positions


def mujoco_run(xml, seconds, bodies):
    """Steps the MJCF scene; (times, positions of `bodies`)."""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    times, positions = [], []
    ids = [model.body(b).id for b in bodies]
    for _ in range(int(round(seconds / DT))):
        mujoco.mj_step(model, data)
        times.append(data.time)
        positions.append([data.xpos[i].copy() for i in ids])
    return np.array(times), np.array(positions)


def incline(embody, work, degrees):
    """Travel along the slope over time, (embody, MuJoCo)."""
    th = math.radians(degrees)
    side = 0.1
    normal = np.array([-math.sin(th), 0.0, math.cos(th)])
    down = np.array([-math.cos(th), 0.0, -math.sin(th)])  # along the slope, downhill
    # A 12 m slab, its top face through `top`, far from the arm at the origin; the box
    # starts 4 m uphill of it, so that it slides on the slab for the whole run.
    top = np.array([10.0, 0.0, 1.0])
    slab = ((top - 0.1 * normal).tolist(), [12.0, 2.0, 0.2], [0.0, -th, 0.0])
    start = top - 4.0 * down + (0.5 * side + 1e-4) * normal
    cube = {"shape": "box", "size": [side] * 3, "mass_kg": 1.0, "friction": MU,
            "position_m": start.tolist(), "rpy_rad": [0.0, -th, 0.0]}
    t_e, p_e = embody_run(embody, work, f"incline_{degrees}", [slab], [cube], SLIDE_S)
    quat = [math.cos(-th / 2), 0.0, math.sin(-th / 2), 0.0]
    xml = f"""<mujoco><option timestep="{DT}"/><worldbody>
      <geom type="box" size="6 1 0.1" pos="{' '.join(map(str, slab[0]))}"
            quat="{' '.join(map(str, quat))}" friction="{MU} 0.005 0.0001"/>
      <body name="cube" pos="{' '.join(map(str, start))}" quat="{' '.join(map(str, quat))}">
        <freejoint/><geom type="box" size="{side / 2} {side / 2} {side / 2}" mass="1"
                          friction="{MU} 0.005 0.0001"/></body></worldbody></mujoco>"""
    t_m, p_m = mujoco_run(xml, SLIDE_S, ["cube"])
    along = lambda p: (p[:, 0, :] - p[0, 0, :]) @ down
    return (t_e, along(p_e)), (t_m, along(p_m))


def fitted_acceleration(times, travel):
    window = (times >= 0.5) & (times <= SLIDE_S)
    return 2.0 * np.polyfit(times[window], travel[window], 2)[0]


def check_incline(embody, work):
    threshold = math.degrees(math.atan(MU))
    for degrees, slides in [(threshold - 0.5, False), (threshold + 0.5, True)]:
        th = math.radians(degrees)
        analytic = G * (math.sin(th) - MU * math.cos(th))
        for who, (t, x) in zip(("embody", "MuJoCo"), incline(embody, work, round(degrees, 3))):
            a = fitted_acceleration(t, x)
            speed = (x[-1] - x[t >= 0.5][0]) / (t[-1] - 0.5)
            slid = a > 0.5 * abs(analytic) if slides else not (speed < 0.01 and a < 0.5 * 0.0834)
            if slid != slides:
                fail(f"{who} at {degrees:.2f}° (atan μ = {threshold:.2f}°): "
                     f"{'should slide' if slides else 'should stick'}; a = {a:.4f} m/s², speed {speed * 1e3:.2f} mm/s")
            print(f"incline {degrees:.2f}°: {who} {'slides' if slides else 'sticks'} "
                  f"(a = {a:.4f} m/s², mean speed {speed * 1e3:.3f} mm/s)")
    for degrees in (30, 35, 45):
        th = math.radians(degrees)
        analytic = G * (math.sin(th) - MU * math.cos(th))
        out = []
        for who, (t, x) in zip(("embody", "MuJoCo"), incline(embody, work, degrees)):
            a = fitted_acceleration(t, x)
            error = a / analytic - 1.0
            if abs(error) > 0.02:
                fail(f"{who} at {degrees}°: a = {a:.4f} m/s², g(sin θ − μ cos θ) = {analytic:.4f} ({error:+.2%})")
            out.append(f"{who} {a:.4f} ({error:+.2%})")
        print(f"incline {degrees}°: analytic {analytic:.4f} m/s²; " + ", ".join(out))


def check_drop_and_stack(embody, work):
    sphere = {"shape": "sphere", "radius": 0.05, "density_kgpm3": 1000.0, "position_m": [3.0, 0.0, 0.3]}
    box = {"shape": "box", "size": [0.1] * 3, "mass_kg": 1.0, "position_m": [3.0, 0.5, 0.3]}
    stack = [{"shape": "box", "size": [0.1] * 3, "mass_kg": 1.0, "friction": 0.8,
              "position_m": [3.0, -0.5, 0.05 + 0.1 * k + 1e-4 * (k + 1)]} for k in range(5)]
    t_e, p_e = embody_run(embody, work, "drop_and_stack", [], [sphere, box] + stack, 11.0)
    geoms = [
        '<body name="o0" pos="3 0 0.3"><freejoint/><geom type="sphere" size="0.05" density="1000"/></body>',
        '<body name="o1" pos="3 0.5 0.3"><freejoint/><geom type="box" size=".05 .05 .05" mass="1"/></body>',
    ] + [
        f'<body name="o{k + 2}" pos="3 -0.5 {0.05 + 0.1 * k + 1e-4 * (k + 1)}"><freejoint/>'
        f'<geom type="box" size=".05 .05 .05" mass="1" friction="0.8 0.005 0.0001"/></body>'
        for k in range(5)
    ]
    xml = f"""<mujoco><option timestep="{DT}"/><worldbody><geom type="plane" size="0 0 1"/>
      {''.join(geoms)}</worldbody></mujoco>"""
    t_m, p_m = mujoco_run(xml, 11.0, [f"o{k}" for k in range(7)])
    for who, t, p in (("embody", t_e, p_e), ("MuJoCo", t_m, p_m)):
        settled = t >= 1.0
        for k, (name, rest) in enumerate((("sphere", 0.05), ("box", 0.05))):
            z = p[settled, k, 2]
            sink = rest - z[0]
            drift = np.abs(p[settled, k, :] - p[settled, k, :][0]).max()
            if abs(sink) > 1e-3 or drift > 1e-4:
                fail(f"{who}: the {name} rests {sink * 1e3:.3f} mm below {rest} m, drifts {drift * 1e3:.4f} mm")
            print(f"drop: {who} {name} rests {sink * 1e3:.3f} mm deep, moves {drift * 1e3:.4f} mm over 10 s")
        top = p[settled, 6, :]
        moved = np.linalg.norm(top - top[0], axis=1).max()
        sunk = 0.45 - top[0][2]
        if moved > 1e-3:
            fail(f"{who}: the stack's top box moved {moved * 1e3:.3f} mm over 10 s")
        print(f"stack: {who} top box sank {sunk * 1e3:.2f} mm settling, then moved {moved * 1e3:.4f} mm over 10 s")


def main():
    embody, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    print(f"MuJoCo {mujoco.__version__}, dt {DT} s")
    check_incline(embody, work)
    check_drop_and_stack(embody, work)


if __name__ == "__main__":
    main()
