//! The MIT ("mini-cheetah") CAN protocol of quasi-direct-drive joints, in its three
//! variants: classic (CubeMars AK), DaMiao (DM-J) and Robstride (29-bit identifiers).
//! Commands carry position, velocity, stiffness, damping and feed-forward torque as
//! fixed-point fields scaled by per-motor ranges; values are clamped to the ranges before
//! packing (the firmware does not clamp). Decoders are total: any bytes give a value or
//! an error. Facts from `PROTOCOLS.md`.

use serde::{Deserialize, Serialize};

use crate::can::{CanFrame, CanId};

/// Full-scale ranges of one motor: position, velocity and torque are symmetric
/// (`±max`), stiffness and damping run from zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MitRanges {
    /// Position range (rad).
    pub p_max: f32,
    /// Velocity range (rad/s).
    pub v_max: f32,
    /// Stiffness range (N·m/rad).
    pub kp_max: f32,
    /// Damping range (N·m·s/rad).
    pub kd_max: f32,
    /// Torque range (N·m).
    pub t_max: f32,
}

impl MitRanges {
    /// The classic firmware's ranges.
    pub const CLASSIC: MitRanges = MitRanges {
        p_max: 12.5,
        v_max: 65.0,
        kp_max: 500.0,
        kd_max: 5.0,
        t_max: 18.0,
    };
    /// DaMiao DM4310 defaults (PMAX/VMAX/TMAX registers).
    pub const DM4310: MitRanges = MitRanges {
        p_max: 12.5,
        v_max: 30.0,
        kp_max: 500.0,
        kd_max: 5.0,
        t_max: 10.0,
    };
    /// Robstride RS01.
    pub const RS01: MitRanges = MitRanges {
        p_max: 4.0 * core::f32::consts::PI,
        v_max: 44.0,
        kp_max: 500.0,
        kd_max: 5.0,
        t_max: 17.0,
    };

    /// Whether every range is finite and positive.
    pub fn is_valid(&self) -> bool {
        [self.p_max, self.v_max, self.kp_max, self.kd_max, self.t_max]
            .iter()
            .all(|x| x.is_finite() && *x > 0.0)
    }
}

/// Which dialect a motor speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MitVariant {
    /// CubeMars AK and compatible: 6-byte replies with current.
    Classic,
    /// DaMiao: 8-byte replies with error code and temperatures.
    DaMiao,
    /// Robstride: 29-bit identifiers carrying the frame type and torque.
    Robstride,
}

/// One impedance command: `τ = kp·(p − q) + kd·(v − dq) + t_ff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MitCommand {
    /// Position set-point (rad).
    pub p: f32,
    /// Velocity set-point (rad/s).
    pub v: f32,
    /// Stiffness (N·m/rad).
    pub kp: f32,
    /// Damping (N·m·s/rad).
    pub kd: f32,
    /// Feed-forward torque (N·m).
    pub t_ff: f32,
}

/// The non-command frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MitSpecial {
    /// Enable the drive.
    EnterMotorMode,
    /// Disable the drive.
    ExitMotorMode,
    /// Take the current position as zero.
    SetZero,
    /// Clear a latched error (DaMiao; Robstride's stop with clear).
    ClearError,
}

/// What a motor receives.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum MitRequest {
    /// An impedance command.
    Command(MitCommand),
    /// A special frame.
    Special(MitSpecial),
}

/// Motor fault flags, common to the variants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MotorFaults(pub u16);

