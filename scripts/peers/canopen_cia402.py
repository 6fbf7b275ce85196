"""The CiA 402 peer test: python's `canopen` 2.4 (PyPI) as the CANopen master of embody's
simulated CiA 402 drives behind `embody vmcu --drives cia402` (a virtual SLCAN adapter),
loading the drives' EDS: NMT (reset, boot-up, heartbeat, stopped), SDO reads and writes
(expedited and segmented, aborts), PDO mapping written by SDO, the 402 state machine to
Operation Enabled, cyclic synchronous position motion the simulator follows, velocity
mode, a quick stop, and a fault (the master's heartbeat lost) with its emergency and a
fault reset. Usage: canopen_cia402.py LINK EDS."""

import math
import sys
import time

import canopen
from canopen.profiles.p402 import BaseNode402
from canopen.sdo.exceptions import SdoAbortedError, SdoCommunicationError

LINK, EDS = sys.argv[1], sys.argv[2]
NODE = 2  # arm7's shoulder joint: drive 2 on joint 2
COUNTS_PER_RAD = 2**17 / (2 * math.pi)
MASTER = 0x7F  # the heartbeat the drive is told to consume


def check(condition, what):
    if not condition:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def aborted(action, code):
    try:
        action()
    except SdoAbortedError as e:
        return e.code == code
    return False


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


