//! What a CiA 402 master says to its drives, without I/O or a clock, so the host's
//! master and the bridge firmware's share it: the SDO writes that set a drive up for a
//! cyclic mode ([`configuration`]: PDO mapping, mode, heartbeats), the RPDO carrying its
//! controlword ([`controlword`]: the state machine's walk) and target each cycle
//! ([`rpdo1`]), and the TPDOs it answers each SYNC
//! with ([`Tpdo1`], [`Tpdo2`]), in either [`PdoLayout`]. The caller sends, waits and
//! times out. Decoders are total: short data is an error, never a panic.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::canopen::cia402::{self, Mode, State};
use crate::canopen::{self, AbortCode, Address, CanopenError, Expedited, pdo};
use crate::{CanFrame, MotorFaults};

/// The node id a master's heartbeat carries (the drives watch it).
pub const MASTER_NODE: u8 = 0x7F;

/// Which objects the TPDOs carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PdoLayout {
    /// TPDO1 statusword, position, torque; TPDO2 velocity, error code: three frames a
    /// drive a tick.
    Full,
    /// TPDO1 statusword and position only (velocity from successive positions, no
    /// torque): two frames a drive a tick, twice the drives on a bus.
    Compact,
}

impl PdoLayout {
    /// Its name in a unit's configuration.
    pub fn name(self) -> &'static str {
        match self {
            PdoLayout::Full => "full",
            PdoLayout::Compact => "compact",
        }
    }
}

/// Why a master does not drive a drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriveFailure {
    /// It did not answer an SDO request, asked several times.
    Silent,
    /// Its device type (0x1000) is not a CiA 402 drive's.
    NotADrive(u32),
    /// It does not support the mode it was to run in (its 0x6502).
    Mode(u32),
    /// It refused a configuration write.
    Refused(Address, AbortCode),
}

impl core::fmt::Display for DriveFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriveFailure::Silent => f.write_str("it did not answer its SDO requests"),
            DriveFailure::NotADrive(t) => {
                write!(f, "its device type {t:#010x} is not a CiA 402 drive's")
            }
            DriveFailure::Mode(m) => {
                write!(
                    f,
                    "its supported modes {m:#010x} lack the mode it is set up for"
                )
            }
            DriveFailure::Refused(at, code) => write!(f, "it refused the write of {at}: {code}"),
        }
    }
}

/// The joint fault a CiA 301/402 error code (an emergency's, or 0x603F's) names.
pub fn motor_faults(error_code: u16) -> MotorFaults {
    match error_code >> 8 {
        0x23 => MotorFaults::OVER_CURRENT,
        0x32 if error_code == 0x3220 => MotorFaults::UNDER_VOLTAGE,
        0x32 => MotorFaults::OVER_VOLTAGE,
        0x42 => MotorFaults::DRIVER_OVER_TEMPERATURE,
        0x43 => MotorFaults::ROTOR_OVER_TEMPERATURE,
        0x73 => MotorFaults::ENCODER,
        0x81 | 0x82 => MotorFaults::COMMS_LOST,
        _ => MotorFaults::OVERLOAD,
    }
}

/// One expedited SDO write of a drive's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdoWrite {
    /// The object written.
    pub at: Address,
    /// Its value, little-endian.
    pub value: Expedited,
}

/// The most writes a [`configuration`] takes.
pub const MAX_CONFIGURATION: usize = 32;

