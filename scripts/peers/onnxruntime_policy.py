"""The third-party check of embody's policy inference: onnxruntime (from PyPI) runs the
package's network on the inputs embody recorded (`embody policy run --record-policy`)
and every output must equal embody's (tract's) within 1e-5.

Usage: onnxruntime_policy.py MODEL.onnx RECORD.jsonl
"""

import json
import sys

import numpy as np
import onnxruntime


def main():
    model, record = sys.argv[1], sys.argv[2]
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in session.get_inputs()}
    worst, steps = 0.0, 0
    with open(record) as lines:
        for line in lines:
            step = json.loads(line)
            feeds = {
                name: np.asarray(values, np.float32).reshape(shapes[name])
                for name, values in step["inputs"].items()
            }
            names = list(step["outputs"])
            for name, ours in zip(names, session.run(names, feeds)):
                theirs = np.asarray(step["outputs"][name], np.float32)
                worst = max(worst, float(np.max(np.abs(ours.ravel() - theirs))))
            steps += 1
    if steps == 0:
        sys.exit(f"{record}: no inference recorded")
    print(f"onnxruntime {onnxruntime.__version__} recomputed {steps} inferences: largest difference {worst:.2e}")
    if not worst <= 1e-5:
        sys.exit(f"embody's outputs differ from onnxruntime's by {worst:.2e} (limit 1e-5)")


if __name__ == "__main__":
    main()
