"""Writes examples/policies/humanoid_mlp_bench/model.onnx: the shape of an exported
locomotion actor — a 3×256 MLP (Gemm + ELU) from the probe's 62 observations to 12 leg
actions, seeded random weights — for `embody policy bench` and its onnxruntime
comparison. Not a trained policy: it measures inference cost, not skill.

Run with .venv-policy/bin/python (scripts/policy_venv.sh)."""

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZES = [62, 256, 256, 256, 12]


def main():
    rng = np.random.default_rng(256)
    nodes, inits, x = [], [], "obs"
    for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        w = (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"W{k}"), numpy_helper.from_array(np.zeros(b, np.float32), f"B{k}")]
        last = k == len(SIZES) - 2
        z = "actions" if last else f"z{k}"
        nodes.append(helper.make_node("Gemm", [x, f"W{k}", f"B{k}"], [z], transB=1))
        if not last:
            nodes.append(helper.make_node("Elu", [z], [f"h{k}"], alpha=1.0))
            x = f"h{k}"
    graph = helper.make_graph(
        nodes,
        "humanoid_mlp_bench",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, SIZES[0]])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="embody")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = pathlib.Path(__file__).resolve().parents[2] / "examples/policies/humanoid_mlp_bench/model.onnx"
    onnx.save(model, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