/// The SDO writes, in order, that set drive `node` up for `mode` (a cyclic one): every
/// PDO off; RPDO1 mapping the controlword and the mode's target, and the TPDOs of
/// `layout`, each taken or sent at every SYNC; the mode of operation; the controlword
/// at shutdown; its heartbeat every `heartbeat_ms` and its watch on the heartbeat of
/// `host` (lost after three periods). A drive that answers each with a download
/// response is set up.
pub fn configuration(
    node: u8,
    mode: Mode,
    layout: PdoLayout,
    heartbeat_ms: u16,
    host: u8,
) -> Vec<SdoWrite, MAX_CONFIGURATION> {
    let target = match mode {
        Mode::CyclicVelocity => (cia402::TARGET_VELOCITY, 32),
        Mode::CyclicTorque => (cia402::TARGET_TORQUE, 16),
        _ => (cia402::TARGET_POSITION, 32),
    };
    let tpdos: [&[(Address, u8)]; 2] = match layout {
        PdoLayout::Full => [
            &[
                (cia402::STATUSWORD, 16),
                (cia402::POSITION_ACTUAL, 32),
                (cia402::TORQUE_ACTUAL, 16),
            ],
            &[(cia402::VELOCITY_ACTUAL, 32), (cia402::ERROR_CODE, 16)],
        ],
        PdoLayout::Compact => [
            &[(cia402::STATUSWORD, 16), (cia402::POSITION_ACTUAL, 32)],
            &[],
        ],
    };
    let rpdo: [(Address, u8); 2] = [(cia402::CONTROLWORD, 16), target];
    let mut writes = Vec::new();
    // Within capacity by construction: 31 writes at most (the full layout).
    let mut write = |at: Address, bytes: &[u8]| {
        let _ = writes.push(SdoWrite {
            at,
            value: Expedited::new(bytes),
        });
    };
    for n in 0..4u16 {
        let rpdo_cob = u32::from(canopen::RPDO_BASE[usize::from(n)] + u16::from(node));
        let tpdo_cob =
            u32::from(canopen::TPDO_BASE[usize::from(n)] + u16::from(node)) | pdo::COB_ID_NO_RTR;
        let off = pdo::COB_ID_INVALID;
        write(
            Address::new(pdo::RPDO_COMMUNICATION + n, 1),
            &(rpdo_cob | off).to_le_bytes(),
        );
        write(
            Address::new(pdo::TPDO_COMMUNICATION + n, 1),
            &(tpdo_cob | off).to_le_bytes(),
        );
        let map_r: &[(Address, u8)] = if n == 0 { &rpdo } else { &[] };
        let map_t: &[(Address, u8)] = tpdos.get(usize::from(n)).copied().unwrap_or(&[]);
        for (comm, mapping, cob, map) in [
            (
                pdo::RPDO_COMMUNICATION + n,
                pdo::RPDO_MAPPING + n,
                rpdo_cob,
                map_r,
            ),
            (
                pdo::TPDO_COMMUNICATION + n,
                pdo::TPDO_MAPPING + n,
                tpdo_cob,
                map_t,
            ),
        ] {
            if map.is_empty() {
                continue;
            }
            write(Address::new(mapping, 0), &[0]);
            for (sub, (at, bits)) in (1u8..).zip(map) {
                write(
                    Address::new(mapping, sub),
                    &pdo::entry(*at, *bits).to_le_bytes(),
                );
            }
            write(Address::new(mapping, 0), &[map.len() as u8]);
            write(Address::new(comm, 2), &[pdo::EVERY_SYNC]);
            write(Address::new(comm, 1), &cob.to_le_bytes());
        }
    }
    write(cia402::MODES_OF_OPERATION, &[mode as i8 as u8]);
    write(cia402::CONTROLWORD, &cia402::SHUTDOWN.to_le_bytes());
    write(Address::new(0x1017, 0), &heartbeat_ms.to_le_bytes());
    let consumer = (u32::from(host) << 16) | u32::from(heartbeat_ms.saturating_mul(3));
    write(Address::new(0x1016, 1), &consumer.to_le_bytes());
    writes
}

