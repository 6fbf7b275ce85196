//! Checking a dataset, made by embody or by LeRobot: [`check`] reads `meta/info.json`,
//! the tasks, the episodes, every frames file and each camera's videos, and lists what
//! is wrong — each problem with its file and why — the way LeRobot would trip on it
//! (a frames table whose columns are not the features, an `index` that is not the row,
//! a timestamp off `frame_index / fps`, an episode whose video is missing or short).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::error::DatasetError;
use crate::info::Info;

/// How far a timestamp may be from `frame_index / fps` (LeRobot's tolerance).
pub const TIMESTAMP_TOLERANCE_S: f64 = 1e-4;

/// One thing wrong with a dataset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

/// One episode as the episodes' table has it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpisodeInfo {
    /// Its index.
    pub index: u64,
    /// Its tasks' texts.
    pub tasks: Vec<String>,
    /// Its frames.
    pub length: u64,
    /// Its first frame's global index.
    pub from_index: u64,
    /// Each camera's video of it: file `(chunk, file)` and start (s).
    pub videos: BTreeMap<String, (u64, u64, f64)>,
    /// Whether its task succeeded (embody datasets only).
    pub success: Option<bool>,
    /// Frames the loop did not keep time for (embody datasets only).
    pub late_frames: Option<u64>,
    /// The seed its session ran with (embody datasets only).
    pub seed: Option<u64>,
}

/// What a dataset holds, and what is wrong with it.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetReport {
    /// Its directory.
    pub dir: PathBuf,
    /// `meta/info.json`.
    pub info: Info,
    /// The tasks, in order.
    pub tasks: Vec<String>,
    /// The episodes, in order.
    pub episodes: Vec<EpisodeInfo>,
    /// Frames in the frames' tables.
    pub frames: u64,
    /// Each camera's video: files and frames in them.
    pub videos: BTreeMap<String, VideoFiles>,
    /// What is wrong; empty when nothing is.
    pub problems: Vec<Problem>,
}

/// A camera's video files.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VideoFiles {
    /// Files.
    pub files: u64,
    /// Frames over all files.
    pub frames: u64,
    /// Seconds over all files.
    pub seconds: f64,
}

/// Reads the dataset in `dir` and checks it; an error only when `meta/info.json`
/// cannot be read (every other fault is a [`Problem`]).
pub fn check(dir: &Path) -> Result<DatasetReport, DatasetError> {
    let info = Info::read(dir)?;
    let mut problems = Vec::new();
    let tasks = read_tasks(dir, &info, &mut problems);
    let episodes = read_episodes(dir, &info, &mut problems);
    let frames = check_frames(dir, &info, &episodes, tasks.len(), &mut problems);
    let videos = crate::video::check_videos(dir, &info, &episodes, &mut problems);
    if episodes.len() as u64 != info.total_episodes {
        problems.push(problem(
            &dir.join("meta/info.json"),
            format!(
                "total_episodes {} but the episodes' table has {}",
                info.total_episodes,
                episodes.len()
            ),
        ));
    }
    if frames != info.total_frames {
        problems.push(problem(
            &dir.join("meta/info.json"),
            format!(
                "total_frames {} but the frames' tables have {frames}",
                info.total_frames
            ),
        ));
    }
    Ok(DatasetReport {
        dir: dir.to_owned(),
        info,
        tasks,
        episodes,
        frames,
        videos,
        problems,
    })
}

pub(crate) fn problem(path: &Path, why: impl Into<String>) -> Problem {
    Problem {
        path: path.to_owned(),
        why: why.into(),
    }
}

/// The parquet files `dir/<sub>/*/*.parquet`, sorted by path (as LeRobot reads them).
pub(crate) fn nested_parquet(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(chunks) = std::fs::read_dir(dir.join(sub)) else {
        return files;
    };
    for chunk in chunks.flatten().filter(|c| c.path().is_dir()) {
        if let Ok(entries) = std::fs::read_dir(chunk.path()) {
            files.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "parquet")),
            );
        }
    }
    files.sort();
    files
}