impl MotorFaults {
    /// No fault.
    pub const NONE: MotorFaults = MotorFaults(0);
    /// Supply over-voltage.
    pub const OVER_VOLTAGE: MotorFaults = MotorFaults(1 << 0);
    /// Supply under-voltage.
    pub const UNDER_VOLTAGE: MotorFaults = MotorFaults(1 << 1);
    /// Over-current.
    pub const OVER_CURRENT: MotorFaults = MotorFaults(1 << 2);
    /// Driver (MOS) over-temperature.
    pub const DRIVER_OVER_TEMPERATURE: MotorFaults = MotorFaults(1 << 3);
    /// Rotor (winding) over-temperature.
    pub const ROTOR_OVER_TEMPERATURE: MotorFaults = MotorFaults(1 << 4);
    /// Communication lost (the motor's own watchdog).
    pub const COMMS_LOST: MotorFaults = MotorFaults(1 << 5);
    /// Overload.
    pub const OVERLOAD: MotorFaults = MotorFaults(1 << 6);
    /// Encoder fault.
    pub const ENCODER: MotorFaults = MotorFaults(1 << 7);
    /// Not calibrated.
    pub const UNCALIBRATED: MotorFaults = MotorFaults(1 << 8);
    /// An error code this codec does not know.
    pub const UNKNOWN: MotorFaults = MotorFaults(1 << 15);

    /// No flag set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets of flags.
    pub const fn union(self, other: MotorFaults) -> MotorFaults {
        MotorFaults(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: MotorFaults) -> bool {
        self.0 & other.0 == other.0
    }
}

/// What a motor reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MitFeedback {
    /// The reporting motor's id.
    pub motor_id: u8,
    /// Position (rad).
    pub p: f32,
    /// Velocity (rad/s).
    pub v: f32,
    /// Torque (N·m; the classic reply's current scaled to the torque range).
    pub t: f32,
    /// Faults.
    pub faults: MotorFaults,
    /// Drive enabled (DaMiao and Robstride say; classic replies assume so).
    pub enabled: bool,
    /// Winding temperature (°C), where reported.
    pub rotor_temperature_c: Option<f32>,
    /// Driver temperature (°C), where reported.
    pub driver_temperature_c: Option<f32>,
}

/// Why bytes are not a valid MIT frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MitError {
    /// The data length is wrong for this frame.
    Length {
        /// Bytes expected.
        expected: u8,
        /// Bytes received.
        got: u8,
    },
    /// A command field is NaN or infinite: nothing is sent.
    NonFinite,
    /// The identifier is not this motor's (or not a frame of this variant).
    WrongId(u32),
    /// Standard identifier where the variant needs extended, or the reverse.
    WrongIdKind,
    /// A remote frame.
    Remote,
    /// The motor ranges are not positive and finite.
    BadRanges,
}

impl core::fmt::Display for MitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MitError::Length { expected, got } => {
                write!(f, "{got} data bytes, expected {expected}")
            }
            MitError::NonFinite => write!(f, "command field is not finite"),
            MitError::WrongId(id) => write!(f, "identifier {id:#x} is not this motor's"),
            MitError::WrongIdKind => write!(f, "wrong identifier kind (standard/extended)"),
            MitError::Remote => write!(f, "remote frame"),
            MitError::BadRanges => write!(f, "motor ranges must be positive and finite"),
        }
    }
}

/// `x` in `[min, max]` as an unsigned integer of `bits` bits (clamped first).
pub fn float_to_uint(x: f32, min: f32, max: f32, bits: u32) -> u32 {
    let span = max - min;
    let full = ((1u64 << bits) - 1) as f32;
    let clamped = x.clamp(min, max);
    // `as` saturates and maps NaN to 0; callers reject NaN before.
    (((clamped - min) * full / span) as u32).min(full as u32)
}

/// The value in `[min, max]` an unsigned integer of `bits` bits stands for.
pub fn uint_to_float(u: u32, min: f32, max: f32, bits: u32) -> f32 {
    let full = ((1u64 << bits) - 1) as f32;
    u as f32 * (max - min) / full + min
}

const SPECIAL_PREFIX: [u8; 7] = [0xFF; 7];

fn special_code(special: MitSpecial) -> u8 {
    match special {
        MitSpecial::EnterMotorMode => 0xFC,
        MitSpecial::ExitMotorMode => 0xFD,
        MitSpecial::SetZero => 0xFE,
        MitSpecial::ClearError => 0xFB,
    }
}

/// Robstride frame types (bits 24–28 of the identifier).
mod robstride {
    pub const CONTROL: u32 = 1;
    pub const FEEDBACK: u32 = 2;
    pub const ENABLE: u32 = 3;
    pub const STOP: u32 = 4;
    pub const SET_ZERO: u32 = 6;
}

