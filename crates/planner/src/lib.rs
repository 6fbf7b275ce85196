//! embody-planner: what developers write and what the loop follows.
//!
//! - [`scurve`]: jerk-limited rest-to-rest profiles (double-S).
//! - [`motion`]: synchronised joint moves and Cartesian straight lines through IK.
//! - [`task`]: task files as written, with line numbers for errors.
//! - [`numbers`]: the range of every number a task file gives, and why one outside it
//!   is refused.
//! - [`plan`]: a task checked against the robot, every motion planned once up front.
//! - [`executor`]: runs a plan against the loop, streaming segments and reporting steps.

pub mod executor;
pub mod motion;
pub mod numbers;
pub mod plan;
pub mod scurve;
pub mod task;

pub use executor::{
    Executor, Observation, Outcome, Progress, SEEN_FRESH_S, SeenObject, Status, StepReport,
};
pub use motion::{Chain, JointMove, LineOptions, LinePath, Motion, MotionError, chain_joints};
pub use plan::{Action, Condition, Plan, PolicyStep, PoseMotion, Relative, RobotInfo, Step, check};
pub use scurve::{Limits, SCurve};
pub use task::{MAX_TASK_BYTES, RawTask, Source, TaskError};
