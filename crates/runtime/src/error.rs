//! [`RuntimeError`]: why a session could not be built or run.

use std::path::PathBuf;

/// Why a session could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The robot model could not be loaded.
    #[error("robot: {0}")]
    Robot(#[from] embody_model::ModelError),
    /// The loop could not be built or started.
    #[error(transparent)]
    Control(#[from] embody_control::ControlError),
    /// The simulator refused its settings.
    #[error(transparent)]
    Sim(#[from] embody_sim::SimError),
    /// The task file was refused, located.
    #[error(transparent)]
    Task(#[from] embody_planner::TaskError),
    /// The unit, its configuration or its bridge.
    #[error(transparent)]
    Fleet(#[from] embody_fleet::FleetError),
    /// A policy package was refused, or a policy step failed.
    #[error(transparent)]
    Policy(#[from] embody_policy::PolicyError),
    /// The recording to Rerun failed.
    #[error("rerun: {0}")]
    Viz(#[from] embody_viz::VizError),
    /// A dataset could not be written or read.
    #[error("dataset: {0}")]
    Dataset(#[from] embody_dataset::DatasetError),
    /// The site's network.
    #[error("the site's network: {0}")]
    Net(#[from] embody_net::NetError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The session is described inconsistently.
    #[error("{0}")]
    Invalid(String),
    /// The real-time loop published nothing.
    #[error("the loop published nothing in {seconds} s (its events: {events})")]
    Silent {
        /// How long it was waited for.
        seconds: f64,
        /// The events it raised meanwhile.
        events: String,
    },
    /// The real-time loop would not arm and start.
    #[error("the loop would not arm within {seconds} s: it refused: {refused}")]
    NotArmed {
        /// How long it was asked.
        seconds: f64,
        /// Why it last refused.
        refused: String,
    },
}
