//! The messages between the host and the bridge. One [`HostMessage::Tick`] per control
//! tick carries every joint command; the bridge answers with one [`BridgeMessage::Tick`]
//! carrying every joint state, the bus statistics and the bridge's own faults, both with
//! sequence numbers and timestamps. Configuration goes one message per actuator so every
//! frame stays small. Firmware updates go in chunks of at most [`FLASH_CHUNK`] bytes with
//! a CRC each, acknowledged with the bytes received so far, so an interrupted transfer
//! resumes. A bus may instead carry CiA 402 drives the bridge masters over CANopen
//! ([`DriveBusSetup`], then one [`DriveActuatorSetup`] per drive), and a bridge with a
//! servo UART may master a serial servo bus ([`ServoBusSetup`], then one
//! [`ServoActuatorSetup`] per servo). Encoded with
//! postcard, which numbers enum variants by position: new messages are appended at the
//! end of each enum, so old ones keep their encoding.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::canopen::cia402::Mode;
use crate::cia402_master::{DriveFailure, PdoLayout};
use crate::mit::{MitCodec, MitCommand, MitFeedback, MitVariant, MotorFaults};
use crate::servo_master::ServoFamily;

/// Version of this message set; the handshake refuses a mismatch. Version 2 added the
/// applied setup to [`UnitRecord`]; version 3 buses of CiA 402 drives, and drives in
/// the record ([`ActuatorVariant`]); version 4 a servo bus, and servos in the record.
/// Every firmware message kept its encoding, so a host of any version can still update
/// a unit's firmware.
pub const PROTOCOL_VERSION: u16 = 4;
/// Most joints one bridge drives.
pub const MAX_JOINTS: usize = 64;
/// Most CAN buses one bridge drives.
pub const MAX_BUSES: usize = 8;
/// Most image bytes in one [`HostMessage::FlashChunk`].
pub const FLASH_CHUNK: usize = 1024;

/// A joint command as sent on the link (single precision, SI units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum WireCommand {
    /// Torque off.
    #[default]
    Off,
    /// Position set-point (rad), the drive's own loop.
    Position {
        /// rad
        q: f32,
    },
    /// Velocity set-point (rad/s), the drive's own loop.
    Velocity {
        /// rad/s
        dq: f32,
    },
    /// Torque (N·m).
    Torque {
        /// N·m
        tau: f32,
    },
    /// MIT impedance.
    Impedance {
        /// rad
        q: f32,
        /// rad/s
        dq: f32,
        /// N·m/rad
        kp: f32,
        /// N·m·s/rad
        kd: f32,
        /// N·m
        tau_ff: f32,
    },
}

/// All joint commands of one tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandBatch {
    /// The host's tick number.
    pub seq: u32,
    /// The host's clock (µs).
    pub host_time_us: u64,
    /// One command per configured joint, in joint order.
    pub commands: Vec<WireCommand, MAX_JOINTS>,
}

/// One joint's state as reported on the link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireJointState {
    /// Position (rad), calibrated.
    pub q: f32,
    /// Velocity (rad/s).
    pub dq: f32,
    /// Torque (N·m).
    pub tau: f32,
    /// Winding temperature (°C), 0 when the motor does not report it.
    pub temperature_c: f32,
    /// Faults the motor reports, plus `COMMS_LOST` when it stopped answering.
    pub faults: MotorFaults,
    /// Ticks since the motor last answered (0: this tick).
    pub age_ticks: u16,
}

/// Counters of one CAN bus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusStats {
    /// Frames sent.
    pub frames_tx: u32,
    /// Frames received.
    pub frames_rx: u32,
    /// Replies that did not come within their tick.
    pub missed_replies: u32,
    /// Bus errors (error frames, bus-off, failed sends).
    pub bus_errors: u32,
    /// Bus time the last cycle used (µs, worst case).
    pub cycle_us: u32,
}

/// What the bridge is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BridgeState {
    /// No configuration yet: motors stay disabled.
    #[default]
    Unconfigured,
    /// Configured, waiting for the first command.
    Idle,
    /// Commands arrive in time and go to the motors.
    Active,
    /// The watchdog ran out: the motors get damping commands.
    Damping,
    /// Damping ran out: the motors are disabled until commands return.
    Disabled,
}

