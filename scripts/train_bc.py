"""Trains a behaviour-cloning policy from an embody dataset and writes a policy package.

    python scripts/train_bc.py DATASET PACKAGE [--epochs 60] [--hidden 256] [--seed 0]

DATASET is a LeRobotDataset v3.0 that `embody run TASK --dataset DATASET` recorded (its
parquet files are read with pyarrow). The policy sees what a frame holds of the state —
`observation.state` (the joint positions) and, when the scene has objects,
`observation.environment_state` (each object's pose, `x y z qx qy qz qw`) — and gives the
frame's `action` (the joint targets): a 3-layer tanh MLP fitted by Adam on mean squared
error in numpy, on the CPU in minutes. Inputs and action are normalised LeRobot's way
(MEAN_STD) by the dataset's own `meta/stats.json`, which the package carries; the
network adds the joint positions to the step it predicts, so it learns where to go next
rather than where it is.

PACKAGE gets `model.onnx` (opset 17; one input per feature, output `action`), `stats.json`
and `policy.toml`, whose `scene` is the demonstrations' task (copied in as `scene.toml`)
so `embody policy eval PACKAGE` runs the policy among the same objects, placed afresh
per seed. The policy's rate is the dataset's fps, its gains the loop's own joint PD
(kp = 5·effort, kd = 0.3·effort, ten times that per metre for a finger), as the
demonstrations were tracked.

Give --success-object/--success-position/--within to score `policy eval` episodes by
where an object ends up (a pick-and-place), else no [episode] is written.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import numpy as np
import onnx
import pyarrow.parquet as pq
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATE, ENV, ACTION = "observation.state", "observation.environment_state", "action"
# A feature that hardly moves in the demonstrations (an upright box's qx, qy) is divided
# by at least this, so a small difference at run time stays a small input.
STD_FLOOR = 1e-2


def load(dataset):
    """Every frame's features, each episode's frame count, and the dataset's metadata."""
    info = json.loads((dataset / "meta" / "info.json").read_text())
    stats = json.loads((dataset / "meta" / "stats.json").read_text())
    files = sorted((dataset / "data").glob("chunk-*/file-*.parquet"))
    if not files:
        sys.exit(f"{dataset}: no data/chunk-*/file-*.parquet: not a dataset embody recorded")
    table = pq.read_table(files[0]) if len(files) == 1 else None
    if table is None:
        import pyarrow as pa
        table = pa.concat_tables([pq.read_table(f) for f in files])
    keys = [k for k in (STATE, ENV) if k in info["features"]]
    if STATE not in keys or ACTION not in info["features"]:
        sys.exit(f"{dataset}: needs {STATE} and {ACTION} features")
    columns = {k: np.stack(table.column(k).to_numpy(zero_copy_only=False)).astype(np.float64)
               for k in keys + [ACTION]}
    episodes = table.column("episode_index").to_numpy()
    # Only the demonstrations that succeeded (embody marks each episode).
    meta = [pq.read_table(f) for f in sorted((dataset / "meta" / "episodes").glob("*/*.parquet"))]
    failed = {int(i) for t in meta if "embody_success" in t.column_names
              for i, ok in zip(t.column("episode_index").to_pylist(),
                               t.column("embody_success").to_pylist()) if not ok}
    if failed:
        print(f"{dataset}: leaving out {len(failed)} failed episodes: {sorted(failed)}",
              file=sys.stderr)
        keep = ~np.isin(episodes, sorted(failed))
        columns = {k: v[keep] for k, v in columns.items()}
        episodes = episodes[keep]
    return info, stats, keys, columns, episodes


def training_pairs(columns, keys, episodes, chunk):
    """Inputs and targets: frame k's observation, and the actions of frames k+1 … k+chunk.

    The action of frame k is the loop's reference at k; a policy's target holds for the
    frame's period, so it is trained on the references the loop reaches next, a chunk of
    them (ACT's action chunking), which the policy executes before it looks again: a
    step of one frame is too small against the network's error to make progress on its
    own. Past an episode's end its last action is repeated."""
    n = len(episodes)
    # Each frame's last index in its episode.
    last = np.zeros(n, dtype=np.int64)
    ends = np.r_[np.nonzero(episodes[1:] != episodes[:-1])[0], n - 1]
    starts = np.r_[0, ends[:-1] + 1]
    for a, b in zip(starts, ends):
        last[a:b + 1] = b
    ahead = np.minimum(np.arange(n)[:, None] + np.arange(1, chunk + 1)[None, :], last[:, None])
    return [columns[k] for k in keys], columns[ACTION][ahead]


