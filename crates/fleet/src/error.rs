//! [`FleetError`]: why an operation on a unit failed, every variant saying which unit,
//! port or file and why.

use std::path::PathBuf;

use crate::config::Problem;
use crate::record::Change;

/// Why an operation on a unit failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The unit's configuration does not load or does not pass its checks.
    #[error("{}", problems_text(.0))]
    Problems(Vec<Problem>),
    /// The unit names no port and none was given.
    #[error("{file}: no `port` for unit {serial} (or give --port)")]
    NoPort {
        /// Where the key would go.
        file: PathBuf,
        /// The unit.
        serial: String,
    },
    /// The unit's actuators are drives or servos the host drives: it has no bridge.
    #[error(
        "unit {serial}: its actuators are {family}, which the host drives itself: it has no bridge firmware"
    )]
    NoBridge {
        /// The unit.
        serial: String,
        /// What its actuators are.
        family: &'static str,
    },
    /// The unit's bridge holds no record.
    #[error(
        "unit {serial} on {port}: the bridge holds no configuration record; `embody config apply {serial}` stores it"
    )]
    NoRecord {
        /// The unit.
        serial: String,
        /// Its port.
        port: PathBuf,
    },
    /// The unit's bridge holds another configuration than the host's.
    #[error("{}", mismatch_text(.serial, .port, .changes))]
    Mismatch {
        /// The unit.
        serial: String,
        /// Its port.
        port: PathBuf,
        /// What differs, by key.
        changes: Vec<Change>,
    },
    /// The record read back differs from the one stored.
    #[error("unit {serial}: the record reads back different from the one stored")]
    ReadBack {
        /// The unit.
        serial: String,
    },
    /// No default map for this robot.
    #[error(transparent)]
    Defaults(#[from] crate::defaults::DefaultsError),
    /// The link to the bridge failed.
    #[error(transparent)]
    Link(#[from] embody_bridge::LinkError),
    /// A service request failed.
    #[error(transparent)]
    Service(#[from] embody_bridge::service::ServiceError),
    /// The bridge robot could not be set up.
    #[error(transparent)]
    Bridge(#[from] embody_bridge::BridgeError),
    /// The SLCAN robot could not be set up.
    #[error(transparent)]
    Slcan(#[from] embody_bridge::SlcanRobotError),
    /// A name that would become a file name is not a plain name.
    #[error(transparent)]
    Name(#[from] crate::name::BadName),
    /// The calibration procedure failed.
    #[error(transparent)]
    Calibration(#[from] crate::calibrate::CalibrationError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An operation failed and undoing its first step failed too.
    #[error("{error}; and the unit's previous record could not be put back: {undo}")]
    NotUndone {
        /// What failed.
        error: Box<FleetError>,
        /// Why the undo failed.
        undo: Box<FleetError>,
    },
    /// Calibrated joints read outside their limits.
    #[error("unit {serial}: stored, but calibrated joints read outside their limits: {joints}")]
    OutsideLimits {
        /// The unit.
        serial: String,
        /// The joints and where they read.
        joints: String,
    },
}

fn problems_text(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!(
        "{} problem{}:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        lines.join("\n")
    )
}

fn mismatch_text(serial: &str, port: &std::path::Path, changes: &[Change]) -> String {
    let lines: Vec<String> = changes
        .iter()
        .map(|c| format!("  {}: {} on the unit, {} here", c.key, c.on_unit, c.applied))
        .collect();
    format!(
        "unit {serial} on {}: refusing to enable its motors: its bridge holds another configuration ({} key{} differ{}):\n{}\n`embody config diff {serial}` shows it; `embody config apply {serial}` stores this one",
        port.display(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        if changes.len() == 1 { "s" } else { "" },
        lines.join("\n")
    )
}