/// The codec of one motor: its dialect, ranges and identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MitCodec {
    /// Dialect.
    pub variant: MitVariant,
    /// Full-scale ranges.
    pub ranges: MitRanges,
    /// The motor's CAN id.
    pub motor_id: u8,
    /// The id replies are sent to (the master / host id).
    pub master_id: u8,
}

fn check_len(frame: &CanFrame, expected: u8) -> Result<&[u8], MitError> {
    if frame.is_remote() {
        return Err(MitError::Remote);
    }
    let data = frame.data();
    if data.len() != expected as usize {
        return Err(MitError::Length {
            expected,
            got: data.len() as u8,
        });
    }
    Ok(data)
}

impl MitCodec {
    fn p(&self, x: f32, bits: u32) -> u32 {
        float_to_uint(x, -self.ranges.p_max, self.ranges.p_max, bits)
    }
    fn v(&self, x: f32, bits: u32) -> u32 {
        float_to_uint(x, -self.ranges.v_max, self.ranges.v_max, bits)
    }
    fn t(&self, x: f32, bits: u32) -> u32 {
        float_to_uint(x, -self.ranges.t_max, self.ranges.t_max, bits)
    }
    fn p_of(&self, u: u32, bits: u32) -> f32 {
        uint_to_float(u, -self.ranges.p_max, self.ranges.p_max, bits)
    }
    fn v_of(&self, u: u32, bits: u32) -> f32 {
        uint_to_float(u, -self.ranges.v_max, self.ranges.v_max, bits)
    }
    fn t_of(&self, u: u32, bits: u32) -> f32 {
        uint_to_float(u, -self.ranges.t_max, self.ranges.t_max, bits)
    }

    fn std_id(id: u8) -> CanId {
        CanId::Standard(id as u16)
    }

    fn ext_id(kind: u32, data16: u32, low: u8) -> CanId {
        CanId::Extended((kind << 24) | ((data16 & 0xFFFF) << 8) | low as u32)
    }

    /// The frame carrying `command` to this motor, clamped to its ranges.
    pub fn command_frame(&self, command: &MitCommand) -> Result<CanFrame, MitError> {
        if !self.ranges.is_valid() {
            return Err(MitError::BadRanges);
        }
        let c = command;
        if ![c.p, c.v, c.kp, c.kd, c.t_ff].iter().all(|x| x.is_finite()) {
            return Err(MitError::NonFinite);
        }
        let r = &self.ranges;
        let kp = |bits| float_to_uint(c.kp, 0.0, r.kp_max, bits);
        let kd = |bits| float_to_uint(c.kd, 0.0, r.kd_max, bits);
        let frame = match self.variant {
            MitVariant::Classic | MitVariant::DaMiao => {
                let (p, v, kp, kd, t) = (
                    self.p(c.p, 16),
                    self.v(c.v, 12),
                    kp(12),
                    kd(12),
                    self.t(c.t_ff, 12),
                );
                let data = [
                    (p >> 8) as u8,
                    p as u8,
                    (v >> 4) as u8,
                    (((v & 0xF) << 4) | (kp >> 8)) as u8,
                    kp as u8,
                    (kd >> 4) as u8,
                    (((kd & 0xF) << 4) | (t >> 8)) as u8,
                    t as u8,
                ];
                CanFrame::fixed(Self::std_id(self.motor_id), data)
            }
            MitVariant::Robstride => {
                let (p, v, kp, kd) = (self.p(c.p, 16), self.v(c.v, 16), kp(16), kd(16));
                let t = self.t(c.t_ff, 16);
                let mut data = [0u8; 8];
                for (k, word) in [p, v, kp, kd].into_iter().enumerate() {
                    data[2 * k..2 * k + 2].copy_from_slice(&(word as u16).to_be_bytes());
                }
                CanFrame::fixed(Self::ext_id(robstride::CONTROL, t, self.motor_id), data)
            }
        };
        Ok(frame)
    }