/// All of `path`'s rows, and its schema's metadata.
pub(crate) fn read_table(
    path: &Path,
) -> Result<(Vec<RecordBatch>, HashMap<String, String>), DatasetError> {
    let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| DatasetError::parquet(path, e))?;
    let metadata = builder.schema().metadata().clone();
    let reader = builder
        .build()
        .map_err(|e| DatasetError::parquet(path, e))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DatasetError::arrow(path, e))?;
    Ok((batches, metadata))
}

/// [`read_table`], or `None` with why noted as a problem of `path`.
fn read_or_note(
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Option<(Vec<RecordBatch>, HashMap<String, String>)> {
    read_table(path)
        .map_err(|e| problems.push(problem(path, e.to_string())))
        .ok()
}

/// Column `name` of `batch` as int64 values (any integer type), or why not.
pub(crate) fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<i64>, String> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column {name:?}"))?;
    // Any integer width a writer chose.
    let cast =
        arrow_cast::cast(column, &DataType::Int64).map_err(|e| format!("column {name:?}: {e}"))?;
    let values = cast
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| format!("column {name:?} is not integers"))?;
    if values.null_count() > 0 {
        return Err(format!("column {name:?} has empty values"));
    }
    Ok(values.values().to_vec())
}

/// Column `name` of `batch` as float64 values, or why not.
fn floats(batch: &RecordBatch, name: &str) -> Result<Vec<f64>, String> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column {name:?}"))?;
    if let Some(v) = column.as_any().downcast_ref::<Float64Array>() {
        return Ok(v.values().to_vec());
    }
    if let Some(v) = column.as_any().downcast_ref::<Float32Array>() {
        return Ok(v.values().iter().map(|&x| f64::from(x)).collect());
    }
    Err(format!(
        "column {name:?} is {}, not floats",
        column.data_type()
    ))
}

/// `meta/tasks.parquet`: the tasks' texts, row `k` task `k`.
fn read_tasks(dir: &Path, info: &Info, problems: &mut Vec<Problem>) -> Vec<String> {
    let path = dir.join("meta/tasks.parquet");
    let Some((batches, metadata)) = read_or_note(&path, problems) else {
        return Vec::new();
    };
    let mut tasks = Vec::new();
    for batch in &batches {
        let texts = batch.column_by_name("task").and_then(|c| {
            c.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .or_else(|| {
                    c.as_string_opt::<i64>()
                        .map(|s| StringArray::from_iter(s.iter()))
                })
        });
        let (Ok(indices), Some(texts)) = (ints(batch, "task_index"), texts) else {
            problems.push(problem(
                &path,
                "needs columns task_index (integers) and task (text)",
            ));
            return tasks;
        };
        for (k, text) in indices.iter().zip(texts.iter()) {
            if *k != tasks.len() as i64 {
                problems.push(problem(
                    &path,
                    format!(
                        "row {} has task_index {k}: LeRobot finds a task by its row",
                        tasks.len()
                    ),
                ));
            }
            tasks.push(text.unwrap_or_default().to_owned());
        }
    }
    let indexed = (metadata.get("pandas"))
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .is_some_and(|m| m["index_columns"] == serde_json::json!(["task"]));
    if !indexed && !tasks.is_empty() {
        problems.push(problem(&path, "no pandas metadata making `task` the index: LeRobot would give each frame its task's number, not its text"));
    }
    if tasks.len() as u64 != info.total_tasks {
        problems.push(problem(
            &path,
            format!("{} tasks, info.json says {}", tasks.len(), info.total_tasks),
        ));
    }
    tasks
}

