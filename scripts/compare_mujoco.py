#!/usr/bin/env python3
"""embody-sim side by side with MuJoCo (the `mujoco` wheel) on the same URDFs.

accuracy: from the same initial state, drives off, no contact, both integrating with RK4
at 1 ms, the joint trajectories of `embody sim run --controller none` and MuJoCo are
compared over 0.1, 0.5 and 2 s (max |Δq| over joints; base position for a floating
base). URDFs are stripped of geometry, joint damping/friction and mimic tags first, so
both simulate exactly the rigid-body dynamics (gripper fingers are made rigid). Joint
limits stay: MuJoCo enforces them with its constraint solver, we with stiff springs, so
trajectories part once a joint reaches a stop.

speed: steps per second on one thread at dt 2 ms, semi-implicit Euler on our side and
MuJoCo's default Euler (implicitfast with the position actuators): panda and the humanoid (free joint) without contact, and the
humanoid standing on a ground plane under joint PD (MuJoCo position actuators with the
same gains as our hold) with contact. MuJoCo steps in C (`mj_step(..., nstep=N)`).

objects: the same at dt 2 ms in three scenes with free objects, the arm holding its
posture in both: five 0.1 m boxes of 1 kg stacked on the ground and a 0.5 kg box on a
table beside the arm (fingers rigid, as above); and the grasp — the arm holding the
0.5 kg box aloft between its fingers, posed where embody's grasp task (the one
peers/mujoco_objects.py checks) held it, each finger's target 1 mm inside the box so it
presses. MuJoCo's soft friction lets the box creep out of the fingers, so the grasp is
timed with its no-slip solver too. Ours is `embody sim bench --scenario`, given MuJoCo's
median with `--against` so it prints the ratio itself.

Usage: compare_mujoco.py EMBODY_BIN WORKDIR [--rounds N]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import mujoco
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from mujoco_objects import embody_grasp  # noqa: E402
from pinocchio_reference import erd_robots_dir  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUMANOID = os.path.join(ROOT, "crates/model/robots/humanoid.urdf")
ARM7 = os.path.join(ROOT, "crates/model/robots/arm7.urdf")
HOLD_KP, HOLD_KD = 20.0, 0.6  # per N·m of effort, as `embody sim bench --contacts`
PRISMATIC_SCALE = 10.0  # a prismatic joint's hold is this much stiffer per N (joint PD)


def strip(urdf_text, keep_collision=False):
    text = re.sub(r"<visual>.*?</visual>", "", urdf_text, flags=re.S)
    if not keep_collision:
        text = re.sub(r"<collision>.*?</collision>", "", text, flags=re.S)
    text = re.sub(r"<dynamics[^>]*/>", "", text)
    text = re.sub(r"<mimic[^>]*/>", "", text)
    # Gripper fingers become rigid: millimetre travel against stiff stops is a contact
    # problem, not the rigid-body dynamics compared here.
    text = re.sub(r'(<joint name="[^"]*finger[^"]*" type=")prismatic"', r'\1fixed"', text)
    return text


def urdf_efforts(urdf_text):
    """Effort limit of each joint, by name."""
    import xml.etree.ElementTree as ET
    out = {}
    for joint in ET.fromstring(urdf_text).iter("joint"):
        limit = joint.find("limit")
        if limit is not None and "effort" in limit.attrib:
            out[joint.get("name")] = float(limit.get("effort"))
    return out


def robots():
    erd = erd_robots_dir()
    return [
        ("ur5", os.path.join(erd, "ur_description/urdf/ur5_robot.urdf"), False),
        ("panda", os.path.join(erd, "panda_description/urdf/panda.urdf"), False),
        ("humanoid", HUMANOID, True),
    ]


def mujoco_model(urdf_path, floating, dt, integrator):
    spec = mujoco.MjSpec.from_file(urdf_path)
    if floating:
        spec.worldbody.first_body().add_freejoint()
    spec.option.timestep = dt
    spec.option.integrator = integrator
    return spec


def joint_info(model):
    """(name, qpos address, lower, upper, effort) of each hinge/slide joint."""
    out = []
    for j in range(model.njnt):
        if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            lo, hi = model.jnt_range[j] if model.jnt_limited[j] else (-math.pi, math.pi)
            out.append((model.joint(j).name, model.jnt_qposadr[j], lo, hi))
    return out


def accuracy(embody, work, name, urdf, floating):
    text = strip(open(urdf).read())
    path = os.path.abspath(os.path.join(work, f"{name}_bare.urdf"))
    open(path, "w").write(text)
    spec = mujoco_model(path, floating, 0.001, mujoco.mjtIntegrator.mjINT_RK4)
    model = spec.compile()
    data = mujoco.MjData(model)
    joints = joint_info(model)
    posture = {}
    for k, (jname, adr, lo, hi) in enumerate(joints):
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        posture[jname] = float(mid + 0.4 * half * math.sin(1.7 * k + 0.5))
        data.qpos[adr] = posture[jname]
    if floating:
        data.qpos[0:7] = [0, 0, 1.0, 1, 0, 0, 0]
    duration = 2.0
    scenario = os.path.join(work, f"{name}_passive.toml")
    with open(scenario, "w") as f:
        f.write(f'robot = "{path}"\nduration_s = {duration}\n')
        f.write(f"floating_base = {'true' if floating else 'false'}\n")
        f.write("[initial]\nposture = { " + ", ".join(f'{k} = {v!r}' for k, v in posture.items()) + " }\n")
        if floating:
            f.write("base_position_m = [0.0, 0.0, 1.0]\n")
        f.write("[environment]\nground = false\n")
        f.write('[sim]\ndt_s = 0.001\nintegrator = "rk4"\n')
        f.write("[sim.contact]\nenabled = false\n")
        f.write("[sim.actuator]\narmature_per_nm = 0.0\ncurrent_lag_ms = 0.0\n")
    record = os.path.join(work, f"{name}_passive.jsonl")
    subprocess.run([embody, "sim", "run", scenario, "--controller", "none", "--record", record],
                   check=True, stdout=subprocess.DEVNULL)
    lines = open(record).read().splitlines()
    header = json.loads(lines[0])
    ours = [json.loads(line) for line in lines[1:]]
    # Our q layout: free-flyer [x y z qx qy qz qw] first, then joints in the header's order.
    offset = 7 if floating else 0
    order = [next(a for (n, a, _, _) in joints if n == jn) for jn in header["joints"]]
    worst = {0.1: 0.0, 0.5: 0.0, 2.0: 0.0}
    worst_base = {0.1: 0.0, 0.5: 0.0, 2.0: 0.0}
    first_stop = None
    for i, rec in enumerate(ours):
        t = rec["t"]
        if i > 0:
            mujoco.mj_step(model, data)
        assert abs(data.time - t) < 1e-9, (data.time, t)
        if first_stop is None and any(not lo <= data.qpos[adr] <= hi for (_, adr, lo, hi) in joints):
            first_stop = t
        q = rec["q"]
        dq = max(abs(q[offset + k] - data.qpos[adr]) for k, adr in enumerate(order))
        db = max(abs(q[k] - data.qpos[k]) for k in range(3)) if floating else 0.0
        for horizon in worst:
            if t <= horizon + 1e-9:
                worst[horizon] = max(worst[horizon], dq)
                worst_base[horizon] = max(worst_base[horizon], db)
    return worst, worst_base, len(order), first_stop


def embody_rate(embody, args):
    out = subprocess.run([embody, "sim", "bench", *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def against_line(embody, args, medians):
    """`embody sim bench` once more, given MuJoCo's medians: its own lines on the ratio."""
    against = [f"--against={who.replace('MuJoCo', 'MuJoCo ' + mujoco.__version__)}={rate}"
               for who, rate in medians.items()]
    out = subprocess.run([embody, "sim", "bench", *args, *against], check=True, capture_output=True, text=True)
    return "\n".join(line for line in out.stdout.splitlines() if line.startswith("against "))


