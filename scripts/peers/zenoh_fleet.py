"""A third-party peer on embody's fleet network: the Python `eclipse-zenoh` (PyPI)
subscribes to simulated units' state and events, queries their status and liveliness,
and commands one of them, decoding embody's binary messages from the layout in
docs/fleet.md (postcard after a format byte) with its own reader below.

Usage: zenoh_fleet.py ENDPOINT FLEET UNITS
"""

import json
import struct
import sys
import time

import zenoh


class Reader:
    """postcard's encoding: LEB128 varints, f32 little-endian, length-prefixed strings."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def f32(self) -> float:
        (value,) = struct.unpack_from("<f", self.data, self.at)
        self.at += 4
        return value

    def string(self) -> str:
        n = self.varint()
        text = self.data[self.at : self.at + n].decode("utf-8")
        self.at += n
        return text

    def option(self, read):
        return read() if self.varint() == 1 else None

    def end(self):
        assert self.at == len(self.data), f"{len(self.data) - self.at} bytes left over"


LIFECYCLES = ["idle", "armed", "running", "fault", "recovering"]
ACTIVITIES = ["idle", "holding", "task", "policy"]
EVENT_KINDS = ["transition", "fault", "step", "command", "loop", "link"]


def state(data: bytes) -> dict:
    r = Reader(data)
    assert r.varint() == 1, "format byte"
    s = {"seq": r.varint(), "stamp_ns": r.varint(), "lifecycle": LIFECYCLES[r.varint()]}
    s["fault"] = r.option(r.string)
    s["activity"] = {
        "kind": ACTIVITIES[r.varint()],
        "name": r.string(),
        "step": r.varint(),
        "steps": r.varint(),
    }
    s["q"] = [r.f32() for _ in range(r.varint())]
    s["max_speed"], s["max_torque"], s["max_error"] = r.f32(), r.f32(), r.f32()
    s["base_pose"] = [r.f32() for _ in range(7)]
    s["link"] = [r.varint() for _ in range(4)]
    s["timing"] = [r.varint() for _ in range(3)]
    s["events"] = r.varint()
    r.end()
    return s


def event(data: bytes) -> dict:
    r = Reader(data)
    assert r.varint() == 1, "format byte"
    e = {"seq": r.varint(), "stamp_ns": r.varint(), "kind": EVENT_KINDS[r.varint()]}
    e["text"] = r.string()
    e["operator"] = r.option(r.string)
    r.end()
    return e


def main():
    endpoint, fleet, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = zenoh.Config()
    config.insert_json5("mode", '"client"')
    config.insert_json5("connect/endpoints", json.dumps([endpoint]))
    config.insert_json5("scouting/multicast/enabled", "false")
    with zenoh.open(config) as session:
        alive = [s.ok.key_expr for s in session.liveliness().get(f"embody/{fleet}/*", timeout=5) if s.ok]
        assert len(alive) == units, f"{len(alive)} units alive, not {units}"
        print(f"liveliness: {units} units alive")

        states, events = {}, []
        def on_state(sample):
            unit = str(sample.key_expr).split("/")[2]
            states.setdefault(unit, []).append(state(sample.payload.to_bytes()))
        def on_event(sample):
            events.append((str(sample.key_expr).split("/")[2], event(sample.payload.to_bytes())))
        sub_state = session.declare_subscriber(f"embody/{fleet}/*/state", on_state)
        sub_events = session.declare_subscriber(f"embody/{fleet}/*/events", on_event)
        time.sleep(2.0)
        assert len(states) == units, f"state from {len(states)} units"
        for unit, seen in states.items():
            seqs = [s["seq"] for s in seen]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{unit}: gaps or disorder {seqs[:10]}"
            assert 60 <= len(seqs) <= 140, f"{unit}: {len(seqs)} states in 2 s at 50 Hz"
            last = seen[-1]
            assert last["lifecycle"] == "running" and last["activity"]["kind"] == "task", last
            assert len(last["q"]) == 7 and all(abs(q) <= 0.4001 for q in last["q"]), last["q"]
            assert abs(last["base_pose"][6] - 1.0) < 1e-6
        print(f"state: {sum(len(v) for v in states.values())} messages from {units} units, in order, none lost")

        target = "SIM-0003"
        message = json.dumps({"operator": "py-ops", "command": "estop"})
        replies = list(session.get(f"embody/{fleet}/{target}/command", payload=message, timeout=5))
        assert len(replies) == 1 and replies[0].ok, replies
        ack = json.loads(replies[0].ok.payload.to_bytes())
        assert ack == {"unit": target, "outcome": "done", "detail": "e-stop pressed", "lifecycle": "fault"}, ack
        print(f"command: {target} acknowledged the e-stop: {ack}")
        time.sleep(0.5)
        mine = [e for u, e in events if u == target]
        assert any(e["kind"] == "fault" and e["operator"] == "py-ops" for e in mine), mine
        assert any(e["kind"] == "command" and e["text"] == "estop from py-ops: done (e-stop pressed)" for e in mine), mine
        print(f"events: {target} published {[e['text'] for e in mine]}")
        assert states[target][-1]["lifecycle"] == "fault" and states[target][-1]["fault"] == "e_stop"

        statuses = {}
        for reply in session.get(f"embody/{fleet}/*/status", timeout=5):
            status = json.loads(reply.ok.payload.to_bytes())
            statuses[status["unit"]] = status
        assert len(statuses) == units, f"{len(statuses)} statuses"
        faulted = statuses[target]
        assert faulted["state"]["lifecycle"] == "fault", faulted
        assert faulted["recent_faults"][0]["operator"] == "py-ops", faulted["recent_faults"]
        assert faulted["info"]["robot"] == "arm7"
        print(f"status: {units} units answered; {target} is in fault, its last fault by py-ops")

        # Every kept event is a reply on the same key: ask for all of them, unconsolidated.
        replies = session.get(
            f"embody/{fleet}/{target}/log?from=0", consolidation=zenoh.ConsolidationMode.NONE, timeout=5
        )
        log = [event(r.ok.payload.to_bytes()) for r in replies]
        assert [e["seq"] for e in log] == list(range(len(log))) and len(log) >= 2, log
        print(f"log: {target} keeps {len(log)} events, numbered from 0")
        sub_state.undeclare()
        sub_events.undeclare()


if __name__ == "__main__":
    main()
