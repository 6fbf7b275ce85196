"""Writes crates/runtime/tests/fixtures/image_policy/model.onnx: a network with a camera
image input whose actions are its joint positions (the robot holds where it is) plus
0 × the image's mean — so every step needs the image, and a test can stall the camera
and see the policy held. Run with .venv-policy/bin/python (scripts/policy_venv.sh)."""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

JOINTS = 2
HEIGHT, WIDTH = 24, 32


def main():
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["brightness"], keepdims=0),
        helper.make_node("Mul", ["brightness", "zero"], ["nothing"]),
        helper.make_node("Add", ["obs", "nothing"], ["actions"]),
    ]
    graph = helper.make_graph(
        nodes,
        "image_policy",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, JOINTS]),
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, HEIGHT, WIDTH]),
        ],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, JOINTS])],
        [numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    out = pathlib.Path(__file__).resolve().parents[2] / "crates/runtime/tests/fixtures/image_policy/model.onnx"
    out.parent.mkdir(exist_ok=True)
    onnx.save(model, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