/// The episodes' tables, in order.
fn read_episodes(dir: &Path, info: &Info, problems: &mut Vec<Problem>) -> Vec<EpisodeInfo> {
    let files = nested_parquet(dir, "meta/episodes");
    if files.is_empty() {
        problems.push(problem(&dir.join("meta/episodes"), "no episodes' table"));
    }
    let keys: Vec<String> = info.video_keys().map(str::to_owned).collect();
    let mut episodes = Vec::new();
    for path in files {
        let Some((batches, _)) = read_or_note(&path, problems) else {
            continue;
        };
        for batch in &batches {
            match episode_rows(batch, &keys) {
                Ok(rows) => episodes.extend(rows),
                Err(why) => problems.push(problem(&path, why)),
            }
        }
    }
    let mut next_from = 0;
    for (k, e) in episodes.iter().enumerate() {
        if e.index != k as u64 {
            problems.push(problem(
                &dir.join("meta/episodes"),
                format!(
                    "row {k} is episode {}: LeRobot finds an episode by its row",
                    e.index
                ),
            ));
        }
        if e.from_index != next_from {
            problems.push(problem(
                &dir.join("meta/episodes"),
                format!(
                    "episode {k} starts at frame {}, the one before ends at {next_from}",
                    e.from_index
                ),
            ));
        }
        next_from = e.from_index + e.length;
    }
    episodes
}

/// A camera's columns of an episodes' table: its name, chunks, files and starts.
type CameraColumns = (String, Vec<i64>, Vec<i64>, Vec<f64>);

/// The episodes in one batch of an episodes' table.
fn episode_rows(batch: &RecordBatch, keys: &[String]) -> Result<Vec<EpisodeInfo>, String> {
    let index = ints(batch, "episode_index")?;
    let from = ints(batch, "dataset_from_index")?;
    let to = ints(batch, "dataset_to_index")?;
    let tasks = batch.column_by_name("tasks").ok_or("no column \"tasks\"")?;
    let tasks = tasks
        .as_list_opt::<i32>()
        .ok_or("column \"tasks\" is not a list of texts")?;
    // Each camera's chunk, file and start columns.
    let mut videos: Vec<CameraColumns> = Vec::new();
    for key in keys {
        videos.push((
            key.clone(),
            ints(batch, &format!("videos/{key}/chunk_index"))?,
            ints(batch, &format!("videos/{key}/file_index"))?,
            floats(batch, &format!("videos/{key}/from_timestamp"))?,
        ));
    }
    let success = batch
        .column_by_name("embody_success")
        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>().cloned());
    let late = ints(batch, "embody_late_frames").ok();
    let seed = ints(batch, "embody_seed").ok();
    let mut rows = Vec::new();
    for k in 0..batch.num_rows() {
        if from[k] < 0 || to[k] < from[k] {
            return Err(format!(
                "episode {}: frames [{}, {})",
                index[k], from[k], to[k]
            ));
        }
        let texts = tasks.value(k);
        let texts = texts
            .as_string_opt::<i32>()
            .ok_or("column \"tasks\" is not a list of texts")?;
        rows.push(EpisodeInfo {
            index: index[k].max(0) as u64,
            tasks: texts
                .iter()
                .map(|t| t.unwrap_or_default().to_owned())
                .collect(),
            length: (to[k] - from[k]) as u64,
            from_index: from[k] as u64,
            videos: videos
                .iter()
                .map(|(key, c, f, s)| (key.clone(), (c[k].max(0) as u64, f[k].max(0) as u64, s[k])))
                .collect(),
            success: success.as_ref().map(|s| s.value(k)),
            late_frames: late.as_ref().map(|l| l[k].max(0) as u64),
            seed: seed.as_ref().map(|s| s[k] as u64),
        });
    }
    Ok(rows)
}

