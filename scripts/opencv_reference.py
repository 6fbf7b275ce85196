#!/usr/bin/env python3
"""Generates reference values from OpenCV for the camera model's tests.

For three lenses (an ideal pinhole, a wide lens with barrel distortion, one with
tangential terms) it draws seeded camera-frame points across and beyond the image and
writes crates/hal/tests/data/opencv_projection.json: the intrinsics, each point, the
pixel `cv2.projectPoints` puts it at, and the normalised ray `cv2.undistortPoints` gives
back for that pixel (iterated to convergence). The Rust tests need no Python.

    python3 -m venv .venv-opencv
    .venv-opencv/bin/pip install "opencv-python-headless==4.12.0.88" "numpy<3"
    .venv-opencv/bin/python scripts/opencv_reference.py
"""
import json
import os

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates", "hal", "tests", "data", "opencv_projection.json")
LENSES = [
    # name, fx, fy, cx, cy, [k1, k2, p1, p2, k3]
    ("pinhole", 457.0, 457.0, 320.0, 240.0, [0.0, 0.0, 0.0, 0.0, 0.0]),
    ("barrel", 381.2, 380.7, 318.4, 243.9, [-0.28, 0.07, 0.0, 0.0, -0.008]),
    ("tangential", 612.5, 611.9, 327.1, 236.6, [0.11, -0.24, 0.0013, -0.0021, 0.09]),
]


def main():
    rng = np.random.default_rng(18)
    cases = []
    for name, fx, fy, cx, cy, dist in LENSES:
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        d = np.array(dist)
        # Normalised coordinates within ±0.7 (about 70° across), 0.3 to 4 m out.
        xy = rng.uniform(-0.7, 0.7, size=(40, 2))
        z = rng.uniform(0.3, 4.0, size=(40, 1))
        points = np.hstack([xy * z, z])
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k, d)
        pixels = pixels.reshape(-1, 2)
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-15)
        rays = cv2.undistortPointsIter(pixels.reshape(-1, 1, 2), k, d, None, None, criteria).reshape(-1, 2)
        cases.append({
            "lens": name,
            "intrinsics": {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "distortion": dist},
            "points": points.tolist(),
            "pixels": pixels.tolist(),
            "rays": rays.tolist(),
        })
    with open(OUT, "w") as f:
        json.dump({"opencv": cv2.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} (OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()
