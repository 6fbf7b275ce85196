//! embody-dataset: demonstrations as LeRobotDataset v3.0, the format the field trains
//! from. [`DatasetWriter`] records episodes — state and action vectors, camera video, a
//! task's text — into `data/`, `videos/` and `meta/`; [`check`] reads a dataset (made by
//! embody or by LeRobot) and says what is wrong with it, file by file; [`read_episode`]
//! reads an episode's vectors back. Nothing here runs on a loop thread.

pub mod check;
mod error;
pub mod info;
mod read;
pub mod stats;
mod tables;
pub mod video;
mod writer;

pub use error::DatasetError;
pub use info::{Feature, Info};
pub use read::{RecordedEpisode, read_checked_episode, read_episode};
pub use tables::{EpisodeRow, VideoSpan};
pub use writer::{
    CameraSpec, DatasetSpec, DatasetSummary, DatasetWriter, EpisodeEnd, MAX_VIDEO_FILE_S,
};

use std::path::Path;

/// Writes `bytes` to `path` whole: under a temporary name first, then renamed.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    }
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).map_err(|e| DatasetError::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| DatasetError::io(path, e))
}