/// All joint states of one tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateBatch {
    /// The sequence number of the last command batch applied (0 before any).
    pub seq: u32,
    /// The bridge's clock (µs).
    pub bridge_time_us: u64,
    /// What the bridge is doing.
    pub state: BridgeState,
    /// One state per configured joint, in joint order.
    pub joints: Vec<WireJointState, MAX_JOINTS>,
    /// One entry per configured bus.
    pub buses: Vec<BusStats, MAX_BUSES>,
}

/// One CAN bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusSetup {
    /// Bit rate (bit/s).
    pub bitrate: u32,
}

/// The bridge as a whole; actuators follow one [`ActuatorSetup`] each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BridgeSetup {
    /// Number of joints that will be configured.
    pub joints: u8,
    /// The buses.
    pub buses: Vec<BusSetup, MAX_BUSES>,
    /// Control period (µs): the bus cycle must fit in it.
    pub period_us: u32,
    /// No valid command for this long (ms): damping.
    pub watchdog_ms: u16,
    /// Damping for this long (ms), then the motors are disabled.
    pub damping_ms: u16,
}

/// One actuator: where it is and how to talk to it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActuatorSetup {
    /// Joint index (0-based, joint order).
    pub joint: u8,
    /// Bus index.
    pub bus: u8,
    /// Dialect, ranges and identifiers.
    pub codec: MitCodec,
    /// +1 or −1: joint direction relative to the motor.
    pub direction: i8,
    /// Joint position at motor zero (rad): `q = direction·p + offset`.
    pub offset_rad: f32,
    /// Damping gain the watchdog applies (N·m·s/rad).
    pub damping_kd: f32,
    /// Gains standing in for a drive's position loop on `Position` commands.
    pub position_kp: f32,
    /// Damping of the position loop (N·m·s/rad).
    pub position_kd: f32,
    /// Gain standing in for a drive's velocity loop on `Velocity` commands (N·m·s/rad).
    pub velocity_kd: f32,
}

impl ActuatorSetup {
    /// The motor command for a joint command: joint frame to motor frame
    /// (`p = direction·(q − offset)`), position and velocity commands through the
    /// configured gains.
    pub fn motor_command(&self, command: &WireCommand) -> MitCommand {
        let dir = self.direction as f32;
        match *command {
            WireCommand::Off => MitCommand::default(),
            WireCommand::Position { q } => MitCommand {
                p: dir * (q - self.offset_rad),
                kp: self.position_kp,
                kd: self.position_kd,
                ..MitCommand::default()
            },
            WireCommand::Velocity { dq } => MitCommand {
                v: dir * dq,
                kd: self.velocity_kd,
                ..MitCommand::default()
            },
            WireCommand::Torque { tau } => MitCommand {
                t_ff: dir * tau,
                ..MitCommand::default()
            },
            WireCommand::Impedance {
                q,
                dq,
                kp,
                kd,
                tau_ff,
            } => MitCommand {
                p: dir * (q - self.offset_rad),
                v: dir * dq,
                kp,
                kd,
                t_ff: dir * tau_ff,
            },
        }
    }

    /// This actuator with a joint calibration applied underneath: the raw motor position
    /// `p` reads as the joint's `c.direction·(p − c.zero_offset_rad)` through it.
    pub fn calibrated(mut self, c: &JointCalibration) -> ActuatorSetup {
        (self.direction, self.offset_rad) = c.under(self.direction, self.offset_rad);
        self
    }

    /// The damping command the watchdog sends.
    pub fn damping_command(&self) -> MitCommand {
        MitCommand {
            kd: self.damping_kd,
            ..MitCommand::default()
        }
    }

    /// The joint state a motor's feedback stands for (motor frame to joint frame).
    pub fn joint_state(&self, feedback: &MitFeedback) -> WireJointState {
        let dir = self.direction as f32;
        WireJointState {
            q: dir * feedback.p + self.offset_rad,
            dq: dir * feedback.v,
            tau: dir * feedback.t,
            temperature_c: feedback.rotor_temperature_c.unwrap_or(0.0),
            faults: feedback.faults,
            age_ticks: 0,
        }
    }
}