    /// The frame for a special request.
    pub fn special_frame(&self, special: MitSpecial) -> CanFrame {
        match self.variant {
            MitVariant::Classic | MitVariant::DaMiao => {
                let mut data = [0xFFu8; 8];
                data[7] = special_code(special);
                CanFrame::fixed(Self::std_id(self.motor_id), data)
            }
            MitVariant::Robstride => {
                let (kind, first) = match special {
                    MitSpecial::EnterMotorMode => (robstride::ENABLE, 0),
                    MitSpecial::ExitMotorMode => (robstride::STOP, 0),
                    MitSpecial::ClearError => (robstride::STOP, 1),
                    MitSpecial::SetZero => (robstride::SET_ZERO, 1),
                };
                let mut data = [0u8; 8];
                data[0] = first;
                CanFrame::fixed(
                    Self::ext_id(kind, self.master_id as u32, self.motor_id),
                    data,
                )
            }
        }
    }

    /// What this motor was sent (the motor's side of the wire).
    pub fn decode_request(&self, frame: &CanFrame) -> Result<MitRequest, MitError> {
        match (self.variant, frame.id()) {
            (MitVariant::Classic | MitVariant::DaMiao, CanId::Standard(id)) => {
                if id != self.motor_id as u16 {
                    return Err(MitError::WrongId(id as u32));
                }
                let d = check_len(frame, 8)?;
                if d[..7] == SPECIAL_PREFIX {
                    let special = match d[7] {
                        0xFC => Some(MitSpecial::EnterMotorMode),
                        0xFD => Some(MitSpecial::ExitMotorMode),
                        0xFE => Some(MitSpecial::SetZero),
                        0xFB => Some(MitSpecial::ClearError),
                        _ => None,
                    };
                    if let Some(special) = special {
                        return Ok(MitRequest::Special(special));
                    }
                }
                let p = (d[0] as u32) << 8 | d[1] as u32;
                let v = (d[2] as u32) << 4 | (d[3] as u32) >> 4;
                let kp = ((d[3] & 0xF) as u32) << 8 | d[4] as u32;
                let kd = (d[5] as u32) << 4 | (d[6] as u32) >> 4;
                let t = ((d[6] & 0xF) as u32) << 8 | d[7] as u32;
                let r = &self.ranges;
                Ok(MitRequest::Command(MitCommand {
                    p: self.p_of(p, 16),
                    v: self.v_of(v, 12),
                    kp: uint_to_float(kp, 0.0, r.kp_max, 12),
                    kd: uint_to_float(kd, 0.0, r.kd_max, 12),
                    t_ff: self.t_of(t, 12),
                }))
            }
            (MitVariant::Robstride, CanId::Extended(id)) => {
                let kind = id >> 24;
                let data16 = (id >> 8) & 0xFFFF;
                if id & 0xFF != self.motor_id as u32 {
                    return Err(MitError::WrongId(id));
                }
                let d = check_len(frame, 8)?;
                let word = |k: usize| u16::from_be_bytes([d[2 * k], d[2 * k + 1]]) as u32;
                let r = &self.ranges;
                match kind {
                    robstride::CONTROL => Ok(MitRequest::Command(MitCommand {
                        p: self.p_of(word(0), 16),
                        v: self.v_of(word(1), 16),
                        kp: uint_to_float(word(2), 0.0, r.kp_max, 16),
                        kd: uint_to_float(word(3), 0.0, r.kd_max, 16),
                        t_ff: self.t_of(data16, 16),
                    })),
                    robstride::ENABLE => Ok(MitRequest::Special(MitSpecial::EnterMotorMode)),
                    robstride::STOP if d[0] == 1 => Ok(MitRequest::Special(MitSpecial::ClearError)),
                    robstride::STOP => Ok(MitRequest::Special(MitSpecial::ExitMotorMode)),
                    robstride::SET_ZERO => Ok(MitRequest::Special(MitSpecial::SetZero)),
                    _ => Err(MitError::WrongId(id)),
                }
            }
            _ => Err(MitError::WrongIdKind),
        }
    }

