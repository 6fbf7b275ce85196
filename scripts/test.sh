#!/usr/bin/env bash
# Runs every test of the workspace. A fresh machine needs Rust and Python 3 with venv:
# the Pinocchio reference values the tests compare against are committed (Python is only
# needed to regenerate them or to benchmark against Pinocchio and MuJoCo), and the
# python-can peer test installs python-can into .venv-can on first use; the Rerun checks
# install rerun-sdk into .venv-rerun and, when missing, Mesa's Vulkan drivers with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --workspace"
cargo test --workspace --locked
echo "== CLI smoke: embody model info/bench on the built-in robots"
cargo build --release --locked -p embody-cli
bin=target/release/embody
$bin model info arm7 > /dev/null
$bin model info humanoid --json > /dev/null
$bin model bench humanoid --samples 5 > /dev/null
echo "== CLI smoke: embody bench loop (the loop thread against the mock robot)"
$bin bench loop --robot arm7 --seconds 1 --json > /dev/null
$bin bench loop --robot humanoid --seconds 1 > /dev/null
echo "== CLI smoke: embody sim run and bench"
$bin sim run examples/scenarios/humanoid_stand.toml > /dev/null
$bin sim run examples/scenarios/arm_faults.toml --json > /dev/null
$bin sim bench --robot humanoid --contacts --steps 2000 > /dev/null
echo "== CLI smoke: embody bench wire (a virtual MCU on a pseudo-terminal)"
$bin bench wire --ticks 500 > /dev/null
echo "== CLI smoke: embody run (the README's main command) and bench plan"
$bin run examples/tasks/pick_and_place.toml > /dev/null
$bin bench plan > /dev/null
echo "== CLI smoke: embody config on the example fleet"
$bin config check ARM-0001 > /dev/null
$bin config show ARM-0001 --json > /dev/null
echo "CLI smoke passed"
echo "== third-party peer: python-can's slcan interface against embody vmcu --slcan"
scripts/test_python_can.sh "$bin"
echo "== third-party reader: Rerun's rrd verify and RrdReader on embody's recordings"
scripts/test_rerun.sh "$bin"
echo "== third-party peer: OpenSSL on embody's signed firmware images"
scripts/test_fw_openssl.sh "$bin"
