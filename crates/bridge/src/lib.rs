//! embody-bridge: the host side of the path to the motors.
//!
//! - [`UnitSetup`]: what a bridge is configured with (made by `embody-fleet` from a
//!   unit's configuration).
//! - [`link`]: opening, handshaking and configuring the bridge (off the loop thread).
//! - [`BridgeRobot`]: the bridge on a serial port as a HAL `Robot`, with link
//!   supervision and reconnection.
//! - [`SlcanRobot`]: MIT motors through a plain SLCAN adapter, the host running the bus.
//! - [`ServoRobot`]: Dynamixel or Feetech servos on a serial bus, the host running it.
//! - [`Cia402Robot`]: CiA 402 drives behind an SLCAN adapter, the host their CANopen
//!   master.
//! - [`service`]: a unit's firmware and record over the same link; [`flasher`]
//!   installs a signed image on one unit.

mod cia402_robot;
mod fd_io;
pub mod flasher;
pub mod link;
mod robot;
pub mod service;
mod servo_robot;
mod setup;
mod slcan_port;
mod slcan_robot;

pub use cia402_robot::{
    Cia402Error, Cia402Robot, Cia402Setup, DriveScale, HOST_NODE, PdoLayout, drive_command_modes,
    fault_of_error_code,
};
pub use link::{BridgeInfo, LinkError};
pub use robot::{BridgeError, BridgeRobot, fault_bits};
pub use servo_robot::{
    PRISMATIC_TRAVEL_PER_TURN_M, ServoFamily, ServoRobot, ServoRobotError, travel_per_turn,
};
pub use setup::{SetupError, UnitSetup, actuator_variant_name, variant_name};
pub use slcan_port::{SlcanPort, SlcanPortError};
pub use slcan_robot::{SlcanRobot, SlcanRobotError};
