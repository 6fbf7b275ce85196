#!/usr/bin/env python3
"""A third-party peer on the wire: python-can's `slcan` interface talks to the virtual
SLCAN adapter (`embody vmcu --slcan`) and drives the simulated MIT motor at CAN id 1
(arm7's first joint). Frames are packed and unpacked here, in Python, from the MIT
protocol's published layout — not by embody's codec.

Usage: python_can_slcan.py LINK
"""
import sys
import time

import can

# arm7 joint 1 as embody's default map sets its motor up (crates/bridge/src/map.rs):
# p ±12.5 rad, v ±10 rad/s, kp 0..2175, kd 0..87, t ±130.5 N·m.
P, V, KP, KD, T = 12.5, 10.0, 2175.0, 87.0, 130.5


def f2u(x, lo, hi, bits):
    x = min(max(x, lo), hi)
    return int((x - lo) * ((1 << bits) - 1) / (hi - lo))


def u2f(u, lo, hi, bits):
    return u * (hi - lo) / ((1 << bits) - 1) + lo


def command(p, v, kp, kd, t):
    p, v = f2u(p, -P, P, 16), f2u(v, -V, V, 12)
    kp, kd, t = f2u(kp, 0, KP, 12), f2u(kd, 0, KD, 12), f2u(t, -T, T, 12)
    return bytes([p >> 8, p & 0xFF, v >> 4, ((v & 0xF) << 4) | (kp >> 8), kp & 0xFF,
                  kd >> 4, ((kd & 0xF) << 4) | (t >> 8), t & 0xFF])


def special(code):
    return bytes([0xFF] * 7 + [code])


def reply(msg):
    d = msg.data
    assert msg.arbitration_id == 0 and not msg.is_extended_id, msg
    assert len(d) == 6, msg
    p = (d[1] << 8) | d[2]
    v = (d[3] << 4) | (d[4] >> 4)
    i = ((d[4] & 0xF) << 8) | d[5]
    return d[0], u2f(p, -P, P, 16), u2f(v, -V, V, 12), u2f(i, -T, T, 12)


def exchange(bus, motor, data, timeout=1.0):
    bus.send(can.Message(arbitration_id=motor, data=data, is_extended_id=False))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = bus.recv(timeout=deadline - time.monotonic())
        if msg is not None and msg.arbitration_id == 0:
            return reply(msg)
    return None


def main(link):
    bus = can.Bus(interface="slcan", channel=link, bitrate=1_000_000, sleep_after_open=0)
    try:
        motor, p0, _, _ = exchange(bus, 1, special(0xFC))
        assert motor == 1, motor
        assert abs(p0) < 0.01, f"joint 1 starts at {p0}"
        target = 0.5
        last = None
        for _ in range(300):
            last = exchange(bus, 1, command(target, 0.0, 400.0, 30.0, 0.0))
            assert last is not None, "no reply"
            time.sleep(0.003)
        _, p, v, t = last
        assert abs(p - target) < 0.02, f"joint 1 at {p:.4f} rad, commanded {target}"
        assert abs(v) < 0.1, f"still moving at {v:.3f} rad/s"
        off = exchange(bus, 1, special(0xFD))
        assert off is not None and off[0] == 1
        assert exchange(bus, 50, command(0, 0, 0, 0, 0), timeout=0.2) is None, "id 50 answered"
        print(f"python-can peer: motor 1 moved 0 -> {p:.4f} rad (target {target}), torque {t:.2f} N·m; OK")
    finally:
        bus.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