/// The controlword a master sends a drive in `state`, having sent it `previous`, and
/// whether the drive is now tripped: toward operation enabled while its joint is
/// `commanded`, back to ready to switch on when it is not. A drive that faults while
/// enabled trips and is held off (disable voltage) until its joint is commanded off:
/// it is not reset into motion behind the loop's back.
pub fn controlword(state: State, previous: u16, commanded: bool, tripped: bool) -> (u16, bool) {
    let tripped = match commanded {
        false => false,
        true => tripped || (state == State::Fault && previous == cia402::ENABLE_OPERATION),
    };
    let word = match (commanded, state) {
        (false, State::Fault) => cia402::DISABLE_VOLTAGE,
        (false, _) => cia402::SHUTDOWN,
        (true, _) if tripped => cia402::DISABLE_VOLTAGE,
        (true, s) => s.toward_enabled(previous),
    };
    (word, tripped)
}

/// What RPDO1 carries after the controlword: the target of the drive's mode, in its
/// units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// CSP: encoder increments.
    Position(i32),
    /// CSV: increments a second.
    Velocity(i32),
    /// CST: thousandths of the rated torque.
    Torque(i16),
}

/// Drive `node`'s RPDO1: `controlword` and `target`.
pub fn rpdo1(node: u8, controlword: u16, target: Target) -> CanFrame {
    let mut data = [0u8; 6];
    data[..2].copy_from_slice(&controlword.to_le_bytes());
    let len = match target {
        Target::Position(v) | Target::Velocity(v) => {
            data[2..6].copy_from_slice(&v.to_le_bytes());
            6
        }
        Target::Torque(permille) => {
            data[2..4].copy_from_slice(&permille.to_le_bytes());
            4
        }
    };
    canopen::frame_to(canopen::RPDO_BASE[0], node, &data[..len])
}

/// The compact layout's velocity: a drive's position's change over its last two
/// SYNCs. A drive held up answers two SYNCs with one sample, then jumps two periods'
/// travel in one; over two periods that reads right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactVelocity {
    /// The position at the last two SYNCs, newest first.
    previous: [Option<i32>; 2],
}

impl CompactVelocity {
    /// Takes this SYNC's `position`: the velocity in increments a second at `rate_hz`
    /// SYNCs a second (0 at the first).
    pub fn take(&mut self, position: i32, rate_hz: f64) -> f64 {
        let change = |p: i32| f64::from(position) - f64::from(p);
        let velocity = match self.previous {
            [_, Some(p2)] => change(p2) * rate_hz / 2.0,
            [Some(p1), None] => change(p1) * rate_hz,
            [None, _] => 0.0,
        };
        self.previous = [Some(position), self.previous[0]];
        velocity
    }
}

/// TPDO1 of a drive: what it says each SYNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpdo1 {
    /// Statusword (0x6041).
    pub statusword: u16,
    /// Position actual value (0x6064), increments.
    pub position: i32,
    /// Torque actual value (0x6077), thousandths of the rated torque: the full layout's.
    pub torque: Option<i16>,
}

impl Tpdo1 {
    /// Decodes TPDO1's data in `layout`.
    pub fn decode(data: &[u8], layout: PdoLayout) -> Result<Tpdo1, CanopenError> {
        let short = CanopenError::Length {
            service: "TPDO1",
            got: data.len(),
        };
        let (Some(statusword), Some(position)) = (u16_at(data, 0), i32_at(data, 2)) else {
            return Err(short);
        };
        let torque = match layout {
            PdoLayout::Full => Some(u16_at(data, 6).ok_or(short)? as i16),
            PdoLayout::Compact => None,
        };
        Ok(Tpdo1 {
            statusword,
            position,
            torque,
        })
    }
}

/// TPDO2 of a drive in the full layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpdo2 {
    /// Velocity actual value (0x606C), increments a second.
    pub velocity: i32,
    /// Error code (0x603F): the last emergency's, 0 when none.
    pub error_code: u16,
}

