//! embody-bridge: the host side of the path to the motors.
//!
//! - [`map`]: the default actuator map of a robot onto CAN buses.
//! - [`link`]: opening, handshaking and configuring the bridge (off the loop thread).
//! - [`BridgeRobot`]: the bridge on a serial port as a HAL `Robot`, with link
//!   supervision and reconnection.
//! - [`SlcanRobot`]: MIT motors through a plain SLCAN adapter, the host running the bus.
//! - [`service`]: a unit's firmware and record over the same link; [`flasher`]
//!   installs a signed image on one unit.

mod fd_io;
pub mod flasher;
pub mod link;
pub mod map;
mod robot;
pub mod service;
mod slcan_robot;

pub use link::{BridgeInfo, LinkError};
pub use map::{MapError, default_map, slcan_map};
pub use robot::{BridgeError, BridgeRobot, fault_bits};
pub use slcan_robot::{SlcanRobot, SlcanRobotError};
