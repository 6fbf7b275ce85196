//! Calibrating a unit through its bridge, as one transaction. The unit must hold the
//! host's configuration but for its calibration (or none yet: a unit being brought up),
//! so its motors are driven as configured. Its stored calibration is cleared while its
//! joints are driven (the procedure needs raw positions); on success the calibration
//! layer is written (`calibration/<serial>.toml`, with the tool and a hash) and, unless
//! asked not to, the unit's record is stored with it and the calibrated joints are read
//! back within their limits. Whatever fails before the new record is stored — and a run
//! asked not to store it — puts the unit's previous record back.

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
    options.check()?;
    let mut service = Service::open(port)?;
    let before = service.unit()?;
    unit.compare_but_calibration(port, before.as_ref())?;
    let wanted = unit.record()?;
    let mut raw: UnitRecord = wanted.clone();
    raw.calibration.clear();
    service.store_unit(&raw)?;
    drop(service);
    let restore = |error: FleetError| -> FleetError {
        match put_back(port, before.as_ref()) {
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
    let file = write_calibration(&unit.dir, unit.serial(), &calibration).map_err(restore)?;
    if !apply {
        // The unit keeps what it had; the file waits for `embody config apply`.
        put_back(port, before.as_ref())?;
        return Ok(CalibrationRun {
            results,
            calibration,
            file,
            applied: false,
        });
    }
    // The unit as it is now, calibration file included.
    Unit::load(&unit.dir, unit.serial())
        .and_then(|calibrated| calibrated.apply(port).map(|_| calibrated))
        .map_err(restore)
        .and_then(|calibrated| check_within_limits(&calibrated, port))?;
    Ok(CalibrationRun {
        results,
        calibration,
        file,
        applied: true,
    })
}

/// Stores `before` (the record the unit held) on the unit at `port` again; nothing when
/// it held none.
fn put_back(port: &Path, before: Option<&UnitRecord>) -> Result<(), FleetError> {
    match before {
        Some(old) => Ok(Service::open(port)?.store_unit(old)?),
        None => Ok(()),
    }
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
