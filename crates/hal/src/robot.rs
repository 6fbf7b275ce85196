//! The [`Robot`] trait every backend implements, what a backend says about itself
//! ([`Capabilities`], [`LinkHealth`]) and the errors its I/O returns ([`HalError`]).

use serde::{Deserialize, Serialize};

use embody_model::Model;

use crate::clock::Timestamp;
use crate::command::{CommandFrame, CommandModes};
use crate::sensor::SensorFrame;

/// One actuated joint as the backend exposes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointInfo {
    /// The joint's name in the robot model.
    pub name: String,
    /// The command modes its actuator accepts.
    pub modes: CommandModes,
}

/// A force-torque sensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceTorqueInfo {
    /// Sensor name (e.g. `left_foot`).
    pub name: String,
    /// The model frame the sensor measures in.
    pub frame: String,
}

/// What a backend offers. Fixed for the backend's lifetime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// The robot's name (model name or unit id).
    pub name: String,
    /// The actuated joints, in the order of every frame's `joints`.
    pub joints: Vec<JointInfo>,
    /// The model frame the IMU is mounted in, if the robot has one.
    pub imu_frame: Option<String>,
    /// The force-torque sensors, in the order of [`SensorFrame::force_torque`].
    pub force_torque: Vec<ForceTorqueInfo>,
    /// The fastest control rate the backend sustains (Hz).
    pub max_rate_hz: f64,
}

impl Capabilities {
    /// Capabilities listing the model's actuated joints, each accepting `modes`, with no
    /// sensors beyond the encoders.
    pub fn from_model(model: &Model, modes: CommandModes) -> Capabilities {
        Capabilities {
            name: model.name.clone(),
            joints: model
                .actuated_joints()
                .map(|j| JointInfo {
                    name: model.joints[j.0].name.clone(),
                    modes,
                })
                .collect(),
            imu_frame: None,
            force_torque: Vec::new(),
            max_rate_hz: 10_000.0,
        }
    }
}

/// The state of the link to the robot, as counters since the backend started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkHealth {
    /// The link is up: frames are arriving.
    pub connected: bool,
    /// Frames received intact.
    pub frames_ok: u64,
    /// Frames received corrupted (bad CRC, bad length, undecodable).
    pub frames_bad: u64,
    /// Exchanges that got no answer in time.
    pub timeouts: u64,
    /// Bus errors reported by the bridge (CAN error frames, bus-off).
    pub bus_errors: u64,
    /// When the last good frame arrived.
    pub last_rx: Timestamp,
}

/// Why a read or write failed. `Copy` and allocation-free: it is produced on the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HalError {
    /// The link to the robot is down.
    #[error("link to the robot is down")]
    LinkDown,
    /// The robot did not answer within the tick.
    #[error("robot did not answer in time")]
    Timeout,
    /// A frame had the wrong number of joints.
    #[error("frame has {got} joints, the robot has {expected}")]
    JointCount {
        /// Joints the robot has.
        expected: usize,
        /// Joints in the frame.
        got: usize,
    },
    /// A joint was sent a mode its actuator does not accept.
    #[error("joint {joint} does not accept this command mode")]
    UnsupportedMode {
        /// Joint index.
        joint: usize,
    },
    /// A backend-specific failure.
    #[error("backend error: {0}")]
    Backend(&'static str),
}

impl HalError {
    /// [`HalError::JointCount`] unless a frame of `got` joints fits a robot of `expected`.
    pub fn check_joint_count(expected: usize, got: usize) -> Result<(), HalError> {
        match expected == got {
            true => Ok(()),
            false => Err(HalError::JointCount { expected, got }),
        }
    }
}

/// A robot the loop can drive: simulated, over the serial bridge, or a mock.
///
/// The loop calls `read` then `write` once per tick with the tick's time, read once from
/// its [`crate::Clock`]. Both are real-time safe in every implementation: no allocation,
/// no lock, no blocking beyond the backend's own bounded I/O.
pub trait Robot: Send {
    /// What this robot offers; fixed for its lifetime.
    fn capabilities(&self) -> &Capabilities;

    /// Fills `frame` (sized by [`SensorFrame::for_robot`]) with the latest measurements.
    /// On error the frame keeps its previous contents.
    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError>;

    /// Sends one command per joint.
    fn write(&mut self, now: Timestamp, frame: &CommandFrame) -> Result<(), HalError>;

    /// The link's counters.
    fn link_health(&self) -> LinkHealth;
}