/// Checks every frames file against the features and the episodes; the frames read.
fn check_frames(
    dir: &Path,
    info: &Info,
    episodes: &[EpisodeInfo],
    tasks: usize,
    problems: &mut Vec<Problem>,
) -> u64 {
    let files = nested_parquet(dir, "data");
    if files.is_empty() {
        problems.push(problem(&dir.join("data"), "no frames' table"));
    }
    let want: Vec<&String> = info
        .features
        .iter()
        .filter(|(_, f)| !f.is_video())
        .map(|(k, _)| k)
        .collect();
    let fps = f64::from(info.fps);
    let mut row = 0u64;
    let mut reported = 0;
    let mut report = |problems: &mut Vec<Problem>, path: &Path, why: String| {
        // A broken table breaks every row alike: the first few say it.
        if reported < 10 {
            problems.push(problem(path, why));
        }
        reported += 1;
    };
    for path in files {
        let Some((batches, _)) = read_or_note(&path, problems) else {
            continue;
        };
        let Some(first) = batches.first() else {
            continue;
        };
        let schema = first.schema();
        let mut have: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        have.sort();
        if have != want {
            report(
                problems,
                &path,
                format!(
                    "columns {have:?}, the features (less videos) are {want:?}: LeRobot cannot load it, and its rows are not read here"
                ),
            );
            continue;
        }
        for (name, feature) in info.features.iter().filter(|(_, f)| !f.is_video()) {
            if let Some(column) = first.column_by_name(name)
                && let Err(why) = check_column_type(column, feature)
            {
                report(problems, &path, format!("column {name:?}: {why}"));
            }
        }
        for batch in &batches {
            let (Ok(index), Ok(frame), Ok(episode), Ok(task), Ok(time)) = (
                ints(batch, "index"),
                ints(batch, "frame_index"),
                ints(batch, "episode_index"),
                ints(batch, "task_index"),
                floats(batch, "timestamp"),
            ) else {
                report(problems, &path, "an index column is not numbers".into());
                break;
            };
            for k in 0..batch.num_rows() {
                if index[k] != row as i64 {
                    report(problems, &path, format!("row {row} has index {}", index[k]));
                }
                match usize::try_from(episode[k])
                    .ok()
                    .and_then(|e| episodes.get(e))
                {
                    Some(e) if (e.from_index..e.from_index + e.length).contains(&row) => {
                        if frame[k] != (row - e.from_index) as i64 {
                            report(
                                problems,
                                &path,
                                format!(
                                    "row {row}: frame_index {}, episode {} starts at row {}",
                                    frame[k], e.index, e.from_index
                                ),
                            );
                        }
                    }
                    _ => report(
                        problems,
                        &path,
                        format!("row {row}: episode {} does not hold it", episode[k]),
                    ),
                }
                if (time[k] - frame[k] as f64 / fps).abs() > TIMESTAMP_TOLERANCE_S {
                    report(
                        problems,
                        &path,
                        format!(
                            "row {row}: timestamp {} s, frame {} at {fps} fps is {} s",
                            time[k],
                            frame[k],
                            frame[k] as f64 / fps
                        ),
                    );
                }
                if !(0..tasks as i64).contains(&task[k]) {
                    report(
                        problems,
                        &path,
                        format!("row {row}: task_index {} of {tasks} tasks", task[k]),
                    );
                }
                row += 1;
            }
        }
    }
    if reported > 10 {
        problems.push(problem(
            &dir.join("data"),
            format!("… and {} more", reported - 10),
        ));
    }
    row
}

/// Whether `column` can hold `feature` as LeRobot loads it.
fn check_column_type(column: &ArrayRef, feature: &crate::info::Feature) -> Result<(), String> {
    let numeric = |t: &DataType| t.is_numeric() || *t == DataType::Boolean;
    match (column.data_type(), feature.shape.as_slice()) {
        (t, [1]) if numeric(t) => Ok(()),
        (DataType::FixedSizeList(item, n), [len]) if numeric(item.data_type()) => {
            if *n as usize == *len {
                Ok(())
            } else {
                Err(format!("vectors of {n}, the feature has {len}"))
            }
        }
        (DataType::List(item) | DataType::LargeList(item), [len]) if numeric(item.data_type()) => {
            let lists = column.as_list_opt::<i32>();
            match lists.map(|l| (0..l.len()).all(|k| l.value_length(k) as usize == *len)) {
                Some(false) => Err(format!("a vector not of {len}")),
                _ => Ok(()),
            }
        }
        (t, shape) => Err(format!("{t} cannot hold shape {shape:?}")),
    }
}