def mujoco_rate(model, data, steps):
    began = time.perf_counter()
    mujoco.mj_step(model, data, nstep=steps)
    return steps / (time.perf_counter() - began)


def speed(embody, work, rounds):
    cases = []
    panda = next(r for r in robots() if r[0] == "panda")
    for name, urdf, floating, contacts in [
        ("panda", panda[1], False, False),
        ("humanoid", HUMANOID, True, False),
        ("humanoid", HUMANOID, True, True),
    ]:
        text = strip(open(urdf).read(), keep_collision=contacts)
        path = os.path.join(work, f"{name}_bench{'_contacts' if contacts else ''}.urdf")
        open(path, "w").write(text)
        # MuJoCo's Euler is already implicit in joint damping; with stiff position
        # actuators it needs `implicitfast` (actuator damping implicit too), as our
        # semi-implicit step takes the drives' gains implicitly.
        integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST if contacts else mujoco.mjtIntegrator.mjINT_EULER
        spec = mujoco_model(path, floating, 0.002, integrator)
        if contacts:
            spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1])
        else:
            spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
        probe = spec.compile()
        if contacts:
            efforts = urdf_efforts(text)
            for j in joint_info(probe):
                effort = efforts[j[0]]
                act = spec.add_actuator(name=f"hold_{j[0]}", target=j[0], trntype=mujoco.mjtTrn.mjTRN_JOINT)
                act.set_to_position(kp=HOLD_KP * effort, kv=HOLD_KD * effort)
        model = spec.compile()
        args = ["--robot", path, "--steps", "20000", "--batches", "3"]
        if floating:
            args.append("--floating-base")
        if contacts:
            args.append("--contacts")
        # Our base height standing on the ground (lowest collision point at z = 0).
        first = embody_rate(embody, args)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(embody_rate(embody, args)["steps_per_s"])
            data = mujoco.MjData(model)
            if floating:
                # Standing where embody starts it: the neutral posture, soles on the ground.
                data.qpos[0:7] = [0, 0, first["start_base_height_m"], 1, 0, 0, 0]
            # Position actuators hold the neutral posture (all joints at zero).
            data.ctrl[:] = 0.0
            theirs.append(mujoco_rate(model, data, 20000))
        settled = data.qpos[2] if floating else None
        against = against_line(embody, args, {"MuJoCo": float(np.median(theirs))})
        cases.append((name, floating, contacts, float(np.median(ours)), float(np.median(theirs)), settled, first, against))
    return cases


