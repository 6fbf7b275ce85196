//! [`CliError`]: every error a command can end with. The libraries' typed errors pass
//! through unchanged (their messages say where and why); `main` prints any of them the
//! same way, once, and exits non-zero.

use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A session failed to build or run.
    #[error(transparent)]
    Runtime(#[from] embody_runtime::RuntimeError),
    /// A unit's configuration, bridge or calibration.
    #[error(transparent)]
    Fleet(#[from] embody_fleet::FleetError),
    /// A task file.
    #[error(transparent)]
    Task(#[from] embody_planner::TaskError),
    /// A robot model.
    #[error("robot: {0}")]
    Model(#[from] embody_model::ModelError),
    /// A scenario file.
    #[error(transparent)]
    Scenario(#[from] embody_sim::ScenarioError),
    /// A signing key.
    #[error(transparent)]
    Key(#[from] embody_fleet::keys::KeyError),
    /// A firmware file too large or unreadable.
    #[error(transparent)]
    ImageFile(#[from] embody_fleet::image_file::ReadError),
    /// The virtual MCU.
    #[error(transparent)]
    Vmcu(#[from] embody_vmcu::VmcuError),
    /// The network: joining it, or a unit or router on it.
    #[error(transparent)]
    Net(#[from] embody_net::NetError),
    /// A file.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Arguments that do not fit together or are out of range.
    #[error("{0}")]
    Usage(String),
    /// The command ran and what it did failed (a task, units being flashed).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// A file error at `path`.
    pub fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> CliError {
        CliError::File {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A command's result.
pub type Result<T = ()> = std::result::Result<T, CliError>;
