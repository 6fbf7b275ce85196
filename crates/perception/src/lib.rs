//! embody-perception: state estimation that runs inside the real-time loop.
//!
//! [`StateEstimator`] turns each tick's [`embody_hal::SensorFrame`] into a
//! [`StateEstimate`] in the model's coordinates. Its stages are plain structs usable on
//! their own: [`AttitudeFilter`] (Mahony, with gyro-bias estimation),
//! [`JointVelocityObserver`] (a tracking observer on encoder positions),
//! [`ContactDetector`] (force or kinematics, debounced), [`BaseEstimator`] (leg odometry
//! fused with the IMU) and [`SensorHealth`] (staleness and outliers). None allocates after
//! construction. Each is tested against synthetic signals with known ground truth.

mod attitude;
mod base;
mod contact;
mod estimator;
mod health;
mod joint_velocity;

pub use attitude::{AttitudeConfig, AttitudeFilter};
pub use base::{BaseConfig, BaseEstimator, BaseInputs, FootKinematics};
pub use contact::{ContactConfig, ContactDetector};
pub use estimator::{EstimatorConfig, StateEstimate, StateEstimator};
pub use health::{HealthConfig, HealthReport, SensorHealth};
pub use joint_velocity::{JointVelocityConfig, JointVelocityObserver};

/// Why an estimator could not be built for a robot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EstimatorError {
    /// The robot and the model disagree on the number of actuated joints.
    #[error("the model has {model} actuated joints but the robot reports {robot}")]
    JointCount {
        /// Actuated joints in the model.
        model: usize,
        /// Joints the robot reports.
        robot: usize,
    },
    /// The robot's joints are not the model's, in the model's order.
    #[error("robot joint `{robot}` is where the model has `{model}`")]
    JointMismatch {
        /// The model's joint name.
        model: String,
        /// The robot's joint name.
        robot: String,
    },
    /// A configured frame is not in the model.
    #[error("{role} frame `{name}` is not in the model")]
    UnknownFrame {
        /// What the frame was for.
        role: &'static str,
        /// The name given.
        name: String,
    },
    /// A floating-base robot without an IMU.
    #[error("a floating-base robot needs an IMU to estimate its base")]
    NoImu,
    /// The IMU is not mounted on the floating base.
    #[error("IMU frame `{0}` is not on the floating base")]
    ImuNotOnBase(String),
    /// Floating-base estimation asked of a fixed-base model.
    #[error("the model has no floating base")]
    NotFloating,
}