def object_scenes():
    """(name, scenario TOML after the robot line, MJCF bodies of the same objects)."""
    stack_toml = "".join(
        f'[[environment.objects]]\nname = "b{k}"\nshape = "box"\nsize = [0.1, 0.1, 0.1]\n'
        f"mass_kg = 1.0\nposition_m = [0.8, 0.0, {0.05 + 0.1 * k + 1e-4 * (k + 1)}]\n"
        for k in range(5)
    )
    stack_mjcf = "".join(
        f'<body pos="0.8 0 {0.05 + 0.1 * k + 1e-4 * (k + 1)}"><freejoint/>'
        f'<geom type="box" size=".05 .05 .05" mass="1" friction="0.9 0.005 0.0001"/></body>'
        for k in range(5)
    )
    table_toml = (
        "[environment]\nboxes = [{ center = [-0.45, 0.15, 0.1], size = [0.4, 0.7, 0.2] }]\n"
        '[[environment.objects]]\nname = "box"\nshape = "box"\nsize = [0.05, 0.05, 0.05]\n'
        "mass_kg = 0.5\nposition_m = [-0.45, 0.0, 0.2251]\n"
    )
    table_mjcf = (
        '<geom type="box" size="0.2 0.35 0.1" pos="-0.45 0.15 0.1" friction="0.9 0.005 0.0001"/>'
        '<body pos="-0.45 0 0.2251"><freejoint/>'
        '<geom type="box" size=".025 .025 .025" mass="0.5" friction="0.9 0.005 0.0001"/></body>'
    )
    return [("5-box stack", stack_toml, stack_mjcf), ("table and box", table_toml, table_mjcf)]


def add_hold(spec, efforts, names):
    """Position actuators holding `names` with our hold's gains."""
    probe = spec.compile()
    for j in joint_info(probe):
        if j[0] not in names:
            continue
        gain = efforts[j[0]] * (PRISMATIC_SCALE if "finger" in j[0] else 1.0)
        act = spec.add_actuator(name=f"hold_{j[0]}", target=j[0], trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=HOLD_KP * gain, kv=HOLD_KD * gain)


