//! Writing a dataset, episode by episode: [`DatasetWriter`] takes each frame's vectors
//! (state, action) and camera images, keeps the episode's rows until it ends, then writes
//! them as a row group of the frames' table and its video to each camera's file (a new
//! file before one would pass [`MAX_VIDEO_FILE_S`]); [`DatasetWriter::finish`] writes
//! the tasks, the episodes, the statistics and `info.json`. Frame `k` of an episode is at
//! `k / fps` s: a frame the loop did not keep time for is counted as late, never
//! stretched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::error::DatasetError;
use crate::info::{self, CODEBASE_VERSION, Feature, Info};
use crate::stats::{ImageStats, VectorStats};
use crate::tables::{self, EpisodeRow, TableWriter, VideoSpan};
use crate::video::CameraVideo;

/// A video file is closed before it passes this many seconds: LeRobot compares frame
/// times in float32, which past 1,024 s cannot resolve its 0.1 ms tolerance.
pub const MAX_VIDEO_FILE_S: f64 = 1000.0;

/// What a dataset records.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSpec {
    /// The robot (`robot_type`).
    pub robot_type: String,
    /// Frames per second.
    pub fps: u32,
    /// The vector features, each with its elements' names: `observation.state`, `action`, ….
    pub vectors: Vec<(String, Vec<String>)>,
    /// The cameras: their names (the feature is `observation.images.<name>`) and sizes.
    pub cameras: Vec<CameraSpec>,
}

/// One camera of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSpec {
    /// Its name.
    pub name: String,
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
}

impl CameraSpec {
    /// Its feature's name.
    pub fn key(&self) -> String {
        format!("observation.images.{}", self.name)
    }
}

/// How an episode ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpisodeEnd {
    /// Whether its task succeeded.
    pub success: bool,
    /// Frames the loop did not keep time for.
    pub late_frames: u64,
    /// The seed its scene was drawn from.
    pub seed: u64,
}

/// What a finished dataset holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    /// Where it is.
    pub dir: PathBuf,
    /// Episodes.
    pub episodes: u64,
    /// Frames.
    pub frames: u64,
    /// Episodes whose task succeeded.
    pub successes: u64,
    /// Episodes with late frames.
    pub late_episodes: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// The episode being recorded.
struct Episode {
    task_index: usize,
    frames: u64,
    vectors: Vec<Vec<f32>>,
}

/// Writes a dataset; see the module docs.
pub struct DatasetWriter {
    dir: PathBuf,
    spec: DatasetSpec,
    tasks: Vec<String>,
    episodes: Vec<EpisodeRow>,
    frames_total: u64,
    data: Option<TableWriter>,
    cameras: Vec<CameraVideo>,
    vector_stats: Vec<VectorStats>,
    image_stats: Vec<ImageStats>,
    /// Stats of the index columns: timestamp, frame_index, episode_index, index, task_index.
    index_stats: [VectorStats; 5],
    current: Option<Episode>,
}

