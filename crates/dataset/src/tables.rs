//! The dataset's parquet tables, built with arrow-rs: the frames (one row per frame,
//! vectors as fixed-size float32 lists, one row group per episode), the tasks (marked
//! with pandas' metadata so LeRobot reads the text as the index) and the episodes (one
//! row per episode: where its frames and video are).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::DatasetError;

/// A parquet file being written under a temporary name, renamed into place when done
/// (a dataset never shows a half-written table).
pub(crate) struct TableWriter {
    path: PathBuf,
    partial: PathBuf,
    writer: ArrowWriter<File>,
}

impl TableWriter {
    /// Starts `path` with `schema`, snappy-compressed.
    pub(crate) fn create(path: &Path, schema: Arc<Schema>) -> Result<TableWriter, DatasetError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
        }
        let partial = path.with_extension("parquet.partial");
        let file = File::create(&partial).map_err(|e| DatasetError::io(&partial, e))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(properties))
            .map_err(|e| DatasetError::parquet(path, e))?;
        Ok(TableWriter {
            path: path.to_owned(),
            partial,
            writer,
        })
    }

    /// Writes `batch` as a row group of its own.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), DatasetError> {
        self.writer
            .write(batch)
            .and_then(|()| self.writer.flush())
            .map_err(|e| DatasetError::parquet(&self.path, e))
    }

    /// Finishes the file and puts it in place.
    pub(crate) fn finish(self) -> Result<(), DatasetError> {
        self.writer
            .close()
            .map_err(|e| DatasetError::parquet(&self.path, e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| DatasetError::io(&self.path, e))
    }
}

/// Writes `batch` as the whole of `path`.
pub(crate) fn write_table(path: &Path, batch: &RecordBatch) -> Result<(), DatasetError> {
    let mut table = TableWriter::create(path, batch.schema())?;
    table.write(batch)?;
    table.finish()
}

/// The field of a vector feature of `len` float32 values.
pub(crate) fn vector_field(name: &str, len: usize) -> Field {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    Field::new(name, DataType::FixedSizeList(item, len as i32), false)
}

/// A column of `rows` vectors of `len` values, laid out row after row in `values`.
pub(crate) fn vector_column(
    values: Vec<f32>,
    len: usize,
    path: &Path,
) -> Result<ArrayRef, DatasetError> {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let array =
        FixedSizeListArray::try_new(item, len as i32, Arc::new(Float32Array::from(values)), None)
            .map_err(|e| DatasetError::arrow(path, e))?;
    Ok(Arc::new(array))
}

/// An int64 column.
pub(crate) fn int_column(values: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

/// A float64 column.
pub(crate) fn float64_column(values: Vec<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(values))
}

/// A float32 column.
pub(crate) fn float32_column(values: Vec<f32>) -> ArrayRef {
    Arc::new(Float32Array::from(values))
}

/// The pandas metadata that makes `task` the index of `meta/tasks.parquet` (LeRobot looks a
/// task's text up as its row's index).
const TASKS_PANDAS_METADATA: &str = r#"{"index_columns": ["task"], "column_indexes": [{"name": null, "field_name": null, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}], "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": null}, {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": null}], "creator": {"library": "embody", "version": "0.1.0"}, "pandas_version": "2.3.3"}"#;

/// Writes `meta/tasks.parquet` under `dir`: row `k` is task `k`.
pub(crate) fn write_tasks(dir: &Path, tasks: &[String]) -> Result<(), DatasetError> {
    let path = dir.join("meta/tasks.parquet");
    let schema = Schema::new(vec![
        Field::new("task_index", DataType::Int64, false),
        Field::new("task", DataType::Utf8, false),
    ])
    .with_metadata([("pandas".to_owned(), TASKS_PANDAS_METADATA.to_owned())].into());
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            int_column((0..tasks.len() as i64).collect()),
            Arc::new(StringArray::from(tasks.to_vec())),
        ],
    )
    .map_err(|e| DatasetError::arrow(&path, e))?;
    write_table(&path, &batch)
}

