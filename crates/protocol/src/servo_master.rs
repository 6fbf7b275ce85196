//! The master's side of a serial servo bus, shared by the host's `ServoRobot` and the
//! bridge firmware's servo bus: which family is on it ([`ServoFamily`]) and what a tick's
//! exchange costs on the line; the packets of a tick (a sync write of goal positions, one
//! of torque enables, the sync read of every servo's present state); and what an answer
//! says: the servo's position, velocity and effort ([`Present`]) and its faults. Goals and
//! answers are in servo turns from the middle of the range; the caller scales them to its
//! joint. Allocation-free: packets go into the caller's buffer.

use serde::{Deserialize, Serialize};

use crate::dynamixel::{self, x_series};
use crate::feetech::{self, ServoError, sts};
use crate::mit::MotorFaults;

/// Which servos are on a bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServoFamily {
    /// ROBOTIS Dynamixel X-series (XM430-W350 and kin), protocol 2.0.
    Dynamixel,
    /// Feetech STS (STS3215, the servos of SO-100/SO-101 arms).
    Feetech,
}

/// Bytes the sync read asks of each Dynamixel: present current, velocity and position.
const READ_DXL: usize = 10;
/// Bytes the sync read asks of each Feetech: present position, speed and load.
const READ_STS: usize = 6;

/// Longest packet a master sends or reads here.
pub const MAX_PACKET: usize = dynamixel::MAX_PACKET;

impl ServoFamily {
    /// The family's name in configurations and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ServoFamily::Dynamixel => "dynamixel",
            ServoFamily::Feetech => "feetech",
        }
    }

    /// Bytes one tick's exchange with `servos` servos puts on the bus: the sync write of
    /// goals, the sync read, and each servo's answer.
    pub fn bytes_per_tick(self, servos: usize) -> usize {
        match self {
            // Header 4, id, length 2, instruction, CRC 2 = 10; params address 2, length 2.
            ServoFamily::Dynamixel => {
                (10 + 4 + servos * 5) + (10 + 4 + servos) + servos * (11 + READ_DXL)
            }
            // Header 2, id, length, instruction, checksum = 6; params address, length.
            ServoFamily::Feetech => {
                (6 + 2 + servos * 3) + (6 + 2 + servos) + servos * (6 + READ_STS)
            }
        }
    }

    /// How long one tick's exchange with `servos` servos keeps the bus at `baud` (µs,
    /// ten bits a byte, turnarounds not counted).
    pub fn tick_us(self, servos: usize, baud: u32) -> f64 {
        self.bytes_per_tick(servos) as f64 * 10.0 * 1e6 / baud.max(1) as f64
    }

    /// The most servos whose exchange fits one period at `rate_hz` on a bus at `baud`
    /// (with the servos' return delay set to 0).
    pub fn servos_per_bus(self, baud: u32, rate_hz: f64) -> usize {
        (1..=252)
            .take_while(|&n| self.tick_us(n, baud) <= 1e6 / rate_hz)
            .last()
            .unwrap_or(0)
    }

    /// The highest id a servo of the family takes.
    pub fn max_id(self) -> u8 {
        match self {
            ServoFamily::Dynamixel => 252,
            ServoFamily::Feetech => 253,
        }
    }

    /// Bytes of present state each servo answers the sync read with.
    pub fn read_len(self) -> usize {
        match self {
            ServoFamily::Dynamixel => READ_DXL,
            ServoFamily::Feetech => READ_STS,
        }
    }
}

/// A name that is no servo family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownFamily;

impl core::fmt::Display for UnknownFamily {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no servo family: dynamixel or feetech")
    }
}

impl core::error::Error for UnknownFamily {}

impl core::str::FromStr for ServoFamily {
    type Err = UnknownFamily;

    fn from_str(name: &str) -> Result<ServoFamily, UnknownFamily> {
        match name {
            "dynamixel" => Ok(ServoFamily::Dynamixel),
            "feetech" => Ok(ServoFamily::Feetech),
            _ => Err(UnknownFamily),
        }
    }
}

