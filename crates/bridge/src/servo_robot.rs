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
use embody_protocol::dynamixel::x_series;
use embody_protocol::servo_master::{self, StatusReader};
use serialport::TTYPort;

use crate::fd_io::{self, FdStatus};
use crate::robot::fault_bits;

pub use embody_protocol::servo_master::ServoFamily;

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
    reader: StatusReader,
    rx: Box<[u8; 4096]>,
    packet: Box<[u8; servo_master::MAX_PACKET]>,
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
            reader: StatusReader::new(family),
            rx: Box::new([0; 4096]),
            packet: Box::new([0; servo_master::MAX_PACKET]),
            out: Vec::with_capacity(3 * servo_master::MAX_PACKET),
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
        let mut words = Vec::with_capacity(gains.len());
        for &(k, gain) in gains {
            let id = *self.ids.get(k).ok_or(HalError::Backend("no such joint"))?;
            words.push((id, gain));
        }
        let packet = &mut self.packet[..];
        let n = servo_master::word_write(
            self.family,
            x_series::POSITION_P_GAIN,
            words.into_iter(),
            packet,
        )
        .map_err(|_| HalError::Backend("sync write too long"))?;
        self.out.clear();
        self.out.extend_from_slice(&self.packet[..n]);
        match fd_io::write_all(self.port.as_raw_fd(), &self.out) {
            FdStatus::Bytes(_) => Ok(()),
            _ => Err(HalError::LinkDown),
        }
    }

    fn ping(&mut self, id: u8) -> bool {
        let n = servo_master::ping(self.family, id, &mut self.packet[..]).ok();
        n.is_some_and(|n| self.ask(n, id, Duration::from_millis(50), |_| {}))
    }

    /// Reads the hardware error register of joint `k`'s Dynamixel: the faults it says, or
    /// none when the servo does not answer.
    fn read_hardware_error(&mut self, k: usize) -> Option<FaultBits> {
        let id = self.ids[k];
        let n = servo_master::hardware_error_read(id, &mut self.packet[..]).ok()?;
        let mut bits = None;
        let timeout = Duration::from_micros(self.read_timeout_us);
        self.ask(n, id, timeout, |data| bits = data.first().copied());
        bits.map(|b| fault_bits(servo_master::hardware_faults(b)))
    }

    /// Sends the first `n` bytes of `self.packet` and waits up to `timeout` for servo
    /// `id`'s status, whose data goes to `answer`: whether it came.
    fn ask(&mut self, n: usize, id: u8, timeout: Duration, mut answer: impl FnMut(&[u8])) -> bool {
        let fd = self.port.as_raw_fd();
        if !matches!(fd_io::write_all(fd, &self.packet[..n]), FdStatus::Bytes(_)) {
            return false;
        }
        let deadline = Instant::now() + timeout;
        self.reader.reset();
        while let left = deadline.saturating_duration_since(Instant::now())
            && !left.is_zero()
        {
            let FdStatus::Bytes(got) = fd_io::read(fd, &mut self.rx[..], left.as_micros() as u64)
            else {
                return false;
            };
            for i in 0..got {
                let byte = self.rx[i];
                if self.reader.push(byte) == Some(true)
                    && let Some((_, _, data)) = self.reader.status().filter(|s| s.0 == id)
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
        let goals: Vec<(u8, f64)> = (0..n)
            .map(|k| {
                let q = match frame.map(|f| f.joints[k]) {
                    Some(JointCommand::Position { q } | JointCommand::Impedance { q, .. }) => q,
                    _ => self.states[k].q,
                };
                (self.ids[k], q / self.travel[k])
            })
            .collect();
        let m = servo_master::goal_write(self.family, goals.into_iter(), &mut self.packet[..])
            .map_err(|_| HalError::Backend("sync write too long"))?;
        self.out.extend_from_slice(&self.packet[..m]);
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
        let m = servo_master::state_read(self.family, &self.ids, &mut self.packet[..])
            .map_err(|_| HalError::Backend("sync read too long"))?;
        self.out.extend_from_slice(&self.packet[..m]);
        self.replied.iter_mut().for_each(|r| *r = false);
        self.reader.reset();
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
        let torques = self.ids.iter().copied().zip(self.torque.iter().copied());
        let m = servo_master::torque_write(self.family, torques, &mut self.packet[..])
            .map_err(|_| HalError::Backend("sync write too long"))?;
        self.out.extend_from_slice(&self.packet[..m]);
        Ok(())
    }

    /// Takes one answer to the sync read: servo `id`'s state, or its faults.
    fn take(&mut self, id: u8, error: u8, data: &[u8]) {
        let Some(k) = self.ids.iter().position(|i| *i == id) else {
            return;
        };
        let (state, travel) = (&mut self.states[k], self.travel[k]);
        // A Dynamixel's alert bit says it has a hardware error and has dropped its
        // torque; its register, read after the tick's answers, says which.
        let alert = &mut self.alerts[k];
        *alert = match (servo_master::alert(self.family, error), *alert) {
            (false, _) => Alert::Clear,
            (true, Alert::Read(faults)) => Alert::Read(faults),
            (true, _) => Alert::Unread,
        };
        state.faults = match *alert {
            Alert::Read(faults) => faults,
            _ => fault_bits(servo_master::status_faults(self.family, error)),
        };
        if let Some(p) = servo_master::present(self.family, data) {
            state.q = p.turns * travel;
            state.dq = p.turns_per_s * travel;
            state.tau = p.effort_nm;
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
                        match self.reader.push(byte) {
                            Some(true) => {
                                let want = self.family.read_len();
                                let mut data = [0u8; 16];
                                let answer = self.reader.status().and_then(|(id, error, d)| {
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