/// Where one episode's video is in a camera's files.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoSpan {
    /// Its file's chunk.
    pub chunk: u64,
    /// Its file within the chunk.
    pub file: u64,
    /// Where it starts in the file (s).
    pub from_s: f64,
    /// Where it ends (s).
    pub to_s: f64,
}

/// One row of the episodes' table.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeRow {
    /// Its index.
    pub index: u64,
    /// Its task's text.
    pub task: String,
    /// Its frames.
    pub length: u64,
    /// Its frames' file `(chunk, file)`.
    pub data_file: (u64, u64),
    /// Its first frame's global index.
    pub from_index: u64,
    /// Where each camera's video of it is, in the dataset's camera order.
    pub videos: Vec<VideoSpan>,
    /// Whether its task succeeded (embody's, not LeRobot's).
    pub success: bool,
    /// Frames whose time the loop did not keep (late or missed ticks) — an episode with
    /// any is off its rate, never stretched to look on it.
    pub late_frames: u64,
    /// The seed its scene was drawn from.
    pub seed: u64,
}

/// Writes `meta/episodes/chunk-000/file-000.parquet` under `dir`, one row per episode in
/// order, with each camera's columns (`cameras` are the video features' names).
pub(crate) fn write_episodes(
    dir: &Path,
    cameras: &[String],
    rows: &[EpisodeRow],
) -> Result<(), DatasetError> {
    let path = dir.join(crate::info::fill(crate::info::EPISODES_PATH, "", 0, 0));
    let ints =
        |f: &dyn Fn(&EpisodeRow) -> u64| int_column(rows.iter().map(|r| f(r) as i64).collect());
    let mut tasks = ListBuilder::new(StringBuilder::new());
    for row in rows {
        tasks.values().append_value(&row.task);
        tasks.append(true);
    }
    let tasks: ArrayRef = Arc::new(tasks.finish());
    let mut fields = vec![
        Field::new("episode_index", DataType::Int64, false),
        Field::new("tasks", tasks.data_type().clone(), false),
        Field::new("length", DataType::Int64, false),
        Field::new("data/chunk_index", DataType::Int64, false),
        Field::new("data/file_index", DataType::Int64, false),
        Field::new("dataset_from_index", DataType::Int64, false),
        Field::new("dataset_to_index", DataType::Int64, false),
    ];
    let mut columns = vec![
        ints(&|r| r.index),
        tasks,
        ints(&|r| r.length),
        ints(&|r| r.data_file.0),
        ints(&|r| r.data_file.1),
        ints(&|r| r.from_index),
        ints(&|r| r.from_index + r.length),
    ];
    for (k, camera) in cameras.iter().enumerate() {
        let ints = |f: &dyn Fn(&VideoSpan) -> u64| {
            int_column(
                rows.iter()
                    .map(|r| r.videos.get(k).map_or(0, f) as i64)
                    .collect(),
            )
        };
        let floats = |f: &dyn Fn(&VideoSpan) -> f64| {
            float64_column(
                rows.iter()
                    .map(|r| r.videos.get(k).map_or(0.0, f))
                    .collect(),
            )
        };
        for (name, column) in [
            ("chunk_index", ints(&|v| v.chunk)),
            ("file_index", ints(&|v| v.file)),
            ("from_timestamp", floats(&|v| v.from_s)),
            ("to_timestamp", floats(&|v| v.to_s)),
        ] {
            fields.push(Field::new(
                format!("videos/{camera}/{name}"),
                column.data_type().clone(),
                false,
            ));
            columns.push(column);
        }
    }
    for name in ["meta/episodes/chunk_index", "meta/episodes/file_index"] {
        fields.push(Field::new(name, DataType::Int64, false));
        columns.push(int_column(vec![0; rows.len()]));
    }
    fields.push(Field::new("embody_success", DataType::Boolean, false));
    columns.push(Arc::new(BooleanArray::from(
        rows.iter().map(|r| r.success).collect::<Vec<_>>(),
    )));
    fields.push(Field::new("embody_late_frames", DataType::Int64, false));
    columns.push(ints(&|r| r.late_frames));
    fields.push(Field::new("embody_seed", DataType::Int64, false));
    columns.push(ints(&|r| r.seed));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| DatasetError::arrow(&path, e))?;
    write_table(&path, &batch)
}