/// A bus of CiA 402 drives, which the bridge masters: it sets each drive up by SDO, then
/// each cycle sends their RPDOs and one SYNC and takes their TPDOs, emergencies and
/// heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveBusSetup {
    /// Bus index.
    pub bus: u8,
    /// The cyclic mode every drive on it runs (CSP, CSV or CST).
    pub mode: Mode,
    /// What the drives' TPDOs carry.
    pub layout: PdoLayout,
    /// How often drives and bridge send heartbeats (ms); 0: none.
    pub heartbeat_ms: u16,
}

/// One CiA 402 drive on a drive bus: its node, and how its counts read as the joint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveActuatorSetup {
    /// Joint index (0-based, joint order).
    pub joint: u8,
    /// Bus index (set up with [`DriveBusSetup`]).
    pub bus: u8,
    /// Its node id (1–127).
    pub node: u8,
    /// Encoder increments per motor-side unit (rad or m), gear included.
    pub counts_per_unit: f32,
    /// +1 or −1: joint direction relative to the drive.
    pub direction: i8,
    /// Joint position at the drive's zero: `q = direction·p + offset`.
    pub offset_rad: f32,
}

impl DriveActuatorSetup {
    /// This drive with a joint calibration applied underneath, as
    /// [`ActuatorSetup::calibrated`].
    pub fn calibrated(mut self, c: &JointCalibration) -> DriveActuatorSetup {
        (self.direction, self.offset_rad) = c.under(self.direction, self.offset_rad);
        self
    }

    /// Whether it can be right: a node id in 1–127, positive finite counts, direction
    /// ±1, a finite offset.
    pub fn is_valid(&self) -> bool {
        (1..=crate::canopen::MAX_NODE).contains(&self.node)
            && self.counts_per_unit.is_finite()
            && self.counts_per_unit > 0.0
            && (self.direction == 1 || self.direction == -1)
            && self.offset_rad.is_finite()
    }
}

/// The bridge's serial servo bus, which it masters: each cycle one sync write of goal
/// positions (and of torque enables when they change) and one sync read of every
/// servo's present state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServoBusSetup {
    /// The servos' protocol.
    pub family: ServoFamily,
    /// The bus's baud rate.
    pub baud: u32,
}

/// One servo on the bridge's servo bus: its id, and how its turns read as the joint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServoActuatorSetup {
    /// Joint index (0-based, joint order).
    pub joint: u8,
    /// Its id on the bus.
    pub id: u8,
    /// Joint travel per servo turn (rad or m).
    pub travel_per_turn: f32,
    /// +1 or −1: joint direction relative to the servo.
    pub direction: i8,
    /// Joint position at the servo's middle: `q = direction·p + offset`.
    pub offset_rad: f32,
}

impl ServoActuatorSetup {
    /// This servo with a joint calibration applied underneath, as
    /// [`ActuatorSetup::calibrated`].
    pub fn calibrated(mut self, c: &JointCalibration) -> ServoActuatorSetup {
        (self.direction, self.offset_rad) = c.under(self.direction, self.offset_rad);
        self
    }

    /// Whether it can be right on a bus of `family`: an id the family takes (not the
    /// broadcast id), a positive finite travel, direction ±1, a finite offset.
    pub fn is_valid(&self, family: ServoFamily) -> bool {
        self.id <= family.max_id()
            && self.travel_per_turn.is_finite()
            && self.travel_per_turn > 0.0
            && (self.direction == 1 || self.direction == -1)
            && self.offset_rad.is_finite()
    }
}

