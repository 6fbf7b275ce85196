#!/usr/bin/env python3
"""Prepares the Pinocchio benchmark: for each robot, saves Pinocchio's model to binary
and the same seeded random states twice, as text for the C++ harness and as JSON for
`embody model bench --states`. Usage: prepare.py OUTDIR"""
import json
import os
import sys

import numpy as np
import pinocchio as pin

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pinocchio_reference import erd_robots_dir, random_state  # noqa: E402

ROBOTS = [
    ("ur5", "ur_description/urdf/ur5_robot.urdf", False),
    ("panda", "panda_description/urdf/panda.urdf", False),
    ("solo12", "solo_description/robots/solo12.urdf", True),
    ("talos_full_v2", "talos_data/robots/talos_full_v2.urdf", True),
]


def main(out):
    erd = erd_robots_dir()
    os.makedirs(out, exist_ok=True)
    for name, rel, floating in ROBOTS:
        urdf = os.path.join(erd, rel)
        model = pin.buildModelFromUrdf(urdf, pin.JointModelFreeFlyer()) if floating else pin.buildModelFromUrdf(urdf)
        model.saveToBinary(os.path.join(out, f"{name}.bin"))
        rng = np.random.default_rng(7)
        states = [random_state(model, rng)[:3] for _ in range(64)]
        with open(os.path.join(out, f"{name}.txt"), "w") as f:
            f.write(f"{len(states)} {model.nq} {model.nv}\n")
            for q, v, a in states:
                f.write(" ".join(repr(float(x)) for x in np.concatenate([q, v, a])) + "\n")
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump({"states": [{"q": q.tolist(), "v": v.tolist(), "a": a.tolist()} for q, v, a in states]}, f)
        print(f"{name}\t{urdf}\t{int(floating)}")


if __name__ == "__main__":
    main(sys.argv[1])
