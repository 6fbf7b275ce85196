//! embody-bridge: the host side of the path to the motors.
//!
//! - [`map`]: the default actuator map of a robot onto CAN buses.

pub mod map;

pub use map::{MapError, default_map};