/// Why the bridge refused a configuration message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetupError {
    /// More joints than the bridge supports.
    TooManyJoints,
    /// No bus, or more than the bridge has.
    BadBuses,
    /// A joint index beyond the configured count.
    BadJoint,
    /// A bus index beyond the configured buses.
    BadBus,
    /// Two actuators on one bus share a CAN id.
    DuplicateId,
    /// Motor ranges or gains not positive and finite, or direction not ±1.
    BadActuator,
    /// The bus cycle does not fit in the control period.
    OverBudget {
        /// The bus that overflows.
        bus: u8,
        /// Its worst-case cycle (µs).
        cycle_us: u32,
    },
    /// An actuator message before the bridge setup.
    NoSetup,
    /// An MIT motor on a bus of drives, or a drive on a bus not set up for drives.
    BusKind,
    /// A drive bus's mode is not a cyclic one (CSP, CSV, CST).
    DriveMode,
    /// The servo bus's exchange does not fit in the control period.
    ServoBudget {
        /// Its cycle (µs).
        cycle_us: u32,
    },
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::TooManyJoints => f.write_str("more joints than the bridge supports"),
            SetupError::BadBuses => f.write_str("no bus, or more buses than the bridge has"),
            SetupError::BadJoint => f.write_str("a joint index beyond the configured count"),
            SetupError::BadBus => f.write_str("a bus index beyond the configured buses"),
            SetupError::DuplicateId => f.write_str("two actuators on one bus share a CAN id"),
            SetupError::BadActuator => f.write_str(
                "an actuator's ranges or gains are not positive and finite, or its direction is not ±1",
            ),
            SetupError::OverBudget { bus, cycle_us } => write!(
                f,
                "bus {bus} needs {cycle_us} µs per cycle, more than the control period"
            ),
            SetupError::NoSetup => f.write_str("an actuator came before the bridge setup"),
            SetupError::BusKind => f.write_str(
                "an MIT motor on a bus of CiA 402 drives, or a drive on a bus not set up for drives",
            ),
            SetupError::DriveMode => {
                f.write_str("a drive bus's mode is not cyclic position, velocity or torque")
            }
            SetupError::ServoBudget { cycle_us } => write!(
                f,
                "the servo bus needs {cycle_us} µs per cycle, more than the control period"
            ),
        }
    }
}

/// Bridge health, on request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeStatus {
    /// What the bridge is doing.
    pub state: BridgeState,
    /// Since boot (ms).
    pub uptime_ms: u64,
    /// Host frames decoded.
    pub frames_ok: u32,
    /// Host frames dropped (CRC, framing, decoding).
    pub frames_bad: u32,
    /// Times the watchdog ran out.
    pub watchdog_trips: u32,
    /// Joints fully configured.
    pub joints_configured: u8,
    /// Bus counters.
    pub buses: Vec<BusStats, MAX_BUSES>,
}

/// Host → bridge.
// No allocator on the MCU: a tick's batch lives inline, as large as it is.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HostMessage {
    /// Opens the session; the bridge answers [`BridgeMessage::Welcome`] or
    /// [`BridgeMessage::VersionMismatch`].
    Hello {
        /// The host's [`PROTOCOL_VERSION`].
        version: u16,
    },
    /// Configures the bridge (motors disabled until the first tick after setup).
    Setup(BridgeSetup),
    /// Configures one actuator.
    Actuator(ActuatorSetup),
    /// This tick's commands.
    Tick(CommandBatch),
    /// Asks for [`BridgeMessage::Status`].
    GetStatus,
    /// Starts receiving a firmware image of `size` bytes into the slot not running (the
    /// motors stay off until the bridge restarts); answered with
    /// [`BridgeMessage::FlashProgress`].
    FlashBegin {
        /// Image size (bytes).
        size: u32,
    },
    /// The image's bytes at `offset` (the next expected one), with their CRC-32.
    FlashChunk {
        /// Where they go in the image.
        offset: u32,
        /// The bytes.
        data: Vec<u8, FLASH_CHUNK>,
        /// CRC-32/ISO-HDLC of `data`.
        crc: u32,
    },
    /// Every byte sent: verify the image and mark it for the next boot; answered with
    /// [`BridgeMessage::FlashVerified`] or [`BridgeMessage::FlashRefused`].
    FlashFinish,
    /// Restart (into a pending image, on trial).
    Reboot,
    /// The image on trial passed its self-test: keep it.
    FlashConfirm,
    /// Asks for [`BridgeMessage::Firmware`].
    GetFirmware,
    /// Asks for [`BridgeMessage::Unit`]: the record in the config area.
    GetUnit,
    /// Stores the unit's record in the config area (kept across firmware updates);
    /// answered with [`BridgeMessage::UnitStored`] or [`BridgeMessage::UnitRefused`].
    /// Its calibration applies to actuators configured from then on.
    SetUnit(UnitRecord),
    /// Makes a bus one of CiA 402 drives (after [`HostMessage::Setup`], before its
    /// drives); answered as [`HostMessage::Actuator`].
    DriveBus(DriveBusSetup),
    /// Configures one CiA 402 drive on a drive bus; answered as [`HostMessage::Actuator`].
    Drive(DriveActuatorSetup),
    /// Sets up the bridge's servo bus (after [`HostMessage::Setup`], before its servos);
    /// answered as [`HostMessage::Actuator`].
    ServoBus(ServoBusSetup),
    /// Configures one servo on the servo bus; answered as [`HostMessage::Actuator`].
    Servo(ServoActuatorSetup),
}