net = canopen.Network()
net.connect(interface="slcan", channel=LINK, bitrate=1000000, sleep_after_open=0)
try:
    node = BaseNode402(NODE, EDS)
    net.add_node(node)

    # NMT: a reset node boots up again and says so.
    node.nmt.state = "RESET"
    node.nmt.wait_for_bootup(2.0)
    check(node.nmt.state == "PRE-OPERATIONAL", "reset node: boot-up received, pre-operational")

    # SDO: expedited and segmented reads, a segmented write, aborts.
    check(node.sdo["Device type"].raw == 0x00020192, "device type 0x1000 = CiA 402 servo drive")
    name = node.sdo["Manufacturer device name"].raw
    check(name == "embody simulated CiA 402 drive", f"segmented upload of 0x1008: {name!r}")
    check(node.sdo["Identity object"]["Serial number"].raw == NODE, "identity 0x1018:4")
    check(node.sdo["Supported drive modes"].raw == 0x380, "0x6502: CSP, CSV and CST")
    node.sdo["Drive label"].raw = "unit 17, arm, shoulder pitch"
    check(node.sdo["Drive label"].raw == "unit 17, arm, shoulder pitch", "segmented download of 0x2000, read back")
    check(aborted(lambda: setattr(node.sdo["Statusword"], "raw", 0), 0x06010002), "writing the statusword: abort 0x06010002")
    check(aborted(lambda: node.sdo.upload(0x2345, 0), 0x06020000), "reading a missing object: abort 0x06020000")
    check(aborted(lambda: setattr(node.sdo["Modes of operation"], "raw", 1), 0x06090030), "profile position (unsupported): abort 0x06090030")
    check(aborted(lambda: setattr(node.sdo["Drive label"], "raw", "x" * 40), 0x06070010), "a label too long: abort 0x06070010")

    # Heartbeat production.
    node.sdo["Producer heartbeat time"].raw = 50
    check(node.nmt.wait_for_heartbeat(1.0) == "PRE-OPERATIONAL", "heartbeat every 50 ms, pre-operational")

    # PDO mapping, written by SDO: statusword and position out on every SYNC; controlword
    # and target position in, taken at once.
    node.tpdo.read()
    node.rpdo.read()
    for pdo_map in list(node.tpdo.map.values()) + list(node.rpdo.map.values()):
        pdo_map.enabled = False
    node.tpdo[1].clear()
    node.tpdo[1].add_variable("Statusword")
    node.tpdo[1].add_variable("Position actual value")
    node.tpdo[1].trans_type = 1
    node.tpdo[1].enabled = True
    node.rpdo[1].clear()
    node.rpdo[1].add_variable("Controlword")
    node.rpdo[1].add_variable("Target position")
    node.rpdo[1].trans_type = 255
    node.rpdo[1].enabled = True
    node.tpdo.save()
    node.rpdo.save()
    check(node.sdo[0x1A00][0].raw == 2 and node.sdo[0x1A00][1].raw == 0x60410010 and node.sdo[0x1A00][2].raw == 0x60640020,
          "TPDO1 mapping stored: statusword, position actual")
    check(node.sdo[0x1600][1].raw == 0x60400010 and node.sdo[0x1600][2].raw == 0x607A0020, "RPDO1 mapping stored")
    check(node.sdo[0x1801][1].raw & 0x80000000 != 0, "TPDO2 disabled")
    check(aborted(lambda: setattr(node.sdo[0x1A00][0], "raw", 2), 0x08000022), "remapping a valid PDO: abort 0x08000022")

    # Operational with SYNC every 10 ms; the 402 state machine to Operation Enabled.
    node.nmt.state = "OPERATIONAL"
    net.sync.start(0.01)
    check(node.tpdo[1].wait_for_reception(1.0) is not None, "TPDO1 on SYNC")
    node.setup_402_state_machine(read_pdos=False)
    node.op_mode = "CYCLIC SYNCHRONOUS POSITION"
    check(node.op_mode == "CYCLIC SYNCHRONOUS POSITION", "mode: cyclic synchronous position")
    node.state = "OPERATION ENABLED"
    check(node.state == "OPERATION ENABLED", "state machine: operation enabled")

    # CSP: a ramp of targets, the joint follows.
    node.tpdo[1].wait_for_reception(1.0)
    start = node.tpdo[1]["Position actual value"].raw
    goal = start + round(0.3 * COUNTS_PER_RAD)
    for k in range(1, 101):
        node.rpdo[1]["Target position"].raw = round(start + (goal - start) * k / 100)
        node.rpdo[1].transmit()
        time.sleep(0.01)

    def near(target, tolerance):
        node.tpdo[1].wait_for_reception(1.0)
        return abs(node.tpdo[1]["Position actual value"].raw - target) <= tolerance

    tolerance = round(0.02 * COUNTS_PER_RAD)
    check(wait_until(lambda: near(goal, tolerance), 3.0),
          f"CSP: the joint moved 0.3 rad (from {start} to {node.tpdo[1]['Position actual value'].raw}, goal {goal})")

    # CSV: a velocity target by SDO, the position climbs.
    node.op_mode = "CYCLIC SYNCHRONOUS VELOCITY"
    check(node.op_mode == "CYCLIC SYNCHRONOUS VELOCITY", "mode: cyclic synchronous velocity")
    before = node.sdo["Position actual value"].raw
    node.sdo["Target velocity"].raw = round(-0.2 * COUNTS_PER_RAD)
    time.sleep(0.5)
    node.sdo["Target velocity"].raw = 0
    time.sleep(0.5)  # the drive's velocity loop catches up with its reference
    moved = (node.sdo["Position actual value"].raw - before) / COUNTS_PER_RAD
    check(-0.13 < moved < -0.07, f"CSV: -0.2 rad/s for 0.5 s, then 0: moved {moved:.3f} rad")

    # Quick stop: stopped, then switch on disabled.
    node.sdo["Controlword"].raw = 0x02
    check(wait_until(lambda: node.sdo["Statusword"].raw & 0x4F == 0x40, 1.0), "quick stop: switch on disabled")

    # A fault: the drive consumes the master's heartbeat and loses it.
    node.sdo["Consumer heartbeat time"][1].raw = (MASTER << 16) | 100
    beat = net.send_periodic(0x700 + MASTER, [0x05], 0.02)
    node.state = "OPERATION ENABLED"
    check(node.state == "OPERATION ENABLED", "enabled again while the master's heartbeat comes")
    beat.stop()
    emcy = node.emcy.wait(0x8130, 2.0)
    check(emcy is not None and emcy.register & 0x10, "heartbeat lost: emergency 0x8130, communication error")
    check(wait_until(lambda: node.state == "FAULT", 1.0), "state: fault")
    check(node.sdo["Error code"].raw == 0x8130, "0x603F holds the emergency's code")
    node.sdo["Consumer heartbeat time"][1].raw = 0
    node.reset_from_fault()
    check(node.state == "OPERATION ENABLED", "fault reset: operation enabled again")
    check(node.sdo["Error register"].raw == 0, "error register cleared")

    # Stopped: no SDO answers.
    node.nmt.state = "STOPPED"
    try:
        node.sdo["Statusword"].raw
        check(False, "a stopped node answers no SDO")
    except SdoCommunicationError:
        check(True, "a stopped node answers no SDO")
finally:
    net.sync.stop()
    net.disconnect()
