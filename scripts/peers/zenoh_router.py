"""A zenoh router that is not embody's: the Python `eclipse-zenoh` (PyPI) opened in
router mode from a configuration file, as `zenohd -c FILE` would be, until SIGINT or
SIGTERM.

Usage: zenoh_router.py CONFIG_JSON
"""

import signal
import sys
import threading

import zenoh


def main():
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with zenoh.open(zenoh.Config.from_file(sys.argv[1])) as router:
        print(f"python zenoh router {router.zid()} up", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