impl Tpdo2 {
    /// Decodes TPDO2's data.
    pub fn decode(data: &[u8]) -> Result<Tpdo2, CanopenError> {
        match (i32_at(data, 0), u16_at(data, 4)) {
            (Some(velocity), Some(error_code)) => Ok(Tpdo2 {
                velocity,
                error_code,
            }),
            _ => Err(CanopenError::Length {
                service: "TPDO2",
                got: data.len(),
            }),
        }
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn i32_at(data: &[u8], at: usize) -> Option<i32> {
    let b = data.get(at..at + 4)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::canopen::Message;
    use proptest::prelude::*;

    #[test]
    fn a_full_configuration_maps_what_the_drive_profile_names() {
        let writes = configuration(5, Mode::CyclicPosition, PdoLayout::Full, 100, 0x7F);
        assert_eq!(
            writes.len(),
            31,
            "8 PDOs off, RPDO1 6, TPDO1 7, TPDO2 6, 4 more"
        );
        let value = |index: u16, sub: u8| {
            let all: std::vec::Vec<u32> = (writes.iter())
                .filter(|w| w.at == Address::new(index, sub))
                .map(|w| w.value.as_u32())
                .collect();
            all
        };
        // RPDO1 is off first, then on at 0x205 once mapped.
        assert_eq!(value(0x1400, 1), [0x8000_0205, 0x205]);
        assert_eq!(value(0x1600, 1), [0x6040_0010]);
        assert_eq!(value(0x1600, 2), [0x607A_0020]);
        assert_eq!(value(0x1600, 0), [0, 2]);
        // TPDO1 at 0x185 without remote requests; TPDO2 at 0x285; 3 and 4 stay off.
        assert_eq!(value(0x1800, 1), [0xC000_0185, 0x4000_0185]);
        assert_eq!(value(0x1A00, 3), [0x6077_0010]);
        assert_eq!(value(0x1A01, 1), [0x606C_0020]);
        assert_eq!(value(0x1A01, 2), [0x603F_0010]);
        assert_eq!(value(0x1802, 1), [0xC000_0385]);
        assert_eq!(value(0x1803, 1), [0xC000_0485]);
        assert_eq!(value(0x1800, 2), [1], "every SYNC");
        assert_eq!(value(0x6060, 0), [8]);
        assert_eq!(value(0x6040, 0), [6]);
        assert_eq!(value(0x1017, 0), [100]);
        assert_eq!(
            value(0x1016, 1),
            [0x007F_012C],
            "host 0x7F, lost after 300 ms"
        );
    }

    #[test]
    fn a_compact_torque_configuration_maps_one_tpdo_and_the_torque_target() {
        let writes = configuration(1, Mode::CyclicTorque, PdoLayout::Compact, 50, 0x7F);
        let mapped = |index: u16| {
            let at = |sub| Address::new(index, sub);
            let count = writes
                .iter()
                .rfind(|w| w.at == at(0))
                .map(|w| w.value.as_u32());
            count.unwrap_or(0)
        };
        assert_eq!(mapped(0x1600), 2);
        assert_eq!(mapped(0x1A00), 2);
        assert_eq!(mapped(0x1A01), 0, "TPDO2 is not mapped");
        let target = writes.iter().find(|w| w.at == Address::new(0x1600, 2));
        assert_eq!(target.map(|w| w.value.as_u32()), Some(0x6071_0010));
        assert!(writes.iter().all(|w| !w.value.data().is_empty()));
    }

    #[test]
    fn rpdo1_carries_the_controlword_and_the_modes_target() {
        let frame = rpdo1(3, cia402::ENABLE_OPERATION, Target::Position(-70_000));
        assert_eq!(frame.id(), crate::CanId::Standard(0x203));
        assert_eq!(frame.data(), [0x0F, 0, 0x90, 0xEE, 0xFE, 0xFF]);
        let frame = rpdo1(3, cia402::SHUTDOWN, Target::Torque(-250));
        assert_eq!(frame.data(), [0x06, 0, 0x06, 0xFF]);
        match Message::classify(&frame) {
            Ok(Message::Rpdo {
                pdo: 0, node: 3, ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_controlword_walks_to_enabled_and_a_trip_holds_until_off() {
        let mut previous = cia402::DISABLE_VOLTAGE;
        let mut tripped = false;
        let mut walk = |state| {
            (previous, tripped) = controlword(state, previous, true, tripped);
            previous
        };
        assert_eq!(walk(State::SwitchOnDisabled), cia402::SHUTDOWN);
        assert_eq!(walk(State::ReadyToSwitchOn), cia402::SWITCH_ON);
        assert_eq!(walk(State::SwitchedOn), cia402::ENABLE_OPERATION);
        assert_eq!(walk(State::OperationEnabled), cia402::ENABLE_OPERATION);
        // Faulted while enabled: held off while still commanded, no fault reset.
        assert_eq!(walk(State::Fault), cia402::DISABLE_VOLTAGE);
        assert_eq!(walk(State::Fault), cia402::DISABLE_VOLTAGE);
        // Commanded off, then on again: the fault is reset on a rising edge.
        let (off, still) = controlword(State::Fault, previous, false, tripped);
        assert_eq!((off, still), (cia402::DISABLE_VOLTAGE, false));
        let (reset, _) = controlword(State::Fault, off, true, false);
        assert_eq!(reset, cia402::FAULT_RESET);
        // Not commanded, a healthy drive goes back to ready to switch on.
        let (word, _) = controlword(
            State::OperationEnabled,
            cia402::ENABLE_OPERATION,
            false,
            false,
        );
        assert_eq!(word, cia402::SHUTDOWN);
    }

    #[test]
    fn short_tpdos_are_errors() {
        let full = [0x37, 0x02, 1, 0, 0, 0, 0xF4, 0x01];
        let tpdo = Tpdo1::decode(&full, PdoLayout::Full).expect("8 bytes");
        assert_eq!(
            tpdo,
            Tpdo1 {
                statusword: 0x0237,
                position: 1,
                torque: Some(500)
            }
        );
        assert!(Tpdo1::decode(&full[..6], PdoLayout::Full).is_err());
        assert_eq!(
            Tpdo1::decode(&full[..6], PdoLayout::Compact).map(|t| t.torque),
            Ok(None)
        );
        assert!(Tpdo1::decode(&full[..5], PdoLayout::Compact).is_err());
        let tpdo2 = Tpdo2::decode(&[0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0x23]).expect("6 bytes");
        assert_eq!(
            tpdo2,
            Tpdo2 {
                velocity: -1,
                error_code: 0x2310
            }
        );
        assert!(Tpdo2::decode(&[0; 5]).is_err());
    }

    #[test]
    fn the_compact_velocity_spans_two_syncs() {
        let mut v = CompactVelocity::default();
        assert_eq!(v.take(100, 1000.0), 0.0);
        assert_eq!(v.take(110, 1000.0), 10_000.0);
        // Held up: the same sample twice, then two periods' travel at once.
        assert_eq!(v.take(110, 1000.0), 5_000.0);
        assert_eq!(v.take(130, 1000.0), 10_000.0);
    }

    proptest! {
        #[test]
        fn tpdo_decoders_take_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..12)) {
            for layout in [PdoLayout::Full, PdoLayout::Compact] {
                let need = if layout == PdoLayout::Full { 8 } else { 6 };
                prop_assert_eq!(Tpdo1::decode(&data, layout).is_ok(), data.len() >= need);
            }
            prop_assert_eq!(Tpdo2::decode(&data).is_ok(), data.len() >= 6);
        }

        #[test]
        fn rpdo1_round_trips(node in 1u8..=127, controlword: u16, v: i32, t: i16) {
            for target in [Target::Position(v), Target::Velocity(v), Target::Torque(t)] {
                let frame = rpdo1(node, controlword, target);
                let data = frame.data();
                prop_assert_eq!(u16_at(data, 0), Some(controlword));
                match target {
                    Target::Torque(t) => prop_assert_eq!(u16_at(data, 2).map(|x| x as i16), Some(t)),
                    Target::Position(v) | Target::Velocity(v) => prop_assert_eq!(i32_at(data, 2), Some(v)),
                }
            }
        }
    }
}
