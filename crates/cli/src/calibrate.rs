//! `embody calibrate --unit SERIAL`: runs the calibration procedure on a unit through
//! its bridge, connected with the unit's own actuator setup
//! (`embody_fleet::calibrate_unit`), writes its calibration layer and stores the record
//! on the bridge, which applies it from then on.

use std::path::PathBuf;

use clap::Args;
use embody_fleet::calibrate::{DirectionFrom, Options};
use embody_fleet::calibrate_unit::calibrate_unit;
use embody_fleet::{Unit, name};
use serde_json::json;

use crate::error::Result;
use crate::numbers::float;

/// Arguments of `embody calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The unit's serial number.
    #[arg(long, value_name = "SERIAL", value_parser = name::parse_serial)]
    unit: String,
    /// The fleet directory (the calibration file is written under it).
    #[arg(long, default_value = "examples/fleet")]
    dir: PathBuf,
    /// The bridge's serial port (default: the unit's `port`).
    #[arg(long)]
    port: Option<PathBuf>,
    /// Largest mounting error to expect (rad).
    #[arg(long, default_value_t = 0.5, value_parser = float(0.001..=std::f64::consts::PI, " rad"))]
    max_zero: f64,
    /// Seek speed as a share of each joint's velocity limit.
    #[arg(long, default_value_t = 0.5, value_parser = float(0.01..=1.0, ""))]
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
