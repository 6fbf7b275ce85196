"""Writes examples/policies/arm7_gru_probe/model.onnx: a small recurrent network (ONNX GRU,
hidden state carried from `h_out` to `h_in` between steps) on the arm's seven joints,
with seeded random weights: it exercises the carried state, not a skill. Its actions are
small, so the arm stays near its default posture.

Run with .venv-policy/bin/python (scripts/policy_venv.sh)."""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUTS, HIDDEN, JOINTS = 14, 16, 7  # joint_pos and joint_vel of seven joints


def main():
    rng = np.random.default_rng(16)
    w = (rng.standard_normal((1, 3 * HIDDEN, INPUTS)) * 0.4).astype(np.float32)  # z, r, h
    r = (rng.standard_normal((1, 3 * HIDDEN, HIDDEN)) * 0.4).astype(np.float32)
    b = (rng.standard_normal((1, 6 * HIDDEN)) * 0.1).astype(np.float32)
    out = (rng.standard_normal((JOINTS, HIDDEN)) * 0.2).astype(np.float32)
    nodes = [
        helper.make_node(
            "GRU", ["obs", "W", "R", "B", "", "h_in"], ["", "h_out"],
            hidden_size=HIDDEN, linear_before_reset=1,
        ),
        helper.make_node("Reshape", ["h_out", "flat"], ["h"]),
        helper.make_node("Gemm", ["h", "out"], ["actions"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "arm7_gru_probe",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, 1, INPUTS]),
            helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        [
            helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, JOINTS]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(r, "R"),
            numpy_helper.from_array(b, "B"),
            numpy_helper.from_array(out, "out"),
            numpy_helper.from_array(np.array([1, HIDDEN], np.int64), "flat"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="embody")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = pathlib.Path(__file__).resolve().parents[2] / "examples/policies/arm7_gru_probe/model.onnx"
    onnx.save(model, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
