#!/usr/bin/env bash
# embody's AprilTag detection and pose against OpenCV's (opencv-python-headless from PyPI,
# pinned in .venv-opencv): the same rendered images, the same tag (scripts/peers/
# opencv_tags.py says what and how closely).
# Usage: scripts/test_tags.sh [EMBODY_BIN]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${1:-target/debug/embody}
venv="$root/.venv-opencv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import cv2" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "opencv-python-headless==4.12.0.88" "numpy<3" >&2
fi
[ -x "$bin" ] || cargo build --locked -p embody-cli >&2
work=$(mktemp -d /tmp/embody-tags-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/peers/opencv_tags.py "$bin" "$work"
