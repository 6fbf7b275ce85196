//! How fast demonstrations are recorded: frames of the camera benchmark's scene (arm7
//! sweeping over the table) are rendered ahead, then a `DatasetWriter` on one thread
//! writes them as episodes — each camera's H.264 video and the state and action rows —
//! into a scratch dataset. Reported: camera frames encoded per second, that against what
//! the cameras need in real time, and the dataset's size per minute of recording.

use std::time::Instant;

use embody_dataset::{CameraSpec, DatasetSpec, DatasetWriter, EpisodeEnd};
use serde::Serialize;

use super::Scratch;
use super::camera::ArmScene;
use crate::error::RuntimeError;

/// What to time.
#[derive(Clone, Debug)]
pub struct RecordBench {
    /// Cameras recorded.
    pub cameras: u32,
    /// Image width and height (px).
    pub size: (u32, u32),
    /// Frames per second recorded.
    pub fps: u32,
    /// Seconds of recording (at `fps`), in episodes of 10 s.
    pub seconds: f64,
}

impl Default for RecordBench {
    fn default() -> RecordBench {
        RecordBench {
            cameras: 2,
            size: (640, 480),
            fps: 30,
            seconds: 20.0,
        }
    }
}

/// What it measured.
#[derive(Clone, Debug, Serialize)]
pub struct RecordFigures {
    /// Cameras.
    pub cameras: u32,
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
    /// Frames per second recorded.
    pub fps: u32,
    /// Frames recorded (per camera).
    pub frames: u64,
    /// Camera frames encoded and written per second, one thread.
    pub frames_per_s: f64,
    /// That over what the cameras produce in real time (`cameras × fps`).
    pub realtime_factor: f64,
    /// The dataset's size per minute of recording (MB).
    pub mb_per_minute: f64,
}

/// Frames rendered ahead and cycled through (a 4 s sweep at 30 fps).
const DISTINCT_FRAMES: usize = 120;

/// Records `bench.seconds` of frames; see the module docs.
pub fn run(bench: &RecordBench) -> Result<RecordFigures, RuntimeError> {
    let valid = (1..=8).contains(&bench.cameras) && bench.seconds > 0.0 && bench.seconds <= 3600.0;
    if !valid {
        return Err(RuntimeError::Invalid(
            "record 1 to 8 cameras for (0, 3600] s".into(),
        ));
    }
    let (width, height) = bench.size;
    let mut arm = ArmScene::new(width, height)?;
    let start = arm.q.clone();
    let mut frames = Vec::with_capacity(DISTINCT_FRAMES);
    for k in 0..DISTINCT_FRAMES {
        // The arm sweeps to and fro over the table.
        let phase = (k as f64 / DISTINCT_FRAMES as f64 * std::f64::consts::TAU).sin();
        arm.q[0] = start[0] + 0.6 * phase;
        arm.q[3] = start[3] + 0.3 * phase;
        arm.render();
        frames.push(arm.image.rgb.clone());
    }
    let scratch = Scratch::new("record").map_err(|source| RuntimeError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let dir = scratch.0.join("dataset");
    let names: Vec<String> = (0..8).map(|j| format!("joint{j}")).collect();
    let spec = DatasetSpec {
        robot_type: "arm7".into(),
        fps: bench.fps,
        vectors: vec![
            ("observation.state".into(), names.clone()),
            ("action".into(), names),
        ],
        cameras: (0..bench.cameras)
            .map(|c| CameraSpec {
                name: format!("camera{c}"),
                width,
                height,
            })
            .collect(),
    };
    let mut writer = DatasetWriter::create(&dir, spec)?;
    let total = (bench.seconds * f64::from(bench.fps)).round().max(1.0) as u64;
    let per_episode = 10 * u64::from(bench.fps);
    let state = [0.1f32; 8];
    let began = Instant::now();
    for k in 0..total {
        if k % per_episode == 0 {
            if k > 0 {
                writer.end_episode(EpisodeEnd::default())?;
            }
            writer.begin_episode("sweep over the table")?;
        }
        let images: Vec<&[u8]> = (0..bench.cameras as usize)
            .map(|c| frames[(k as usize + 17 * c) % DISTINCT_FRAMES].as_slice())
            .collect();
        writer.frame(&[&state, &state], &images)?;
    }
    let summary = writer.finish()?;
    let seconds = began.elapsed().as_secs_f64();
    let frames_per_s = (total * u64::from(bench.cameras)) as f64 / seconds;
    Ok(RecordFigures {
        cameras: bench.cameras,
        width,
        height,
        fps: bench.fps,
        frames: total,
        frames_per_s,
        realtime_factor: frames_per_s / f64::from(bench.cameras * bench.fps),
        mb_per_minute: summary.bytes as f64 / 1e6 / (total as f64 / f64::from(bench.fps)) * 60.0,
    })
}
