//! [`NetError`]: why joining the network, or a message on it, failed — each saying
//! which unit, key or endpoint and why.

/// Why an operation on the network failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A fleet or unit name that cannot be part of a key expression.
    #[error("{what} '{name}': {why}")]
    Name {
        /// "fleet" or "unit".
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The zenoh session could not be opened or configured.
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// A message that does not decode.
    #[error("{what}: {why}")]
    Malformed {
        /// Which message ("state from embody/lab/A1/state", …).
        what: String,
        /// Why.
        why: String,
    },
    /// A setting out of range.
    #[error("{0}")]
    Invalid(String),
    /// A certificate, key or the fleet's CA directory that cannot be used.
    #[error("{}: {why}", path.display())]
    Certs {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The link's thread could not start or stopped abnormally.
    #[error("the network link's thread: {0}")]
    Thread(String),
}

impl NetError {
    /// A zenoh failure, with what was being done.
    pub(crate) fn zenoh(doing: &str, e: impl std::fmt::Display) -> NetError {
        NetError::Zenoh(format!("{doing}: {e}"))
    }
}
