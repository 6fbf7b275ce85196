"""Writes crates/runtime/tests/fixtures/nan_policy/model.onnx: a network whose every
action is NaN (0/0), for the test that a non-finite action faults the loop and never
reaches a motor. Run with .venv-policy/bin/python (scripts/policy_venv.sh)."""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

JOINTS = 2


def main():
    nodes = [
        helper.make_node("ReduceSum", ["obs"], ["total"], keepdims=1),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Div", ["nothing", "nothing"], ["nan"]),  # 0/0
        helper.make_node("Expand", ["nan", "shape"], ["actions"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nan_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, JOINTS])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, JOINTS])],
        [
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
            numpy_helper.from_array(np.array([1, JOINTS], np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    out = pathlib.Path(__file__).resolve().parents[2] / "crates/runtime/tests/fixtures/nan_policy/model.onnx"
    onnx.save(model, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