/// A packet that does not fit its family's limits (too many servos for one packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

/// Most parameter bytes of a sync write here (a Dynamixel's most; a Feetech packet's
/// own limit is checked as it is encoded).
const MAX_PARAMS: usize = dynamixel::MAX_PARAMS;

/// One sync write to every servo of `entries` (id, then `len` bytes at `address`) into
/// `out`; its length.
fn sync_write<const N: usize>(
    family: ServoFamily,
    address: u16,
    entries: impl Iterator<Item = (u8, heapless::Vec<u8, N>)>,
    out: &mut [u8],
) -> Result<usize, TooLong> {
    let mut params: heapless::Vec<u8, MAX_PARAMS> = heapless::Vec::new();
    let mut len = 0;
    let mut body: heapless::Vec<u8, MAX_PARAMS> = heapless::Vec::new();
    for (id, bytes) in entries {
        len = bytes.len();
        body.push(id).map_err(|_| TooLong)?;
        body.extend_from_slice(&bytes).map_err(|_| TooLong)?;
    }
    match family {
        ServoFamily::Dynamixel => {
            params.extend_from_slice(&address.to_le_bytes()).ok();
            params.extend_from_slice(&(len as u16).to_le_bytes()).ok();
        }
        ServoFamily::Feetech => {
            params.extend_from_slice(&[address as u8, len as u8]).ok();
        }
    }
    params.extend_from_slice(&body).map_err(|_| TooLong)?;
    match family {
        ServoFamily::Dynamixel => dynamixel::encode(
            dynamixel::BROADCAST_ID,
            dynamixel::Instruction::SyncWrite as u8,
            &params,
            out,
        )
        .map_err(|_| TooLong),
        ServoFamily::Feetech => feetech::encode(
            feetech::BROADCAST_ID,
            feetech::Instruction::SyncWrite as u8,
            &params,
            out,
        )
        .map_err(|_| TooLong),
    }
}

/// The goal position of `turns` from the middle of the range, in the family's counts
/// (nearest; a Feetech's clamped to its one turn).
fn goal_bytes(family: ServoFamily, turns: f64) -> heapless::Vec<u8, 4> {
    let counts = x_series::CENTRE_COUNT + turns * x_series::COUNTS_PER_TURN;
    let counts = if counts.is_finite() {
        counts
    } else {
        x_series::CENTRE_COUNT
    };
    let nearest = |v: f64| {
        if v >= 0.0 {
            (v + 0.5) as i64
        } else {
            (v - 0.5) as i64
        }
    };
    let mut bytes = heapless::Vec::new();
    match family {
        ServoFamily::Dynamixel => {
            let c = nearest(counts).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            bytes.extend_from_slice(&c.to_le_bytes()).ok();
        }
        ServoFamily::Feetech => {
            let c = nearest(counts).clamp(0, sts::COUNTS_PER_TURN as i64 - 1) as u16;
            bytes.extend_from_slice(&c.to_le_bytes()).ok();
        }
    }
    bytes
}

/// The sync write of each `(id, turns)` goal position into `out`; its length.
pub fn goal_write(
    family: ServoFamily,
    goals: impl Iterator<Item = (u8, f64)>,
    out: &mut [u8],
) -> Result<usize, TooLong> {
    let address = match family {
        ServoFamily::Dynamixel => x_series::GOAL_POSITION,
        ServoFamily::Feetech => u16::from(sts::GOAL_POSITION),
    };
    let entries = goals.map(|(id, turns)| (id, goal_bytes(family, turns)));
    sync_write(family, address, entries, out)
}

/// The sync write of each `(id, on)` torque enable into `out`; its length.
pub fn torque_write(
    family: ServoFamily,
    torques: impl Iterator<Item = (u8, bool)>,
    out: &mut [u8],
) -> Result<usize, TooLong> {
    let address = match family {
        ServoFamily::Dynamixel => x_series::TORQUE_ENABLE,
        ServoFamily::Feetech => u16::from(sts::TORQUE_ENABLE),
    };
    let entries = torques.map(|(id, on)| {
        let mut b: heapless::Vec<u8, 1> = heapless::Vec::new();
        b.push(u8::from(on)).ok();
        (id, b)
    });
    sync_write(family, address, entries, out)
}