    /// The reply frame carrying `feedback` (the motor's side of the wire), clamped.
    pub fn feedback_frame(&self, feedback: &MitFeedback) -> Result<CanFrame, MitError> {
        if !self.ranges.is_valid() {
            return Err(MitError::BadRanges);
        }
        let fb = feedback;
        if ![fb.p, fb.v, fb.t].iter().all(|x| x.is_finite()) {
            return Err(MitError::NonFinite);
        }
        let temperature = |t: Option<f32>| t.unwrap_or(0.0).clamp(0.0, 255.0) as u8;
        let frame = match self.variant {
            MitVariant::Classic => {
                let (p, v, i) = (self.p(fb.p, 16), self.v(fb.v, 12), self.t(fb.t, 12));
                let data = [
                    self.motor_id,
                    (p >> 8) as u8,
                    p as u8,
                    (v >> 4) as u8,
                    (((v & 0xF) << 4) | (i >> 8)) as u8,
                    i as u8,
                ];
                CanFrame::fixed(Self::std_id(self.master_id), data)
            }
            MitVariant::DaMiao => {
                let (p, v, t) = (self.p(fb.p, 16), self.v(fb.v, 12), self.t(fb.t, 12));
                let code = damiao_code(fb.faults, fb.enabled);
                let data = [
                    (code << 4) | (self.motor_id & 0xF),
                    (p >> 8) as u8,
                    p as u8,
                    (v >> 4) as u8,
                    (((v & 0xF) << 4) | (t >> 8)) as u8,
                    t as u8,
                    temperature(fb.driver_temperature_c),
                    temperature(fb.rotor_temperature_c),
                ];
                CanFrame::fixed(Self::std_id(self.master_id), data)
            }
            MitVariant::Robstride => {
                let (p, v, t) = (self.p(fb.p, 16), self.v(fb.v, 16), self.t(fb.t, 16));
                let temp =
                    (fb.rotor_temperature_c.unwrap_or(0.0) * 10.0).clamp(0.0, 65535.0) as u16;
                let mut data = [0u8; 8];
                for (k, word) in [p as u16, v as u16, t as u16, temp].into_iter().enumerate() {
                    data[2 * k..2 * k + 2].copy_from_slice(&word.to_be_bytes());
                }
                let status = robstride_status(fb.faults, fb.enabled);
                let data16 = (status << 8) | self.motor_id as u32;
                CanFrame::fixed(
                    Self::ext_id(robstride::FEEDBACK, data16, self.master_id),
                    data,
                )
            }
        };
        Ok(frame)
    }

    /// The feedback in a reply frame (the host's side of the wire). Checks that it is
    /// addressed to the master and comes from this motor.
    pub fn decode_feedback(&self, frame: &CanFrame) -> Result<MitFeedback, MitError> {
        match (self.variant, frame.id()) {
            (MitVariant::Classic, CanId::Standard(id)) => {
                if id != self.master_id as u16 {
                    return Err(MitError::WrongId(id as u32));
                }
                let d = check_len(frame, 6)?;
                if d[0] != self.motor_id {
                    return Err(MitError::WrongId(d[0] as u32));
                }
                let p = (d[1] as u32) << 8 | d[2] as u32;
                let v = (d[3] as u32) << 4 | (d[4] as u32) >> 4;
                let i = ((d[4] & 0xF) as u32) << 8 | d[5] as u32;
                Ok(MitFeedback {
                    motor_id: d[0],
                    p: self.p_of(p, 16),
                    v: self.v_of(v, 12),
                    t: self.t_of(i, 12),
                    faults: MotorFaults::NONE,
                    enabled: true,
                    rotor_temperature_c: None,
                    driver_temperature_c: None,
                })
            }
            (MitVariant::DaMiao, CanId::Standard(id)) => {
                if id != self.master_id as u16 {
                    return Err(MitError::WrongId(id as u32));
                }
                let d = check_len(frame, 8)?;
                if d[0] & 0xF != self.motor_id & 0xF {
                    return Err(MitError::WrongId((d[0] & 0xF) as u32));
                }
                let p = (d[1] as u32) << 8 | d[2] as u32;
                let v = (d[3] as u32) << 4 | (d[4] as u32) >> 4;
                let t = ((d[4] & 0xF) as u32) << 8 | d[5] as u32;
                let (faults, enabled) = damiao_faults(d[0] >> 4);
                Ok(MitFeedback {
                    motor_id: self.motor_id,
                    p: self.p_of(p, 16),
                    v: self.v_of(v, 12),
                    t: self.t_of(t, 12),
                    faults,
                    enabled,
                    driver_temperature_c: Some(d[6] as f32),
                    rotor_temperature_c: Some(d[7] as f32),
                })
            }
            (MitVariant::Robstride, CanId::Extended(id)) => {
                let kind = id >> 24;
                let motor = (id >> 8) & 0xFF;
                if kind != robstride::FEEDBACK || id & 0xFF != self.master_id as u32 {
                    return Err(MitError::WrongId(id));
                }
                if motor != self.motor_id as u32 {
                    return Err(MitError::WrongId(id));
                }
                let d = check_len(frame, 8)?;
                let word = |k: usize| u16::from_be_bytes([d[2 * k], d[2 * k + 1]]) as u32;
                let (faults, enabled) = robstride_faults((id >> 16) & 0xFF);
                Ok(MitFeedback {
                    motor_id: self.motor_id,
                    p: self.p_of(word(0), 16),
                    v: self.v_of(word(1), 16),
                    t: self.t_of(word(2), 16),
                    faults,
                    enabled,
                    rotor_temperature_c: Some(word(3) as f32 / 10.0),
                    driver_temperature_c: None,
                })
            }
            _ => Err(MitError::WrongIdKind),
        }
    }
}

