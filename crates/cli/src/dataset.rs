//! `embody dataset info|check DIR`: what a LeRobotDataset v3.0 holds (made by `embody run
//! --dataset` or by LeRobot) — robot, rate, features, episodes, tasks, videos — and, for
//! `check`, every problem found with its file and why (exiting non-zero if any);
//! `replay` and `view` are [`crate::dataset_replay`]'s.

use std::path::PathBuf;

use clap::Subcommand;
use embody_dataset::check::{DatasetReport, check};

use crate::error::{CliError, Result};

/// The `dataset` subcommands.
#[derive(Subcommand, Debug)]
pub enum DatasetCommand {
    /// What the dataset holds: robot, rate, features, episodes, tasks and videos.
    Info {
        /// The dataset's directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every file against the format and the others; exits non-zero on a problem.
    Check {
        /// The dataset's directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drive the robot through an episode's recorded actions: in the simulator (in the
    /// recorded task's scene, with the episode's seed) or on the wire.
    Replay(Box<crate::dataset_replay::ReplayArgs>),
    /// Draw the dataset in Rerun: the robot at each frame's joint positions, the
    /// actions as its reference, each camera's video.
    View(crate::dataset_replay::ViewArgs),
}

/// Runs an `embody dataset` command.
pub fn run(command: DatasetCommand) -> Result {
    let (dir, json, strict) = match command {
        DatasetCommand::Info { dir, json } => (dir, json, false),
        DatasetCommand::Check { dir, json } => (dir, json, true),
        DatasetCommand::Replay(args) => return crate::dataset_replay::replay(&args),
        DatasetCommand::View(args) => return crate::dataset_replay::view(&args),
    };
    let report = check(&dir).map_err(|e| CliError::Failed(e.to_string()))?;
    if json {
        let text = serde_json::to_string(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{text}");
    } else {
        print(&report);
    }
    match report.problems.len() {
        0 => Ok(()),
        _ if !strict => Ok(()),
        n => Err(CliError::Failed(format!("{}: {n} problems", dir.display()))),
    }
}

fn print(report: &DatasetReport) {
    let info = &report.info;
    let seconds = report.frames as f64 / f64::from(info.fps);
    println!(
        "{}: LeRobotDataset {}, robot {}, {} fps",
        report.dir.display(),
        info.codebase_version,
        info.robot_type.as_deref().unwrap_or("(not said)"),
        info.fps
    );
    println!(
        "{} episodes, {} frames ({seconds:.1} s), {} tasks",
        report.episodes.len(),
        report.frames,
        report.tasks.len()
    );
    let successes = report
        .episodes
        .iter()
        .filter(|e| e.success == Some(true))
        .count();
    if report.episodes.iter().any(|e| e.success.is_some()) {
        let late = (report.episodes.iter())
            .filter(|e| e.late_frames.is_some_and(|n| n > 0))
            .count();
        println!("{successes} succeeded; {late} with frames off the rate");
    }
    println!("features:");
    for (name, feature) in &info.features {
        println!("  {name:32} {:8} {:?}", feature.dtype, feature.shape);
    }
    for (task, text) in report.tasks.iter().enumerate() {
        println!("task {task}: {text}");
    }
    for (key, video) in &report.videos {
        println!(
            "{key}: {} files, {} frames, {:.1} s",
            video.files, video.frames, video.seconds
        );
    }
    for problem in &report.problems {
        println!("problem: {}: {}", problem.path.display(), problem.why);
    }
    if report.problems.is_empty() {
        println!("no problems found");
    }
}