/// Bridge → host.
#[allow(clippy::large_enum_variant)] // inline, as `HostMessage`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BridgeMessage {
    /// The handshake succeeded.
    Welcome {
        /// The bridge's [`PROTOCOL_VERSION`].
        version: u16,
        /// Firmware version (major, minor, patch).
        firmware: [u8; 3],
        /// Most joints it drives.
        max_joints: u8,
        /// CAN buses it has.
        max_buses: u8,
    },
    /// The host speaks another version.
    VersionMismatch {
        /// The bridge's version.
        version: u16,
    },
    /// A configuration message was applied.
    SetupAccepted,
    /// A configuration message was refused.
    SetupRefused(SetupError),
    /// This tick's states.
    Tick(StateBatch),
    /// Health.
    Status(BridgeStatus),
    /// Bytes of the image received so far, of its size (resume from `received`).
    FlashProgress {
        /// Bytes received and written.
        received: u32,
        /// Image size.
        size: u32,
    },
    /// The image verified and will boot next, on trial.
    FlashVerified(FirmwareImage),
    /// A flashing step was refused.
    FlashRefused(FlashRefusal),
    /// What runs, and whether an image waits.
    Firmware {
        /// The running image (`None`: no valid image, the unit only takes an update).
        running: Option<FirmwareImage>,
        /// It runs on trial, unconfirmed.
        trial: bool,
        /// A verified image waits for the next boot.
        pending: bool,
    },
    /// The record in the config area (`None`: none stored).
    Unit(Option<UnitRecord>),
    /// The record was stored.
    UnitStored,
    /// The record was not stored (the one stored before stands).
    UnitRefused(UnitRefusal),
    /// The drive of `joint` is given up on (its joint reports lost communication), and
    /// why; sent once, when it happens.
    DriveFailed {
        /// Joint index.
        joint: u8,
        /// Why.
        failure: DriveFailure,
    },
}

/// One joint's calibration as the bridge applies it: the raw motor position `p` becomes
/// `direction·(p − zero_offset_rad)` before the actuator's own mapping.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointCalibration {
    /// Joint index (actuated-joint order).
    pub joint: u8,
    /// Motor position at the joint's zero (rad).
    pub zero_offset_rad: f32,
    /// +1, or −1 where the motor turns against the joint.
    pub direction: i8,
}

impl JointCalibration {
    /// An actuator's `direction` and `offset` (`q = direction·p + offset`) with this
    /// calibration underneath: the raw position `p` first becomes
    /// `self.direction·(p − zero_offset_rad)`.
    pub fn under(&self, direction: i8, offset: f32) -> (i8, f32) {
        let direction = direction * self.direction;
        (
            direction,
            offset - f32::from(direction) * self.zero_offset_rad,
        )
    }
}

/// The loop and bus settings of the configuration a unit holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlRecord {
    /// Control rate (Hz).
    pub rate_hz: f32,
    /// Watchdog period (ms).
    pub watchdog_ms: u32,
    /// Damping time before the motors are disabled (ms).
    pub damping_ms: u32,
    /// CAN bit rate (bit/s).
    pub bitrate: u32,
}

/// What protocol a recorded actuator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActuatorVariant {
    /// An MIT motor of this variant.
    Mit(MitVariant),
    /// A CiA 402 drive (its `can_id` is its node id).
    Cia402,
    /// A serial servo of this family on the bridge's servo bus (its `can_id` is its
    /// servo id).
    Servo(ServoFamily),
}