/// DaMiao's error nibble: 0 disabled, 1 enabled, 8–E faults (*unsure* in the sources).
fn damiao_faults(code: u8) -> (MotorFaults, bool) {
    let fault = match code {
        0 => return (MotorFaults::NONE, false),
        1 => return (MotorFaults::NONE, true),
        0x8 => MotorFaults::OVER_VOLTAGE,
        0x9 => MotorFaults::UNDER_VOLTAGE,
        0xA => MotorFaults::OVER_CURRENT,
        0xB => MotorFaults::DRIVER_OVER_TEMPERATURE,
        0xC => MotorFaults::ROTOR_OVER_TEMPERATURE,
        0xD => MotorFaults::COMMS_LOST,
        0xE => MotorFaults::OVERLOAD,
        _ => MotorFaults::UNKNOWN,
    };
    (fault, false)
}

fn damiao_code(faults: MotorFaults, enabled: bool) -> u8 {
    const ORDER: [(MotorFaults, u8); 7] = [
        (MotorFaults::OVER_VOLTAGE, 0x8),
        (MotorFaults::UNDER_VOLTAGE, 0x9),
        (MotorFaults::OVER_CURRENT, 0xA),
        (MotorFaults::DRIVER_OVER_TEMPERATURE, 0xB),
        (MotorFaults::ROTOR_OVER_TEMPERATURE, 0xC),
        (MotorFaults::COMMS_LOST, 0xD),
        (MotorFaults::OVERLOAD, 0xE),
    ];
    ORDER
        .iter()
        .find(|(f, _)| faults.contains(*f))
        .map_or(u8::from(enabled), |(_, code)| *code)
}

/// Robstride status byte (identifier bits 16–23): bits 0–5 faults (under-voltage,
/// over-current, over-temperature, encoder, overload, uncalibrated), bits 6–7 mode
/// (2 = running). (*unsure* in the sources.)
fn robstride_faults(status: u32) -> (MotorFaults, bool) {
    const BITS: [MotorFaults; 6] = [
        MotorFaults::UNDER_VOLTAGE,
        MotorFaults::OVER_CURRENT,
        MotorFaults::ROTOR_OVER_TEMPERATURE,
        MotorFaults::ENCODER,
        MotorFaults::OVERLOAD,
        MotorFaults::UNCALIBRATED,
    ];
    let mut faults = MotorFaults::NONE;
    for (bit, fault) in BITS.iter().enumerate() {
        if status & (1 << bit) != 0 {
            faults = faults.union(*fault);
        }
    }
    (faults, (status >> 6) & 0x3 == 2)
}

