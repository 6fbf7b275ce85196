//! [`Cia402Robot`]: CANopen CiA 402 servo drives behind a plain SLCAN adapter, the host as
//! their CANopen master. At connect it finds every drive by SDO (device type, supported
//! modes, encoder resolution and gear checked against the setup), sets up its PDOs by SDO
//! (RPDO1: controlword and the mode's target, applied at SYNC; TPDO1: statusword,
//! position and — with the full layout — torque, TPDO2 velocity and error code, on every
//! SYNC), its mode of operation, its heartbeat and its watch on the host's heartbeat (a
//! drive whose host falls silent faults: the watchdog a plain adapter lacks), then starts
//! it. Each tick `write` sends every drive its RPDO, then one SYNC (and the host's
//! heartbeat when due) in one write; `read` takes the TPDOs the SYNC triggered. The
//! controlword walks each drive through the CiA 402 state machine to operation enabled
//! while its joint is commanded, and back to ready to switch on when it is off; a drive
//! that faults while driving stays faulted until its joint is commanded off and on again.
//! Faults (the statusword's, by the error code or emergency that came with them) and a
//! drive's lost heartbeat are its joint's faults.

use std::path::Path;
use std::time::{Duration, Instant};

use embody_hal::{
    Capabilities, CommandFrame, CommandMode, CommandModes, FaultBits, HalError, JointCommand,
    JointState, LinkHealth, Robot, SensorFrame, Timestamp,
};
use embody_model::Model;
use embody_protocol::CanFrame;
use embody_protocol::budget::drive_cycle_us;
use embody_protocol::canopen::cia402::{self, Mode, State};
use embody_protocol::canopen::{
    self, Address, Expedited, Message, NmtCommand, NmtState, SdoRequest, SdoResponse,
};
pub use embody_protocol::cia402_master::PdoLayout;
use embody_protocol::cia402_master::{self as master, CompactVelocity, Target, Tpdo1, Tpdo2};

use crate::robot::fault_bits;
use crate::servo_robot::travel_per_turn;
use crate::slcan_port::{SlcanPort, SlcanPortError};

/// The node id the host's heartbeat carries.
pub const HOST_NODE: u8 = master::MASTER_NODE;

/// How a joint's motion reads in its drive's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriveScale {
    /// Encoder increments a motor turn (0x608F:1).
    pub increments_per_turn: u32,
    /// Motor turns a joint turn (0x6091:1; a prismatic joint's turn is
    /// [`crate::PRISMATIC_TRAVEL_PER_TURN_M`]).
    pub gear: u32,
}

impl DriveScale {
    /// Drive counts a joint unit (rad or m) on a joint that moves `travel` a turn.
    pub fn counts(self, travel: f64) -> f64 {
        f64::from(self.increments_per_turn) * f64::from(self.gear) / travel
    }
}

impl Default for DriveScale {
    /// A 17-bit encoder on the joint's output.
    fn default() -> DriveScale {
        DriveScale {
            increments_per_turn: 1 << 17,
            gear: 1,
        }
    }
}

/// How the host drives a bus of CiA 402 drives.
#[derive(Clone, Debug, PartialEq)]
pub struct Cia402Setup {
    /// The node id of each actuated joint's drive, in joint order.
    pub nodes: Vec<u8>,
    /// The cyclic mode: CSP, CSV or CST.
    pub mode: Mode,
    /// What the TPDOs carry.
    pub layout: PdoLayout,
    /// Each drive's encoder and gear, in joint order.
    pub scales: Vec<DriveScale>,
    /// The bus's bit rate.
    pub bitrate: u32,
    /// The control rate (Hz): one SYNC a tick.
    pub rate_hz: f64,
    /// How often drives and host send heartbeats (ms); each side takes three missed as
    /// lost (0: none, and no watch on either side).
    pub heartbeat_ms: u16,
}

impl Cia402Setup {
    /// Drives 1, 2, … on `joints` joints in CSP with the full layout, 17-bit encoders on
    /// the joints, 1 Mbit/s, 1 kHz, heartbeats every 50 ms.
    pub fn default_for(joints: usize) -> Cia402Setup {
        Cia402Setup {
            nodes: (1..=joints.min(usize::from(canopen::MAX_NODE)) as u8).collect(),
            mode: Mode::CyclicPosition,
            layout: PdoLayout::Full,
            scales: vec![DriveScale::default(); joints],
            bitrate: 1_000_000,
            rate_hz: 1000.0,
            heartbeat_ms: 50,
        }
    }

