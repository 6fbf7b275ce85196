//! A dataset in Rerun: [`view`] draws each episode's recorded joint positions on the
//! dataset's robot (`observation.state` as the loop's state, `action` as its reference,
//! so the joint series show both), each camera's video frame by frame (the MP4 logged
//! once, each frame a reference into it) and its objects' poses as series, the episodes
//! one after another on the recording's loop-time line, a second apart.

use std::path::Path;

use embody_control::StateSnapshot;
use embody_dataset::check::check;
use embody_dataset::{info, read_checked_episode};
use embody_viz::{LoopStats, Recorder, VizConfig};

use crate::error::RuntimeError;

/// The time between episodes on the recording's line (s).
const GAP_S: f64 = 1.0;

/// What [`view`] drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Viewed {
    /// Episodes drawn.
    pub episodes: u64,
    /// Frames drawn.
    pub frames: u64,
    /// Video frames shown, over all cameras.
    pub video_frames: u64,
}

/// Draws the dataset in `dir` — episode `only`, or all — into the recording `config`
/// says.
pub fn view(dir: &Path, only: Option<u64>, config: VizConfig) -> Result<Viewed, RuntimeError> {
    let report = check(dir)?;
    let robot = report.info.robot_type.clone().ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "{}: meta/info.json names no robot_type to draw",
            dir.display()
        ))
    })?;
    let model = embody_model::robots::load(&robot, None)?;
    let mut recorder = Recorder::new(config, &model)?;
    let episodes: Vec<u64> = match only {
        Some(k) => vec![k],
        None => report.episodes.iter().map(|e| e.index).collect(),
    };
    let cameras: Vec<String> = (report.info.features.iter())
        .filter(|(_, f)| f.is_video())
        .map(|(k, _)| k.clone())
        .collect();
    let has_environment = report
        .info
        .features
        .contains_key("observation.environment_state");
    let mut keys = vec!["observation.state", "action"];
    if has_environment {
        keys.push("observation.environment_state");
    }
    let fps = f64::from(report.info.fps.max(1));
    let mut viewed = Viewed {
        episodes: 0,
        frames: 0,
        video_frames: 0,
    };
    let mut logged_videos = std::collections::BTreeSet::new();
    let mut start_s = 0.0;
    for k in episodes {
        let episode = read_checked_episode(&report, k, &keys)?;
        let (_, states) = episode.feature("observation.state").unwrap_or_default();
        let (_, actions) = episode.feature("action").unwrap_or_default();
        let objects = episode.feature("observation.environment_state");
        let mut snapshot = StateSnapshot::new(model.nv.min(states.first().map_or(0, Vec::len)));
        for (frame, (state, action)) in states.iter().zip(actions).enumerate() {
            let t_s = start_s + frame as f64 / fps;
            snapshot.tick = frame as u64;
            fill(&mut snapshot.q, state);
            fill(&mut snapshot.q_ref, action);
            recorder.record(t_s, &snapshot, LoopStats::default())?;
            if let Some((_, poses)) = objects {
                recorder.series(t_s, "dataset/environment_state", &poses[frame])?;
            }
        }
        for key in &cameras {
            let Some(&(chunk, file, from_s)) = episode.info.videos.get(key) else {
                continue;
            };
            let video = format!("dataset/{key}/{chunk:03}-{file:03}");
            if logged_videos.insert(video.clone()) {
                let template = report.info.video_path.as_deref().unwrap_or_default();
                let path = dir.join(info::fill(template, key, chunk, file));
                recorder.video_asset(&video, &path)?;
            }
            let camera = key.trim_start_matches("observation.images.");
            for frame in 0..episode.info.length {
                let t_s = start_s + frame as f64 / fps;
                let video_s = from_s + frame as f64 / fps;
                recorder.video_frame(t_s, &format!("cameras/{camera}/video"), &video, video_s)?;
                viewed.video_frames += 1;
            }
        }
        viewed.episodes += 1;
        viewed.frames += episode.info.length;
        start_s += episode.info.length as f64 / fps + GAP_S;
    }
    recorder.finish()?;
    Ok(viewed)
}

/// Copies `values` into the front of `into`.
fn fill(into: &mut [f64], values: &[f64]) {
    for (slot, v) in into.iter_mut().zip(values) {
        *slot = *v;
    }
}
