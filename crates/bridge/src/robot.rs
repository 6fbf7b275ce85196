//! [`BridgeRobot`]: a robot behind the bridge firmware on a serial port, as a HAL
//! [`Robot`]. Each tick `write` sends one batch of joint commands and `read` takes the
//! newest batch of joint states, both without allocating. The link is supervised: bad
//! frames are counted and skipped (the decoder resynchronises at the next delimiter), a
//! tick without states is a timeout, and a device that disappears is a link loss while a
//! background thread reopens the port, shakes hands and reconfigures the bridge; the
//! loop picks the new connection up through a lock-free slot.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use embody_hal::{
    Capabilities, Clock, CommandFrame, CommandMode, CommandModes, FaultBits, HalError,
    JointCommand, JointState, LinkHealth, Robot, SensorFrame, SystemClock, Timestamp,
};
use embody_model::Model;
use embody_protocol::messages::{
    BridgeMessage, BridgeState, CommandBatch, HostMessage, StateBatch, WireCommand,
};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME, MotorFaults};

use crate::cia402_robot::drive_command_modes;
use crate::fd_io::{self, FdStatus};
use crate::link::{BridgeInfo, Connection, LinkError, connect};
use crate::setup::{SetupError, UnitSetup};

/// Why a bridge robot could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The setup does not fit the robot.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The first connection failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The motor's fault flags as the HAL's.
pub fn fault_bits(faults: MotorFaults) -> FaultBits {
    const MAP: [(MotorFaults, FaultBits); 10] = [
        (MotorFaults::OVER_VOLTAGE, FaultBits::OVER_VOLTAGE),
        (MotorFaults::UNDER_VOLTAGE, FaultBits::UNDER_VOLTAGE),
        (MotorFaults::OVER_CURRENT, FaultBits::OVER_CURRENT),
        (
            MotorFaults::DRIVER_OVER_TEMPERATURE,
            FaultBits::DRIVER_OVER_TEMPERATURE,
        ),
        (
            MotorFaults::ROTOR_OVER_TEMPERATURE,
            FaultBits::MOTOR_OVER_TEMPERATURE,
        ),
        (MotorFaults::COMMS_LOST, FaultBits::COMMUNICATION_LOST),
        (MotorFaults::OVERLOAD, FaultBits::OVERLOAD),
        (MotorFaults::ENCODER, FaultBits::ENCODER),
        (MotorFaults::UNCALIBRATED, FaultBits::ENCODER),
        (MotorFaults::UNKNOWN, FaultBits::OVERLOAD),
    ];
    MAP.iter()
        .filter(|(m, _)| faults.contains(*m))
        .fold(FaultBits::NONE, |acc, (_, f)| acc.union(*f))
}

/// A HAL joint command as sent on the wire (single precision).
pub(crate) fn wire(command: &JointCommand) -> WireCommand {
    match *command {
        JointCommand::Off => WireCommand::Off,
        JointCommand::Position { q } => WireCommand::Position { q: q as f32 },
        JointCommand::Velocity { dq } => WireCommand::Velocity { dq: dq as f32 },
        JointCommand::Torque { tau } => WireCommand::Torque { tau: tau as f32 },
        JointCommand::Impedance {
            q,
            dq,
            kp,
            kd,
            tau_ff,
        } => WireCommand::Impedance {
            q: q as f32,
            dq: dq as f32,
            kp: kp as f32,
            kd: kd as f32,
            tau_ff: tau_ff as f32,
        },
    }
}

/// The background side of the link: reopens the port when asked.
struct Reconnector {
    slot: Arc<ArrayQueue<Connection>>,
    wanted: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reconnector {
    fn spawn(path: PathBuf, setup: UnitSetup) -> Reconnector {
        let slot = Arc::new(ArrayQueue::new(1));
        let wanted = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (slot, wanted, stop) = (slot.clone(), wanted.clone(), stop.clone());
            std::thread::Builder::new()
                .name("bridge-reconnect".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        if wanted.load(Ordering::Acquire) && slot.is_empty() {
                            match connect(&path, &setup) {
                                Ok(connection) => {
                                    tracing::info!(port = %path.display(), "bridge link restored");
                                    wanted.store(false, Ordering::Release);
                                    let _ = slot.push(connection);
                                }
                                Err(e) => {
                                    tracing::debug!("reconnecting: {e}");
                                    std::thread::sleep(Duration::from_millis(100));
                                }
                            }
                        } else {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                })
                .ok()
        };
        Reconnector {
            slot,
            wanted,
            stop,
            thread,
        }
    }
}

