"""Trains examples/policies/arm7_reach/model.onnx by behaviour cloning on the planner.

1. Demonstrations: for goals drawn in a box around the episode's (and starts jittered
   about the manifest's start posture), a task moves the tool to the goal in a straight
   line and holds; `embody policy demonstrate` runs it in the simulator and records, at
   the policy's rate, the package's own observation and the action that gives the
   planner's next joint reference.
2. Fit: a 2×128 tanh MLP predicts the step from the current joints to that action
   (the network adds it to `joint_pos`), inputs and outputs standardised, by Adam on
   mean squared error in numpy (CPU, no torch).
3. Export: ONNX opset 17 (`obs` [1, 13] -> `actions` [1, 7]) with the standardisation
   and the residual inside the graph.
4. Evaluate: `embody policy eval` over 100 seeded goals.

Run with .venv-policy/bin/python (scripts/policy_venv.sh):
    python scripts/policies/train_arm7_reach.py target/release/embody
"""

import concurrent.futures
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from train_bc import adam, gradients  # noqa: E402  (the same MLP and optimiser)
PACKAGE = ROOT / "examples" / "policies" / "arm7_reach"
JOINTS, OBS, HIDDEN = 7, 13, 128
DEMOS = 400
# The episode's goal box, widened by 3 cm so its edges are inside the data.
BOX = np.array([[-0.48, -0.22], [-0.18, 0.18], [0.22, 0.48]])

TASK = """name = "reach demonstration"
robot = "arm7"
[[steps]]
name = "reach"
skill = "move_pose"
frame = "tcp"
position = [{x!r}, {y!r}, {z!r}]
path = "line"
speed = {speed!r}
[[steps]]
name = "stay"
skill = "hold"
seconds = 0.6
"""


def demonstrate(embody, scratch, k, goal, speed, jitter):
    task = scratch / f"task{k}.toml"
    out = scratch / f"demo{k}.jsonl"
    x, y, z = (float(v) for v in goal)
    task.write_text(TASK.format(x=x, y=y, z=z, speed=float(speed)))
    done = subprocess.run(
        [embody, "policy", "demonstrate", str(PACKAGE), str(task),
         "--command", f"x={x},y={y},z={z}", "--out", str(out),
         "--start-jitter", str(float(jitter)), "--seed", str(k)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        return None
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    obs = np.array([r["inputs"]["obs"] for r in rows], dtype=np.float64)
    act = np.array([r["action"] for r in rows], dtype=np.float64)
    return obs, act


def collect(embody, rng):
    goals = rng.uniform(BOX[:, 0], BOX[:, 1], size=(DEMOS, 3))
    speeds = rng.uniform(0.5, 0.9, size=DEMOS)
    jitters = np.where(np.arange(DEMOS) % 2 == 0, 0.0, 0.08)
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(2) as pool:
        scratch = pathlib.Path(tmp)
        runs = list(pool.map(
            lambda k: demonstrate(embody, scratch, k, goals[k], speeds[k], jitters[k]),
            range(DEMOS),
        ))
    kept = [r for r in runs if r is not None]
    print(f"demonstrations: {len(kept)} of {DEMOS} reaches succeeded", file=sys.stderr)
    obs = np.concatenate([r[0] for r in kept])
    act = np.concatenate([r[1] for r in kept])
    return obs, act


def fit(obs, act, rng, epochs=300, batch=256, lr=2e-3):
    step = act - obs[:, :JOINTS]
    x_mean, x_std = obs.mean(0), obs.std(0) + 1e-6
    y_mean, y_std = step.mean(0), step.std(0) + 1e-6
    x = (obs - x_mean) / x_std
    y = (step - y_mean) / y_std
    sizes = [OBS, HIDDEN, HIDDEN, JOINTS]
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [rng.standard_normal((a, b)) * np.sqrt(1.0 / a), np.zeros(b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        rate = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            t += 1
            adam(params, gradients(params, x[idx], y[idx]), m, v, t, rate)
        if epoch % 50 == 0 or epoch == epochs - 1:
            w1, b1, w2, b2, w3, b3 = params
            pred = np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3
            rms = np.sqrt((((pred - y) * y_std) ** 2).mean())
            print(f"epoch {epoch}: step error {rms * 1e3:.3f} mrad rms", file=sys.stderr)
    return params, (x_mean, x_std, y_mean, y_std)


def export(params, norm, path):
    x_mean, x_std, y_mean, y_std = norm
    w1, b1, w2, b2, w3, b3 = params
    select = np.zeros((OBS, JOINTS))
    select[:JOINTS, :JOINTS] = np.eye(JOINTS)
    consts = {
        "x_mean": x_mean, "x_scale": 1.0 / x_std, "w1": w1, "b1": b1, "w2": w2, "b2": b2,
        "w3": w3 * y_std, "b3": b3 * y_std + y_mean, "select": select,
    }
    nodes = [
        helper.make_node("Sub", ["obs", "x_mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "x_scale"], ["x"]),
        helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"]),
        helper.make_node("Tanh", ["z1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["z2"]),
        helper.make_node("Tanh", ["z2"], ["h2"]),
        helper.make_node("Gemm", ["h2", "w3", "b3"], ["step"]),
        helper.make_node("MatMul", ["obs", "select"], ["joint_pos"]),
        helper.make_node("Add", ["joint_pos", "step"], ["actions"]),
    ]
    graph = helper.make_graph(
        nodes,
        "arm7_reach",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, OBS])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, JOINTS])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    embody = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "embody")
    rng = np.random.default_rng(16)
    obs, act = collect(embody, rng)
    print(f"{len(obs)} samples", file=sys.stderr)
    params, norm = fit(obs, act, rng)
    export(params, norm, PACKAGE / "model.onnx")
    print(f"wrote {PACKAGE / 'model.onnx'}", file=sys.stderr)
    subprocess.run(
        [embody, "policy", "eval", str(PACKAGE), "--episodes", "100", "--seed", "1"], check=True
    )


if __name__ == "__main__":
    main()
