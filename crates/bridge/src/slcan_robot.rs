//! [`SlcanRobot`]: MIT motors wired to a plain SLCAN USB-CAN adapter (CANable and
//! friends), the host running the bus cycle itself. Each tick `write` sends every motor
//! its frame as SLCAN text in one write, and the next `read` takes the replies that came
//! back. Motors stay disabled (polled with disable frames) while their command is `Off`
//! and are enabled by their first real command. Without a bridge there is no watchdog on
//! the device: if the host stops, the motors keep their last command until their own
//! timeout, which is why the bridge exists.

use std::path::Path;
use std::time::Duration;

use embody_hal::{
    Capabilities, CommandFrame, CommandModes, HalError, JointCommand, JointState, LinkHealth,
    Robot, SensorFrame, Timestamp,
};
use embody_model::Model;
use embody_protocol::budget;
use embody_protocol::messages::ActuatorSetup;
use embody_protocol::{CanFrame, MitSpecial};

use crate::robot::{fault_bits, wire};
use crate::setup::{SetupError, UnitSetup};
use crate::slcan_port::{SlcanPort, SlcanPortError};

/// Why the adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SlcanRobotError {
    /// The setup does not fit the robot or the adapter.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The adapter could not be opened.
    #[error(transparent)]
    Port(#[from] SlcanPortError),
}

/// MIT motors behind an SLCAN adapter. See the module docs.
pub struct SlcanRobot {
    caps: Capabilities,
    port: SlcanPort,
    motors: Motors,
    seq: u64,
    /// The tick of the last poll (every motor answers a command frame with its state).
    polled_at: Timestamp,
    read_timeout_us: u64,
    health: LinkHealth,
    wrote: bool,
}

/// The motors as the host sees them: their setup, whether enabled, their last state.
struct Motors {
    actuators: Vec<ActuatorSetup>,
    enabled: Vec<bool>,
    states: Vec<JointState>,
    replied: Vec<bool>,
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
        if !setup.drives.is_empty() || !setup.servos.is_empty() {
            return Err(SetupError::DevicesOnBridge.into());
        }
        if setup.bridge.buses.len() != 1 {
            return Err(SetupError::OneBus(setup.bridge.buses.len()).into());
        }
        let rate_hz = setup.rate_hz();
        let bitrate = setup.bridge.buses[0].bitrate;
        let actuators = setup.actuators.clone();
        let cycle_us = budget::bus_cycle_us(actuators.iter(), 0, bitrate);
        if f64::from(cycle_us) > 1e6 / rate_hz {
            tracing::warn!(
                "{} motors need {cycle_us} µs of the bus per cycle, more than the {:.0} µs period: a real bus will lag",
                actuators.len(),
                1e6 / rate_hz
            );
        }
        let n = actuators.len();
        let port = SlcanPort::open(port, bitrate, n)?;
        let caps = Capabilities {
            max_rate_hz: rate_hz,
            ..Capabilities::from_model(model, CommandModes::ALL)
        };
        Ok(SlcanRobot {
            caps,
            port,
            motors: Motors {
                enabled: vec![false; n],
                states: vec![JointState::default(); n],
                replied: vec![false; n],
                actuators,
            },
            seq: 0,
            polled_at: Timestamp::ZERO,
            read_timeout_us: (2e6 / rate_hz) as u64,
            health: LinkHealth::default(),
            wrote: false,
        })
    }

    /// Sends every motor its frame for `command_of(joint)`, in one write, at tick `now`.
    fn send(
        &mut self,
        now: Timestamp,
        command_of: impl Fn(usize) -> JointCommand,
    ) -> Result<(), HalError> {
        for k in 0..self.motors.actuators.len() {
            let can = self.motors.frame_for(k, &command_of(k));
            // Within the capacity reserved at open: no allocation.
            self.port.queue(&can);
            self.motors.replied[k] = false;
        }
        self.wrote = true;
        self.polled_at = now;
        self.port
            .flush()
            .inspect_err(|_| self.health.connected = false)
    }
}

impl Motors {
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

    /// Takes one frame from the bus: a motor's reply. Whether every motor has replied.
    fn take(&mut self, can: &CanFrame) -> bool {
        for (k, actuator) in self.actuators.iter().enumerate() {
            if let Ok(feedback) = actuator.codec.decode_feedback(can) {
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
        self.replied.iter().all(|r| *r)
    }
}

impl Robot for SlcanRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        let n = self.motors.actuators.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        if !self.wrote {
            // Nothing asked yet: poll every motor, disabled.
            self.send(now, |_| JointCommand::Off)?;
        }
        let motors = &mut self.motors;
        let timeout = Duration::from_micros(self.read_timeout_us);
        let replied = self
            .port
            .read_until(timeout, |can| motors.take(can))
            .inspect_err(|_| self.health.connected = false)?;
        if !replied {
            self.health.timeouts += 1;
            return Err(HalError::Timeout);
        }
        self.seq += 1;
        // The replies answer the last poll: the motors measured then, which is not now
        // when the loop was held up between that poll and this read.
        frame.stamp = self.polled_at;
        frame.seq = self.seq;
        frame.joints.copy_from_slice(&self.motors.states);
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        Ok(())
    }

    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        let n = self.motors.actuators.len();
        HalError::check_joint_count(n, frame.joints.len())?;
        self.send(now, |k| frame.joints[k])
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}
