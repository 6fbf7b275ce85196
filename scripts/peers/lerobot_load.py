"""LeRobot itself (lerobot 0.6.1) loads a dataset embody recorded, offline, with
`LeRobotDataset(repo_id, root=DIR)`, and returns the same values pyarrow reads from its
tables: observation.state, observation.environment_state, action, timestamp, indices
and the task's text for frames
across every episode; each camera's image decoded by LeRobot's own video decoder
matches the frame the simulator rendered (PSNR ≥ 35 dB, from `--reference-frames`).
Usage: lerobot_load.py DATASET REFERENCE_DIR"""

import math
import os
import pathlib
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402


# The vector features compared (the objects' poses when the scene has objects).
VECTORS = ("observation.state", "observation.environment_state", "action")


def fail(why):
    print(f"lerobot_load: FAIL: {why}")
    sys.exit(1)


def main():
    root = pathlib.Path(sys.argv[1])
    reference = pathlib.Path(sys.argv[2])
    dataset = LeRobotDataset("embody/pick_seen", root=root)
    table = pq.read_table(sorted(root.glob("data/*/*.parquet"))).to_pydict()
    tasks = pq.read_table(root / "meta/tasks.parquet").to_pandas()
    frames = len(table["index"])
    if len(dataset) != frames or dataset.num_episodes != len(set(table["episode_index"])):
        fail(f"LeRobot sees {len(dataset)} frames and {dataset.num_episodes} episodes, "
             f"the tables {frames} and {len(set(table['episode_index']))}")
    camera_keys = dataset.meta.camera_keys
    checked, psnrs = 0, []
    # Every 37th row, through every episode; and every 10th of the first episode, whose
    # rendered frames were saved.
    first = table["episode_index"].count(0)
    for row in sorted(set(range(0, frames, 37)) | set(range(0, first, 10)) | {frames - 1}):
        item = dataset[row]
        for key in [k for k in VECTORS if k in table]:
            got = item[key].numpy()
            want = np.array(table[key][row], dtype=np.float32)
            if not np.array_equal(got, want):
                fail(f"row {row}: {key} {got} but the table holds {want}")
        for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
            if abs(float(item[key]) - float(table[key][row])) > 1e-6:
                fail(f"row {row}: {key} {float(item[key])}, the table {table[key][row]}")
        want_task = tasks.index[table["task_index"][row]]
        if item["task"] != want_task:
            fail(f"row {row}: task {item['task']!r}, tasks.parquet {want_task!r}")
        for key in camera_keys:
            image = item[key].numpy()
            if image.shape[0] != 3 or image.min() < 0 or image.max() > 1:
                fail(f"row {row}: {key} of shape {image.shape}, range {image.min()}–{image.max()}")
            png = reference / f"{key.removeprefix('observation.images.')}-{table['frame_index'][row]:06}.png"
            if table["episode_index"][row] == 0 and png.exists():
                want = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
                got = np.transpose(image, (1, 2, 0)).astype(np.float64) * 255
                mse = np.mean((got - want) ** 2)
                psnrs.append(10 * math.log10(255 ** 2 / max(mse, 1e-9)))
        checked += 1
    if not psnrs or min(psnrs) < 35:
        fail(f"LeRobot's decoded images against the rendered ones: {psnrs}")
    print(f"lerobot_load: LeRobotDataset loaded {frames} frames of {dataset.num_episodes} episodes; "
          f"{checked} items agree with the tables (state, objects, action, indices, task text); "
          f"{len(psnrs)} images decoded by LeRobot ({getattr(dataset, '_video_backend', '?')}) against the rendered "
          f"ones: PSNR min {min(psnrs):.1f} dB")


main()