impl Drop for Reconnector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A robot behind the bridge. See the module docs.
pub struct BridgeRobot {
    caps: Capabilities,
    info: BridgeInfo,
    connection: Option<Connection>,
    reconnector: Reconnector,
    encoder: FrameEncoder,
    decoder: Box<FrameDecoder>,
    out: Box<[u8; MAX_FRAME]>,
    rx: Box<[u8; 4096]>,
    batch: CommandBatch,
    latest: StateBatch,
    seq: u64,
    tick: u32,
    read_timeout_us: u64,
    health: LinkHealth,
    bad_seen: u32,
    reconnections: u64,
    /// When the last command batch was written (monotonic ns).
    sent_ns: u64,
}

impl BridgeRobot {
    /// Connects to the bridge on `port` and configures it with `setup` (one actuator per
    /// actuated joint of `model`, at the setup's control rate).
    pub fn connect(
        port: &Path,
        model: &Model,
        setup: &UnitSetup,
    ) -> Result<BridgeRobot, BridgeError> {
        let joints = model.actuated_joints().count();
        setup.check_joints(joints)?;
        let rate_hz = setup.rate_hz();
        let connection = connect(port, setup)?;
        // A unit's drives all run one mode: their joints take its commands. Servos
        // follow positions.
        let modes = match (setup.drive_buses.first(), &setup.servo_bus) {
            (Some(bus), _) => drive_command_modes(bus.mode),
            (None, Some(_)) => CommandModes::of(&[
                CommandMode::Off,
                CommandMode::Position,
                CommandMode::Impedance,
            ]),
            (None, None) => CommandModes::ALL,
        };
        let caps = Capabilities {
            max_rate_hz: rate_hz,
            ..Capabilities::from_model(model, modes)
        };
        let n = caps.joints.len();
        let mut batch = CommandBatch::default();
        for _ in 0..n {
            let _ = batch.commands.push(WireCommand::Off);
        }
        Ok(BridgeRobot {
            caps,
            info: connection.info,
            connection: Some(connection),
            reconnector: Reconnector::spawn(port.to_path_buf(), setup.clone()),
            encoder: FrameEncoder::default(),
            decoder: Box::default(),
            out: Box::new([0; MAX_FRAME]),
            rx: Box::new([0; 4096]),
            batch,
            latest: StateBatch::default(),
            seq: 0,
            tick: 0,
            // Two control periods: a state batch arrives every period.
            read_timeout_us: (2e6 / rate_hz) as u64,
            health: LinkHealth::default(),
            bad_seen: 0,
            reconnections: 0,
            sent_ns: 0,
        })
    }

    /// What the bridge said of itself at the handshake.
    pub fn bridge_info(&self) -> BridgeInfo {
        self.info
    }

    /// Times the link was restored after a loss.
    pub fn reconnections(&self) -> u64 {
        self.reconnections
    }

    /// Waits up to `timeout_us` for the state batch of the cycle the last written
    /// command batch triggered; returns the round trip (ns) from that write. For
    /// measuring the link: the loop itself never waits on this.
    pub fn wait_for_echo(&mut self, timeout_us: u64) -> Result<u64, HalError> {
        let Some(connection) = &self.connection else {
            return Err(HalError::LinkDown);
        };
        let fd = connection.port.as_raw_fd();
        let deadline = self.sent_ns + timeout_us * 1000;
        while self.latest.seq != self.tick {
            let now = SystemClock.now().as_nanos();
            if now >= deadline {
                return Err(HalError::Timeout);
            }
            match fd_io::read(fd, &mut self.rx[..], (deadline - now) / 1000) {
                FdStatus::Bytes(n) => {
                    self.take(n);
                }
                FdStatus::Timeout => {}
                FdStatus::Gone => return Err(self.lose_link()),
            }
        }
        Ok(SystemClock.now().as_nanos().saturating_sub(self.sent_ns))
    }

    /// The bridge's last reported state.
    pub fn bridge_state(&self) -> BridgeState {
        self.latest.state
    }

