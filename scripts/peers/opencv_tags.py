"""embody's AprilTag detector and pose against OpenCV's, on embody's rendered images.

For each camera of examples/scenarios/tags.toml (a 36h11 tag, id 3, 45 mm, on a box on
the arm's table, seen from about 0.5 m: from the side, from above, from across) it runs
`embody sim look --json --save`, which renders the camera's frame, finds the tags and
gives where the scene puts them. OpenCV (opencv-python-headless, its ArUco module with
the AprilTag 36h11 dictionary, AprilTag corner refinement) finds the tag in the same PNG
and `solvePnP` (IPPE_SQUARE, the tag's corners in ArUco's frame, which is embody's)
gives its pose in the camera. Checked, per camera:

- OpenCV finds the tag with embody's id, and its corners are within 1 px of embody's;
- embody's pose agrees with OpenCV's within 5 mm and 1°;
- embody's pose, in the world, agrees with the simulator's truth within 5 mm and 1°.

Usage: opencv_tags.py EMBODY_BINARY WORKDIR
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

SCENARIO = "examples/scenarios/tags.toml"
CAMERAS = ["side", "above", "across"]
MM, DEG = 5.0, 1.0


def rotation(q):
    """The rotation matrix of quaternion x y z w."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def angle_deg(a, b):
    """The angle of the rotation taking a to b (degrees)."""
    c = (np.trace(a.T @ b) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def opencv_pose(image_path, look, size):
    """OpenCV's detection of the tags in the image: id → (corners, R, t)."""
    gray = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
    assert gray is not None, f"OpenCV cannot read {image_path}"
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_APRILTAG
    detector = cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11), params)
    corners, ids, _ = detector.detectMarkers(gray)
    k = look["intrinsics"]
    camera = np.array([[k["fx"], 0, k["cx"]], [0, k["fy"], k["cy"]], [0, 0, 1.0]])
    dist = np.array(k["distortion"], dtype=float)
    h = size / 2.0
    square = np.array([[-h, h, 0], [h, h, 0], [h, -h, 0], [-h, -h, 0]], dtype=float)
    found = {}
    for c, i in zip(corners, [] if ids is None else ids.flatten()):
        # OpenCV 4's AprilTag dictionaries hold each tag turned 180° from the official
        # images (which embody draws), so its first corner is the printed bottom-right
        # (opencv/opencv#28823 turns them back, in OpenCV 5 only).
        pts = c.reshape(4, 2).astype(float)[[2, 3, 0, 1]]
        ok, rvec, tvec = cv2.solvePnP(square, pts, camera, dist, flags=cv2.SOLVEPNP_IPPE_SQUARE)
        assert ok, f"solvePnP failed on tag {i}"
        found[int(i)] = (pts, cv2.Rodrigues(rvec)[0], tvec.flatten())
    return found


def main():
    binary, work = sys.argv[1], Path(sys.argv[2])
    failures = []
    for name in CAMERAS:
        png = work / f"{name}.png"
        out = subprocess.run(
            [binary, "sim", "look", SCENARIO, "--camera", name, "--save", str(png), "--json"],
            check=True, capture_output=True, text=True).stdout
        look = json.loads(out)
        printed = {t["id"]: t for t in look["printed"]}
        ours = {t["id"]: t for t in look["tags"]}
        for tag_id, truth in printed.items():
            if tag_id not in ours:
                failures.append(f"{name}: embody does not find tag {tag_id}")
                continue
            theirs = opencv_pose(png, look, truth["size_m"])
            if tag_id not in theirs:
                failures.append(f"{name}: OpenCV does not find tag {tag_id}")
                continue
            ours_tag, (cv_corners, cv_r, cv_t) = ours[tag_id], theirs[tag_id]
            corner_px = float(np.max(np.linalg.norm(np.array(ours_tag["corners"]) - cv_corners, axis=1)))
            c = ours_tag["camera_from_tag"]
            our_r, our_t = rotation(c[3:]), np.array(c[:3])
            vs_cv_mm = 1e3 * float(np.linalg.norm(our_t - cv_t))
            vs_cv_deg = angle_deg(our_r, cv_r)
            w, t = ours_tag["world_from_tag"], truth["world_from_tag"]
            vs_truth_mm = 1e3 * float(np.linalg.norm(np.array(w[:3]) - np.array(t[:3])))
            vs_truth_deg = angle_deg(rotation(w[3:]), rotation(t[3:]))
            # OpenCV's pose, in the world, against the truth too (for the record).
            e = look["world_from_camera"]
            cv_world = rotation(e[3:]) @ cv_t + np.array(e[:3])
            cv_truth_mm = 1e3 * float(np.linalg.norm(cv_world - np.array(t[:3])))
            print(f"{name:7s} tag {tag_id} at {np.linalg.norm(our_t):.2f} m: corners within "
                  f"{corner_px:.2f} px of OpenCV's; embody vs OpenCV {vs_cv_mm:.2f} mm "
                  f"{vs_cv_deg:.2f}°; embody vs truth {vs_truth_mm:.2f} mm {vs_truth_deg:.2f}°; "
                  f"OpenCV vs truth {cv_truth_mm:.2f} mm")
            for what, value, limit in [
                ("corners vs OpenCV (px)", corner_px, 1.0),
                ("position vs OpenCV (mm)", vs_cv_mm, MM),
                ("rotation vs OpenCV (°)", vs_cv_deg, DEG),
                ("position vs truth (mm)", vs_truth_mm, MM),
                ("rotation vs truth (°)", vs_truth_deg, DEG),
            ]:
                if not value <= limit:
                    failures.append(f"{name}: {what} {value:.3f} > {limit}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"the tag agrees with OpenCV and with the truth from all {len(CAMERAS)} cameras")


if __name__ == "__main__":
    main()
