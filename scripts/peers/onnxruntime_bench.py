"""onnxruntime's inference time on a policy network, one thread, the same inputs every
call (what embody policy bench's `inference_us` is compared with). Note it is called from
Python, which adds a few microseconds per call.

Usage: onnxruntime_bench.py MODEL.onnx
"""

import json, sys, time
import numpy as np, onnxruntime as ort
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
inp = s.get_inputs()[0]
x = (np.arange(np.prod(inp.shape)) * 0.01).astype(np.float32).reshape(inp.shape)
for _ in range(100): s.run(None, {inp.name: x})
t = []
for _ in range(2000):
    a = time.perf_counter(); s.run(None, {inp.name: x}); t.append((time.perf_counter() - a) * 1e6)
print(json.dumps({"engine": "onnxruntime " + ort.__version__, "inference_us": float(np.median(t))}))
