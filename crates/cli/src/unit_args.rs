//! The `--unit SERIAL [--dir FLEET]` options shared by the commands that drive a unit's
//! motors: the unit's checked configuration, loaded once.

use std::path::PathBuf;

use clap::Args;
use embody_fleet::Unit;

use crate::error::Result;

/// `--unit SERIAL [--dir FLEET]`.
#[derive(Args, Debug, Clone)]
pub struct UnitArgs {
    /// Drive this unit: its configuration (`units/SERIAL.toml` in the fleet directory)
    /// sets the robot, the loop rate and every actuator's bus, CAN id, variant and
    /// ranges, and is compared with the record on its bridge before any motor is
    /// enabled.
    #[arg(long, value_name = "SERIAL")]
    pub unit: Option<String>,
    /// The fleet directory.
    #[arg(long, default_value = "examples/fleet", requires = "unit")]
    pub dir: PathBuf,
}

impl UnitArgs {
    /// The unit, loaded and checked, if one was asked for.
    pub fn load(&self) -> Result<Option<Unit>> {
        Ok(match &self.unit {
            Some(serial) => Some(Unit::load(&self.dir, serial)?),
            None => None,
        })
    }
}
