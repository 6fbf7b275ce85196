//! What can go wrong reading or writing a dataset; each error names the file and why.

use std::path::{Path, PathBuf};

/// A dataset error.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's error.
        source: std::io::Error,
    },
    /// A file holds something the format does not allow, or disagrees with another.
    #[error("{path}: {why}")]
    Invalid {
        /// The file (or the dataset's directory, for a disagreement between files).
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A parquet file could not be read or written.
    #[error("{path}: parquet: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The parquet crate's error.
        source: parquet::errors::ParquetError,
    },
    /// A table could not be built or read.
    #[error("{path}: arrow: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The arrow crate's error.
        source: arrow_schema::ArrowError,
    },
    /// The writer was used out of order, or given frames of the wrong size.
    #[error("{0}")]
    Usage(String),
}

impl DatasetError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> DatasetError {
        DatasetError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, why: impl Into<String>) -> DatasetError {
        DatasetError::Invalid {
            path: path.to_owned(),
            why: why.into(),
        }
    }

    pub(crate) fn parquet(path: &Path, source: parquet::errors::ParquetError) -> DatasetError {
        DatasetError::Parquet {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn arrow(path: &Path, source: arrow_schema::ArrowError) -> DatasetError {
        DatasetError::Arrow {
            path: path.to_owned(),
            source,
        }
    }
}
