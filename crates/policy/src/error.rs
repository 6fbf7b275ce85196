//! Why a policy package was refused or a step failed: problems located in the package's
//! files (`policy.toml: key: reason`), and the inference engine's errors.

use std::path::{Path, PathBuf};

/// One problem with a package, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Where in it: a key (`inputs[0].terms[2].scale`), a line, or empty for the file.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl Problem {
    /// A problem at `key` of `file`.
    pub fn new(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.display();
        if self.key.is_empty() {
            write!(f, "{file}: {}", self.reason)
        } else {
            write!(f, "{file}: {}: {}", self.key, self.reason)
        }
    }
}

/// Why a package could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The package's files say something wrong, each problem located.
    #[error("{}", list(.0))]
    Problems(Vec<Problem>),
    /// The inference engine failed on a step.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The network's action is not a number: the step is refused (the runner faults).
    #[error("the network's action value {index} is {value}, not a finite number")]
    NonFinite {
        /// Its index in the output.
        index: usize,
        /// What it was.
        value: f32,
    },
}

impl From<Problem> for PolicyError {
    fn from(p: Problem) -> PolicyError {
        PolicyError::Problems(vec![p])
    }
}

fn list(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let lines: Vec<String> = many.iter().map(|p| format!("  {p}")).collect();
            format!("{} problems:\n{}", many.len(), lines.join("\n"))
        }
    }
}