    /// Worst-case bus time of one tick (µs): every drive's RPDO, the SYNC, their TPDOs.
    pub fn tick_us(&self) -> f64 {
        let drives = self.nodes.len() as u32;
        f64::from(drive_cycle_us(self.mode, self.layout, drives, self.bitrate))
    }

    /// How many drives fit one bus at `rate_hz`.
    pub fn drives_per_bus(&self) -> usize {
        let one = Cia402Setup {
            nodes: vec![1],
            ..self.clone()
        };
        let sync = Cia402Setup {
            nodes: Vec::new(),
            ..self.clone()
        }
        .tick_us();
        ((1e6 / self.rate_hz - sync) / (one.tick_us() - sync))
            .floor()
            .max(0.0) as usize
    }
}

/// Why the drives could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Cia402Error {
    /// The adapter could not be opened.
    #[error(transparent)]
    Port(#[from] SlcanPortError),
    /// The adapter went away while the drives were being set up.
    #[error("the SLCAN adapter, setting the drives up: {0}")]
    Link(#[from] HalError),
    /// Not one node per actuated joint.
    #[error("{nodes} CANopen nodes for {joints} actuated joints")]
    Nodes {
        /// Nodes given.
        nodes: usize,
        /// Actuated joints.
        joints: usize,
    },
    /// Not one encoder and gear per actuated joint.
    #[error("{scales} drive scales (encoder and gear) for {joints} actuated joints")]
    Scales {
        /// Scales given.
        scales: usize,
        /// Actuated joints.
        joints: usize,
    },
    /// Drives that did not answer.
    #[error("no CANopen node answered an SDO read of its device type at node {0:?}")]
    Missing(Vec<u8>),
    /// Drives whose heartbeat did not say operational after the start.
    #[error("no operational heartbeat from node {0:?} after the NMT start")]
    NotStarted(Vec<u8>),
    /// A node that is not a CiA 402 drive.
    #[error("node {node}: device type {device_type:#010x} is not a CiA 402 drive (0x….0192)")]
    NotADrive {
        /// The node.
        node: u8,
        /// Its device type (0x1000).
        device_type: u32,
    },
    /// The drive does not support the mode.
    #[error("node {node} does not support {mode:?} (supported drive modes {supported:#x})")]
    Mode {
        /// The node.
        node: u8,
        /// The mode wanted.
        mode: Mode,
        /// Its 0x6502.
        supported: u32,
    },
    /// The drive's encoder or gear is not the setup's.
    #[error("node {node}: its {what} is {drive}, the setup says {setup}")]
    Mismatch {
        /// The node.
        node: u8,
        /// Which.
        what: &'static str,
        /// The drive's.
        drive: u32,
        /// The setup's.
        setup: u32,
    },
    /// An SDO the drive refused or did not answer.
    #[error("node {node}: SDO {action} of {at}: {reason}")]
    Sdo {
        /// The node.
        node: u8,
        /// Read or write.
        action: &'static str,
        /// The object.
        at: Address,
        /// Why.
        reason: String,
    },
}

/// How long an SDO answer may take.
const SDO_TIMEOUT: Duration = Duration::from_millis(100);

/// One drive as the host sees it.
#[derive(Clone, Copy, Debug)]
struct Node {
    id: u8,
    state: State,
    controlword: u16,
    /// Faulted while driving: stays off until commanded off.
    tripped: bool,
    /// The last error code or emergency.
    error_code: u16,
    /// When its last heartbeat came, and in which state.
    heartbeat: Option<(Instant, NmtState)>,
    /// TPDOs of this tick taken.
    got: [bool; 2],
    /// The compact layout's velocity.
    velocity: CompactVelocity,
}

/// The drives' state as their TPDOs, emergencies and heartbeats tell it.
struct Drives {
    nodes: Vec<Node>,
    /// Increments per joint unit, per joint.
    counts: Vec<f64>,
    /// Rated torque (0x6076, N·m) per joint.
    rated: Vec<f64>,
    states: Vec<JointState>,
    layout: PdoLayout,
    rate_hz: f64,
    /// Frames that were not CANopen, or TPDOs too short.
    bad: u64,
}

/// CiA 402 drives behind an SLCAN adapter. See the module docs.
pub struct Cia402Robot {
    caps: Capabilities,
    setup: Cia402Setup,
    port: SlcanPort,
    drives: Drives,
    seq: u64,
    polled_at: Timestamp,
    last_heartbeat: Option<Instant>,
    read_timeout: Duration,
    health: LinkHealth,
    wrote: bool,
}

impl Cia402Robot {
    /// Opens the adapter on `port`, finds and sets up the drive of every actuated joint
    /// of `model` as `setup` says, and starts them (operational, their power stage off).
    pub fn connect(
        port: &Path,
        model: &Model,
        setup: &Cia402Setup,
    ) -> Result<Cia402Robot, Cia402Error> {
        let joints = model.actuated_joints().count();
        if setup.nodes.len() != joints {
            return Err(Cia402Error::Nodes {
                nodes: setup.nodes.len(),
                joints,
            });
        }
        if setup.scales.len() != joints {
            return Err(Cia402Error::Scales {
                scales: setup.scales.len(),
                joints,
            });
        }
        let tick_us = setup.tick_us();
        if tick_us > 1e6 / setup.rate_hz {
            tracing::warn!(
                "{} CiA 402 drives need {tick_us:.0} µs of the bus a tick at {} bit/s, more than the {:.0} µs period ({} fit): a real bus will lag",
                setup.nodes.len(),
                setup.bitrate,
                1e6 / setup.rate_hz,
                setup.drives_per_bus()
            );
        }
        let port = SlcanPort::open(port, setup.bitrate, 2 * joints + 2)?;
        let modes = drive_command_modes(setup.mode);
        let travel = travel_per_turn(model);
        let node = |id| Node {
            id,
            state: State::SwitchOnDisabled,
            controlword: 0,
            tripped: false,
            error_code: 0,
            heartbeat: None,
            got: [false; 2],
            velocity: CompactVelocity::default(),
        };
        let mut robot = Cia402Robot {
            caps: Capabilities {
                max_rate_hz: setup.rate_hz,
                ..Capabilities::from_model(model, modes)
            },
            port,
            drives: Drives {
                nodes: setup.nodes.iter().map(|&id| node(id)).collect(),
                counts: (setup.scales.iter().zip(&travel))
                    .map(|(scale, t)| scale.counts(*t))
                    .collect(),
                rated: vec![1.0; joints],
                states: vec![JointState::default(); joints],
                layout: setup.layout,
                rate_hz: setup.rate_hz,
                bad: 0,
            },
            seq: 0,
            polled_at: Timestamp::ZERO,
            last_heartbeat: None,
            read_timeout: Duration::from_secs_f64(2.0 / setup.rate_hz + tick_us * 1e-6),
            health: LinkHealth::default(),
            wrote: false,
            setup: setup.clone(),
        };
        robot.find_drives()?;
        for k in 0..joints {
            robot.configure(k)?;
        }
        for k in 0..joints {
            robot
                .port
                .queue(&NmtCommand::Start.frame(robot.drives.nodes[k].id));
        }
        robot.port.flush()?;
        robot.wait_operational()?;
        Ok(robot)
    }

    /// Waits for every drive's heartbeat to say it is operational (a few periods): the
    /// heartbeats they sent before the start, still on their way, are passed over.
    fn wait_operational(&mut self) -> Result<(), Cia402Error> {
        if self.setup.heartbeat_ms == 0 {
            return Ok(()); // no heartbeats to go by
        }
        for node in &mut self.drives.nodes {
            node.heartbeat = None;
        }
        let operational = |d: &Drives| {
            (d.nodes.iter()).all(|n| matches!(n.heartbeat, Some((_, NmtState::Operational))))
        };
        let wait = Duration::from_millis(4 * u64::from(self.setup.heartbeat_ms.max(1)));
        let drives = &mut self.drives;
        let _ = self.port.read_until(wait, |f| {
            drives.take(f);
            operational(drives)
        });
        if operational(&self.drives) {
            return Ok(());
        }
        Err(Cia402Error::NotStarted(
            (self.drives.nodes.iter())
                .filter(|n| !matches!(n.heartbeat, Some((_, NmtState::Operational))))
                .map(|n| n.id)
                .collect(),
        ))
    }

    /// Every drive's device type, modes, encoder and gear, as the setup wants them.
    fn find_drives(&mut self) -> Result<(), Cia402Error> {
        for k in 0..self.drives.nodes.len() {
            self.port
                .queue(&NmtCommand::EnterPreOperational.frame(self.drives.nodes[k].id));
        }
        self.port.flush()?;
        let mut missing = Vec::new();
        for k in 0..self.drives.nodes.len() {
            let node = self.drives.nodes[k].id;
            match self.sdo_read(node, Address::new(0x1000, 0)) {
                Ok(device_type) if device_type & 0xFFFF == 0x0192 => {}
                Ok(device_type) => return Err(Cia402Error::NotADrive { node, device_type }),
                Err(_) => missing.push(node),
            }
        }
        if !missing.is_empty() {
            return Err(Cia402Error::Missing(missing));
        }
        for k in 0..self.drives.nodes.len() {
            let node = self.drives.nodes[k].id;
            let supported = self.sdo_read(node, cia402::SUPPORTED_DRIVE_MODES)?;
            if supported & self.setup.mode.supported_bit() == 0 {
                return Err(Cia402Error::Mode {
                    node,
                    mode: self.setup.mode,
                    supported,
                });
            }
            // Drives without these objects are taken at the setup's word.
            for (at, what, want) in [
                (
                    Address::new(0x608F, 1),
                    "encoder resolution (0x608F:1)",
                    self.setup.scales[k].increments_per_turn,
                ),
                (
                    Address::new(0x608F, 2),
                    "encoder's motor revolutions (0x608F:2)",
                    1,
                ),
                (
                    Address::new(0x6091, 1),
                    "gear's motor revolutions (0x6091:1)",
                    self.setup.scales[k].gear,
                ),
                (
                    Address::new(0x6091, 2),
                    "gear's shaft revolutions (0x6091:2)",
                    1,
                ),
            ] {
                match self.sdo_read(node, at) {
                    Ok(drive) if drive != want => {
                        return Err(Cia402Error::Mismatch {
                            node,
                            what,
                            drive,
                            setup: want,
                        });
                    }
                    _ => {}
                }
            }
            if let Ok(mnm) = self.sdo_read(node, cia402::MOTOR_RATED_TORQUE)
                && mnm > 0
            {
                self.drives.rated[k] = f64::from(mnm) / 1000.0;
            }
        }
        Ok(())
    }

    /// Sets up drive `k`'s PDOs, mode and heartbeats.
    fn configure(&mut self, k: usize) -> Result<(), Cia402Error> {
        let node = self.drives.nodes[k].id;
        let (mode, layout) = (self.setup.mode, self.setup.layout);
        for write in master::configuration(node, mode, layout, self.setup.heartbeat_ms, HOST_NODE) {
            self.sdo_write(node, write.at, write.value.data())?;
        }
        Ok(())
    }

    /// Writes up to four bytes to `at` of `node`, expedited.
    fn sdo_write(&mut self, node: u8, at: Address, bytes: &[u8]) -> Result<(), Cia402Error> {
        let request = SdoRequest::DownloadExpedited(at, Expedited::new(bytes));
        match self.sdo(node, request) {
            Some(SdoResponse::DownloadInitiated(a)) if a == at => Ok(()),
            answer => Err(sdo_error(node, "write", at, answer)),
        }
    }

    /// Reads `at` of `node` (up to four bytes), as an unsigned integer.
    fn sdo_read(&mut self, node: u8, at: Address) -> Result<u32, Cia402Error> {
        match self.sdo(node, SdoRequest::UploadInitiate(at)) {
            Some(SdoResponse::UploadExpedited(a, data)) if a == at => Ok(data.as_u32()),
            answer => Err(sdo_error(node, "read", at, answer)),
        }
    }

    /// One SDO exchange with `node`: its answer, if one came in time.
    fn sdo(&mut self, node: u8, request: SdoRequest) -> Option<SdoResponse> {
        self.port.queue(&request.frame(node));
        self.port.flush().ok()?;
        let mut answer = None;
        let _ = self.port.read_until(SDO_TIMEOUT, |frame| {
            if let Ok(Message::SdoResponse { node: n, response }) = Message::classify(frame)
                && n == node
            {
                answer = Some(response);
                return true;
            }
            false
        });
        answer
    }

    /// Sends every drive its RPDO, then the SYNC (and the host's heartbeat when due).
    fn send(&mut self, now: Timestamp, frame: Option<&CommandFrame>) -> Result<(), HalError> {
        let mode = self.setup.mode;
        for k in 0..self.drives.nodes.len() {
            let command = frame.map_or(JointCommand::Off, |f| f.joints[k]);
            let rpdo = self.drives.rpdo(k, mode, &command)?;
            self.port.queue(&rpdo);
            self.drives.nodes[k].got = [false, self.setup.layout == PdoLayout::Compact];
        }
        self.port.queue(&canopen::sync_frame());
        let period = Duration::from_millis(u64::from(self.setup.heartbeat_ms));
        if self.last_heartbeat.is_none_or(|t| t.elapsed() >= period) {
            self.port.queue(&NmtState::Operational.heartbeat(HOST_NODE));
            self.last_heartbeat = Some(Instant::now());
        }
        self.wrote = true;
        self.polled_at = now;
        self.port
            .flush()
            .inspect_err(|_| self.health.connected = false)
    }
}

impl Drives {
    /// Drive `k`'s RPDO for `command`: the controlword, and the target in `mode`.
    fn rpdo(&mut self, k: usize, mode: Mode, command: &JointCommand) -> Result<CanFrame, HalError> {
        let node = &mut self.nodes[k];
        let state = &self.states[k];
        let commanded = !matches!(command, JointCommand::Off);
        let (controlword, tripped) =
            master::controlword(node.state, node.controlword, commanded, node.tripped);
        (node.controlword, node.tripped) = (controlword, tripped);
        let counts = |v: f64| (v * self.counts[k]).round() as i32;
        let torque = |tau: f64| {
            let permille = (tau / self.rated[k] * 1000.0).round();
            Target::Torque(permille.clamp(-32768.0, 32767.0) as i16)
        };
        let target = match (mode, command) {
            (Mode::CyclicTorque, JointCommand::Off) => torque(0.0),
            (Mode::CyclicPosition, JointCommand::Off) => Target::Position(counts(state.q)),
            (_, JointCommand::Off) => Target::Velocity(0),
            (
                Mode::CyclicPosition,
                JointCommand::Position { q } | JointCommand::Impedance { q, .. },
            ) => Target::Position(counts(*q)),
            (Mode::CyclicVelocity, JointCommand::Velocity { dq }) => Target::Velocity(counts(*dq)),
            (Mode::CyclicTorque, JointCommand::Torque { tau }) => torque(*tau),
            (
                Mode::CyclicTorque,
                JointCommand::Impedance {
                    q,
                    dq,
                    kp,
                    kd,
                    tau_ff,
                },
            ) => torque(kp * (q - state.q) + kd * (dq - state.dq) + tau_ff),
            _ => return Err(HalError::UnsupportedMode { joint: k }),
        };
        Ok(master::rpdo1(self.nodes[k].id, controlword, target))
    }

    /// Takes one frame from the bus: a TPDO, emergency or heartbeat of one of the drives.
    /// Whether every drive's TPDOs of this tick have come.
    fn take(&mut self, frame: &CanFrame) -> bool {
        match Message::classify(frame) {
            Ok(Message::Tpdo { pdo, node, data }) => {
                if let Some(k) = self.nodes.iter().position(|n| n.id == node) {
                    self.take_tpdo(k, usize::from(pdo), data);
                }
            }
            Ok(Message::Emergency { node, emergency }) => {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.id == node) {
                    n.error_code = emergency.code;
                }
            }
            Ok(Message::Heartbeat { node, state }) => {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.id == node) {
                    n.heartbeat = Some((Instant::now(), state));
                }
            }
            Ok(_) => {}
            Err(_) => self.bad += 1,
        }
        self.nodes.iter().all(|n| n.got == [true, true])
    }

    fn take_tpdo(&mut self, k: usize, pdo: usize, data: &[u8]) {
        let counts = self.counts[k];
        let (node, state) = (&mut self.nodes[k], &mut self.states[k]);
        match (pdo, self.layout) {
            (0, layout) => {
                let Ok(tpdo) = Tpdo1::decode(data, layout) else {
                    self.bad += 1;
                    return;
                };
                node.state = State::from_statusword(tpdo.statusword).unwrap_or(State::Fault);
                let q = f64::from(tpdo.position) / counts;
                match tpdo.torque {
                    Some(torque) => state.tau = f64::from(torque) * self.rated[k] / 1000.0,
                    None => state.dq = node.velocity.take(tpdo.position, self.rate_hz) / counts,
                }
                state.q = q;
                node.got[0] = true;
            }
            (1, PdoLayout::Full) => {
                let Ok(tpdo) = Tpdo2::decode(data) else {
                    self.bad += 1;
                    return;
                };
                state.dq = f64::from(tpdo.velocity) / counts;
                if tpdo.error_code != 0 {
                    node.error_code = tpdo.error_code;
                }
                node.got[1] = true;
            }
            _ => {}
        }
    }

    /// Drive `k`'s faults: its fault state (by its error code), its heartbeat lost or
    /// not operational.
    fn faults(&self, k: usize, heartbeat_ms: u16) -> FaultBits {
        let node = &self.nodes[k];
        let mut faults = match node.state {
            State::Fault | State::FaultReactionActive => fault_of_error_code(node.error_code),
            _ => FaultBits::NONE,
        };
        let lost = Duration::from_millis(3 * u64::from(heartbeat_ms));
        match node.heartbeat {
            _ if heartbeat_ms == 0 => {}
            Some((at, NmtState::Operational)) if at.elapsed() <= lost => {}
            // None yet: the first comes within a period of the start.
            None => {}
            _ => faults = faults.union(FaultBits::COMMUNICATION_LOST),
        }
        faults
    }
}

