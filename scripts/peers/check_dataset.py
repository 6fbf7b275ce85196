"""Reads a LeRobotDataset v3.0 written by `embody run --dataset` with third-party readers
only — pyarrow for the tables, PyAV (FFmpeg) for the videos — and checks it:
- the frame counts agree across info.json, the frames' table, the episodes' table and
  every video (decoded, frame by frame);
- every timestamp is within 1e-4 s of frame_index / fps, every video frame at k / fps;
- observation.state equals the simulator's state (`--record`) at the tick each frame
  was taken (the first at or after its time), read through the simulator's 16-bit
  encoders (`[sensors] encoder_bits`, default 16: positions in steps of 2π / 65536);
- decoded video frames match the frames the simulator rendered (saved as PNG with
  `--reference-frames`): PSNR ≥ 35 dB.
Usage: check_dataset.py DATASET [STATES.jsonl REFERENCE_DIR]"""

import json
import math
import pathlib
import sys

import av
import numpy as np
import pyarrow.parquet as pq
from PIL import Image


def fail(why):
    print(f"check_dataset: FAIL: {why}")
    sys.exit(1)


def main():
    root = pathlib.Path(sys.argv[1])
    info = json.loads((root / "meta/info.json").read_text())
    fps = info["fps"]
    data = pq.read_table(sorted(root.glob("data/*/*.parquet"))).to_pydict()
    episodes = pq.read_table(sorted(root.glob("meta/episodes/*/*.parquet"))).to_pydict()
    tasks = pq.read_table(root / "meta/tasks.parquet").to_pandas()
    frames = len(data["index"])
    if not (frames == info["total_frames"] == sum(episodes["length"])):
        fail(f"frames: {frames} rows, info.json {info['total_frames']}, episodes {sum(episodes['length'])}")
    if len(episodes["episode_index"]) != info["total_episodes"]:
        fail("episodes: the table and info.json disagree")
    if list(data["index"]) != list(range(frames)):
        fail("index is not the row number")
    if tasks.index.name != "task" or list(tasks["task_index"]) != list(range(len(tasks))):
        fail(f"tasks.parquet does not read as LeRobot reads it: {tasks}")
    worst = max(abs(t - f / fps) for t, f in zip(data["timestamp"], data["frame_index"]))
    if worst > 1e-4:
        fail(f"a timestamp {worst:.2e} s from frame_index / fps")
    print(f"check_dataset: {info['total_episodes']} episodes, {frames} frames; "
          f"timestamps within {worst:.1e} s of frame_index / {fps}")

    videos = [k for k, f in info["features"].items() if f["dtype"] == "video"]
    decoded = {}
    for key in videos:
        files = sorted({(c, f) for c, f in zip(episodes[f"videos/{key}/chunk_index"],
                                              episodes[f"videos/{key}/file_index"])})
        count = 0
        for chunk, file in files:
            path = root / info["video_path"].format(video_key=key, chunk_index=chunk, file_index=file)
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if stream.codec_context.name != "h264" or stream.codec_context.pix_fmt != "yuv420p":
                    fail(f"{path}: {stream.codec_context.name} {stream.codec_context.pix_fmt}")
                for k, frame in enumerate(container.decode(stream)):
                    if abs(float(frame.pts * stream.time_base) - k / fps) > 1e-6:
                        fail(f"{path}: frame {k} at {float(frame.pts * stream.time_base)} s")
                    if (chunk, file) == files[0] and k < 400:
                        decoded[(key, k)] = frame.to_ndarray(format="rgb24")
                    count += 1
        if count != frames:
            fail(f"{key}: {count} video frames decoded, {frames} rows")
        starts = episodes[f"videos/{key}/from_timestamp"]
        print(f"check_dataset: {key}: {count} frames decoded by PyAV in {len(files)} file(s), "
              f"episodes start at {[round(s, 3) for s in starts[:4]]} s")

    if len(sys.argv) < 4:
        return
    states = [json.loads(line) for line in open(sys.argv[2])][1:]
    by_tick = {round(s["t"] * 1000): s["q"] for s in states}
    state = np.array(data["observation.state"], dtype=np.float64)
    n = len(state[0])
    step = 2 * math.pi / 65536
    worst = 0.0
    for row, k in enumerate(data["frame_index"]):
        if data["episode_index"][row] != 0:
            break
        tick = math.ceil(k * 1000 / fps - 1e-6)
        if tick not in by_tick:
            fail(f"frame {k}: no recorded state at {tick} ms")
        measured = np.round(np.array(by_tick[tick][:n]) / step) * step
        worst = max(worst, float(np.max(np.abs(state[row] - measured))))
    if worst > 1e-6:
        fail(f"observation.state is {worst:.2e} from the recorded state through 16-bit encoders")
    print(f"check_dataset: observation.state equals the simulator's recorded state through its 16-bit "
          f"encoders at each frame's tick (largest difference {worst:.1e}, float32)")

    reference = pathlib.Path(sys.argv[3])
    psnrs = []
    for png in sorted(reference.glob("*.png")):
        camera, k = png.stem.rsplit("-", 1)
        got = decoded.get((f"observation.images.{camera}", int(k)))
        if got is None:
            continue
        want = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
        mse = np.mean((got.astype(np.float64) - want) ** 2)
        psnrs.append(10 * math.log10(255 ** 2 / max(mse, 1e-9)))
    if not psnrs:
        fail("no reference frame to compare")
    if min(psnrs) < 35:
        fail(f"decoded frames' PSNR against the rendered ones: min {min(psnrs):.1f} dB")
    print(f"check_dataset: {len(psnrs)} decoded frames against the rendered ones: PSNR "
          f"min {min(psnrs):.1f} dB, median {float(np.median(psnrs)):.1f} dB")


main()
