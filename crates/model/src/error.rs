//! Errors from building a model. Each names the robot description, the element and the
//! reason, so an integrator can fix the file without a debugger.

use std::path::PathBuf;

/// Why a robot description could not be turned into a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read robot description {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not a well-formed URDF.
    #[error("{source_name}: not a valid URDF: {reason}")]
    Parse {
        /// File name or built-in robot name.
        source_name: String,
        /// What the parser reported.
        reason: String,
    },
    /// An element is present but its content is invalid.
    #[error("{source_name}: {element}: {reason}")]
    Invalid {
        /// File name or built-in robot name.
        source_name: String,
        /// The offending element, e.g. `joint 'elbow'` or `link 'hand'`.
        element: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The links and joints do not form a single tree.
    #[error("{source_name}: not a kinematic tree: {reason}")]
    NotATree {
        /// File name or built-in robot name.
        source_name: String,
        /// What is wrong (cycle, several roots, ...).
        reason: String,
    },
    /// No built-in robot has this name and no file exists at this path.
    #[error("unknown robot '{name}': not a built-in robot ({known}) and no such file")]
    UnknownRobot {
        /// What was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
}
