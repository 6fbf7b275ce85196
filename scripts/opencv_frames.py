#!/usr/bin/env python3
"""Writes the camera crate's decoding fixtures with OpenCV (opencv-python-headless 4.12).

From a 160×120 colour frame (`embody bench camera --width 160 --height 120 --save`, the
simulated arm over the table) it makes what a UVC camera sends — a YUYV (YUV 4:2:2,
BT.601 video range) frame and an MJPEG frame (`cv2.imencode`, quality 90) — and what
OpenCV decodes from each (`cv2.cvtColor(..., COLOR_YUV2RGB_YUYV)`, `cv2.imdecode`), into
crates/camera/tests/data/: frame.yuyv, frame.jpg, and the decodes as binary PPMs. No camera
was recorded: this machine has none.

    .venv-opencv/bin/python scripts/opencv_frames.py /tmp/frame.ppm
"""
import os
import sys

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "camera", "tests", "data")


def write_ppm(path, rgb):
    h, w, _ = rgb.shape
    with open(path, "wb") as f:
        f.write(f"P6\n{w} {h}\n255\n".encode() + rgb.astype(np.uint8).tobytes())


def main():
    bgr = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(float)
    h, w, _ = rgb.shape
    # BT.601 video range: Y in 16–235, Cb and Cr in 16–240; chroma shared by pixel pairs.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    cb = (cb[:, 0::2] + cb[:, 1::2]) / 2
    cr = (cr[:, 0::2] + cr[:, 1::2]) / 2
    yuyv = np.empty((h, w * 2), dtype=np.uint8)
    yuyv[:, 0::4] = np.clip(np.round(y[:, 0::2]), 0, 255)
    yuyv[:, 1::4] = np.clip(np.round(cb), 0, 255)
    yuyv[:, 2::4] = np.clip(np.round(y[:, 1::2]), 0, 255)
    yuyv[:, 3::4] = np.clip(np.round(cr), 0, 255)
    yuyv.tofile(os.path.join(OUT, "frame.yuyv"))
    decoded = cv2.cvtColor(yuyv.reshape(h, w, 2), cv2.COLOR_YUV2RGB_YUYV)
    write_ppm(os.path.join(OUT, "frame_yuyv_opencv.ppm"), decoded)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    jpg.tofile(os.path.join(OUT, "frame.jpg"))
    decoded = cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    write_ppm(os.path.join(OUT, "frame_jpg_opencv.ppm"), decoded)
    print(f"wrote {w}×{h} YUYV and MJPEG frames and OpenCV {cv2.__version__}'s decodes to {OUT}")


if __name__ == "__main__":
    main()
