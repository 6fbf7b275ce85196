//! `meta/info.json`: what a LeRobotDataset v3.0 holds — its features (name, dtype, shape,
//! names), rate, robot and counts — and where its files are (path templates with
//! `{chunk_index:03d}`, `{file_index:03d}` and `{video_key}`). Parsed leniently (keys this
//! version does not know are kept out of the way, as LeRobot does) and checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DatasetError;

/// The format version embody writes and reads.
pub const CODEBASE_VERSION: &str = "v3.0";
/// Where a dataset's frames are, by chunk and file.
pub const DATA_PATH: &str = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet";
/// Where a camera's video is, by camera, chunk and file.
pub const VIDEO_PATH: &str = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4";
/// Where the episodes' table is, by chunk and file.
pub const EPISODES_PATH: &str =
    "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet";
/// The columns every frame has besides the recorded features.
pub const INDEX_FEATURES: [&str; 5] = [
    "timestamp",
    "frame_index",
    "episode_index",
    "index",
    "task_index",
];

/// One feature: a column of the frames' table, or a camera's video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// `float32`, `int64`, `video`, `image`, `string`, …
    pub dtype: String,
    /// Per frame: `[n]` for a vector (`[1]` a scalar), `[height, width, channels]` for video.
    pub shape: Vec<usize>,
    /// A name for each element, or `None`.
    pub names: Option<Vec<String>>,
    /// A video's encoding (`video.codec`, `video.pix_fmt`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

impl Feature {
    /// A float32 vector with these element names.
    pub fn vector(names: &[String]) -> Feature {
        Feature {
            dtype: "float32".into(),
            shape: vec![names.len()],
            names: Some(names.to_vec()),
            info: None,
        }
    }

    /// A scalar of `dtype`.
    pub fn scalar(dtype: &str) -> Feature {
        Feature {
            dtype: dtype.into(),
            shape: vec![1],
            names: None,
            info: None,
        }
    }

    /// Whether it is stored as video (not in the frames' table).
    pub fn is_video(&self) -> bool {
        self.dtype == "video"
    }
}

/// `meta/info.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// `v3.0`.
    pub codebase_version: String,
    /// What robot recorded it.
    #[serde(default)]
    pub robot_type: Option<String>,
    /// Episodes.
    #[serde(default)]
    pub total_episodes: u64,
    /// Frames, over all episodes.
    #[serde(default)]
    pub total_frames: u64,
    /// Task descriptions.
    #[serde(default)]
    pub total_tasks: u64,
    /// Files a chunk directory holds at most.
    #[serde(default = "default_chunks_size")]
    pub chunks_size: u64,
    /// Size (MB) at which a writer starts a new frames file.
    #[serde(default = "default_data_mb")]
    pub data_files_size_in_mb: u64,
    /// Size (MB) at which a writer starts a new video file.
    #[serde(default = "default_video_mb")]
    pub video_files_size_in_mb: u64,
    /// Frames per second.
    pub fps: u32,
    /// Named ranges of episodes (`train: "0:N"`).
    #[serde(default)]
    pub splits: BTreeMap<String, String>,
    /// Template of the frames files' paths.
    #[serde(default = "default_data_path")]
    pub data_path: String,
    /// Template of the videos' paths; `None` without cameras.
    #[serde(default)]
    pub video_path: Option<String>,
    /// The features, by name.
    pub features: BTreeMap<String, Feature>,
}

fn default_chunks_size() -> u64 {
    1000
}
fn default_data_mb() -> u64 {
    100
}
fn default_video_mb() -> u64 {
    200
}
fn default_data_path() -> String {
    DATA_PATH.into()
}

impl Info {
    /// Reads and checks `dir/meta/info.json`.
    pub fn read(dir: &Path) -> Result<Info, DatasetError> {
        let path = dir.join("meta/info.json");
        let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
        let info: Info = serde_json::from_str(&text).map_err(|e| DatasetError::Invalid {
            path: path.clone(),
            why: e.to_string(),
        })?;
        info.check()
            .map_err(|why| DatasetError::Invalid { path, why })?;
        Ok(info)
    }

