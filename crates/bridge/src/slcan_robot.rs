//! [`SlcanRobot`]: MIT motors wired to a plain SLCAN USB-CAN adapter (CANable and
//! friends), the host running the bus cycle itself. Each tick `write` sends every motor
//! its frame as SLCAN text in one write, and the next `read` takes the replies that came
//! back. Motors stay disabled (polled with disable frames) while their command is `Off`
//! and are enabled by their first real command. Without a bridge there is no watchdog on
//! the device: if the host stops, the motors keep their last command until their own
//! timeout, which is why the bridge exists.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use embody_hal::{
    Capabilities, CommandFrame, CommandModes, HalError, JointCommand, JointState, LinkHealth,
    Robot, SensorFrame, Timestamp,
};
use embody_model::Model;
use embody_protocol::budget;
use embody_protocol::messages::ActuatorSetup;
use embody_protocol::slcan::{self, LineEvent, LineReader, SlcanLine};
use embody_protocol::{CanFrame, MitSpecial};
use serialport::TTYPort;

use crate::fd_io::{self, FdStatus};
use crate::robot::{fault_bits, wire};
use crate::setup::{SetupError, UnitSetup};

/// Why the adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SlcanRobotError {
    /// The setup does not fit the robot or the adapter.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The port could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The port.
        path: String,
        /// The cause.
        source: serialport::Error,
    },
    /// The adapter has no SLCAN code for this bit rate.
    #[error("{0} bit/s is not an SLCAN bit rate (10k, 20k, 50k, 100k, 125k, 250k, 500k, 800k, 1M)")]
    Bitrate(u32),
    /// The adapter did not accept the opening commands.
    #[error("{0}: the adapter did not answer C/S/O (is an SLCAN adapter on this port?)")]
    NoAdapter(String),
}

/// MIT motors behind an SLCAN adapter. See the module docs.
pub struct SlcanRobot {
    caps: Capabilities,
    port: TTYPort,
    actuators: Vec<ActuatorSetup>,
    enabled: Vec<bool>,
    states: Vec<JointState>,
    replied: Vec<bool>,
    reader: LineReader,
    rx: Box<[u8; 4096]>,
    out: Vec<u8>,
    seq: u64,
    /// The tick of the last poll (every motor answers a command frame with its state).
    polled_at: Timestamp,
    read_timeout_us: u64,
    health: LinkHealth,
    wrote: bool,
}

impl SlcanRobot {
    /// Opens the adapter on `port` at the setup's bit rate and polls every motor of
    /// `setup` (one bus, one actuator per actuated joint of `model`).
    pub fn connect(
        port: &Path,
        model: &Model,
        setup: &UnitSetup,
    ) -> Result<SlcanRobot, SlcanRobotError> {
        setup.check_joints(model.actuated_joints().count())?;
        if setup.bridge.buses.len() != 1 {
            return Err(SetupError::OneBus(setup.bridge.buses.len()).into());
        }
        let rate_hz = setup.rate_hz();
        let bitrate = setup.bridge.buses[0].bitrate;
        let code = bitrate_code(bitrate).ok_or(SlcanRobotError::Bitrate(bitrate))?;
        let actuators = setup.actuators.clone();
        let cycle_us = budget::bus_cycle_us(actuators.iter(), 0, bitrate);
        if f64::from(cycle_us) > 1e6 / rate_hz {
            tracing::warn!(
                "{} motors need {cycle_us} µs of the bus per cycle, more than the {:.0} µs period: a real bus will lag",
                actuators.len(),
                1e6 / rate_hz
            );
        }
        let path = port.to_string_lossy().into_owned();
        let mut tty = serialport::new(&path, 2_000_000)
            .timeout(Duration::from_millis(10))
            .open_native()
            .map_err(|source| SlcanRobotError::Open {
                path: path.clone(),
                source,
            })?;
        let _ = tty.set_exclusive(false);
        let n = actuators.len();
        let caps = Capabilities {
            max_rate_hz: rate_hz,
            ..Capabilities::from_model(model, CommandModes::ALL)
        };
        let mut robot = SlcanRobot {
            caps,
            port: tty,
            enabled: vec![false; n],
            states: vec![JointState::default(); n],
            replied: vec![false; n],
            actuators,
            reader: LineReader::default(),
            rx: Box::new([0; 4096]),
            out: Vec::with_capacity(n * slcan::MAX_LINE),
            seq: 0,
            polled_at: Timestamp::ZERO,
            read_timeout_us: (2e6 / rate_hz) as u64,
            health: LinkHealth::default(),
            wrote: false,
        };
        robot.open_channel(&path, code)?;
        Ok(robot)
    }

