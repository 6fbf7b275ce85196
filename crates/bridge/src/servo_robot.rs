//! [`ServoRobot`]: serial servos on a half-duplex bus — ROBOTIS Dynamixel X-series
//! (protocol 2.0) or Feetech STS — driven straight from the host, the bus being the link.
//! Each tick `write` sends one sync write of every servo's goal position (and, when a
//! servo's torque is to change, one of torque enable) and one sync read of their present
//! state; the next `read` takes the servos' answers. Position and impedance commands
//! become goal positions (the servo runs its own position loop); a servo commanded `Off`
//! has its torque off. A servo's status error bits are its joint's faults; a servo that
//! does not answer within the tick is a timeout of the link. A Dynamixel flags a hardware
//! error only by its status's alert bit: the first tick it is set, the servo's hardware
//! error register is read, and its bits (overheating, overload, …) are the joint's faults
//! until the alert clears.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use core::f64::consts::TAU;

use embody_hal::{
    Capabilities, CommandFrame, CommandMode, CommandModes, FaultBits, HalError, JointCommand,
    JointState, LinkHealth, Robot, SensorFrame, Timestamp,
};
use embody_model::{JointKind, Model};
use embody_protocol::dynamixel::{self, x_series};
use embody_protocol::feetech::{self, ServoError, sts};
use serialport::TTYPort;

use crate::fd_io::{self, FdStatus};

/// Which servos are on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServoFamily {
    /// ROBOTIS Dynamixel X-series (XM430-W350 and kin), protocol 2.0.
    Dynamixel,
    /// Feetech STS (STS3215, the servos of SO-100/SO-101 arms).
    Feetech,
}

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
        self.bytes_per_tick(servos) as f64 * 10.0 * 1e6 / f64::from(baud)
    }

    /// The most servos whose exchange fits one period at `rate_hz` on a bus at `baud`
    /// (with the servos' return delay set to 0).
    pub fn servos_per_bus(self, baud: u32, rate_hz: f64) -> usize {
        (1..=252)
            .take_while(|&n| self.tick_us(n, baud) <= 1e6 / rate_hz)
            .last()
            .unwrap_or(0)
    }
}

impl std::str::FromStr for ServoFamily {
    type Err = String;

    fn from_str(name: &str) -> Result<ServoFamily, String> {
        match name {
            "dynamixel" => Ok(ServoFamily::Dynamixel),
            "feetech" => Ok(ServoFamily::Feetech),
            _ => Err(format!("'{name}' is no servo family: dynamixel or feetech")),
        }
    }
}

/// How far a prismatic joint moves for one turn of its servo (m): a rack on a pinion of
/// about 16 mm, a gripper's finger drive.
pub const PRISMATIC_TRAVEL_PER_TURN_M: f64 = 0.05;

/// How far each actuated joint of `model` moves for one turn of its servo: a turn
/// (2π rad) on a revolute joint, [`PRISMATIC_TRAVEL_PER_TURN_M`] on a prismatic one.
pub fn travel_per_turn(model: &Model) -> Vec<f64> {
    model
        .actuated_joints()
        .map(|j| match model.joints[j.0].kind {
            JointKind::Prismatic(_) => PRISMATIC_TRAVEL_PER_TURN_M,
            _ => TAU,
        })
        .collect()
}

/// Why the servo bus could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServoRobotError {
    /// The port could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The port.
        path: String,
        /// The cause.
        source: serialport::Error,
    },
    /// Not one servo id per actuated joint.
    #[error("{ids} servo ids for {joints} actuated joints")]
    Ids {
        /// Ids given.
        ids: usize,
        /// Actuated joints.
        joints: usize,
    },
    /// Servos that did not answer a ping.
    #[error("{path}: no {family} servo answered a ping at id {missing:?}")]
    Missing {
        /// The port.
        path: String,
        /// The family.
        family: &'static str,
        /// The ids that did not answer.
        missing: Vec<u8>,
    },
}

