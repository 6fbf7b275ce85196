//! embody-control: the real-time motion loop.
//!
//! [`LoopCore`] runs one tick in the fixed order read → estimate → control → safety →
//! write; [`spawn`] runs it on a dedicated thread at a fixed rate on absolute deadlines.
//! The planner and operators talk to it only through the lock-free [`LoopClient`]:
//! trajectory [`Segment`]s and [`LoopCommand`]s in, [`StateSnapshot`]s, [`Event`]s and
//! [`TimingReport`]s out. The controllers ([`JointPd`], [`ComputedTorque`],
//! [`CartesianImpedance`]), the [`TrajectoryFollower`] and the safety [`Supervisor`] are
//! plain structs usable on their own.
//!
//! ```
//! use std::sync::Arc;
//! use embody_control::{ControlConfig, LoopCore, Request};
//! use embody_hal::{MockRobot, Robot, Timestamp};
//! let model = Arc::new(embody_model::robots::load("arm7", None).unwrap());
//! let mut robot = MockRobot::new(&model);
//! let (mut core, client) = LoopCore::new(model, robot.capabilities(), ControlConfig::default()).unwrap();
//! client.request(Request::Arm).unwrap();
//! client.request(Request::Start).unwrap();
//! for tick in 0..100u64 {
//!     core.tick(&mut robot, Timestamp::from_nanos(tick * 1_000_000));
//! }
//! assert_eq!(core.lifecycle(), embody_control::Lifecycle::Running);
//! ```

mod channels;
mod controllers;
mod core;
mod events;
mod os;
mod runner;
mod safety;
mod snapshot;
pub mod targets;
mod timing;
mod trajectory;

pub use channels::{ChannelStats, LoopClient, LoopCommand, QueueFull};
pub use controllers::{
    CartesianConfig, CartesianImpedance, ComputedTorque, ComputedTorqueConfig, ControlInput,
    ControllerKind, JointFriction, JointPd, JointPdConfig, PRISMATIC_SCALE, equivalent_torque,
    gain_scale,
};
pub use core::{ControlConfig, LoopCore};
pub use events::{Cause, Event, EventKind, Lifecycle};
pub use os::set_fifo_priority;
pub use runner::{LoopHandle, RtConfig, RtStatus, spawn};
pub use safety::{Observation, Request, SafetyConfig, Supervisor};
pub use snapshot::{
    Cursor, MAX_FORCE_SENSORS, Next, SNAPSHOT_SLOTS, SnapshotReader, SnapshotWriter, StateSnapshot,
    snapshot_buffer,
};
pub use timing::{Histogram, LoopTiming, Percentiles, TimingReport};
pub use trajectory::{
    FollowerStatus, Interpolation, JointPoint, MAX_JOINTS, Segment, SegmentError,
    TrajectoryFollower,
};

/// Why the loop could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The rate is outside 100 Hz – 10 kHz.
    #[error("loop rate {0} Hz is outside 100–10000 Hz")]
    Rate(f64),
    /// The robot has more joints than the loop's fixed buffers hold.
    #[error("the robot has {0} joints; the loop supports at most {MAX_JOINTS}")]
    TooManyJoints(usize),
    /// The estimator could not be built for this robot.
    #[error(transparent)]
    Estimator(#[from] embody_perception::EstimatorError),
    /// A configured frame is not in the model.
    #[error("frame `{0}` is not in the model")]
    UnknownFrame(String),
    /// The loop thread could not be started.
    #[error("could not start the loop thread: {0}")]
    Spawn(std::io::Error),
    /// The loop thread panicked.
    #[error("the loop thread panicked")]
    LoopPanicked,
}
