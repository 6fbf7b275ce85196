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
  stack has settled (1 s in: MuJoCo's own stack sinks 2 mm while it settles);
- the humanoid does the humanoid_moves example (`embody run`, then 2 s standing still)
  on its sole boxes: it ends upright in both (MuJoCo's position servos following
  embody's recorded joints), and standing still the ground carries its weight within 2 %;
- the arm7 gripper closes on a 0.5 kg box on a table (`embody run
  examples/tasks/lift.toml`) and lifts it 170 mm: with μ 0.9 the box rises with the fingers and slips less than 1 mm
  over a 5 s hold, and MuJoCo, its arm following embody's recorded joint trajectory and
  its fingers pressing with the grip force embody's fingers reached, lifts it as high
  within 2 mm; with μ 0.15 (2μF below the weight) the box stays on the table in both.

MuJoCo creeps under static friction (its friction is soft), so "sticks" is an average
speed below 1 cm/s, and "slides" is accelerating at more than half the analytic rate. In
the grasp its default solver lets the box creep out of the fingers (shown, not checked);
the grasp is checked with its no-slip solver, its own remedy for that.

Usage: mujoco_objects.py EMBODY_BINARY WORKDIR
"""

import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

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


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARM7 = os.path.join(ROOT, "crates/model/robots/arm7.urdf")
HUMANOID = os.path.join(ROOT, "crates/model/robots/humanoid.urdf")
HUMANOID_MOVES = os.path.join(ROOT, "examples/tasks/humanoid_moves.toml")
STILL_S = 2.0  # the hold appended to humanoid_moves, to weigh the robot standing still
BOX_KG = 0.5
BOX_REST_Z = 0.225
LIFT_M = 0.17
LIFT_TASK = os.path.join(ROOT, "examples/tasks/lift.toml")


def embody_grasp(embody, work, mu):
    """Runs examples/tasks/lift.toml with friction `mu` everywhere (the box's, and the
    fingers' and the table's through a scenario); (record rows, step times)."""
    task = os.path.join(work, f"grasp_{mu}.toml")
    scenario = os.path.join(work, f"grasp_{mu}_sim.toml")
    record = os.path.join(work, f"grasp_{mu}.jsonl")
    with open(LIFT_TASK) as f:
        text = f.read()
    assert "friction = 0.9" in text and "position = [-0.45, 0.0, 0.40]" in text
    with open(task, "w") as f:
        f.write(text.replace("friction = 0.9", f"friction = {mu}"))
    with open(scenario, "w") as f:
        f.write(f'robot = "arm7"\nduration_s = 1.0\n[sim]\ndt_s = {DT}\n[sim.contact]\nfriction = {mu}\n')
    # The task's last step checks the box is in the fingers: it fails when it slipped.
    out = subprocess.run([embody, "run", task, "--scenario", scenario, "--record", record, "--json"],
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    steps = {s["name"]: (s["started_s"], s["started_s"] + s["duration_s"]) for s in report["steps"]}
    held = report["result"] == "succeeded"
    with open(record) as f:
        rows = [json.loads(line) for line in f.read().splitlines()[1:]]
    return rows, steps, held


def mujoco_grasp(rows, steps, mu, grip_n, noslip):
    """The same scene in MuJoCo: the arm's joints follow embody's recorded trajectory
    through position servos (gravity compensated), the fingers follow it until the grip,
    then each presses closed with `grip_n`. `noslip` turns on MuJoCo's no-slip solver
    (10 iterations), its remedy for the creep of its soft friction. (times, box heights)."""
    friction = [mu, 0.005, 0.0001]
    spec, efforts = robot_spec(open(ARM7).read(), friction)
    spec.option.noslip_iterations = 10 if noslip else 0
    for body in spec.worldbody.find_all(mujoco.mjtObj.mjOBJ_BODY):
        body.gravcomp = 1.0
    world = dict(friction=friction, contype=1, conaffinity=3)
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1], **world)
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.2, 0.35, 0.1], pos=[-0.45, 0.15, 0.1], **world)
    box = spec.worldbody.add_body(name="box", pos=[-0.45, 0.0, BOX_REST_Z])
    box.add_freejoint()
    box.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025] * 3, mass=BOX_KG, **world)
    probe = spec.compile()
    names = [probe.joint(j).name for j in range(probe.njnt) if probe.joint(j).name in efforts]
    for name in names:
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=200.0 * efforts[name], kv=2.0 * efforts[name])
        if "finger" in name:
            act.forcelimited, act.forcerange = True, [-grip_n, grip_n]
    model = spec.compile()
    data = mujoco.MjData(model)
    arm = [model.actuator(f"joint{k}").id for k in range(1, 8)]
    fingers = [model.actuator(n).id for n in ("finger_left_joint", "finger_right_joint")]
    box_id = model.body("box").id
    grip_at = steps["grip"][0]
    times, heights = [], []
    for row in rows[1:]:
        q = row["q"]
        data.ctrl[arm] = q[:7]
        data.ctrl[fingers] = 0.0 if row["t"] >= grip_at else q[7]
        mujoco.mj_step(model, data)
        times.append(data.time)
        heights.append(data.xpos[box_id][2])
    return np.array(times), np.array(heights)


def check_grasp(embody, work):
    """The arm grips the box and lifts it: with μ 0.9 (2μF well above the weight) it rises
    with the fingers and slips less than 1 mm over the 5 s hold, in both, and both lift it
    as high within 2 mm; with μ 0.15 (2μF below the weight) it stays on the table."""
    for mu, holds in ((0.9, True), (0.15, False)):
        rows, steps, held = embody_grasp(embody, work, mu)
        if held != holds:
            fail(f"embody's lift task at μ {mu} {'failed' if holds else 'succeeded'}: the box should "
                 f"{'stay in' if holds else 'slip out of'} the fingers")
        t = np.array([r["t"] for r in rows])
        z = np.array([r["objects"][0][2] for r in rows])
        tau = np.abs([r["tau"][7] for r in rows])
        # Each finger presses with half the finger joint's effort (the right one mimics).
        grip_n = float(np.median(tau[(t > steps["grip"][0]) & (tau > 5.0)])) / 2.0
        capacity = 2.0 * mu * grip_n
        hold_from = steps["lift"][1] + 0.2
        runs = [("embody", t, z)]
        runs += [(f"MuJoCo{' (no-slip solver)' if noslip else ''}", *mujoco_grasp(rows, steps, mu, grip_n, noslip))
                 for noslip in (False, True)]
        print(f"grasp μ {mu}: each finger presses {grip_n:.2f} N, 2μF = {capacity:.2f} N, weight {BOX_KG * G:.2f} N")
        for who, times, heights in runs:
            if holds:
                held = heights[times > hold_from]
                rose = held[0] - BOX_REST_Z
                slip = np.abs(held - held[0]).max()
                print(f"  {who}: lifted {rose * 1e3:.1f} mm, slipped {slip * 1e3:.3f} mm over the {times[-1] - hold_from:.1f} s hold")
                if who == "MuJoCo":
                    continue  # its soft friction creeps; shown, not checked
                if abs(rose - LIFT_M) > 0.01 or slip > 1e-3:
                    fail(f"{who}: with μ {mu} the box should rise {LIFT_M * 1e3:.0f} mm and slip < 1 mm")
                if who == "embody":
                    lifted = rose
                elif abs(rose - lifted) > 2e-3:
                    fail(f"embody lifted the box {lifted * 1e3:.1f} mm, {who} {rose * 1e3:.1f} mm")
            else:
                rose = heights.max() - BOX_REST_Z
                print(f"  {who}: the box rose {rose * 1e3:.1f} mm of the {LIFT_M * 1e3:.0f} mm lift")
                if rose > 0.25 * LIFT_M:
                    fail(f"{who}: with μ {mu} the box should slip out of the grip")


def robot_spec(urdf_text, friction):
    """A MuJoCo spec of a URDF's collision geometry, and its joints' effort limits by name:
    its geoms touch the world and the objects (contype 2, conaffinity 1), not each other
    (embody's self-collision is off by default)."""
    text = re.sub(r"<visual>.*?</visual>", "", urdf_text, flags=re.S)
    text = re.sub(r"<mimic[^>]*/>", "", text)
    spec = mujoco.MjSpec.from_string(text)
    spec.option.timestep = DT
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for geom in spec.worldbody.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        geom.friction, geom.contype, geom.conaffinity = friction, 2, 1
    efforts = {j.get("name"): float(j.find("limit").get("effort"))
               for j in ET.fromstring(text).iter("joint") if j.find("limit") is not None}
    return spec, efforts


def support_n(model, data):
    """The world force the ground plane (geom 0) puts on the robot, summed (N)."""
    total = np.zeros(3)
    wrench = np.zeros(6)
    for i in range(data.ncon):
        contact = data.contact[i]
        if 0 not in (contact.geom1, contact.geom2):
            continue
        mujoco.mj_contactForce(model, data, i, wrench)
        # The force in the contact frame (rows: normal, tangents), on geom2 from geom1.
        force = contact.frame.reshape(3, 3).T @ wrench[:3]
        total += force if contact.geom1 == 0 else -force
    return total


def check_humanoid(embody, work):
    """The humanoid does humanoid_moves (stand, wave, squat, rise) and then stands still
    for 2 s on its sole boxes: in both simulators it ends upright, and over the last
    second the ground carries its weight within 2 %. MuJoCo's humanoid is driven by
    position servos following embody's recorded joints (the loop's stiff joint PD
    gains, 20 and 0.6 per N·m of effort)."""
    task = os.path.join(work, "humanoid_moves_still.toml")
    with open(HUMANOID_MOVES) as f, open(task, "w") as out:
        out.write(f.read() + f'\n[[steps]]\nname = "still"\nskill = "hold"\nseconds = {STILL_S}\n')
    scenario = os.path.join(work, "humanoid_sim.toml")
    with open(scenario, "w") as f:
        f.write(f'robot = "humanoid"\nduration_s = 1.0\n[sim]\ndt_s = {DT}\n')
    record = os.path.join(work, "humanoid_moves.jsonl")
    subprocess.run([embody, "run", task, "--scenario", scenario, "--record", record],
                   check=True, stdout=subprocess.DEVNULL)
    with open(record) as f:
        lines = f.read().splitlines()
    joints = json.loads(lines[0])["joints"]
    rows = [json.loads(line) for line in lines[1:]]
    spec, efforts = robot_spec(open(HUMANOID).read(), [1.0, 0.005, 0.0001])
    spec.worldbody.first_body().add_freejoint()
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1], contype=1, conaffinity=3)
    for name in joints:
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=20.0 * efforts[name], kv=0.6 * efforts[name])
    model = spec.compile()
    data = mujoco.MjData(model)
    weight = float(model.body_mass.sum()) * G
    # Our q: free flyer x y z qx qy qz qw, then the joints; MuJoCo's quaternion is w first.
    q0 = rows[0]["q"]
    data.qpos[0:7] = q0[0:3] + [q0[6]] + q0[3:6]
    address = [model.jnt_qposadr[model.joint(n).id] for n in joints]
    data.qpos[address] = q0[7:]
    actuators = [model.actuator(n).id for n in joints]
    t_e, z_e, tilt_e, fz_e, t_m, z_m, tilt_m, fz_m = ([] for _ in range(8))
    tilt = lambda qx, qy: 2.0 * math.asin(min(1.0, math.hypot(qx, qy)))
    for row in rows[1:]:
        data.ctrl[actuators] = row["q"][7:]
        mujoco.mj_step(model, data)
        t_e.append(row["t"]); z_e.append(row["q"][2]); tilt_e.append(tilt(*row["q"][3:5]))
        fz_e.append(row["contact_force_n"][2])
        t_m.append(data.time); z_m.append(data.qpos[2]); tilt_m.append(tilt(*data.qpos[4:6]))
        fz_m.append(support_n(model, data)[2])
    for who, t, z, tilts, fz in (("embody", t_e, z_e, tilt_e, fz_e), ("MuJoCo", t_m, z_m, tilt_m, fz_m)):
        t = np.array(t)
        still = t > t[-1] - 1.0
        support = float(np.mean(np.array(fz)[still]))
        print(f"humanoid: {who} ends at base height {z[-1]:.3f} m, tilted at most {max(tilts):.3f} rad; "
              f"standing still the ground carries {support:.1f} N of its {weight:.1f} N ({support / weight - 1:+.2%})")
        if z[-1] < 0.9 * z[0] or max(tilts) > 0.3:
            fail(f"{who}: the humanoid fell doing humanoid_moves")
        if abs(support - weight) > 0.02 * weight:
            fail(f"{who}: the ground carries {support:.1f} N standing still, the humanoid weighs {weight:.1f} N")


def main():
    embody, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    print(f"MuJoCo {mujoco.__version__}, dt {DT} s")
    check_incline(embody, work)
    check_drop_and_stack(embody, work)
    check_grasp(embody, work)
    check_humanoid(embody, work)


if __name__ == "__main__":
    main()
