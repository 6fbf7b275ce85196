//! embody-planner: what developers write and what the loop follows.
//!
//! - [`scurve`]: jerk-limited rest-to-rest profiles (double-S).
//! - [`motion`]: synchronised joint moves and Cartesian straight lines through IK.

pub mod motion;
pub mod scurve;

pub use motion::{JointMove, LineOptions, LinePath, Motion, MotionError};
pub use scurve::{Limits, SCurve};
