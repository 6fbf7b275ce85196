"""The third-party check of embody's policy inference: onnxruntime (from PyPI) runs the
package's network on the inputs embody recorded (`embody policy run --record-policy`)
and every output must equal embody's (tract's) within 1e-5.

With `INPUT=OUTPUT` pairs after the record, the recurrent state is checked too: zero at
the first inference, and each inference's INPUT the previous one's OUTPUT.

Usage: onnxruntime_policy.py MODEL.onnx RECORD.jsonl [h_in=h_out ...]
"""

import json
import sys

import numpy as np
import onnxruntime


def main():
    model, record = sys.argv[1], sys.argv[2]
    pairs = [arg.split("=", 1) for arg in sys.argv[3:]]
    previous = None
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
            for state_in, state_out in pairs:
                carried = step["inputs"][state_in]
                expected = previous["outputs"][state_out] if previous else [0.0] * len(carried)
                if carried != expected:
                    sys.exit(f"inference {steps}: {state_in} is not the state carried from {state_out}")
            previous = step
            names = list(step["outputs"])
            for name, ours in zip(names, session.run(names, feeds)):
                theirs = np.asarray(step["outputs"][name], np.float32)
                worst = max(worst, float(np.max(np.abs(ours.ravel() - theirs))))
            steps += 1
    if steps == 0:
        sys.exit(f"{record}: no inference recorded")
    carried = f", state carried through {', '.join(i for i, _ in pairs)}" if pairs else ""
    print(
        f"onnxruntime {onnxruntime.__version__} recomputed {steps} inferences of {model}: "
        f"largest difference {worst:.2e}{carried}"
    )
    if not worst <= 1e-5:
        sys.exit(f"embody's outputs differ from onnxruntime's by {worst:.2e} (limit 1e-5)")


if __name__ == "__main__":
    main()
