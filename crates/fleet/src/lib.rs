//! embody-fleet: what an integrator needs to bring up many units, and the source of
//! every unit's actuator map.
//!
//! - [`config`], [`check`]: a unit's configuration in layers, checked against the robot
//!   with every problem located.
//! - [`setup`]: the bridge setup the configuration becomes; [`defaults`]: the generated
//!   default map (`embody config init`, and runs without a unit).
//! - [`record`]: the record the configuration becomes on the unit's bridge, and what
//!   differs from the one it holds, key by key.
//! - [`Unit`]: a unit's operations — compare, store, and connect to drive its motors
//!   (refused when the unit holds another configuration).
//! - [`calibrate`], [`calibrate_unit`]: the calibration procedure, and the transaction
//!   that runs it on a unit.
//! - [`flash`]: signed images onto many units at once; [`keys`]: the signing keys.
//!   Signed images themselves are `embody-fwimage`'s.
//! - [`name`]: the names that become file names (serials, robots), checked in one place.

pub mod calibrate;
pub mod calibrate_unit;
pub mod check;
pub mod config;
pub mod defaults;
mod error;
pub mod flash;
pub mod image_file;
pub mod keys;
pub mod name;
pub mod record;
pub mod setup;
mod unit;

pub use error::FleetError;
pub use unit::{TOOL, Unit, port_of};

/// `bytes` in lower-case hex (digests, key ids, build ids).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
