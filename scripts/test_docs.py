#!/usr/bin/env python3
"""Runs every shell block of the README and the docs, so the documentation cannot drift
from the code.

A block fenced ```sh runs; ```sh no-run (a viewer to open, a package to install, the
test command itself, minutes of benchmarking) and every other fence are skipped. Each
block runs on its own in `bash -euo pipefail` from the repository's root, with `embody`
on the PATH (the binary given, default target/debug/embody); background jobs
it starts (`embody vmcu … &`) are stopped with SIGINT when it ends, as Ctrl-C would. A
block fails on a non-zero exit or after its time limit; the report names its file and
line and shows its output. A block that runs the loop in real time (`--priority`), or
fails on a fault such a loop raises when held up (stale sensors, or a joint's speed
after the stalls), gets a second try, said in the report: this machine is a
virtual one whose host now and then stops it for longer than the loop's sensor timeout,
and the loop rightly faults.

Usage: scripts/test_docs.py [EMBODY_BIN] [FILE.md …]
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 300
FENCE = re.compile(r"^```(\S*)(.*)$")
# What a real-time loop over the wire says when this machine held it or its MCU up.
STALL_FAULTS = ("sensor data stopped arriving", "the joint moved faster than its limit")


def blocks(path):
    """The runnable blocks of a Markdown file: (line of the fence, text)."""
    out, inside, runnable, start, lines = [], False, False, 0, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = FENCE.match(line)
        if not inside and fence:
            inside, start, lines = True, number, []
            runnable = fence.group(1) == "sh" and fence.group(2).strip() != "no-run"
        elif inside and line.startswith("```"):
            inside = False
            if runnable:
                out.append((start, "\n".join(lines)))
        elif inside:
            lines.append(line)
    return out


PRELUDE = """set -euo pipefail
stop_jobs() {
  for pid in $(jobs -p); do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_jobs EXIT
"""


def attempt(embody_dir, text):
    """Runs `text` once: whether it failed, why, and its output."""
    env = dict(os.environ, PATH=f"{embody_dir}:{os.environ['PATH']}")
    with tempfile.TemporaryFile(mode="w+") as log:
        try:
            proc = subprocess.Popen(
                ["bash", "-c", PRELUDE + text],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            code = proc.wait(timeout=LIMIT_S)
            failed, why = code != 0, f"exit status {code}"
        except subprocess.TimeoutExpired:
            # The block and everything it started (a background `embody vmcu`) go.
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            failed, why = True, f"still running after {LIMIT_S} s"
        log.seek(0)
        return failed, why, log.read()


def run(embody_dir, path, line, text):
    started = time.monotonic()
    where = f"{path.relative_to(ROOT)}:{line}"
    failed, why, output = attempt(embody_dir, text)
    again = ""
    if failed and ("--priority" in text or any(f in output for f in STALL_FAULTS)):
        last = (output.strip().splitlines() or [""])[-1]
        again = f", on the second try: the first ended with {why}: {last}"
        failed, why, output = attempt(embody_dir, text)
    took = time.monotonic() - started
    if failed:
        print(f"FAILED {where} ({why}, {took:.1f} s{again}):\n{text}\n--- output ---\n{output}")
        return False
    print(f"ok     {where} ({took:.1f} s{again})")
    return True


def main():
    args = sys.argv[1:]
    embody = Path(args[0] if args else ROOT / "target/debug/embody").resolve()
    if not embody.is_file():
        sys.exit(f"{embody}: no embody binary (cargo build -p embody-cli)")
    files = [Path(a).resolve() for a in args[1:]] or [ROOT / "README.md"] + sorted(
        (ROOT / "docs").glob("*.md")
    )
    with tempfile.TemporaryDirectory() as bin_dir:
        os.symlink(embody, Path(bin_dir) / "embody")
        results = [
            run(bin_dir, path, line, text)
            for path in files
            for line, text in blocks(path)
        ]
    failed = results.count(False)
    print(f"{len(results) - failed} of {len(results)} documentation blocks ran")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