/// The sync write of each `(id, value)` two-byte word at `address` (a Dynamixel's gains)
/// into `out`; its length.
pub fn word_write(
    family: ServoFamily,
    address: u16,
    words: impl Iterator<Item = (u8, u16)>,
    out: &mut [u8],
) -> Result<usize, TooLong> {
    let entries = words.map(|(id, w)| {
        let mut b: heapless::Vec<u8, 2> = heapless::Vec::new();
        b.extend_from_slice(&w.to_le_bytes()).ok();
        (id, b)
    });
    sync_write(family, address, entries, out)
}

/// A broadcast write of torque enable 0 into `out` (every servo on the bus lets go; none
/// answers); its length.
pub fn torque_off_all(family: ServoFamily, out: &mut [u8]) -> Result<usize, TooLong> {
    match family {
        ServoFamily::Dynamixel => {
            dynamixel::write(dynamixel::BROADCAST_ID, x_series::TORQUE_ENABLE, &[0], out)
                .map_err(|_| TooLong)
        }
        ServoFamily::Feetech => {
            feetech::write(feetech::BROADCAST_ID, sts::TORQUE_ENABLE, &[0], out)
                .map_err(|_| TooLong)
        }
    }
}

/// The sync read of every servo of `ids`' present state into `out`; its length.
pub fn state_read(family: ServoFamily, ids: &[u8], out: &mut [u8]) -> Result<usize, TooLong> {
    let len = family.read_len();
    match family {
        ServoFamily::Dynamixel => {
            dynamixel::sync_read(x_series::PRESENT_CURRENT, len as u16, ids, out)
                .map_err(|_| TooLong)
        }
        ServoFamily::Feetech => {
            feetech::sync_read(sts::PRESENT_POSITION, len as u8, ids, out).map_err(|_| TooLong)
        }
    }
}

/// A servo's present state, from its answer to the sync read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Present {
    /// Position: turns from the middle of the range.
    pub turns: f64,
    /// Velocity (turns/s).
    pub turns_per_s: f64,
    /// Output torque (N·m at the servo's horn).
    pub effort_nm: f64,
}

/// What the sync read's answer `data` says, if it is one (of the family's length).
pub fn present(family: ServoFamily, data: &[u8]) -> Option<Present> {
    match (family, data) {
        (ServoFamily::Dynamixel, &[c0, c1, v0, v1, v2, v3, p0, p1, p2, p3]) => {
            let current = f64::from(i16::from_le_bytes([c0, c1]));
            let velocity = f64::from(i32::from_le_bytes([v0, v1, v2, v3]));
            let position = f64::from(i32::from_le_bytes([p0, p1, p2, p3]));
            Some(Present {
                turns: (position - x_series::CENTRE_COUNT) / x_series::COUNTS_PER_TURN,
                turns_per_s: velocity * x_series::VELOCITY_UNIT_RAD_S / core::f64::consts::TAU,
                effort_nm: current * x_series::CURRENT_UNIT_A * x_series::TORQUE_PER_A,
            })
        }
        (ServoFamily::Feetech, &[p0, p1, s0, s1, l0, l1]) => {
            let position = f64::from(u16::from_le_bytes([p0, p1]));
            let speed = feetech::from_sign_magnitude(u16::from_le_bytes([s0, s1]), 15);
            let load = feetech::from_sign_magnitude(u16::from_le_bytes([l0, l1]), 10);
            Some(Present {
                turns: (position - sts::CENTRE_COUNT) / sts::COUNTS_PER_TURN,
                turns_per_s: f64::from(speed) / sts::COUNTS_PER_TURN,
                effort_nm: f64::from(load) / 1000.0 * sts::STALL_TORQUE_NM,
            })
        }
        _ => None,
    }
}

