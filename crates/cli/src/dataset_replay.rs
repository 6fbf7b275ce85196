//! `embody dataset replay DIR --episode K` and `embody dataset view DIR --rerun SINK`:
//! an episode's recorded actions driving the robot again — in the simulator, in the
//! recorded task's scene with the episode's seed (lockstep, or `--realtime`), or on the
//! wire (`--port`, `--unit`) — and a dataset drawn in Rerun. Both are the runtime's
//! (`embody_runtime::replay`, `embody_runtime::dataset_view`); this parses and prints.

use std::path::PathBuf;

use clap::Args;
use embody_runtime::{Backend, Quiet, replay};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::rerun_args::RerunArgs;
use crate::unit_args::PacingArgs;

/// Arguments of `embody dataset replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The dataset's directory.
    dataset: PathBuf,
    /// The episode (its index).
    #[arg(long, default_value_t = 0)]
    episode: u64,
    /// The robot (built-in name or URDF path); default the dataset's `robot_type`.
    #[arg(long, conflicts_with = "unit")]
    robot: Option<String>,
    #[command(flatten)]
    live: PacingArgs,
    #[command(flatten)]
    viz: RerunArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `embody dataset view`.
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// The dataset's directory.
    dataset: PathBuf,
    /// Only this episode (default all, one after another).
    #[arg(long)]
    episode: Option<u64>,
    #[command(flatten)]
    viz: RerunArgs,
}

/// Runs `embody dataset replay`.
pub fn replay(args: &ReplayArgs) -> Result {
    let plan = replay::load(&args.dataset, args.episode)?;
    let backend = match args.live.wire.load()? {
        Some(wire) => Backend::Wire(wire),
        None => Backend::simulator(),
    };
    let mut session = replay::session(&plan, backend)?;
    session.pacing = args.live.pacing()?;
    if let Some(robot) = &args.robot {
        session.robot = Some(robot.clone());
    }
    session.rerun = args.viz.config(&session.robot_name())?;
    session.net = (args.live.net).link(&args.live.wire, &session.robot_name())?;
    if plan.task.is_none() && !args.live.wire.given() {
        eprintln!(
            "{} keeps no task ({}): the robot replays in an empty scene",
            args.dataset.display(),
            replay::TASK_FILE
        );
    }
    let report = session.run(&mut Quiet)?;
    args.viz.linger();
    let unit = report
        .units
        .first()
        .ok_or_else(|| CliError::Failed("no unit ran".into()))?;
    let faults = unit.fault_reports();
    let frames = plan.episode.info.length;
    if args.json {
        let out = json!({
            "episode": args.episode, "frames": frames, "seed": plan.seed(),
            "loop_s": unit.loop_s, "tracking_error_rad": unit.tracking_error(),
            "objects": unit.objects_json(), "faults": faults,
        });
        println!("{out}");
    } else {
        println!(
            "replayed episode {} ({frames} frames, seed {}) on {} in {:.2} s: final tracking error {:.4} rad",
            args.episode,
            plan.seed(),
            unit.name,
            unit.loop_s,
            unit.tracking_error()
        );
        for (name, pose) in &unit.objects {
            println!(
                "  {name} ended at ({:.3}, {:.3}, {:.3}) m",
                pose[0], pose[1], pose[2]
            );
        }
        for fault in &faults {
            println!("  {fault}");
        }
    }
    match faults.first() {
        None => Ok(()),
        Some(fault) => Err(CliError::Failed(format!("the replay faulted: {fault}"))),
    }
}

/// Runs `embody dataset view`.
pub fn view(args: &ViewArgs) -> Result {
    // The robot's name is the recording's unit unless `--rerun-unit` says otherwise.
    let info =
        embody_dataset::Info::read(&args.dataset).map_err(|e| CliError::Failed(e.to_string()))?;
    let robot = info.robot_type.as_deref().unwrap_or("dataset");
    let Some(config) = args.viz.config(robot)? else {
        return Err(CliError::Usage(
            "give --rerun SINK (spawn, connect[=URL], save=PATH or serve)".into(),
        ));
    };
    let viewed = embody_runtime::dataset_view::view(&args.dataset, args.episode, config)?;
    println!(
        "{}: drew {} episodes, {} frames, {} video frames",
        args.dataset.display(),
        viewed.episodes,
        viewed.frames,
        viewed.video_frames
    );
    args.viz.linger();
    Ok(())
}
