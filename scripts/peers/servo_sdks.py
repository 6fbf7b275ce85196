"""The servo-bus peer test: ROBOTIS's dynamixel-sdk and Feetech's feetech-servo-sdk (both
from PyPI) as the masters of `embody vmcu --servos dynamixel|feetech`: ping, read, write,
sync write of goal positions and sync read of present positions, until the simulated
joints have followed; a write the servo must refuse. Usage: servo_sdks.py FAMILY LINK."""

import sys
import time

FAMILY, LINK = sys.argv[1], sys.argv[2]
IDS = list(range(1, 8))  # arm7's seven arm joints (servo 8 is its gripper)
COUNTS_PER_RAD = 4096 / (2 * 3.141592653589793)
GOALS = {i: 2048 + round(q * COUNTS_PER_RAD) for i, q in zip(IDS, [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1])}
TOLERANCE = 40  # counts (0.06 rad): the simulated actuators' position loops under gravity


def check(condition, what):
    if not condition:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def follow(read_positions):
    deadline = time.monotonic() + 10.0
    while True:
        present = read_positions()
        off = {i: present[i] - GOALS[i] for i in IDS}
        if all(abs(e) <= TOLERANCE for e in off.values()):
            return present
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: the joints did not reach their goals: off by {off} counts")
        time.sleep(0.1)


def dynamixel():
    import dynamixel_sdk as dxl

    port = dxl.PortHandler(LINK)
    check(port.openPort() and port.setBaudRate(1000000), "port opened at 1 Mbaud")
    ph = dxl.PacketHandler(2.0)
    for i in IDS:
        model, result, error = ph.ping(port, i)
        check(result == dxl.COMM_SUCCESS and error == 0 and model == 1020, f"ping {i}: XM430-W350 (model {model})")
    found, result = ph.broadcastPing(port)
    check(result == dxl.COMM_SUCCESS and sorted(found) == IDS + [8], f"broadcast ping finds {sorted(found)}")
    result, error = ph.write4ByteTxRx(port, 1, 132, 0)
    check(result == dxl.COMM_SUCCESS and error == 7, "present position is read only (access error 7)")
    for i in IDS:
        result, error = ph.write1ByteTxRx(port, i, 64, 1)
        check(result == dxl.COMM_SUCCESS and error == 0, f"torque on {i}")
    writer = dxl.GroupSyncWrite(port, ph, 116, 4)
    for i in IDS:
        g = GOALS[i]
        writer.addParam(i, [dxl.DXL_LOBYTE(dxl.DXL_LOWORD(g)), dxl.DXL_HIBYTE(dxl.DXL_LOWORD(g)),
                            dxl.DXL_LOBYTE(dxl.DXL_HIWORD(g)), dxl.DXL_HIBYTE(dxl.DXL_HIWORD(g))])
    check(writer.txPacket() == dxl.COMM_SUCCESS, "sync write of goal positions")
    reader = dxl.GroupSyncRead(port, ph, 132, 4)
    for i in IDS:
        reader.addParam(i)

    def positions():
        result = reader.txRxPacket()
        check(result == dxl.COMM_SUCCESS, "sync read of present positions") if result else None
        if result != dxl.COMM_SUCCESS:
            sys.exit(f"FAIL: sync read: {ph.getTxRxResult(result)}")
        return {i: reader.getData(i, 132, 4) for i in IDS}

    present = follow(positions)
    check(True, f"joints followed the sync write: {present}")
    temperature, result, error = ph.read1ByteTxRx(port, 3, 146)
    check(result == dxl.COMM_SUCCESS and 20 <= temperature <= 60, f"present temperature {temperature} °C")
    port.closePort()


def feetech():
    import scservo_sdk as scs

    port = scs.PortHandler(LINK)
    check(port.openPort() and port.setBaudRate(1000000), "port opened at 1 Mbaud")
    ph = scs.PacketHandler(0)  # STS: little-endian words
    for i in IDS:
        model, result, error = ph.ping(port, i)
        check(result == scs.COMM_SUCCESS and error == 0 and model == 777, f"ping {i}: STS3215 (model {model})")
    for i in IDS:
        result, error = ph.write1ByteTxRx(port, i, 40, 1)
        check(result == scs.COMM_SUCCESS and error == 0, f"torque on {i}")
    writer = scs.GroupSyncWrite(port, ph, 42, 2)
    for i in IDS:
        writer.addParam(i, [scs.SCS_LOBYTE(GOALS[i]), scs.SCS_HIBYTE(GOALS[i])])
    check(writer.txPacket() == scs.COMM_SUCCESS, "sync write of goal positions")
    reader = scs.GroupSyncRead(port, ph, 56, 2)
    for i in IDS:
        reader.addParam(i)

    def positions():
        result = reader.txRxPacket()
        if result != scs.COMM_SUCCESS:
            sys.exit(f"FAIL: sync read: {ph.getTxRxResult(result)}")
        return {i: reader.getData(i, 56, 2) for i in IDS}

    present = follow(positions)
    check(True, f"joints followed the sync write: {present}")
    time.sleep(1.0)
    speed, result, error = ph.read2ByteTxRx(port, 1, 58)
    check(result == scs.COMM_SUCCESS and abs(scs.SCS_TOHOST(speed, 15)) < 50, f"servo 1 (the vertical axis) at rest (speed {speed})")
    port.closePort()


{"dynamixel": dynamixel, "feetech": feetech}[FAMILY]()
print(f"{FAMILY}: the SDK drove embody's simulated servos")