def held_scene(embody, work):
    """The grasp: (scenario TOML, MjSpec, initial qpos by joint name, box pose)."""
    rows, steps, _ = embody_grasp(embody, work, 0.9)
    row = min(rows, key=lambda r: abs(r["t"] - (steps["hold"][0] + 2.0)))
    names = [f"joint{k}" for k in range(1, 8)] + ["finger_left_joint"]
    posture = dict(zip(names, row["q"]))
    posture["finger_left_joint"] -= 0.001  # 1 mm inside the box: the fingers press
    box = row["objects"][0]
    x, y, z, w = box[3:]
    rpy = [math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
           math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))),
           math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))]
    scenario = (
        'robot = "arm7"\nduration_s = 1.0\n[initial]\nposture = { '
        + ", ".join(f"{k} = {v!r}" for k, v in posture.items()) + " }\n"
        "[sim.contact]\nfriction = 0.9\n"
        "[environment]\nboxes = [{ center = [-0.45, 0.15, 0.1], size = [0.4, 0.7, 0.2] }]\n"
        '[[environment.objects]]\nname = "box"\nshape = "box"\nsize = [0.05, 0.05, 0.05]\n'
        f"mass_kg = 0.5\nfriction = 0.9\nposition_m = {box[:3]!r}\nrpy_rad = {rpy!r}\n"
    )
    # MuJoCo: the arm7 URDF with its collision shapes, finger dynamics and both fingers,
    # each held as ours holds the left one (the right one mimics it in ours: a joint
    # equality in MuJoCo is soft, and lets the fingers part by 2 mm).
    text = open(ARM7).read()
    text = re.sub(r"<visual>.*?</visual>", "", text, flags=re.S)
    text = re.sub(r"<mimic[^>]*/>", "", text)
    spec = mujoco.MjSpec.from_string(text)
    spec.option.timestep = 0.002
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    friction = [0.9, 0.005, 0.0001]
    for geom in spec.worldbody.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        geom.friction, geom.contype, geom.conaffinity = friction, 2, 1  # not each other
    world = dict(friction=friction, contype=1, conaffinity=3)
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1], **world)
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.2, 0.35, 0.1], pos=[-0.45, 0.15, 0.1], **world)
    body = spec.worldbody.add_body(name="box", pos=box[:3], quat=[w, x, y, z])
    body.add_freejoint()
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025] * 3, mass=0.5, **world)
    add_hold(spec, urdf_efforts(text), names + ["finger_right_joint"])
    posture_mujoco = dict(posture, finger_right_joint=posture["finger_left_joint"])
    return scenario, spec, posture, posture_mujoco