def floored(stats, key, size):
    mean = np.asarray(stats[key]["mean"], dtype=np.float64).reshape(size)
    std = np.maximum(np.asarray(stats[key]["std"], dtype=np.float64).reshape(size), STD_FLOOR)
    return mean, std


def gradients(params, xb, yb):
    """The gradients of a 2-hidden-layer tanh MLP's mean squared error on a batch."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.tanh(xb @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    g = 2 * (h2 @ w3 + b3 - yb) / len(xb)
    g2 = (g @ w3.T) * (1 - h2 ** 2)
    g1 = (g2 @ w2.T) * (1 - h1 ** 2)
    return [xb.T @ g1, g1.sum(0), h1.T @ g2, g2.sum(0), h2.T @ g, g.sum(0)]


def adam(params, grads, m, v, t, rate):
    """One Adam step (β 0.9, 0.999) of `params` in place; `t` counts steps from 1."""
    for i, grad in enumerate(grads):
        m[i] = 0.9 * m[i] + 0.1 * grad
        v[i] = 0.999 * v[i] + 0.001 * grad ** 2
        mh, vh = m[i] / (1 - 0.9 ** t), v[i] / (1 - 0.999 ** t)
        params[i] -= rate * mh / (np.sqrt(vh) + 1e-8)


def fit(xs, y, norm, hidden, epochs, noise, rng, batch=256, lr=2e-3):
    """A tanh MLP on the normalised inputs to the normalised steps from the state to each
    action of the chunk (`y`: frames × chunk × joints).

    Each batch's inputs are perturbed (`noise`: a standard deviation per feature, in its
    units) and its targets kept where the demonstration went, so the policy learns to
    come back to the demonstrations from a little off them (DART) instead of drifting
    further, as a closed loop otherwise does."""
    (s_mean, s_std), (a_mean, a_std) = norm[STATE], norm[ACTION]
    chunk, joints = y.shape[1], y.shape[2]
    keys = list(xs)
    state = xs[STATE]
    step = (y - state[:, None, :]).reshape(len(y), chunk * joints)
    d_mean, d_std = step.mean(0), step.std(0) + 1e-6
    sizes = [sum(xs[k].shape[1] for k in keys), hidden, hidden, chunk * joints]

    def batch_of(idx, perturb):
        raw = {k: xs[k][idx] + (rng.normal(0, noise[k], xs[k][idx].shape) if perturb else 0)
               for k in keys}
        xb = np.concatenate([(raw[k] - norm[k][0]) / norm[k][1] for k in keys], axis=1)
        moved = (y[idx] - raw[STATE][:, None, :]).reshape(len(idx), chunk * joints)
        return xb, (moved - d_mean) / d_std

    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [rng.standard_normal((a, b)) * np.sqrt(1.0 / a), np.zeros(b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t, started = 0, time.monotonic()
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        rate = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for start in range(0, len(y), batch):
            xb, yb = batch_of(order[start:start + batch], True)
            t += 1
            adam(params, gradients(params, xb, yb), m, v, t, rate)
        if epoch % 10 == 0 or epoch == epochs - 1:
            w1, b1, w2, b2, w3, b3 = params
            x, target = batch_of(np.arange(len(y)), False)
            pred = np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3
            rms = np.sqrt((((pred - target) * d_std) ** 2).mean(0))
            print(f"epoch {epoch}: action error {rms.mean() * 1e3:.3f} rms (rad or m, x1e-3),"
                  f" {time.monotonic() - started:.0f} s", file=sys.stderr)
    # Fold the step's and the action's normalisation into the last layer, and the state
    # back in: action_n = (state + step - a_mean) / a_std, state = s_n * s_std + s_mean.
    w1, b1, w2, b2, w3, b3 = params
    a_mean, a_std, s_mean = (np.tile(v, chunk) for v in (a_mean, a_std, s_mean))
    w3 = w3 * d_std / a_std
    b3 = (b3 * d_std + d_mean + s_mean - a_mean) / a_std
    skip = np.tile(np.diag(norm[STATE][1]), chunk) / a_std
    return [w1, b1, w2, b2, w3, b3, skip]


def export(params, keys, sizes, chunk, name, path):
    w1, b1, w2, b2, w3, b3, skip = params
    consts = {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "w3": w3, "b3": b3, "skip": skip}
    nodes = []
    if len(keys) > 1:
        nodes.append(helper.make_node("Concat", keys, ["x"], axis=1))
    x = "x" if len(keys) > 1 else keys[0]
    nodes += [
        helper.make_node("Gemm", [x, "w1", "b1"], ["z1"]),
        helper.make_node("Tanh", ["z1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["z2"]),
        helper.make_node("Tanh", ["z2"], ["h2"]),
        helper.make_node("Gemm", ["h2", "w3", "b3"], ["step"]),
        helper.make_node("MatMul", [STATE, "skip"], ["held"]),
        helper.make_node("Add", ["held", "step"], [ACTION]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, [1, sizes[k]]) for k in keys],
        [helper.make_tensor_value_info(ACTION, TensorProto.FLOAT, [1, chunk * sizes[ACTION]])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def toml_list(values):
    return "[" + ", ".join(repr(round(float(v), 6)) if not isinstance(v, str)
                           else json.dumps(v) for v in values) + "]"


def manifest(args, info, keys, names, objects, task_name):
    joints = names[STATE]
    # The loop's own joint PD, as the demonstrations were tracked: kp = 5·effort,
    # kd = 0.3·effort, ten times that per metre for a prismatic joint (a finger).
    efforts = [args.effort[j] * (10.0 if args.joint[j]["type"] == "prismatic" else 1.0)
               for j in joints]
    lines = [
        f"# Behaviour cloning of \"{task_name}\" from {args.dataset.name}",
        "# (scripts/train_bc.py): an MLP on the joint positions"
        + (" and the objects' poses" if ENV in keys else "")
        + ",",
        "# giving the next joint targets, normalised by the dataset's statistics.",
        f"name = {json.dumps(args.package.name)}",
        f"robot = {json.dumps(info['robot_type'])}",
        f"rate_hz = {float(info['fps'])!r}",
        f"joints = {toml_list(joints)}",
        "stats = \"stats.json\"",
        "scene = \"scene.toml\"",
        "",
        "[[inputs]]",
        f"name = \"{STATE}\"",
        "terms = [{ kind = \"joint_pos\" }]",
        f"normalize = {{ key = \"{STATE}\" }}",
    ]
    for obj in objects:
        lines += [
            "",
            "[[inputs]]",
            f"name = \"{ENV}\"",
            f"terms = [{{ kind = \"object_pose\", object = {json.dumps(obj)} }}]",
            f"normalize = {{ key = \"{ENV}\" }}",
        ]
    lines += [
        "",
        "[action]",
        f"output = \"{ACTION}\"",
        "kind = \"position\"",
        f"kp = {toml_list([5.0 * e for e in efforts])}",
        f"kd = {toml_list([0.3 * e for e in efforts])}",
        "gravity_feedforward = true",
        f"normalize = {{ key = \"{ACTION}\" }}",
        f"chunk = {{ length = {args.chunk}, execute = {args.execute} }}",
    ]
    if args.success_object:
        seconds = args.seconds or round(float(args.longest_s) + 2.0, 1)
        lines += [
            "",
            "# `embody policy eval`: the scene's objects placed by each episode's seed;",
            f"# success is {args.success_object} ending within {args.within} m of where it goes.",
            "[episode]",
            f"seconds = {seconds!r}",
            "sample = {}",
            f"success = {{ kind = \"placed\", object = {json.dumps(args.success_object)}, "
            f"position = {toml_list(args.success_position)}, within_m = {args.within!r} }}",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=pathlib.Path)
    parser.add_argument("package", type=pathlib.Path)
    parser.add_argument("--task", type=pathlib.Path, required=True,
                        help="the task the demonstrations ran: the package's scene")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-rad", type=float, default=0.02,
                        help="input perturbation of a joint (rad) in training")
    parser.add_argument("--noise-m", type=float, default=0.003,
                        help="input perturbation of an object's position (m) in training")
    parser.add_argument("--chunk", type=int, default=10, help="actions predicted at once")
    parser.add_argument("--execute", type=int, default=5,
                        help="of them executed before the policy looks again")
    parser.add_argument("--success-object")
    parser.add_argument("--success-position", type=float, nargs=3)
    parser.add_argument("--within", type=float, default=0.02)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--embody", default=str(ROOT / "target" / "release" / "embody"),
                        help="the embody binary (reads the robot's joint efforts)")
    args = parser.parse_args()
    if args.success_object and not args.success_position:
        parser.error("--success-object needs --success-position X Y Z")

    info, stats, keys, columns, episodes = load(args.dataset)
    model = json.loads(subprocess.run(
        [args.embody, "model", "info", info["robot_type"], "--json"],
        check=True, capture_output=True, text=True).stdout)
    args.effort = {j["name"]: j["effort"] for j in model["joints"]}
    model_joint = args.joint = {j["name"]: j for j in model["joints"]}
    names = {k: info["features"][k]["names"] for k in keys + [ACTION]}
    sizes = {k: len(names[k]) for k in keys + [ACTION]}
    objects = sorted({n.rsplit(".", 1)[0] for n in names.get(ENV, [])},
                     key=lambda o: names[ENV].index(f"{o}.x"))
    if len(objects) > 1:
        sys.exit(f"{args.dataset}: {len(objects)} objects; this trainer takes one")
    counts = np.unique(episodes, return_counts=True)[1]
    args.longest_s = counts.max() / info["fps"]
    print(f"{args.dataset}: {len(counts)} episodes, {len(episodes)} frames "
          f"({', '.join(keys)} -> {ACTION})", file=sys.stderr)

    if not 1 <= args.execute <= args.chunk:
        parser.error("--execute must be from 1 to --chunk")
    inputs, target = training_pairs(columns, keys, episodes, args.chunk)
    norm = {k: floored(stats, k, sizes[k]) for k in keys + [ACTION]}
    rng = np.random.default_rng(args.seed)
    # Perturbations: joints by --noise-rad (a prismatic finger by a tenth of it, in m),
    # objects' positions by --noise-m and their quaternions by --noise-rad / 2.
    joint_noise = np.array([args.noise_rad * (0.1 if model_joint[j]["type"] == "prismatic" else 1)
                            for j in names[STATE]])
    noise = {STATE: joint_noise}
    if ENV in keys:
        per_object = [args.noise_m] * 3 + [args.noise_rad / 2] * 4
        noise[ENV] = np.array(per_object * (sizes[ENV] // 7))
    params = fit(dict(zip(keys, inputs)), target, norm, args.hidden, args.epochs, noise, rng)

    args.package.mkdir(parents=True, exist_ok=True)
    export(params, keys, sizes, args.chunk, args.package.name, args.package / "model.onnx")
    package_stats = {k: {"mean": norm[k][0].tolist(), "std": norm[k][1].tolist(),
                         "min": stats[k]["min"], "max": stats[k]["max"]}
                     for k in keys + [ACTION]}
    (args.package / "stats.json").write_text(json.dumps(package_stats, indent=1) + "\n")
    task_text = args.task.read_text()
    (args.package / "scene.toml").write_text(task_text)
    task_name = next((line.split("=", 1)[1].strip().strip('"') for line in task_text.splitlines()
                      if line.startswith("name")), args.task.stem)
    (args.package / "policy.toml").write_text(
        manifest(args, info, keys, names, objects, task_name))
    print(f"wrote {args.package}/policy.toml, model.onnx, stats.json, scene.toml",
          file=sys.stderr)


if __name__ == "__main__":
    main()
