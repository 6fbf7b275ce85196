#!/usr/bin/env bash
# Runs every test of the workspace. A fresh machine needs Rust and Python 3 with venv:
# the Pinocchio reference values the tests compare against are committed (Python is only
# needed to regenerate them or to benchmark against Pinocchio and MuJoCo), and the
# python-can peer test installs python-can and canopen into .venv-can on first use; the Rerun checks
# install rerun-sdk into .venv-rerun and, when missing, Mesa's Vulkan drivers with apt;
# the object checks install mujoco-core into .venv-mujoco; the AprilTag check installs
# opencv-python-headless into .venv-opencv; the dataset check installs pyarrow and PyAV
# into .venv-dataset; the fleet check installs eclipse-zenoh into .venv-fleet; the servo
# check installs dynamixel-sdk and feetech-servo-sdk into .venv-servos.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# Disk is short on some CI machines: a one-off build keeps no incremental state, and
# its binaries no debug information (a panic still says where it happened).
export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_STRIP=debuginfo
# Each phase says when it starts (s since the suite began): the suite has a time budget.
phase() { echo "== [$(( $(date +%s) - start )) s] $*"; }
phase "cargo test --workspace (it builds target/debug/embody, which every script below shares)"
cargo test --workspace --locked
bin=target/debug/embody
phase "the documentation: every sh block of README.md and docs/*.md, with the runtime's examples"
python3 scripts/test_docs.py "$bin"
phase "CLI smoke: embody bench plan"
$bin bench plan > /dev/null
phase "third-party peers: python-can's slcan interface against embody vmcu --slcan; python canopen against --drives cia402"
scripts/test_python_can.sh "$bin"
phase "third-party peers: dynamixel-sdk and feetech-servo-sdk against embody vmcu --servos"
scripts/test_servo_sdks.sh "$bin"
phase "third-party reader: Rerun's rrd verify and RrdReader on embody's recordings"
scripts/test_rerun.sh "$bin"
phase "third-party peer: onnxruntime recomputes embody's policy inferences"
scripts/test_policy.sh "$bin"
phase "third-party peer: MuJoCo 4.0 in the same scenes (incline, drop, stack, grasp, humanoid standing)"
scripts/test_mujoco_objects.sh "$bin"
phase "third-party peer: OpenCV's ArUco AprilTag detector and solvePnP on embody's rendered tags"
scripts/test_tags.sh "$bin"
phase "example: pick_seen finds the tagged box with its camera and places it, 50 seeds (≥ 95 %)"
scripts/test_pick_seen.sh "$bin"
phase "third-party readers: pyarrow and PyAV on a dataset embody recorded (LeRobotDataset v3.0)"
scripts/test_dataset.sh "$bin"
phase "third-party peer: Python eclipse-zenoh reads and commands 50 simulated units on embody's router"
scripts/test_fleet.sh "$bin"
phase "third-party peer: OpenSSL on embody's signed firmware images"
scripts/test_fw_openssl.sh "$bin"
echo "all tests passed in $(( $(date +%s) - start )) s"