def object_speed(embody, work, rounds):
    text = strip(open(ARM7).read())
    arm = os.path.abspath(os.path.join(work, "arm7_rigid_fingers.urdf"))
    open(arm, "w").write(text)
    efforts = urdf_efforts(text)
    scenes = []
    for name, scene_toml, scene_mjcf in object_scenes():
        # The arm in MuJoCo: its URDF, the ground, the objects, position actuators
        # holding its posture with our hold's gains.
        spec = mujoco_model(arm, False, 0.002, mujoco.mjtIntegrator.mjINT_IMPLICITFAST)
        spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 1], friction=[0.9, 0.005, 0.0001])
        scene = mujoco.MjSpec.from_string(f"<mujoco><worldbody>{scene_mjcf}</worldbody></mujoco>")
        for geom in scene.worldbody.geoms:
            spec.worldbody.add_geom(type=geom.type, size=geom.size, pos=geom.pos, friction=geom.friction)
        for body in scene.worldbody.bodies:
            b = spec.worldbody.add_body(pos=body.pos)
            b.add_freejoint()
            for geom in body.geoms:
                b.add_geom(type=geom.type, size=geom.size, mass=geom.mass, friction=geom.friction)
        add_hold(spec, efforts, efforts.keys())
        scenes.append((name, f'robot = "{arm}"\nduration_s = 1.0\n{scene_toml}', [("MuJoCo", spec.compile())], {}))
    scenario, spec, _, posture = held_scene(embody, work)
    default = spec.compile()
    spec.option.noslip_iterations = 10
    scenes.append(("grasp", scenario, [("MuJoCo", default), ("MuJoCo no-slip", spec.compile())], posture))
    cases = []
    for name, scenario_toml, models, posture in scenes:
        scenario = os.path.join(work, f"bench_{name.replace(' ', '_')}.toml")
        open(scenario, "w").write(scenario_toml)
        args = ["--scenario", scenario, "--steps", "20000", "--batches", "3"]
        first = embody_rate(embody, args)
        ours, theirs, held, ncon = [], {who: [] for who, _ in models}, {}, {}
        for _ in range(rounds):
            ours.append(embody_rate(embody, args)["steps_per_s"])
            for who, model in models:
                data = mujoco.MjData(model)
                # The grasp starts as ours: every joint at the posture held (the fingers
                # 1 mm inside the box).
                for joint, value in posture.items():
                    data.qpos[model.jnt_qposadr[model.joint(joint).id]] = value
                    data.ctrl[model.actuator(f"hold_{joint}").id] = value
                mujoco.mj_step(model, data, nstep=500)  # settled, as our batches after the first
                theirs[who].append(mujoco_rate(model, data, 20000))
                ncon[who] = int(data.ncon)
                if posture:
                    held[who] = bool(data.xpos[model.body("box").id][2] > 0.3)
        medians = {who: float(np.median(r)) for who, r in theirs.items()}
        cases.append((name, float(np.median(ours)), medians, first, against_line(embody, args, medians), held, ncon))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embody")
    parser.add_argument("work")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    print(f"MuJoCo {mujoco.__version__}")
    print("\naccuracy: drives off, no contact, RK4 at dt 1 ms, same initial state")
    print(f"{'robot':<10} {'joints':>6} {'max |dq| 0.1 s':>16} {'0.5 s':>10} {'2 s':>10} {'base 2 s':>10} {'first stop':>11}")
    for name, urdf, floating in robots():
        worst, base, n, stop = accuracy(args.embody, args.work, name, urdf, floating)
        print(f"{name:<10} {n:>6} {worst[0.1]:>16.2e} {worst[0.5]:>10.2e} {worst[2.0]:>10.2e} "
              f"{(f'{base[2.0]:.2e}' if floating else '-'):>10} {(f'{stop:.3f} s' if stop is not None else 'none'):>11}")
    print(f"\nspeed: steps/s on one thread, dt 2 ms, median of {args.rounds} alternating rounds")
    print(f"{'robot':<10} {'base':<9} {'contact':<8} {'embody':>10} {'MuJoCo':>10} {'ratio':>7}")
    cases = speed(args.embody, args.work, args.rounds)
    for name, floating, contacts, ours, theirs, settled, first, _ in cases:
        base = "floating" if floating else "fixed"
        print(f"{name:<10} {base:<9} {'ground' if contacts else 'none':<8} {ours:>10.0f} {theirs:>10.0f} {ours / theirs:>7.2f}")
        if contacts:
            print(f"           base height after the run: embody {first['final_base_height_m']:.3f} m, MuJoCo {settled:.3f} m")
    print("embody sim bench given MuJoCo's medians (--against), one more run of ours:")
    for name, floating, contacts, _, _, _, _, against in cases:
        print(f"  {name} ({'floating' if floating else 'fixed'}, {'ground' if contacts else 'no contact'}): {against}")
    print(f"\nobjects: steps/s on one thread, dt 2 ms, the arm holding, median of {args.rounds} alternating rounds")
    for name, ours, theirs, first, line, held, ncon in object_speed(args.embody, args.work, args.rounds):
        peers = ", ".join(f"{who} {rate:.0f} ({ours / rate:.2f}×, {ncon[who]} contacts"
                          + (")" if who not in held else ", box held)" if held[who] else ", box fell)")
                          for who, rate in theirs.items())
        print(f"{name}: embody {ours:.0f} steps/s, {first['mean_object_contacts']:.0f} object contact points; {peers}")
        print("  embody sim bench: " + "\n  embody sim bench: ".join(line.splitlines()))

if __name__ == "__main__":
    main()