/// The faults a status's error byte `error` says outright: a Feetech's bits. A
/// Dynamixel says only that it has a hardware error ([`alert`]); its register says which
/// ([`hardware_faults`]).
pub fn status_faults(family: ServoFamily, error: u8) -> MotorFaults {
    const STS: [(u8, MotorFaults); 5] = [
        (ServoError::VOLTAGE, MotorFaults::OVER_VOLTAGE),
        (ServoError::ANGLE, MotorFaults::ENCODER),
        (ServoError::OVERHEAT, MotorFaults::ROTOR_OVER_TEMPERATURE),
        (ServoError::OVERCURRENT, MotorFaults::OVER_CURRENT),
        (ServoError::OVERLOAD, MotorFaults::OVERLOAD),
    ];
    match family {
        ServoFamily::Dynamixel => MotorFaults::NONE,
        ServoFamily::Feetech => (STS.iter())
            .filter(|(bit, _)| ServoError(error).has(*bit))
            .fold(MotorFaults::NONE, |all, (_, f)| all.union(*f)),
    }
}

/// Whether a status's error byte says the servo has a hardware error (a Dynamixel's alert
/// bit; it has dropped its torque).
pub fn alert(family: ServoFamily, error: u8) -> bool {
    family == ServoFamily::Dynamixel && error & dynamixel::StatusError::ALERT != 0
}

/// The faults a Dynamixel's hardware error register `bits` says.
pub fn hardware_faults(bits: u8) -> MotorFaults {
    const MAP: [(u8, MotorFaults); 5] = [
        (x_series::INPUT_VOLTAGE_ERROR, MotorFaults::OVER_VOLTAGE),
        (
            x_series::OVERHEATING_ERROR,
            MotorFaults::ROTOR_OVER_TEMPERATURE,
        ),
        (x_series::ENCODER_ERROR, MotorFaults::ENCODER),
        (x_series::ELECTRICAL_SHOCK_ERROR, MotorFaults::OVER_CURRENT),
        (x_series::OVERLOAD_ERROR, MotorFaults::OVERLOAD),
    ];
    (MAP.iter())
        .filter(|(bit, _)| bits & bit != 0)
        .fold(MotorFaults::NONE, |all, (_, f)| all.union(*f))
}

/// The read of a Dynamixel's hardware error register into `out`; its length.
pub fn hardware_error_read(id: u8, out: &mut [u8]) -> Result<usize, TooLong> {
    dynamixel::read(id, x_series::HARDWARE_ERROR, 1, out).map_err(|_| TooLong)
}

/// The ping of servo `id` into `out`; its length.
pub fn ping(family: ServoFamily, id: u8, out: &mut [u8]) -> Result<usize, TooLong> {
    match family {
        ServoFamily::Dynamixel => dynamixel::ping(id, out).map_err(|_| TooLong),
        ServoFamily::Feetech => feetech::ping(id, out).map_err(|_| TooLong),
    }
}

/// Finds servos' status packets in the bytes of a bus of one family.
// No allocator on the MCU: the reader lives inline, as large as its packets.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum StatusReader {
    /// Of Dynamixels.
    Dynamixel(dynamixel::PacketReader),
    /// Of Feetech servos.
    Feetech(feetech::PacketReader),
}

/// A status packet: who sent it, its error byte, its data.
pub type Status<'a> = (u8, u8, &'a [u8]);

impl StatusReader {
    /// A reader of `family`'s packets.
    pub fn new(family: ServoFamily) -> StatusReader {
        match family {
            ServoFamily::Dynamixel => StatusReader::Dynamixel(Default::default()),
            ServoFamily::Feetech => StatusReader::Feetech(Default::default()),
        }
    }

    /// Feeds one byte: `Some(true)` when it completed a good packet (see
    /// [`StatusReader::status`]), `Some(false)` a bad one (length, CRC or checksum).
    pub fn push(&mut self, byte: u8) -> Option<bool> {
        match self {
            StatusReader::Dynamixel(r) => r.push(byte).map(|r| r.is_ok()),
            StatusReader::Feetech(r) => r.push(byte).map(|r| r.is_ok()),
        }
    }

