//! Reading one episode back: [`read_episode`] checks the dataset first (a reader of many
//! episodes checks once and calls [`read_checked_episode`]); a dataset with problems is
//! refused, with the first of them. Then it takes the episode's rows of the
//! vector features asked for from the frames' tables, in frame order.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, RecordBatch};

use crate::check::{DatasetReport, EpisodeInfo, check, ints, nested_parquet, read_table};
use crate::error::DatasetError;

/// A vector feature read back: its key, its elements' names and one vector per frame.
pub type FeatureFrames = (String, Vec<String>, Vec<Vec<f64>>);

/// An episode's vector features, read back.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEpisode {
    /// What the episodes' table says of it.
    pub info: EpisodeInfo,
    /// The dataset's frames per second.
    pub fps: u32,
    /// The robot (`robot_type`), if it says.
    pub robot_type: Option<String>,
    /// Each feature asked for: its key, its elements' names and one vector per frame.
    pub features: Vec<FeatureFrames>,
}

impl RecordedEpisode {
    /// Feature `key`'s names and frames, if it was read.
    pub fn feature(&self, key: &str) -> Option<(&[String], &[Vec<f64>])> {
        (self.features.iter())
            .find(|(k, _, _)| k == key)
            .map(|(_, names, frames)| (names.as_slice(), frames.as_slice()))
    }
}

/// Episode `episode` of the dataset in `dir`, with `keys`' frames (vector features).
pub fn read_episode(
    dir: &Path,
    episode: u64,
    keys: &[&str],
) -> Result<RecordedEpisode, DatasetError> {
    read_checked_episode(&check(dir)?, episode, keys)
}

/// [`read_episode`] of a dataset [`check`] has read already (`report`): a reader of
/// many episodes checks the dataset once.
pub fn read_checked_episode(
    report: &DatasetReport,
    episode: u64,
    keys: &[&str],
) -> Result<RecordedEpisode, DatasetError> {
    usable(report)?;
    let dir = report.dir.as_path();
    let info = (report.episodes.iter())
        .find(|e| e.index == episode)
        .cloned()
        .ok_or_else(|| {
            DatasetError::invalid(
                &dir.join("meta/episodes"),
                format!(
                    "no episode {episode}: the dataset has {} (0 to {})",
                    report.episodes.len(),
                    report.episodes.len().saturating_sub(1)
                ),
            )
        })?;
    let mut features = Vec::new();
    for key in keys {
        let feature = report.info.features.get(*key).filter(|f| !f.is_video());
        let Some(feature) = feature else {
            return Err(DatasetError::invalid(
                &dir.join("meta/info.json"),
                format!("no vector feature {key:?}"),
            ));
        };
        let names = feature.names.clone().unwrap_or_default();
        features.push((key.to_string(), names, Vec::new()));
    }
    for path in nested_parquet(dir, "data") {
        let (batches, _) = read_table(&path)?;
        for batch in &batches {
            take_rows(&path, batch, episode, &mut features)?;
        }
    }
    for (key, _, frames) in &features {
        if frames.len() as u64 != info.length {
            return Err(DatasetError::invalid(
                dir,
                format!(
                    "episode {episode}: {} frames of {key:?}, the episodes' table says {}",
                    frames.len(),
                    info.length
                ),
            ));
        }
    }
    Ok(RecordedEpisode {
        info,
        fps: report.info.fps,
        robot_type: report.info.robot_type.clone(),
        features,
    })
}

/// The dataset's problems as one error, if it has any.
fn usable(report: &DatasetReport) -> Result<(), DatasetError> {
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(DatasetError::invalid(
            &first.path,
            format!(
                "{} (and {} more problems: `embody dataset check {}` lists them)",
                first.why,
                report.problems.len() - 1,
                report.dir.display()
            ),
        )),
    }
}

/// Appends `batch`'s rows of `episode` to each feature, in frame order.
fn take_rows(
    path: &Path,
    batch: &RecordBatch,
    episode: u64,
    features: &mut [FeatureFrames],
) -> Result<(), DatasetError> {
    let episodes = ints(batch, "episode_index").map_err(|why| DatasetError::invalid(path, why))?;
    let rows: Vec<usize> = (0..episodes.len())
        .filter(|&k| episodes[k] == episode as i64)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    for (key, _, frames) in features.iter_mut() {
        let column = batch
            .column_by_name(key)
            .ok_or_else(|| DatasetError::invalid(path, format!("no column {key:?}")))?;
        let list = column.as_fixed_size_list_opt().ok_or_else(|| {
            DatasetError::invalid(path, format!("column {key:?} is not a fixed-size list"))
        })?;
        let width = list.value_length() as usize;
        let values = list.values();
        let flat: Vec<f64> = if let Some(v) = values.as_primitive_opt::<Float32Type>() {
            v.values().iter().map(|&x| f64::from(x)).collect()
        } else if let Some(v) = values.as_primitive_opt::<Float64Type>() {
            v.values().to_vec()
        } else {
            return Err(DatasetError::invalid(
                path,
                format!("column {key:?} holds {}, not floats", values.data_type()),
            ));
        };
        for &k in &rows {
            let start = (list.value_offset(k) as usize).min(flat.len());
            let end = (start + width).min(flat.len());
            frames.push(flat[start..end].to_vec());
        }
    }
    Ok(())
}
