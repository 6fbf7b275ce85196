//! `--dataset DIR [--episodes N] [--fps F] [--reference-frames DIR]`, shared by `embody
//! run` and `embody policy run`: record the session as a LeRobotDataset v3.0 (the
//! runtime's `dataset::record`), one episode per seed, and print what was written (and
//! how many frames came late, in real time).

use std::path::PathBuf;

use clap::Args;
use embody_runtime::{Observer, Session};
use serde_json::json;

use crate::error::Result;

/// The dataset options.
#[derive(Args, Debug, Clone)]
pub struct DatasetArgs {
    /// Record the run as a LeRobotDataset v3.0 in this new directory: the joints
    /// (`observation.state`), their reference (`action`), the scene's objects' poses
    /// (`observation.environment_state`) and each camera's video, one episode a run (in
    /// lockstep, in real time or on the wire: frames more than 1.5 loop periods off
    /// their time are counted late).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Episodes to record into `--dataset`, seeds `--seed`, `--seed`+1, ….
    #[arg(long, default_value_t = 1, requires = "dataset",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub episodes: u32,
    /// Frames per second of `--dataset`.
    #[arg(long, default_value_t = 30, requires = "dataset",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub fps: u32,
    /// Also save every tenth frame of each camera in the first episode as PNG here (to
    /// check the video against what was rendered).
    #[arg(long, requires = "dataset")]
    pub reference_frames: Option<PathBuf>,
}

impl DatasetArgs {
    /// Records `session` into `--dataset`, if given (`Ok(false)` if not); prints the
    /// summary, as JSON with `json`.
    pub fn record(
        &self,
        session: &Session,
        observer: &mut dyn Observer,
        json: bool,
    ) -> Result<bool> {
        let Some(dir) = &self.dataset else {
            return Ok(false);
        };
        let episodes = embody_runtime::dataset::Episodes {
            dir: dir.clone(),
            episodes: self.episodes,
            fps: self.fps,
            reference_frames: self.reference_frames.clone(),
        };
        let recorded = embody_runtime::dataset::record(session, &episodes, observer)?;
        let s = &recorded.summary;
        if json {
            let each: Vec<_> = (recorded.episodes.iter())
                .map(|e| {
                    json!({"seed": e.seed, "frames": e.frames, "late_frames": e.late_frames,
                           "success": e.success})
                })
                .collect();
            println!(
                "{}",
                json!({
                    "dataset": s.dir, "episodes": s.episodes, "frames": s.frames,
                    "successes": s.successes, "late_episodes": s.late_episodes, "bytes": s.bytes,
                    "each": each,
                })
            );
        } else {
            println!(
                "{}: {} episode{} ({} succeeded), {} frames at {} fps, {:.1} MB",
                s.dir.display(),
                s.episodes,
                if s.episodes == 1 { "" } else { "s" },
                s.successes,
                s.frames,
                self.fps,
                s.bytes as f64 / 1e6
            );
        }
        Ok(true)
    }
}