/// The joint fault a CiA 301/402 error code names.
pub fn fault_of_error_code(code: u16) -> FaultBits {
    fault_bits(master::motor_faults(code))
}

/// The commands a joint on a drive in `mode` takes: CSP positions (an impedance's
/// position), CSV velocities, CST torques and impedances (worked out by the master).
pub fn drive_command_modes(mode: Mode) -> CommandModes {
    CommandModes::of(match mode {
        Mode::CyclicVelocity => &[CommandMode::Off, CommandMode::Velocity],
        Mode::CyclicTorque => &[
            CommandMode::Off,
            CommandMode::Torque,
            CommandMode::Impedance,
        ],
        _ => &[
            CommandMode::Off,
            CommandMode::Position,
            CommandMode::Impedance,
        ],
    })
}

fn sdo_error(
    node: u8,
    action: &'static str,
    at: Address,
    answer: Option<SdoResponse>,
) -> Cia402Error {
    let reason = match answer {
        None => "no answer within 100 ms".to_owned(),
        Some(SdoResponse::Abort(_, code)) => format!("aborted, {code}"),
        Some(other) => format!("unexpected answer {other:?}"),
    };
    Cia402Error::Sdo {
        node,
        action,
        at,
        reason,
    }
}

impl Robot for Cia402Robot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        let n = self.drives.nodes.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        if !self.wrote {
            // Nothing sent yet: a SYNC, every drive off.
            self.send(now, None)?;
        }
        let drives = &mut self.drives;
        let result = self.port.read_until(self.read_timeout, |f| drives.take(f));
        self.health.frames_bad = drives.bad + self.port.bad_lines;
        let done = result.inspect_err(|_| self.health.connected = false)?;
        if !done {
            self.health.timeouts += 1;
            return Err(HalError::Timeout);
        }
        for k in 0..n {
            self.drives.states[k].faults = self.drives.faults(k, self.setup.heartbeat_ms);
        }
        self.seq += 1;
        // The TPDOs answer the SYNC: the drives sampled then.
        frame.stamp = self.polled_at;
        frame.seq = self.seq;
        frame.joints.copy_from_slice(&self.drives.states);
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        let n = self.drives.nodes.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        self.send(now, Some(frame))
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
