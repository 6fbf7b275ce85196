"""Writes examples/policies/humanoid_probe/model.onnx: a synthetic network for a
locomotion-style manifest on the built-in humanoid whose outputs are known functions of
its input, so tests can check every observation term's place, frame, sign, scale and
history order against the manifest:

- obs_echo = obs (Identity): the assembled observation handed back whole;
- actions  = -obs[joint_pos of the newest step] (Gemm with a selection matrix): each leg
  joint pulled back to the default posture, in the policy's joint order.

Run with the pinned peers: scripts/policy_venv.sh, then
  .venv-policy/bin/python scripts/policies/make_humanoid_probe.py
"""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET, IR_VERSION = 17, 8  # what both tract and onnxruntime 1.31 read
JOINTS = 12  # the legs
# The manifest's terms and sizes, in order (history 2 for joint_pos).
TERMS = [
    ("base_lin_vel", 3),
    ("base_ang_vel", 3),
    ("projected_gravity", 3),
    ("velocity_command", 3),
    ("joint_pos (older)", JOINTS),
    ("joint_pos (newer)", JOINTS),
    ("joint_vel", JOINTS),
    ("last_action", JOINTS),
    ("phase", 2),
]
OBS = sum(size for _, size in TERMS)
NEWEST_JOINT_POS = 3 + 3 + 3 + 3 + JOINTS


def main():
    select = np.zeros((JOINTS, OBS), np.float32)
    for k in range(JOINTS):
        select[k, NEWEST_JOINT_POS + k] = -1.0
    nodes = [
        helper.make_node("Identity", ["obs"], ["obs_echo"]),
        helper.make_node("Gemm", ["obs", "select", "bias"], ["actions"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "humanoid_probe",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, OBS])],
        [
            helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, JOINTS]),
            helper.make_tensor_value_info("obs_echo", TensorProto.FLOAT, [1, OBS]),
        ],
        [
            numpy_helper.from_array(select, "select"),
            numpy_helper.from_array(np.zeros(JOINTS, np.float32), "bias"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="embody"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    out = pathlib.Path(__file__).resolve().parents[2] / "examples/policies/humanoid_probe/model.onnx"
    onnx.save(model, out)
    print(f"wrote {out} ({OBS} observations -> {JOINTS} actions)")


if __name__ == "__main__":
    main()