    fn open_channel(&mut self, path: &str, code: u8) -> Result<(), SlcanRobotError> {
        let fd = self.port.as_raw_fd();
        // Close (may ring the bell if already closed), the bit rate, flush, open.
        let _ = fd_io::write_all(fd, &[b'C', b'\r', b'S', code, b'\r', b'\r', b'O', b'\r']);
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut oks = 0;
        while Instant::now() < deadline && oks < 2 {
            if let FdStatus::Bytes(n) = fd_io::read(fd, &mut self.rx[..], 10_000) {
                for &b in &self.rx[..n] {
                    if let Some(LineEvent::Line(0)) = self.reader.push(b) {
                        let _ = self.reader.line();
                        oks += 1;
                    }
                }
            }
        }
        if oks < 2 {
            return Err(SlcanRobotError::NoAdapter(path.to_owned()));
        }
        Ok(())
    }

    fn frame_for(&mut self, k: usize, command: &JointCommand) -> CanFrame {
        let actuator = &self.actuators[k];
        let codec = actuator.codec;
        match command {
            JointCommand::Off => {
                self.enabled[k] = false;
                codec.special_frame(MitSpecial::ExitMotorMode)
            }
            _ if !self.enabled[k] => {
                self.enabled[k] = true;
                codec.special_frame(MitSpecial::EnterMotorMode)
            }
            command => codec
                .command_frame(&actuator.motor_command(&wire(command)))
                .unwrap_or_else(|_| codec.special_frame(MitSpecial::ExitMotorMode)),
        }
    }
}

/// The SLCAN `S` code of `bitrate` (`b'0'`–`b'8'`).
fn bitrate_code(bitrate: u32) -> Option<u8> {
    const RATES: [u32; 9] = [
        10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000,
    ];
    RATES
        .iter()
        .position(|r| *r == bitrate)
        .map(|k| b'0' + k as u8)
}

impl SlcanRobot {
    /// Sends every motor its frame for `command_of(joint)`, in one write, at tick `now`.
    fn send(
        &mut self,
        now: Timestamp,
        command_of: impl Fn(usize) -> JointCommand,
    ) -> Result<(), HalError> {
        self.out.clear();
        let mut line = [0u8; slcan::MAX_LINE];
        for k in 0..self.actuators.len() {
            let can = self.frame_for(k, &command_of(k));
            let len = slcan::encode_frame(&can, None, &mut line);
            // Within the capacity reserved at construction: no allocation.
            self.out.extend_from_slice(&line[..len]);
            self.replied[k] = false;
        }
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
}

impl Robot for SlcanRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        let n = self.actuators.len();
        if frame.joints.len() != n {
            return Err(HalError::JointCount {
                expected: n,
                got: frame.joints.len(),
            });
        }
        if !self.wrote {
            // Nothing asked yet: poll every motor, disabled.
            self.send(now, |_| JointCommand::Off)?;
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
                        let Some(LineEvent::Line(_)) = self.reader.push(byte) else {
                            continue;
                        };
                        let Ok(SlcanLine::Frame { frame: can, .. }) =
                            slcan::parse_line(self.reader.line())
                        else {
                            continue;
                        };
                        for (k, actuator) in self.actuators.iter().enumerate() {
                            if let Ok(feedback) = actuator.codec.decode_feedback(&can) {
                                let wire = actuator.joint_state(&feedback);
                                self.states[k] = JointState {
                                    q: wire.q as f64,
                                    dq: wire.dq as f64,
                                    tau: wire.tau as f64,
                                    temperature_c: wire.temperature_c as f64,
                                    faults: fault_bits(wire.faults),
                                };
                                self.replied[k] = true;
                                break;
                            }
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
        self.seq += 1;
        // The replies answer the last poll: the motors measured then, which is not now
        // when the loop was held up between that poll and this read.
        frame.stamp = self.polled_at;
        frame.seq = self.seq;
        frame.joints.copy_from_slice(&self.states);
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        let n = self.actuators.len();
        if frame.joints.len() != n {
            return Err(HalError::JointCount {
                expected: n,
                got: frame.joints.len(),
            });
        }
        self.send(now, |k| frame.joints[k])
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