    /// Forgets a partial packet (a new exchange starts).
    pub fn reset(&mut self) {
        match self {
            StatusReader::Dynamixel(r) => r.reset(),
            StatusReader::Feetech(r) => r.reset(),
        }
    }

    /// The packet just completed, if it is a status: its id, error byte and data.
    pub fn status(&self) -> Option<Status<'_>> {
        match self {
            StatusReader::Dynamixel(r) => {
                let p = r.packet()?;
                let (error, data) = p.status()?.ok()?;
                Some((p.id, error.0, data))
            }
            StatusReader::Feetech(r) => {
                let p = r.packet()?;
                Some((p.id, p.instruction, p.params))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_are_counts_from_the_middle_and_a_feetech_stays_in_its_turn() {
        let mut out = [0u8; MAX_PACKET];
        let n = goal_write(
            ServoFamily::Feetech,
            [(1, 0.25), (2, 9.0)].into_iter(),
            &mut out,
        )
        .expect("fits");
        // FF FF FE len 83 | 42 2 | 1 (2048+1024 = 0x0C00) | 2 (4095 = 0x0FFF) | checksum
        assert_eq!(
            &out[..n - 1],
            &[
                0xFF, 0xFF, 0xFE, 10, 0x83, 42, 2, 1, 0x00, 0x0C, 2, 0xFF, 0x0F
            ]
        );
        let n =
            goal_write(ServoFamily::Dynamixel, [(7, -0.5)].into_iter(), &mut out).expect("fits");
        let packet = &out[..n];
        // Params: address 116, length 4, id 7, 0 counts.
        assert_eq!(&packet[8..17], &[116, 0, 4, 0, 7, 0, 0, 0, 0]);
    }

    #[test]
    fn a_bridges_most_servos_fit_one_sync_write_of_either_family() {
        let mut out = [0u8; MAX_PACKET];
        for family in [ServoFamily::Dynamixel, ServoFamily::Feetech] {
            let goals = (1..=64u8).map(|id| (id, 0.1));
            assert!(goal_write(family, goals, &mut out).is_ok(), "{family:?}");
            let torques = (1..=64u8).map(|id| (id, true));
            assert!(
                torque_write(family, torques, &mut out).is_ok(),
                "{family:?}"
            );
        }
        // A Feetech packet holds 253 parameter bytes: 84 goals do not fit.
        let goals = (1..=84u8).map(|id| (id, 0.1));
        assert_eq!(
            goal_write(ServoFamily::Feetech, goals, &mut out),
            Err(TooLong)
        );
    }

    #[test]
    fn answers_read_as_turns_and_faults() {
        // 3072 counts: a quarter turn; speed −512 counts/s; load 500 ‰.
        let sts = [0x00, 0x0C, 0x00, 0x82, 0xF4, 0x01];
        let p = present(ServoFamily::Feetech, &sts).expect("six bytes");
        assert_eq!(p.turns, 0.25);
        assert_eq!(p.turns_per_s, -0.125);
        assert!((p.effort_nm - 0.95).abs() < 1e-12);
        assert_eq!(present(ServoFamily::Feetech, &sts[..5]), None);
        assert_eq!(present(ServoFamily::Dynamixel, &sts), None);
        let both = ServoError::OVERHEAT | ServoError::OVERLOAD;
        assert_eq!(
            status_faults(ServoFamily::Feetech, both),
            MotorFaults::ROTOR_OVER_TEMPERATURE.union(MotorFaults::OVERLOAD)
        );
        assert!(alert(ServoFamily::Dynamixel, 0x80) && !alert(ServoFamily::Feetech, 0x80));
        assert_eq!(
            hardware_faults(x_series::OVERLOAD_ERROR),
            MotorFaults::OVERLOAD
        );
    }
}
