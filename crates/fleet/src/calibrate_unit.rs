//! Calibrating a unit through its bridge, as one transaction: the unit's stored
//! calibration is cleared while its joints are driven (the procedure needs raw
//! positions) and put back if the procedure fails; on success the calibration layer is
//! written (`calibration/<serial>.toml`, with the tool and a hash) and, unless asked
//! not to, the unit's record is stored with it and the calibrated joints are read back
//! within their limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use embody_bridge::BridgeRobot;
use embody_bridge::service::Service;
use embody_hal::{Clock, Robot, SensorFrame, SystemClock};
use embody_protocol::messages::UnitRecord;

use crate::calibrate::{JointResult, Options, calibrate, to_calibration, write_calibration};
use crate::config::Calibration;
use crate::error::FleetError;
use crate::unit::{TOOL, Unit};

/// What calibrating a unit did.
#[derive(Clone, Debug)]
pub struct CalibrationRun {
    /// Each joint's result, in joint order.
    pub results: Vec<JointResult>,
    /// The calibration layer written.
    pub calibration: Calibration,
    /// Where it was written.
    pub file: PathBuf,
    /// Whether it was stored on the unit (and the joints then read within limits).
    pub applied: bool,
}

/// Calibrates `unit` through the bridge at `port`; stores the result on the unit when
/// `apply`. `progress` hears each step of the procedure.
pub fn calibrate_unit(
    unit: &Unit,
    port: &Path,
    options: &Options,
    apply: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<CalibrationRun, FleetError> {
    let wanted = unit.record()?;
    let mut service = Service::open(port)?;
    let before = service.unit()?;
    let mut raw: UnitRecord = wanted.clone();
    raw.calibration.clear();
    service.store_unit(&raw)?;
    drop(service);
    let restore = |error: FleetError| -> FleetError {
        let put_back = before.as_ref().map_or(Ok(()), |old| {
            Service::open(port)
                .map_err(FleetError::from)
                .and_then(|mut s| s.store_unit(old).map_err(FleetError::from))
        });
        match put_back {
            Ok(()) => error,
            Err(undo) => FleetError::NotUndone {
                error: Box::new(error),
                undo: Box::new(undo),
            },
        }
    };
    let setup = unit.setup();
    let results = BridgeRobot::connect(port, &unit.model, &setup)
        .map_err(FleetError::from)
        .and_then(|mut robot| {
            calibrate(&mut robot, &unit.model, options, progress).map_err(FleetError::from)
        })
        .map_err(restore)?;
    let calibration = to_calibration(&results, TOOL);
    let file = write_calibration(&unit.dir, unit.serial(), &calibration).map_err(|source| {
        restore(FleetError::Io {
            path: unit.dir.join("calibration"),
            source,
        })
    })?;
    if apply {
        // The unit as it is now, calibration file included.
        let calibrated = Unit::load(&unit.dir, unit.serial())?;
        calibrated.apply(port)?;
        check_within_limits(&calibrated, port)?;
    }
    Ok(CalibrationRun {
        results,
        calibration,
        file,
        applied: apply,
    })
}

/// Reads the calibrated joints once through the unit's setup: each must be within its
/// limits (1 cm or 10 mrad of margin).
fn check_within_limits(unit: &Unit, port: &Path) -> Result<(), FleetError> {
    let mut robot = unit.connect(port)?;
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    std::thread::sleep(Duration::from_millis(20));
    robot.read(SystemClock.now(), &mut frame).map_err(|e| {
        FleetError::Calibration(crate::calibrate::CalibrationError::Robot(e.to_string()))
    })?;
    let model = &unit.model;
    let outside: Vec<String> = model
        .actuated_joints()
        .zip(&frame.joints)
        .filter_map(|(j, state)| {
            let l = &model.joints[j.0].limits;
            let margin = 0.01;
            (state.q < l.lower - margin || state.q > l.upper + margin)
                .then(|| format!("{} at {:+.4}", model.joints[j.0].name, state.q))
        })
        .collect();
    if outside.is_empty() {
        Ok(())
    } else {
        Err(FleetError::OutsideLimits {
            serial: unit.serial().to_owned(),
            joints: outside.join(", "),
        })
    }
}