    fn lose_link(&mut self) -> HalError {
        if self.connection.take().is_some() {
            self.reconnector.wanted.store(true, Ordering::Release);
        }
        self.health.connected = false;
        HalError::LinkDown
    }

    fn ensure_connected(&mut self) -> Result<(), HalError> {
        if self.connection.is_none() {
            match self.reconnector.slot.pop() {
                Some(connection) => {
                    self.connection = Some(connection);
                    self.reconnections += 1;
                    self.health.connected = true;
                }
                None => {
                    self.reconnector.wanted.store(true, Ordering::Release);
                    return Err(HalError::LinkDown);
                }
            }
        }
        Ok(())
    }

    /// Decodes the first `n` received bytes; whether a state batch was among them (the
    /// newest is kept).
    fn take(&mut self, n: usize) -> bool {
        let mut fresh = false;
        let mut rest = &self.rx[..n];
        while !rest.is_empty() {
            let (taken, frame) = self.decoder.feed(rest);
            rest = &rest[taken..];
            if let Some(Ok(_)) = frame
                && let Ok(BridgeMessage::Tick(batch)) = self.decoder.message::<BridgeMessage>()
            {
                self.latest = batch;
                fresh = true;
            }
        }
        fresh
    }

    /// Reads until a new state batch came and the port is drained, or the timeout.
    fn receive(&mut self) -> Result<(), HalError> {
        let Some(connection) = &self.connection else {
            return Err(HalError::LinkDown);
        };
        let fd = connection.port.as_raw_fd();
        let mut fresh = false;
        let mut timeout = self.read_timeout_us;
        loop {
            match fd_io::read(fd, &mut self.rx[..], timeout) {
                FdStatus::Bytes(n) => {
                    fresh |= self.take(n);
                    if fresh {
                        timeout = 0; // drain what is already there, then stop
                    }
                }
                FdStatus::Timeout => break,
                FdStatus::Gone => return Err(self.lose_link()),
            }
        }
        let stats = self.decoder.stats();
        let bad = stats.crc_errors + stats.framing_errors + stats.overflows;
        self.health.frames_bad += u64::from(bad - self.bad_seen);
        self.bad_seen = bad;
        if fresh {
            Ok(())
        } else {
            self.health.timeouts += 1;
            Err(HalError::Timeout)
        }
    }
}

impl Robot for BridgeRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        HalError::check_joint_count(self.caps.joints.len(), frame.joints.len())?;
        self.ensure_connected()?;
        self.receive()?;
        if self.latest.joints.len() != frame.joints.len() {
            // The bridge is not (yet) configured for this robot.
            return Err(HalError::Timeout);
        }
        // A bridge whose watchdog tripped is not driving the motors: say so.
        let bridge_fault = match self.latest.state {
            BridgeState::Damping | BridgeState::Disabled => FaultBits::COMMUNICATION_LOST,
            _ => FaultBits::NONE,
        };
        self.seq += 1;
        frame.stamp = now;
        frame.seq = self.seq;
        frame.estop = false;
        for (state, wire) in frame.joints.iter_mut().zip(&self.latest.joints) {
            *state = JointState {
                q: wire.q as f64,
                dq: wire.dq as f64,
                tau: wire.tau as f64,
                temperature_c: wire.temperature_c as f64,
                faults: fault_bits(wire.faults).union(bridge_fault),
            };
        }
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        HalError::check_joint_count(self.batch.commands.len(), frame.joints.len())?;
        self.ensure_connected()?;
        self.tick = self.tick.wrapping_add(1);
        self.batch.seq = self.tick;
        self.batch.host_time_us = now.as_nanos() / 1000;
        for (wire_command, command) in self.batch.commands.iter_mut().zip(&frame.joints) {
            *wire_command = wire(command);
        }
        let message = HostMessage::Tick(std::mem::take(&mut self.batch));
        let encoded = self.encoder.encode(&message, &mut self.out[..]);
        if let HostMessage::Tick(batch) = message {
            self.batch = batch;
        }
        let n = encoded.map_err(|_| HalError::Backend("command batch too large"))?;
        let Some(connection) = &self.connection else {
            return Err(HalError::LinkDown);
        };
        self.sent_ns = SystemClock.now().as_nanos();
        match fd_io::write_all(connection.port.as_raw_fd(), &self.out[..n]) {
            FdStatus::Gone => Err(self.lose_link()),
            _ => Ok(()),
        }
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