/// Bytes the sync read asks of each servo: Dynamixel present current, velocity and
/// position; Feetech present position, speed and load.
const READ_DXL: usize = 10;
const READ_STS: usize = 6;

/// How many times a tick asks a Dynamixel for its hardware error register.
const HARDWARE_ERROR_TRIES: usize = 2;

/// What a Dynamixel's status says of its hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alert {
    /// No alert bit.
    Clear,
    /// The alert bit is set; its hardware error register is not read yet.
    Unread,
    /// The alert bit is set and the register said these faults.
    Read(FaultBits),
}

/// The joint faults a Dynamixel's hardware error register `bits` says.
fn hardware_faults(bits: u8) -> FaultBits {
    const MAP: [(u8, FaultBits); 5] = [
        (x_series::INPUT_VOLTAGE_ERROR, FaultBits::OVER_VOLTAGE),
        (
            x_series::OVERHEATING_ERROR,
            FaultBits::MOTOR_OVER_TEMPERATURE,
        ),
        (x_series::ENCODER_ERROR, FaultBits::ENCODER),
        (x_series::ELECTRICAL_SHOCK_ERROR, FaultBits::OVER_CURRENT),
        (x_series::OVERLOAD_ERROR, FaultBits::OVERLOAD),
    ];
    (MAP.iter())
        .filter(|(bit, _)| bits & bit != 0)
        .fold(FaultBits::NONE, |all, (_, f)| all.union(*f))
}

/// Servos on a bus. See the module docs.
pub struct ServoRobot {
    caps: Capabilities,
    port: TTYPort,
    family: ServoFamily,
    ids: Vec<u8>,
    /// Joint travel per servo turn, per joint.
    travel: Vec<f64>,
    torque: Vec<bool>,
    states: Vec<JointState>,
    replied: Vec<bool>,
    /// Each Dynamixel's alert, with its hardware error register once read.
    alerts: Vec<Alert>,
    dxl: dynamixel::PacketReader,
    sts: feetech::PacketReader,
    rx: Box<[u8; 4096]>,
    params: Vec<u8>,
    packet: Box<[u8; dynamixel::MAX_PACKET]>,
    out: Vec<u8>,
    seq: u64,
    polled_at: Timestamp,
    read_timeout_us: u64,
    health: LinkHealth,
    wrote: bool,
}

impl ServoRobot {
    /// Opens the bus on `port` at `baud`, with servo `ids[k]` on actuated joint `k` of
    /// `model`, pings every servo and turns their torque off until the first command.
    pub fn connect(
        port: &Path,
        model: &Model,
        family: ServoFamily,
        ids: &[u8],
        baud: u32,
        rate_hz: f64,
    ) -> Result<ServoRobot, ServoRobotError> {
        let joints = model.actuated_joints().count();
        if ids.len() != joints {
            return Err(ServoRobotError::Ids {
                ids: ids.len(),
                joints,
            });
        }
        let path = port.to_string_lossy().into_owned();
        let tty = serialport::new(&path, baud)
            .timeout(Duration::from_millis(10))
            .open_native()
            .map_err(|source| ServoRobotError::Open {
                path: path.clone(),
                source,
            })?;
        let tick_us = family.tick_us(ids.len(), baud);
        if tick_us > 1e6 / rate_hz {
            tracing::warn!(
                "{} servos need {tick_us:.0} µs of the bus a tick at {baud} baud, more than the {:.0} µs period",
                ids.len(),
                1e6 / rate_hz
            );
        }
        let modes = CommandModes::of(&[
            CommandMode::Off,
            CommandMode::Position,
            CommandMode::Impedance,
        ]);
        let n = ids.len();
        let mut robot = ServoRobot {
            caps: Capabilities {
                max_rate_hz: rate_hz,
                ..Capabilities::from_model(model, modes)
            },
            port: tty,
            family,
            ids: ids.to_vec(),
            travel: travel_per_turn(model),
            torque: vec![false; n],
            states: vec![JointState::default(); n],
            replied: vec![false; n],
            alerts: vec![Alert::Clear; n],
            dxl: dynamixel::PacketReader::default(),
            sts: feetech::PacketReader::default(),
            rx: Box::new([0; 4096]),
            params: Vec::with_capacity(8 + n * 6),
            packet: Box::new([0; dynamixel::MAX_PACKET]),
            out: Vec::with_capacity(2 * dynamixel::MAX_PACKET),
            seq: 0,
            polled_at: Timestamp::ZERO,
            read_timeout_us: (2e6 / rate_hz) as u64 + tick_us as u64,
            health: LinkHealth::default(),
            wrote: false,
        };
        let missing: Vec<u8> = (ids.iter().copied())
            .filter(|id| !robot.ping(*id))
            .collect();
        if !missing.is_empty() {
            return Err(ServoRobotError::Missing {
                path,
                family: family.name(),
                missing,
            });
        }
        // A servo an earlier run left holding lets go: torque follows the commands.
        robot.out.clear();
        if robot.torque_write().is_ok() {
            let _ = fd_io::write_all(robot.port.as_raw_fd(), &robot.out);
        }
        Ok(robot)
    }

