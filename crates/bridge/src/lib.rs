//! embody-bridge: the host side of the path to the motors.
//!
//! - [`map`]: the default actuator map of a robot onto CAN buses.
//! - [`link`]: opening, handshaking and configuring the bridge (off the loop thread).
//! - [`BridgeRobot`]: the bridge on a serial port as a HAL `Robot`, with link
//!   supervision and reconnection.

mod fd_io;
pub mod link;
pub mod map;
mod robot;

pub use link::{BridgeInfo, LinkError};
pub use map::{MapError, default_map};
pub use robot::{BridgeError, BridgeRobot, fault_bits};