fn robstride_status(faults: MotorFaults, enabled: bool) -> u32 {
    const BITS: [MotorFaults; 6] = [
        MotorFaults::UNDER_VOLTAGE,
        MotorFaults::OVER_CURRENT,
        MotorFaults::ROTOR_OVER_TEMPERATURE,
        MotorFaults::ENCODER,
        MotorFaults::OVERLOAD,
        MotorFaults::UNCALIBRATED,
    ];
    let mut status = 0;
    for (bit, fault) in BITS.iter().enumerate() {
        if faults.contains(*fault) {
            status |= 1 << bit;
        }
    }
    status | if enabled { 2 << 6 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(variant: MitVariant, ranges: MitRanges) -> MitCodec {
        MitCodec {
            variant,
            ranges,
            motor_id: 3,
            master_id: 0,
        }
    }

    #[test]
    fn the_all_zero_command_is_the_documented_bytes() {
        let c = codec(MitVariant::Classic, MitRanges::CLASSIC);
        let frame = c.command_frame(&MitCommand::default()).expect("frame");
        assert_eq!(
            frame.data(),
            &[0x7F, 0xFF, 0x7F, 0xF0, 0x00, 0x00, 0x07, 0xFF]
        );
        assert_eq!(frame.id(), CanId::Standard(3));
    }

    #[test]
    fn special_frames_are_the_documented_bytes() {
        let c = codec(MitVariant::DaMiao, MitRanges::DM4310);
        let enter = c.special_frame(MitSpecial::EnterMotorMode);
        assert_eq!(
            enter.data(),
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC]
        );
        assert_eq!(c.special_frame(MitSpecial::ExitMotorMode).data()[7], 0xFD);
        assert_eq!(c.special_frame(MitSpecial::SetZero).data()[7], 0xFE);
        assert_eq!(
            c.decode_request(&enter),
            Ok(MitRequest::Special(MitSpecial::EnterMotorMode))
        );
    }

    #[test]
    fn out_of_range_values_are_clamped_and_nan_refused() {
        let c = codec(MitVariant::Classic, MitRanges::CLASSIC);
        let far = MitCommand {
            p: 100.0,
            v: -1000.0,
            kp: 900.0,
            kd: -1.0,
            t_ff: 50.0,
        };
        let frame = c.command_frame(&far).expect("clamped");
        let MitRequest::Command(back) = c.decode_request(&frame).expect("decodes") else {
            panic!("not a command");
        };
        assert_eq!(
            (back.p, back.v, back.kp, back.kd, back.t_ff),
            (12.5, -65.0, 500.0, 0.0, 18.0)
        );
        let nan = MitCommand {
            kd: f32::NAN,
            ..MitCommand::default()
        };
        assert_eq!(c.command_frame(&nan), Err(MitError::NonFinite));
    }

    #[test]
    fn damiao_replies_carry_errors_and_temperatures() {
        let c = codec(MitVariant::DaMiao, MitRanges::DM4310);
        let fb = MitFeedback {
            motor_id: 3,
            p: 1.0,
            v: -2.0,
            t: 3.0,
            faults: MotorFaults::OVER_CURRENT,
            enabled: false,
            driver_temperature_c: Some(41.0),
            rotor_temperature_c: Some(55.0),
        };
        let frame = c.feedback_frame(&fb).expect("frame");
        assert_eq!(frame.data()[0], 0xA3);
        let back = c.decode_feedback(&frame).expect("decodes");
        assert_eq!(back.faults, MotorFaults::OVER_CURRENT);
        assert_eq!(back.rotor_temperature_c, Some(55.0));
        assert!((back.p - 1.0).abs() < 25.0 / 65535.0);
    }

    #[test]
    fn robstride_puts_type_and_torque_in_the_identifier() {
        let c = codec(MitVariant::Robstride, MitRanges::RS01);
        let frame = c
            .command_frame(&MitCommand {
                t_ff: 0.0,
                ..MitCommand::default()
            })
            .expect("frame");
        let CanId::Extended(id) = frame.id() else {
            panic!("standard id")
        };
        assert_eq!(id >> 24, 1);
        assert_eq!(id & 0xFF, 3);
        assert_eq!((id >> 8) & 0xFFFF, 0x7FFF);
    }
}
