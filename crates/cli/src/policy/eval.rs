//! `embody policy eval`: a package's episodes in simulation, scored by its success test
//! (`embody_runtime::policy_eval`); and `embody policy demonstrate`: a task run as the
//! expert, recorded in a package's observation and action space for behaviour cloning
//! (`embody_runtime::demonstrate`).

use std::path::PathBuf;

use clap::Args;
use embody_runtime::policy_eval::{Episode, RobotChoice, evaluate};
use embody_runtime::{Backend, Demonstration, Drive, Quiet, Session, Simulator, Task};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::numbers::{count, float};

/// Arguments of `embody policy eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The package directory (its manifest defines the `[episode]`).
    package: PathBuf,
    /// The robot (built-in name or URDF path); default the manifest's.
    #[arg(long)]
    robot: Option<String>,
    /// Override whether the robot's base floats.
    #[arg(long)]
    floating_base: Option<bool>,
    /// Episodes to run.
    #[arg(long, default_value_t = 100, value_parser = count::<u32>(1..=100_000))]
    episodes: u32,
    /// Seed of the commands' draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON: the success rate and every episode.
    #[arg(long)]
    json: bool,
}

/// The JSON of one episode.
fn episode_json(e: &Episode) -> serde_json::Value {
    let command: serde_json::Map<_, _> = (e.command.iter())
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let reach = e.outcome.reach.as_ref();
    json!({
        "episode": e.index,
        "command": command,
        "succeeded": e.succeeded,
        "final_m": reach.map(|r| r.final_m),
        "reached_at_s": reach.and_then(|r| r.reached_at_s),
        "fell": e.outcome.fell(),
        "placed_miss_m": e.placed_miss_m.filter(|m| m.is_finite()),
        "faults": e.faults,
    })
}

/// Runs `embody policy eval`.
pub fn eval(args: &EvalArgs) -> Result {
    let choice = RobotChoice {
        robot: args.robot.clone(),
        floating_base: args.floating_base,
    };
    let target = ProgressDrawTarget::stderr();
    let bar = (!target.is_hidden() && !args.json).then(|| {
        let bar = ProgressBar::with_draw_target(Some(args.episodes.into()), target);
        bar.set_style(
            ProgressStyle::with_template("episodes [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut won = 0;
    let evaluation = evaluate(&args.package, &choice, args.episodes, args.seed, &mut |e| {
        won += u32::from(e.succeeded);
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(format!("{won} succeeded"));
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let rate = evaluation.success_rate();
    let n = evaluation.episodes.len();
    if args.json {
        let episodes: Vec<_> = evaluation.episodes.iter().map(episode_json).collect();
        let out = json!({"episodes": n, "succeeded": won, "success_rate": rate, "seed": args.seed,
                         "runs": episodes});
        println!("{out}");
    } else {
        for e in evaluation.episodes.iter().filter(|e| !e.succeeded).take(10) {
            let command: Vec<String> = (e.command.iter())
                .map(|(k, v)| format!("{k}={v:.3}"))
                .collect();
            let reach = (e.outcome.reach.as_ref()).map_or(String::new(), |r| {
                format!(", {:.1} mm away", r.final_m * 1e3)
            });
            let placed = e.placed_miss_m.map_or(String::new(), |m| {
                format!(", the object {:.1} mm from its place", m * 1e3)
            });
            let faults = e.faults.first().map_or(String::new(), |f| format!(", {f}"));
            println!(
                "episode {} failed: {}{reach}{placed}{faults}",
                e.index,
                command.join(",")
            );
        }
        println!(
            "{}: {won} of {n} episodes succeeded ({:.1} %), seed {}",
            args.package.display(),
            rate * 100.0,
            args.seed
        );
    }
    Ok(())
}

/// Arguments of `embody policy demonstrate`.
#[derive(Args, Debug)]
pub struct DemonstrateArgs {
    /// The package whose observation and action are recorded.
    package: PathBuf,
    /// The task that demonstrates (the expert).
    task: PathBuf,
    /// What the policy is told, as `policy run --command` (e.g. the task's goal).
    #[arg(long, value_delimiter = ',')]
    command: Vec<String>,
    /// Where the demonstration goes (JSON lines).
    #[arg(long)]
    out: PathBuf,
    /// Start each joint the package drives this far (rad or m, uniformly) from the
    /// manifest's start posture.
    #[arg(long, default_value_t = 0.0, value_parser = float(0.0..=1.0, ""))]
    start_jitter: f64,
    /// Seed of the start's jitter and the simulator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs `embody policy demonstrate`.
pub fn demonstrate(args: &DemonstrateArgs) -> Result {
    let task = Task::load(&args.task)?;
    let demo = Demonstration {
        task,
        package: args.package.clone(),
        command: super::run::command(&args.command)?,
        out: args.out.clone(),
    };
    let initial = embody_runtime::demonstrate::start(&demo, args.start_jitter, args.seed)?;
    let session = Session {
        seed: args.seed,
        stop_after_s: Some(600.0),
        ..Session::new(
            Backend::Simulator(Simulator {
                initial: Some(initial),
                show_truth: true,
                ..Simulator::default()
            }),
            Drive::Demonstrate(demo),
        )
    };
    let report = session.run(&mut Quiet)?;
    let unit = report
        .units
        .first()
        .ok_or_else(|| CliError::Failed("no unit ran".into()))?;
    match unit.task.as_ref().map(|t| &t.status) {
        Some(embody_planner::Status::Succeeded) => {
            println!(
                "{}: demonstrated {:.2} s into {}",
                args.task.display(),
                unit.loop_s,
                args.out.display()
            );
            Ok(())
        }
        other => Err(CliError::Failed(format!(
            "{}: the expert did not succeed ({other:?}); {} holds what was recorded",
            args.task.display(),
            args.out.display()
        ))),
    }
}