    /// Whether servo `id` answers a ping within 50 ms.
    /// Writes each `(joint, gain)` of `gains` into the position P gain of that joint's
    /// Dynamixel (how stiff its position loop is: `x_series::stiffness_per_nm`), as an
    /// integrator tunes an arm's servos; Feetech servos take none.
    pub fn set_position_p_gains(&mut self, gains: &[(usize, u16)]) -> Result<(), HalError> {
        if gains.is_empty() {
            return Ok(());
        }
        if self.family != ServoFamily::Dynamixel {
            return Err(HalError::Backend(
                "only Dynamixel servos take a position P gain",
            ));
        }
        self.params.clear();
        self.sync_header(x_series::POSITION_P_GAIN, 2);
        for &(k, gain) in gains {
            let id = *self.ids.get(k).ok_or(HalError::Backend("no such joint"))?;
            self.params.push(id);
            self.params.extend_from_slice(&gain.to_le_bytes());
        }
        self.out.clear();
        self.emit_sync_write()?;
        match fd_io::write_all(self.port.as_raw_fd(), &self.out) {
            FdStatus::Bytes(_) => Ok(()),
            _ => Err(HalError::LinkDown),
        }
    }

    fn ping(&mut self, id: u8) -> bool {
        let n = match self.family {
            ServoFamily::Dynamixel => dynamixel::ping(id, &mut self.packet[..]).ok(),
            ServoFamily::Feetech => feetech::ping(id, &mut self.packet[..]).ok(),
        };
        n.is_some_and(|n| self.ask(n, id, Duration::from_millis(50), |_| {}))
    }

    /// Reads the hardware error register of joint `k`'s Dynamixel: the faults it says, or
    /// none when the servo does not answer.
    fn read_hardware_error(&mut self, k: usize) -> Option<FaultBits> {
        let id = self.ids[k];
        let n = dynamixel::read(id, x_series::HARDWARE_ERROR, 1, &mut self.packet[..]).ok()?;
        let mut bits = None;
        let timeout = Duration::from_micros(self.read_timeout_us);
        self.ask(n, id, timeout, |data| bits = data.first().copied());
        bits.map(hardware_faults)
    }

    /// Sends the first `n` bytes of `self.packet` and waits up to `timeout` for servo
    /// `id`'s status, whose data goes to `answer`: whether it came.
    fn ask(&mut self, n: usize, id: u8, timeout: Duration, mut answer: impl FnMut(&[u8])) -> bool {
        let fd = self.port.as_raw_fd();
        if !matches!(fd_io::write_all(fd, &self.packet[..n]), FdStatus::Bytes(_)) {
            return false;
        }
        let deadline = Instant::now() + timeout;
        self.dxl.reset();
        self.sts.reset();
        while let left = deadline.saturating_duration_since(Instant::now())
            && !left.is_zero()
        {
            let FdStatus::Bytes(got) = fd_io::read(fd, &mut self.rx[..], left.as_micros() as u64)
            else {
                return false;
            };
            for i in 0..got {
                let byte = self.rx[i];
                if self.push(byte) == Some(true)
                    && let Some((_, _, data)) = self.status().filter(|s| s.0 == id)
                {
                    answer(data);
                    return true;
                }
            }
        }
        false
    }

