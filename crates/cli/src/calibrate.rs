//! `embody calibrate --unit SERIAL`: runs the calibration procedure on a unit through
//! its bridge, connected with the unit's own actuator setup
//! (`embody_fleet::calibrate_unit`), writes its calibration layer and stores the record
//! on the bridge, which applies it from then on.

use std::path::PathBuf;

use clap::Args;
use embody_fleet::Unit;
use embody_fleet::calibrate::{DirectionFrom, Options};
use embody_fleet::calibrate_unit::calibrate_unit;
use serde_json::json;

use crate::error::{CliError, Result};

/// Arguments of `embody calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The unit's serial number.
    #[arg(long, value_name = "SERIAL")]
    unit: String,
    /// The fleet directory (the calibration file is written under it).
    #[arg(long, default_value = "examples/fleet")]
    dir: PathBuf,
    /// The bridge's serial port (default: the unit's `port`).
    #[arg(long)]
    port: Option<PathBuf>,
    /// Largest mounting error to expect (rad).
    #[arg(long, default_value_t = 0.5)]
    max_zero: f64,
    /// Seek speed as a share of each joint's velocity limit.
    #[arg(long, default_value_t = 0.5)]
    speed: f64,
    /// Write the calibration file only; do not store it on the unit.
    #[arg(long)]
    no_apply: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `embody calibrate`.
pub fn run(args: &CalibrateArgs) -> Result {
    if !(args.speed > 0.0 && args.speed <= 1.0) {
        return Err(CliError::Usage(format!(
            "--speed {} is outside (0, 1]",
            args.speed
        )));
    }
    if !(args.max_zero > 0.0 && args.max_zero <= std::f64::consts::PI) {
        return Err(CliError::Usage(format!(
            "--max-zero {} is outside (0, π]",
            args.max_zero
        )));
    }
    let unit = Unit::load(&args.dir, &args.unit)?;
    let port = unit.port(args.port.as_deref())?;
    eprintln!(
        "{}: calibrating {} joints of {} on {} (each driven into both stops)",
        args.unit,
        unit.joint_names().len(),
        unit.config.robot,
        port.display()
    );
    let options = Options {
        max_zero: args.max_zero,
        speed: args.speed,
        ..Options::default()
    };
    let run = calibrate_unit(&unit, &port, &options, !args.no_apply, &mut |step| {
        eprintln!("  {step}")
    })?;
    eprintln!("{}: wrote {}", args.unit, run.file.display());
    if run.applied {
        eprintln!(
            "{}: stored on the unit; calibrated joints read within their limits",
            args.unit
        );
    }
    if args.json {
        let joints: Vec<_> = run
            .results
            .iter()
            .map(|r| {
                json!({
                    "joint": r.name,
                    "zero_offset_rad": r.zero_offset_rad,
                    "direction": r.direction,
                    "direction_from": match r.direction_from {
                        DirectionFrom::Stops => "stops",
                        DirectionFrom::Assumed => "assumed",
                    },
                    "stops": [r.stops.minus, r.stops.plus],
                })
            })
            .collect();
        let out = json!({
            "unit": args.unit,
            "file": run.file.display().to_string(),
            "hash": run.calibration.hash,
            "tool": run.calibration.tool,
            "applied": run.applied,
            "within_limits": run.applied.then_some(true),
            "joints": joints,
        });
        println!("{out}");
    } else {
        for r in &run.results {
            println!("{:>20}  {r}", r.name);
        }
    }
    Ok(())
}