/// Where the configuration a unit holds put one joint's actuator: enough to name what
/// differs from another configuration, key by key, without storing it whole.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActuatorRecord {
    /// Joint index (actuated-joint order).
    pub joint: u8,
    /// Bus index.
    pub bus: u8,
    /// The motor's CAN id (a drive's node id).
    pub can_id: u8,
    /// The id the motor replies to (0 for a drive).
    pub master_id: u8,
    /// Its protocol.
    pub variant: ActuatorVariant,
    /// The first four bytes of a SHA-256 of the rest of its configuration (ratings and
    /// ranges), big-endian.
    pub rest_digest: u32,
}

/// What a unit keeps about itself in its config area.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Serial number.
    pub serial: heapless::String<32>,
    /// Robot model.
    pub robot: heapless::String<32>,
    /// SHA-256 of the unit's merged configuration as applied.
    pub config_digest: [u8; 32],
    /// The tool and version that applied it.
    pub tool: heapless::String<32>,
    /// Per-joint calibration, applied by the bridge.
    pub calibration: Vec<JointCalibration, MAX_JOINTS>,
    /// The loop and bus settings applied.
    pub control: ControlRecord,
    /// Where each joint's actuator is, as applied.
    pub actuators: Vec<ActuatorRecord, MAX_JOINTS>,
}

impl UnitRecord {
    /// The calibration of `joint`, if any.
    pub fn joint(&self, joint: u8) -> Option<&JointCalibration> {
        self.calibration.iter().find(|c| c.joint == joint)
    }

    /// The actuator of `joint`, if any.
    pub fn actuator(&self, joint: u8) -> Option<&ActuatorRecord> {
        self.actuators.iter().find(|a| a.joint == joint)
    }

    /// Whether every calibration entry is usable (finite offset, direction ±1).
    pub fn is_valid(&self) -> bool {
        self.calibration.iter().all(|c| {
            c.zero_offset_rad.is_finite()
                && c.zero_offset_rad.abs() < 100.0
                && (c.direction == 1 || c.direction == -1)
        })
    }
}

impl core::fmt::Display for BridgeState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BridgeState::Unconfigured => "unconfigured",
            BridgeState::Idle => "idle",
            BridgeState::Active => "active",
            BridgeState::Damping => "damping",
            BridgeState::Disabled => "disabled",
        })
    }
}

impl core::fmt::Display for UnitRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UnitRefusal::BadCalibration => "a calibration entry is out of range",
            UnitRefusal::NoStorage => "the bridge has no configuration area",
            UnitRefusal::Flash => "writing its flash failed",
        })
    }
}

/// Why a unit record was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitRefusal {
    /// A calibration entry is out of range.
    BadCalibration,
    /// The bridge has no config area.
    NoStorage,
    /// The flash failed.
    Flash,
}

/// An installed firmware image's identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareImage {
    /// Version: major, minor, patch.
    pub version: (u8, u8, u16),
    /// Security counter.
    pub counter: u32,
    /// SHA-256 of the image (its identity: the host skips units already running it).
    pub digest: [u8; 32],
}

/// Why a flashing step was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashRefusal {
    /// No transfer begun.
    NotReceiving,
    /// The image does not fit a slot.
    TooLarge,
    /// A chunk not at the next offset.
    OutOfOrder {
        /// The offset expected.
        expected: u32,
    },
    /// A chunk past the announced size.
    PastEnd,
    /// A chunk's CRC does not match.
    ChunkCrc,
    /// Finish before every byte arrived.
    Incomplete,
    /// Not a valid image, or corrupted.
    BadImage,
    /// Signed by another key.
    WrongKey,
    /// The signature does not verify.
    BadSignature,
    /// The image's security counter is below the device's.
    Downgrade {
        /// The image's counter.
        counter: u32,
        /// The lowest the device accepts.
        min: u32,
    },
    /// Nothing on trial to confirm.
    NothingToConfirm,
    /// An image runs on trial: confirm it (or reboot) first.
    TrialRunning,
    /// The flash failed.
    Flash,
    /// The bridge has no firmware flash (a test build).
    NoStorage,
}