    fn send(&mut self, now: Timestamp, frame: Option<&CommandFrame>) -> Result<(), HalError> {
        let n = self.ids.len();
        let mut torque_changes = false;
        for k in 0..n {
            let on = match frame.map(|f| f.joints[k]) {
                None | Some(JointCommand::Off) => false,
                Some(JointCommand::Position { .. } | JointCommand::Impedance { .. }) => true,
                Some(_) => return Err(HalError::UnsupportedMode { joint: k }),
            };
            torque_changes |= on != self.torque[k];
        }
        self.out.clear();
        // The goal positions, then (if any changes) the torque: a servo switched on holds
        // its goal, not where an earlier goal left it.
        self.params.clear();
        let (goal_at, goal_len) = match self.family {
            ServoFamily::Dynamixel => (x_series::GOAL_POSITION, 4u16),
            ServoFamily::Feetech => (u16::from(sts::GOAL_POSITION), 2u16),
        };
        self.sync_header(goal_at, goal_len);
        for k in 0..n {
            let q = match frame.map(|f| f.joints[k]) {
                Some(JointCommand::Position { q }) | Some(JointCommand::Impedance { q, .. }) => q,
                _ => self.states[k].q,
            };
            let counts = x_series::CENTRE_COUNT + q * x_series::COUNTS_PER_TURN / self.travel[k];
            self.params.push(self.ids[k]);
            match self.family {
                ServoFamily::Dynamixel => {
                    let c = counts.round() as i32;
                    self.params.extend_from_slice(&c.to_le_bytes());
                }
                ServoFamily::Feetech => {
                    let c = counts.round().clamp(0.0, sts::COUNTS_PER_TURN - 1.0) as u16;
                    self.params.extend_from_slice(&c.to_le_bytes());
                }
            }
        }
        self.emit_sync_write()?;
        if torque_changes {
            for k in 0..n {
                self.torque[k] = matches!(
                    frame.map(|f| f.joints[k]),
                    Some(JointCommand::Position { .. } | JointCommand::Impedance { .. })
                );
            }
            self.torque_write()?;
        }
        // The sync read of every servo's state.
        let m = match self.family {
            ServoFamily::Dynamixel => {
                let ids = &self.ids;
                dynamixel::sync_read(
                    x_series::PRESENT_CURRENT,
                    READ_DXL as u16,
                    ids,
                    &mut self.packet[..],
                )
                .map_err(|_| HalError::Backend("sync read too long"))?
            }
            ServoFamily::Feetech => feetech::sync_read(
                sts::PRESENT_POSITION,
                READ_STS as u8,
                &self.ids,
                &mut self.packet[..],
            )
            .map_err(|_| HalError::Backend("sync read too long"))?,
        };
        self.out.extend_from_slice(&self.packet[..m]);
        self.replied.iter_mut().for_each(|r| *r = false);
        self.dxl.reset();
        self.sts.reset();
        self.wrote = true;
        self.polled_at = now;
        match fd_io::write_all(self.port.as_raw_fd(), &self.out) {
            FdStatus::Gone => {
                self.health.connected = false;
                Err(HalError::LinkDown)
            }
            _ => Ok(()),
        }
    }

    /// Appends a sync write of every servo's torque enable, as `self.torque` says.
    fn torque_write(&mut self) -> Result<(), HalError> {
        let torque_at = match self.family {
            ServoFamily::Dynamixel => x_series::TORQUE_ENABLE,
            ServoFamily::Feetech => u16::from(sts::TORQUE_ENABLE),
        };
        self.params.clear();
        self.sync_header(torque_at, 1);
        for k in 0..self.ids.len() {
            self.params.push(self.ids[k]);
            self.params.push(u8::from(self.torque[k]));
        }
        self.emit_sync_write()
    }