    /// Writes `dir/meta/info.json`.
    pub fn write(&self, dir: &Path) -> Result<(), DatasetError> {
        let path = dir.join("meta/info.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| DatasetError::Invalid {
            path: path.clone(),
            why: e.to_string(),
        })?;
        crate::write_file(&path, text.as_bytes())
    }

    /// What is wrong with it on its own, if anything.
    pub fn check(&self) -> Result<(), String> {
        if !self.codebase_version.starts_with("v3.") {
            return Err(format!(
                "codebase_version {:?}: only v3.x datasets are read (v2 ones need LeRobot's converter)",
                self.codebase_version
            ));
        }
        if self.fps == 0 {
            return Err("fps is 0".into());
        }
        for name in INDEX_FEATURES {
            if !self.features.contains_key(name) {
                return Err(format!("feature {name:?} is missing"));
            }
        }
        for (name, feature) in &self.features {
            if name.contains('/') {
                return Err(format!("feature {name:?}: a name may not contain '/'"));
            }
            if feature.shape.is_empty() || feature.shape.contains(&0) {
                return Err(format!("feature {name:?}: shape {:?}", feature.shape));
            }
            if let Some(names) = &feature.names
                && feature.shape.len() == 1
                && names.len() != feature.shape[0]
            {
                return Err(format!(
                    "feature {name:?}: {} names for shape {:?}",
                    names.len(),
                    feature.shape
                ));
            }
            if feature.is_video() && feature.shape.len() != 3 {
                return Err(format!(
                    "video {name:?}: shape {:?}, not [height, width, channels]",
                    feature.shape
                ));
            }
        }
        if self.video_keys().next().is_some() && self.video_path.is_none() {
            return Err("there are videos but no video_path".into());
        }
        Ok(())
    }

    /// The video features' names.
    pub fn video_keys(&self) -> impl Iterator<Item = &str> {
        (self.features.iter())
            .filter(|(_, f)| f.is_video())
            .map(|(k, _)| k.as_str())
    }

    /// The frames file `(chunk, file)` under `dir`.
    pub fn data_file(&self, dir: &Path, chunk: u64, file: u64) -> PathBuf {
        dir.join(fill(&self.data_path, "", chunk, file))
    }

    /// Camera `key`'s video file `(chunk, file)` under `dir`, if the dataset has videos.
    pub fn video_file(&self, dir: &Path, key: &str, chunk: u64, file: u64) -> Option<PathBuf> {
        (self.video_path.as_ref()).map(|t| dir.join(fill(t, key, chunk, file)))
    }
}

/// `template` with its `{video_key}`, `{chunk_index…}` and `{file_index…}` filled in
/// (`:03d` pads to three digits; any width works).
pub fn fill(template: &str, video_key: &str, chunk: u64, file: u64) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let field = &rest[open + 1..open + close];
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        let width = (spec.strip_prefix('0'))
            .and_then(|s| s.strip_suffix('d'))
            .and_then(|w| w.parse::<usize>().ok())
            .unwrap_or(0);
        match name {
            "video_key" => out.push_str(video_key),
            "chunk_index" => out.push_str(&format!("{chunk:0width$}")),
            "file_index" => out.push_str(&format!("{file:0width$}")),
            _ => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_as_python_formats_them() {
        assert_eq!(
            fill(DATA_PATH, "", 0, 12),
            "data/chunk-000/file-012.parquet"
        );
        assert_eq!(
            fill(VIDEO_PATH, "observation.images.wrist", 1, 1000),
            "videos/observation.images.wrist/chunk-001/file-1000.mp4"
        );
        assert_eq!(fill("a/{other}/{chunk_index}", "", 7, 0), "a/{other}/7");
    }

    proptest::proptest! {
        #[test]
        fn any_template_fills_without_panicking(t in ".{0,40}") {
            let _ = fill(&t, "k", 3, 4);
        }
    }
}