impl DatasetWriter {
    /// Starts a dataset in `dir`, which must not hold one already (nothing recorded is
    /// overwritten).
    pub fn create(dir: &Path, spec: DatasetSpec) -> Result<DatasetWriter, DatasetError> {
        if spec.fps == 0 {
            return Err(DatasetError::Usage(
                "a dataset's fps must be at least 1".into(),
            ));
        }
        if dir.join("meta").exists() || dir.join("data").exists() {
            return Err(DatasetError::invalid(
                dir,
                "holds a dataset already: give a new directory (nothing is overwritten)",
            ));
        }
        for (name, names) in &spec.vectors {
            if name.contains('/') || names.is_empty() {
                return Err(DatasetError::Usage(format!(
                    "feature {name:?}: a name without '/' and at least one element"
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
        let cameras = (spec.cameras.iter())
            .map(|c| CameraVideo::new(dir, &c.key(), c.width, c.height, spec.fps))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DatasetWriter {
            dir: dir.to_owned(),
            tasks: Vec::new(),
            episodes: Vec::new(),
            frames_total: 0,
            data: None,
            cameras,
            vector_stats: vec![VectorStats::default(); spec.vectors.len()],
            image_stats: vec![ImageStats::default(); spec.cameras.len()],
            index_stats: Default::default(),
            current: None,
            spec,
        })
    }

    /// The dataset's spec.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// Starts an episode of `task` (its text, as a policy would be told it).
    pub fn begin_episode(&mut self, task: &str) -> Result<(), DatasetError> {
        if self.current.is_some() {
            return Err(DatasetError::Usage(
                "an episode is being recorded already".into(),
            ));
        }
        let task_index = match self.tasks.iter().position(|t| t == task) {
            Some(k) => k,
            None => {
                self.tasks.push(task.to_owned());
                self.tasks.len() - 1
            }
        };
        for camera in &mut self.cameras {
            camera.begin_episode()?;
        }
        self.current = Some(Episode {
            task_index,
            frames: 0,
            vectors: vec![Vec::new(); self.spec.vectors.len()],
        });
        Ok(())
    }

    /// Adds the episode's next frame: each vector feature's values (in the spec's order)
    /// and each camera's RGB image (tightly packed rows).
    pub fn frame(&mut self, vectors: &[&[f32]], images: &[&[u8]]) -> Result<(), DatasetError> {
        let Some(episode) = self.current.as_mut() else {
            return Err(DatasetError::Usage("no episode is being recorded".into()));
        };
        if vectors.len() != self.spec.vectors.len() || images.len() != self.cameras.len() {
            return Err(DatasetError::Usage(format!(
                "a frame of {} vectors and {} images, the dataset has {} and {}",
                vectors.len(),
                images.len(),
                self.spec.vectors.len(),
                self.cameras.len()
            )));
        }
        for (k, ((name, names), values)) in self.spec.vectors.iter().zip(vectors).enumerate() {
            if values.len() != names.len() {
                return Err(DatasetError::Usage(format!(
                    "{name}: {} values, the feature has {}",
                    values.len(),
                    names.len()
                )));
            }
            episode.vectors[k].extend_from_slice(values);
        }
        for (k, (camera, image)) in self.cameras.iter_mut().zip(images).enumerate() {
            camera.frame(image)?;
            // Statistics from one frame in ten (LeRobot samples about a hundred an episode).
            if episode.frames.is_multiple_of(10) {
                self.image_stats[k].add(image, self.spec.cameras[k].width as usize);
            }
        }
        episode.frames += 1;
        Ok(())
    }

    /// Ends the episode: writes its frames and video. An episode without frames is
    /// dropped.
    pub fn end_episode(&mut self, end: EpisodeEnd) -> Result<Option<EpisodeRow>, DatasetError> {
        let Some(episode) = self.current.take() else {
            return Err(DatasetError::Usage("no episode is being recorded".into()));
        };
        if episode.frames == 0 {
            for camera in &mut self.cameras {
                camera.abandon_episode();
            }
            return Ok(None);
        }
        let videos = (self.cameras.iter_mut())
            .map(|c| c.end_episode())
            .collect::<Result<Vec<VideoSpan>, _>>()?;
        let row = EpisodeRow {
            index: self.episodes.len() as u64,
            task: self.tasks[episode.task_index].clone(),
            length: episode.frames,
            data_file: (0, 0),
            from_index: self.frames_total,
            videos,
            success: end.success,
            late_frames: end.late_frames,
            seed: end.seed,
        };
        self.write_frames(&episode, &row)?;
        self.frames_total += episode.frames;
        self.episodes.push(row.clone());
        Ok(Some(row))
    }

    /// Appends `episode`'s rows to the frames' table, as a row group of their own.
    fn write_frames(&mut self, episode: &Episode, row: &EpisodeRow) -> Result<(), DatasetError> {
        let path = info::fill(info::DATA_PATH, "", 0, 0);
        let path = self.dir.join(path);
        let n = episode.frames as usize;
        let fps = f64::from(self.spec.fps);
        let frame_index: Vec<i64> = (0..n as i64).collect();
        let timestamp: Vec<f32> = frame_index
            .iter()
            .map(|&k| (k as f64 / fps) as f32)
            .collect();
        let index: Vec<i64> = (0..n as i64).map(|k| row.from_index as i64 + k).collect();
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (k, (name, names)) in self.spec.vectors.iter().enumerate() {
            fields.push(tables::vector_field(name, names.len()));
            columns.push(tables::vector_column(
                episode.vectors[k].clone(),
                names.len(),
                &path,
            )?);
            for values in episode.vectors[k].chunks_exact(names.len()) {
                let values: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
                self.vector_stats[k].add(&values);
            }
        }
        fields.push(Field::new("timestamp", DataType::Float32, false));
        columns.push(tables::float32_column(timestamp.clone()));
        for name in ["frame_index", "episode_index", "index", "task_index"] {
            fields.push(Field::new(name, DataType::Int64, false));
        }
        columns.push(tables::int_column(frame_index.clone()));
        columns.push(tables::int_column(vec![row.index as i64; n]));
        columns.push(tables::int_column(index.clone()));
        columns.push(tables::int_column(vec![episode.task_index as i64; n]));
        for k in 0..n {
            let values = [
                f64::from(timestamp[k]),
                frame_index[k] as f64,
                row.index as f64,
                index[k] as f64,
                episode.task_index as f64,
            ];
            for (stats, v) in self.index_stats.iter_mut().zip(values) {
                stats.add(&[v]);
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| DatasetError::arrow(&path, e))?;
        if self.data.is_none() {
            self.data = Some(TableWriter::create(&path, schema)?);
        }
        if let Some(data) = self.data.as_mut() {
            data.write(&batch)?;
        }
        Ok(())
    }

    /// Finishes the dataset: closes the frames' table and videos, writes the metadata.
    pub fn finish(mut self) -> Result<DatasetSummary, DatasetError> {
        if self.current.is_some() {
            self.end_episode(EpisodeEnd::default())?;
        }
        if let Some(data) = self.data.take() {
            data.finish()?;
        }
        for camera in std::mem::take(&mut self.cameras) {
            camera.finish()?;
        }
        let keys: Vec<String> = self.spec.cameras.iter().map(CameraSpec::key).collect();
        tables::write_tasks(&self.dir, &self.tasks)?;
        tables::write_episodes(&self.dir, &keys, &self.episodes)?;
        self.write_stats()?;
        self.info().write(&self.dir)?;
        Ok(DatasetSummary {
            dir: self.dir.clone(),
            episodes: self.episodes.len() as u64,
            frames: self.frames_total,
            successes: self.episodes.iter().filter(|e| e.success).count() as u64,
            late_episodes: self.episodes.iter().filter(|e| e.late_frames > 0).count() as u64,
            bytes: dir_bytes(&self.dir),
        })
    }

    /// `info.json` as it stands.
    fn info(&self) -> Info {
        let mut features = BTreeMap::new();
        for (name, names) in &self.spec.vectors {
            features.insert(name.clone(), Feature::vector(names));
        }
        for camera in &self.spec.cameras {
            features.insert(camera.key(), crate::video::feature(camera, self.spec.fps));
        }
        features.insert("timestamp".into(), Feature::scalar("float32"));
        for name in ["frame_index", "episode_index", "index", "task_index"] {
            features.insert(name.into(), Feature::scalar("int64"));
        }
        let episodes = self.episodes.len() as u64;
        Info {
            codebase_version: CODEBASE_VERSION.into(),
            robot_type: Some(self.spec.robot_type.clone()),
            total_episodes: episodes,
            total_frames: self.frames_total,
            total_tasks: self.tasks.len() as u64,
            chunks_size: 1000,
            data_files_size_in_mb: 100,
            video_files_size_in_mb: 200,
            fps: self.spec.fps,
            splits: [("train".to_owned(), format!("0:{episodes}"))].into(),
            data_path: info::DATA_PATH.into(),
            video_path: (!self.spec.cameras.is_empty()).then(|| info::VIDEO_PATH.into()),
            features,
        }
    }

    /// Writes `meta/stats.json`.
    fn write_stats(&self) -> Result<(), DatasetError> {
        let mut stats = serde_json::Map::new();
        for ((name, _), s) in self.spec.vectors.iter().zip(&self.vector_stats) {
            stats.insert(name.clone(), s.to_json());
        }
        for (camera, s) in self.spec.cameras.iter().zip(&self.image_stats) {
            stats.insert(camera.key(), s.to_json());
        }
        for (name, s) in info::INDEX_FEATURES.iter().zip(&self.index_stats) {
            stats.insert((*name).into(), s.to_json());
        }
        let path = self.dir.join("meta/stats.json");
        let text = serde_json::to_string_pretty(&stats)
            .map_err(|e| DatasetError::invalid(&path, e.to_string()))?;
        crate::write_file(&path, text.as_bytes())
    }
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
