//! `embody calibrate <unit>`: runs the calibration procedure on a unit through its
//! bridge, writes the unit's calibration layer (`calibration/<serial>.toml`, with the
//! tool and a hash) and stores the record on the bridge, which applies it from then on.
//! The unit's stored calibration is cleared while the joints are driven (the procedure
//! needs raw positions) and put back if the procedure fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use embody_bridge::BridgeRobot;
use embody_bridge::service::Service;
use embody_fleet::calibrate::{self, DirectionFrom, Options};
use embody_fleet::{check, record};
use embody_hal::{Clock, Robot, SensorFrame, SystemClock};
use embody_protocol::messages::UnitRecord;
use serde_json::json;

use crate::config::{TOOL, checked};

/// Arguments of `embody calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The unit's serial number.
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

fn joint_positions(robot: &mut BridgeRobot) -> Result<Vec<f64>, String> {
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    std::thread::sleep(Duration::from_millis(20));
    robot
        .read(SystemClock.now(), &mut frame)
        .map_err(|e| e.to_string())?;
    Ok(frame.joints.iter().map(|j| j.q).collect())
}

/// Runs `embody calibrate`.
pub fn run(args: &CalibrateArgs) -> Result<(), String> {
    if !(args.speed > 0.0 && args.speed <= 1.0) {
        return Err(format!("--speed {} is outside (0, 1]", args.speed));
    }
    if !(args.max_zero > 0.0 && args.max_zero <= std::f64::consts::PI) {
        return Err(format!("--max-zero {} is outside (0, π]", args.max_zero));
    }
    let (layers, config) = checked(&args.dir, &args.unit)?;
    let model = Arc::new(check::load_model(&layers, &config).map_err(|p| p.to_string())?);
    let port = crate::config::port_of(&layers, &config, args.port.as_ref(), &args.dir)?;
    let wanted = record::record_of(&layers, &config, &model, TOOL).map_err(|p| p.to_string())?;

    let mut service = Service::open(&port).map_err(|e| e.to_string())?;
    let before = service.unit().map_err(|e| e.to_string())?;
    let mut raw: UnitRecord = wanted.clone();
    raw.calibration.clear();
    service.store_unit(&raw).map_err(|e| e.to_string())?;
    drop(service);
    let restore = |why: String| -> String {
        let put_back = before.as_ref().map_or(Ok(()), |old| {
            Service::open(&port)
                .map_err(|e| e.to_string())
                .and_then(|mut s| s.store_unit(old).map_err(|e| e.to_string()))
        });
        match put_back {
            Ok(()) => why,
            Err(e) => format!("{why}; and the unit's previous record could not be put back: {e}"),
        }
    };

    eprintln!(
        "{}: calibrating {} joints of {} on {} (each driven into both stops)",
        args.unit,
        record::joint_names(&model).len(),
        config.robot,
        port.display()
    );
    let options = Options {
        max_zero: args.max_zero,
        speed: args.speed,
        ..Options::default()
    };
    let results = BridgeRobot::connect(&port, &model, config.control.rate_hz)
        .map_err(|e| e.to_string())
        .and_then(|mut robot| {
            calibrate::calibrate(&mut robot, &model, &options, &mut |step| {
                eprintln!("  {step}")
            })
            .map_err(|e| e.to_string())
        })
        .map_err(restore)?;

    let calibration = calibrate::to_calibration(&results, TOOL);
    let path = calibrate::write_calibration(&args.dir, &args.unit, &calibration)
        .map_err(|e| restore(format!("writing the calibration: {e}")))?;
    eprintln!("{}: wrote {}", args.unit, path.display());

    let mut within_limits = None;
    if args.no_apply {
        // The unit keeps raw positions until `embody config apply`.
    } else {
        let (layers, config) = checked(&args.dir, &args.unit)?;
        let record =
            record::record_of(&layers, &config, &model, TOOL).map_err(|p| p.to_string())?;
        let mut service = Service::open(&port).map_err(|e| e.to_string())?;
        service.store_unit(&record).map_err(|e| e.to_string())?;
        drop(service);
        // What the loop sees now: every joint inside its limits.
        let mut robot = BridgeRobot::connect(&port, &model, config.control.rate_hz)
            .map_err(|e| e.to_string())?;
        let q = joint_positions(&mut robot)?;
        let outside: Vec<String> = model
            .actuated_joints()
            .zip(&q)
            .filter_map(|(j, q)| {
                let l = &model.joints[j.0].limits;
                let margin = 0.01;
                (*q < l.lower - margin || *q > l.upper + margin)
                    .then(|| format!("{} at {q:+.4}", model.joints[j.0].name))
            })
            .collect();
        within_limits = Some(outside.is_empty());
        if !outside.is_empty() {
            return Err(format!(
                "{}: stored, but calibrated joints read outside their limits: {}",
                args.unit,
                outside.join(", ")
            ));
        }
        eprintln!(
            "{}: stored on the unit; calibrated joints read within their limits",
            args.unit
        );
    }
    if args.json {
        let joints: Vec<_> = results
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
        println!(
            "{}",
            json!({
                "unit": args.unit,
                "file": path.display().to_string(),
                "hash": calibration.hash,
                "tool": calibration.tool,
                "applied": !args.no_apply,
                "within_limits": within_limits,
                "joints": joints,
            })
        );
    } else {
        for r in &results {
            println!("{:>20}  {r}", r.name);
        }
    }
    Ok(())
}