    /// Starts a sync write's parameters: the address and the bytes per servo.
    fn sync_header(&mut self, address: u16, length: u16) {
        match self.family {
            ServoFamily::Dynamixel => {
                self.params.extend_from_slice(&address.to_le_bytes());
                self.params.extend_from_slice(&length.to_le_bytes());
            }
            ServoFamily::Feetech => {
                self.params.push(address as u8);
                self.params.push(length as u8);
            }
        }
    }

    /// Appends the sync write whose parameters are ready to the tick's bytes.
    fn emit_sync_write(&mut self) -> Result<(), HalError> {
        let n = match self.family {
            ServoFamily::Dynamixel => dynamixel::encode(
                dynamixel::BROADCAST_ID,
                dynamixel::Instruction::SyncWrite as u8,
                &self.params,
                &mut self.packet[..],
            )
            .map_err(|_| HalError::Backend("sync write too long"))?,
            ServoFamily::Feetech => feetech::encode(
                feetech::BROADCAST_ID,
                feetech::Instruction::SyncWrite as u8,
                &self.params,
                &mut self.packet[..],
            )
            .map_err(|_| HalError::Backend("sync write too long"))?,
        };
        self.out.extend_from_slice(&self.packet[..n]);
        Ok(())
    }

    /// Feeds one byte from the bus to the family's reader: `Some(true)` when it completed
    /// a good packet, `Some(false)` a bad one.
    fn push(&mut self, byte: u8) -> Option<bool> {
        match self.family {
            ServoFamily::Dynamixel => self.dxl.push(byte).map(|r| r.is_ok()),
            ServoFamily::Feetech => self.sts.push(byte).map(|r| r.is_ok()),
        }
    }

    /// The packet just completed, as a servo's status: its id, error byte and data.
    fn status(&self) -> Option<(u8, u8, &[u8])> {
        match self.family {
            ServoFamily::Dynamixel => {
                let p = self.dxl.packet()?;
                let (error, data) = p.status()?.ok()?;
                Some((p.id, error.0, data))
            }
            ServoFamily::Feetech => {
                let p = self.sts.packet()?;
                Some((p.id, p.instruction, p.params))
            }
        }
    }

