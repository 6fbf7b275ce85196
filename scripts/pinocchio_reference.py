#!/usr/bin/env python3
"""Generates reference values from Pinocchio for the model crate's tests.

For ur5, panda, solo12 (free-flyer) and talos_full_v2 (free-flyer) from
example-robot-data, and panda again with coupled mimic joints, it evaluates Pinocchio on
seeded random states and writes crates/model/tests/data/reference/<case>.json: the joint
layout, and per state q, v, a, tau with RNEA, ABA, CRBA, nonlinear effects, gravity,
every frame placement, frame Jacobians (WORLD, LOCAL, LOCAL_WORLD_ALIGNED), centre of
mass and its Jacobian. The URDFs are copied to crates/model/tests/data/urdf/ so that the
Rust tests need no Python.

    scripts/setup_venv.sh && .venv/bin/python scripts/pinocchio_reference.py
"""
import glob
import json
import os
import shutil

import numpy as np
import pinocchio as pin

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "crates", "model", "tests", "data")
ROBOTS = [
    # case, urdf path inside example-robot-data, floating base, mimic coupled, states
    ("ur5", "ur_description/urdf/ur5_robot.urdf", False, False, 4),
    ("panda", "panda_description/urdf/panda.urdf", False, False, 4),
    ("panda_mimic", "panda_description/urdf/panda.urdf", False, True, 3),
    ("solo12", "solo_description/robots/solo12.urdf", True, False, 4),
    ("talos_full_v2", "talos_data/robots/talos_full_v2.urdf", True, False, 2),
]


def erd_robots_dir():
    for base in pin.__path__:
        hits = glob.glob(os.path.join(base, "..", "..", "..", "..", "**", "example-robot-data", "robots"), recursive=True)
        if hits:
            return os.path.normpath(hits[0])
    raise SystemExit("example-robot-data not found: run scripts/setup_venv.sh")


def random_state(model, rng):
    q = np.zeros(model.nq)
    for j in range(1, model.njoints):
        jm = model.joints[j]
        if jm.nq == 0:
            continue
        iq = jm.idx_q
        if jm.shortname() == "JointModelFreeFlyer":
            q[iq:iq + 3] = rng.uniform(-1, 1, 3)
            quat = rng.normal(size=4)
            q[iq + 3:iq + 7] = quat / np.linalg.norm(quat)
        else:
            lo, hi = model.lowerPositionLimit[iq], model.upperPositionLimit[iq]
            q[iq] = rng.uniform(lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else rng.uniform(-np.pi, np.pi)
    v = rng.uniform(-2, 2, model.nv)
    a = rng.uniform(-2, 2, model.nv)
    tau = rng.uniform(-10, 10, model.nv)
    return q, v, a, tau


def placement(m):
    return {"translation": m.translation.tolist(), "rotation": m.rotation.tolist()}


def main():
    erd = erd_robots_dir()
    for case, rel, floating, mimic, count in ROBOTS:
        src = os.path.join(erd, rel)
        urdf_name = os.path.basename(rel)
        shutil.copyfile(src, os.path.join(DATA, "urdf", urdf_name))
        if floating:
            model = pin.buildModelFromUrdf(src, pin.JointModelFreeFlyer(), mimic=mimic)
        else:
            model = pin.buildModelFromUrdf(src, mimic=mimic)
        data = model.createData()
        rng = np.random.default_rng(20261124 + len(case))
        joints = [
            {"name": model.names[j], "idx_q": model.joints[j].idx_q, "nq": model.joints[j].nq,
             "idx_v": model.joints[j].idx_v, "nv": model.joints[j].nv}
            for j in range(1, model.njoints)
        ]
        frames = [f.name for f in model.frames if f.name != "universe"]
        bodies = [f.name for f in model.frames if f.type == pin.FrameType.BODY]
        jac_frames = sorted({bodies[-1], bodies[len(bodies) // 2]})
        states = []
        for _ in range(count):
            q, v, a, tau = random_state(model, rng)
            s = {"q": q.tolist(), "v": v.tolist(), "a": a.tolist(), "tau": tau.tolist()}
            s["rnea"] = pin.rnea(model, data, q, v, a).tolist()
            s["nle"] = pin.nonLinearEffects(model, data, q, v).tolist()
            s["gravity"] = pin.computeGeneralizedGravity(model, data, q).tolist()
            M = pin.crba(model, data, q)
            M = np.triu(M) + np.triu(M, 1).T
            s["crba"] = M.tolist()
            if not mimic:
                s["aba"] = pin.aba(model, data, q, v, tau).tolist()
            pin.framesForwardKinematics(model, data, q)
            s["frames"] = {f.name: placement(data.oMf[i]) for i, f in enumerate(model.frames) if f.name != "universe"}
            pin.computeJointJacobians(model, data, q)
            pin.updateFramePlacements(model, data)
            s["jacobians"] = {}
            for name in jac_frames:
                fid = model.getFrameId(name, pin.FrameType.BODY)
                s["jacobians"][name] = {
                    ref: pin.getFrameJacobian(model, data, fid, rf).tolist()
                    for ref, rf in (("world", pin.WORLD), ("local", pin.LOCAL),
                                    ("local_world_aligned", pin.LOCAL_WORLD_ALIGNED))
                }
            s["com"] = pin.centerOfMass(model, data, q).tolist()
            s["com_jacobian"] = pin.jacobianCenterOfMass(model, data, q).tolist()
            states.append(s)
        out = {
            "case": case, "urdf": urdf_name, "floating_base": floating, "mimic_coupled": mimic,
            "pinocchio_version": pin.__version__, "nq": model.nq, "nv": model.nv,
            "joints": joints, "frames": frames, "jacobian_frames": jac_frames, "states": states,
        }
        path = os.path.join(DATA, "reference", f"{case}.json")
        with open(path, "w") as f:
            json.dump(out, f, separators=(",", ":"))
        print(f"{case}: nq={model.nq} nv={model.nv} {count} states -> {os.path.relpath(path, ROOT)} ({os.path.getsize(path) // 1024} KiB)")


if __name__ == "__main__":
    main()