    /// Takes one answer to the sync read: servo `id`'s state, or its faults.
    fn take(&mut self, id: u8, error: u8, data: &[u8]) {
        let Some(k) = self.ids.iter().position(|i| *i == id) else {
            return;
        };
        let (state, travel) = (&mut self.states[k], self.travel[k]);
        match self.family {
            ServoFamily::Dynamixel => {
                // The alert bit says the servo has a hardware error and has dropped its
                // torque; its register, read after the tick's answers, says which.
                let alert = &mut self.alerts[k];
                *alert = match (error & dynamixel::StatusError::ALERT != 0, *alert) {
                    (false, _) => Alert::Clear,
                    (true, Alert::Read(faults)) => Alert::Read(faults),
                    (true, _) => Alert::Unread,
                };
                state.faults = match *alert {
                    Alert::Read(faults) => faults,
                    _ => FaultBits::NONE,
                };
                if let [c0, c1, v0, v1, v2, v3, p0, p1, p2, p3] = *data {
                    let current = f64::from(i16::from_le_bytes([c0, c1]));
                    let velocity = f64::from(i32::from_le_bytes([v0, v1, v2, v3]));
                    let position = f64::from(i32::from_le_bytes([p0, p1, p2, p3]));
                    state.tau = current * x_series::CURRENT_UNIT_A * x_series::TORQUE_PER_A;
                    state.dq = velocity * x_series::VELOCITY_UNIT_RAD_S * travel / TAU;
                    state.q =
                        (position - x_series::CENTRE_COUNT) * travel / x_series::COUNTS_PER_TURN;
                }
            }
            ServoFamily::Feetech => {
                let e = ServoError(error);
                const MAP: [(u8, FaultBits); 5] = [
                    (ServoError::VOLTAGE, FaultBits::OVER_VOLTAGE),
                    (ServoError::ANGLE, FaultBits::ENCODER),
                    (ServoError::OVERHEAT, FaultBits::MOTOR_OVER_TEMPERATURE),
                    (ServoError::OVERCURRENT, FaultBits::OVER_CURRENT),
                    (ServoError::OVERLOAD, FaultBits::OVERLOAD),
                ];
                state.faults = (MAP.iter())
                    .filter(|(bit, _)| e.has(*bit))
                    .fold(FaultBits::NONE, |all, (_, f)| all.union(*f));
                if let [p0, p1, s0, s1, l0, l1] = *data {
                    let position = f64::from(u16::from_le_bytes([p0, p1]));
                    let speed = feetech::from_sign_magnitude(u16::from_le_bytes([s0, s1]), 15);
                    let load = feetech::from_sign_magnitude(u16::from_le_bytes([l0, l1]), 10);
                    state.q = (position - sts::CENTRE_COUNT) * travel / sts::COUNTS_PER_TURN;
                    state.dq = f64::from(speed) * travel / sts::COUNTS_PER_TURN;
                    state.tau = f64::from(load) / 1000.0 * sts::STALL_TORQUE_NM;
                }
            }
        }
        self.replied[k] = true;
    }
}

impl Robot for ServoRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        let n = self.ids.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        if !self.wrote {
            // Nothing asked yet: ask, torque off.
            self.send(now, None)?;
        }
        let fd = self.port.as_raw_fd();
        let deadline = Instant::now() + Duration::from_micros(self.read_timeout_us);
        while self.replied.iter().any(|r| !r) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match fd_io::read(fd, &mut self.rx[..], left.as_micros() as u64) {
                FdStatus::Bytes(got) => {
                    for i in 0..got {
                        let byte = self.rx[i];
                        match self.push(byte) {
                            Some(true) => {
                                let want = match self.family {
                                    ServoFamily::Dynamixel => READ_DXL,
                                    ServoFamily::Feetech => READ_STS,
                                };
                                let mut data = [0u8; READ_DXL];
                                let answer = self.status().and_then(|(id, error, d)| {
                                    data[..want].copy_from_slice(d.get(..want)?);
                                    Some((id, error))
                                });
                                match answer {
                                    Some((id, error)) => self.take(id, error, &data[..want]),
                                    None => self.health.frames_bad += 1,
                                }
                            }
                            Some(false) => self.health.frames_bad += 1,
                            None => {}
                        }
                    }
                }
                FdStatus::Timeout => break,
                FdStatus::Gone => {
                    self.health.connected = false;
                    return Err(HalError::LinkDown);
                }
            }
        }
        if self.replied.iter().any(|r| !r) {
            self.health.timeouts += 1;
            return Err(HalError::Timeout);
        }
        for k in 0..n {
            if self.alerts[k] == Alert::Unread {
                // Asked twice: one reply lost on a busy line would otherwise name the
                // wrong fault. A register that does not answer, or names no fault known
                // here, still leaves the joint faulted: as overloaded, the commonest cause.
                let faults = (0..HARDWARE_ERROR_TRIES)
                    .find_map(|_| self.read_hardware_error(k))
                    .filter(|f| !f.is_empty())
                    .unwrap_or(FaultBits::OVERLOAD);
                self.alerts[k] = Alert::Read(faults);
                self.states[k].faults = faults;
            }
        }
        self.seq += 1;
        // The answers are the servos' state when the sync read was sent.
        frame.stamp = self.polled_at;
        frame.seq = self.seq;
        frame.joints.copy_from_slice(&self.states);
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        let n = self.ids.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        self.send(now, Some(frame))
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
