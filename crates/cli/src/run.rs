//! `embody run <task.toml>`: the product's main command. It checks the task against the
//! robot (every error located in the file before anything moves) and runs it in a
//! session: in the simulator on the built-in default robot unless `--robot` says
//! otherwise (or in a scenario's simulator with `--scenario`), lockstep by default or in
//! real time with `--realtime`; or on the wire (`--port`, `--unit`). It prints each
//! step's timing and result and the final tracking error, and exits non-zero when the
//! task fails.

use std::path::PathBuf;

use clap::Args;
use embody_planner::{Outcome, Progress, Status};
use embody_runtime::{Backend, Drive, Observer, Session, Task, UnitReport, describe_progress};
use embody_sim::Scenario;
use serde_json::json;

use crate::error::{CliError, Result};
use crate::rerun_args::RerunArgs;
use crate::unit_args::PacingArgs;

/// Arguments of `embody run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The task file (TOML).
    task: PathBuf,
    /// Robot to run on: a built-in name or a URDF path (default: the task's, else arm7).
    #[arg(long, conflicts_with = "unit")]
    robot: Option<String>,
    /// Run in this scenario's simulator: its robot, settings (`[sim]`, friction and
    /// contact included), initial posture and faults; the scene is the scenario's or the
    /// task's, not both.
    #[arg(long, conflicts_with_all = ["robot", "port", "unit"])]
    scenario: Option<PathBuf>,
    #[command(flatten)]
    live: PacingArgs,
    /// Seed of the simulator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    viz: RerunArgs,
    /// Write the simulator's state every tick as JSON Lines (lockstep only).
    #[arg(long, conflicts_with_all = ["realtime", "port", "unit"])]
    record: Option<PathBuf>,
    /// Run this many simulated units of the robot side by side (lockstep; seeds
    /// `--seed`, `--seed`+1, ...), recorded as a fleet in one Rerun recording under
    /// `robot/<unit>-<k>`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64),
          conflicts_with_all = ["realtime", "port", "unit", "record"])]
    units: u32,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    dataset: crate::dataset_args::DatasetArgs,
}

/// Longest task (s of loop time) before it is stopped as hung.
pub(crate) const MAX_TASK_S: f64 = 600.0;

/// Prints notes, and in real time each step as it starts and ends.
pub(crate) struct Printer {
    pub(crate) live: bool,
}

impl Observer for Printer {
    fn note(&mut self, text: &str) {
        eprintln!("{text}");
    }

    fn progress(&mut self, _unit: usize, progress: &Progress) {
        if self.live {
            let (at_s, text, _) = describe_progress(progress);
            eprintln!("{at_s:7.2} s  {text}");
        }
    }
}

/// Runs `embody run`.
pub fn run(args: &RunArgs) -> Result {
    let pacing = args.live.pacing()?;
    let realtime = args.live.live();
    let task = Task::load(&args.task)?;
    let backend = match (&args.scenario, args.live.wire.load()?) {
        (Some(path), _) => Backend::scenario(Scenario::load(path)?),
        (None, Some(wire)) => Backend::Wire(wire),
        (None, None) => Backend::simulator(),
    };
    let mut session = Session {
        robot: args.robot.clone(),
        seed: args.seed,
        units: args.units,
        record: args.record.clone(),
        stop_after_s: Some(MAX_TASK_S),
        pacing,
        ..Session::new(backend, Drive::Task(task))
    };
    session.rerun = args.viz.config(&session.robot_name())?;
    session.net = (args.live.net).link(&args.live.wire, &session.robot_name())?;
    if args
        .dataset
        .record(&session, &mut Printer { live: false }, args.json)?
    {
        return Ok(());
    }
    let report = session.run(&mut Printer { live: realtime })?;
    let factor = |unit: &UnitReport| unit.loop_s / report.wall_s.max(1e-9);
    let mut failed = Vec::new();
    for unit in &report.units {
        if args.json {
            println!("{}", summary_json(unit, report.wall_s, factor(unit)));
        } else {
            print_summary(unit, factor(unit));
        }
        match unit.task.as_ref().map(|t| &t.status) {
            Some(Status::Succeeded) => {}
            Some(Status::Failed(why)) => failed.push(format!("{}: task failed: {why}", unit.name)),
            Some(Status::Running) => failed.push(format!(
                "{}: the task had not ended when the session stopped it at {:.1} s",
                unit.name, unit.loop_s
            )),
            None => failed.push(format!("{}: no task ran", unit.name)),
        }
    }
    if report.units.len() > 1 && !args.json {
        let n = report.units.len();
        let ok = n - failed.len();
        println!(
            "{ok} of {n} units succeeded ({:.0} %)",
            100.0 * ok as f64 / n as f64
        );
    }
    args.viz.linger();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(failed.join("; ")))
    }
}

fn result_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done => "done".to_owned(),
        Outcome::Skipped => "skipped".to_owned(),
        Outcome::Failed(why) => format!("failed: {why}"),
    }
}

fn status_text(status: Option<&Status>) -> String {
    match status {
        Some(Status::Succeeded) => "succeeded".to_owned(),
        Some(Status::Failed(why)) => format!("failed: {why}"),
        Some(Status::Running) | None => "running".to_owned(),
    }
}

fn summary_json(unit: &UnitReport, wall_s: f64, factor: f64) -> serde_json::Value {
    let task = unit.task.as_ref();
    let steps: Vec<_> = task
        .map(|t| t.steps.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            json!({
                "name": r.name, "skill": r.skill, "line": r.line,
                "started_s": r.started_s, "duration_s": r.duration_s,
                "result": result_text(&r.outcome),
                "replanned_from": r.replanned_from,
            })
        })
        .collect();
    let s = &unit.snapshot;
    json!({
        "task": task.map(|t| t.name.clone()),
        "robot": unit.name,
        "result": status_text(task.map(|t| &t.status)),
        "steps": steps,
        "segments_refused": task.map_or(0, |t| t.segments_refused),
        "final_q": &s.q[..s.n],
        "final_tracking_error": unit.tracking_error(),
        "lifecycle": s.lifecycle.to_string(),
        "faults": unit.fault_reports(),
        "base_pose": unit.base_pose,
        "simulated_s": unit.loop_s,
        "wall_s": wall_s,
        "realtime_factor": factor,
        "policy": unit.policy.as_ref().map(|p| p.summary()),
        "objects": unit.objects_json(),
    })
}

fn print_summary(unit: &UnitReport, factor: f64) {
    let task = unit.task.as_ref();
    let result = match task.map(|t| &t.status) {
        Some(Status::Succeeded) => "succeeded".to_owned(),
        Some(Status::Failed(why)) => format!("FAILED ({why})"),
        _ => "still running".to_owned(),
    };
    println!(
        "{} on {}: {result} in {:.2} s ({factor:.0}× real time)",
        task.map_or("(no task)", |t| t.name.as_str()),
        unit.name,
        unit.loop_s,
    );
    for r in task.map(|t| t.steps.as_slice()).unwrap_or_default() {
        let replanned = r
            .replanned_from
            .map(|d| format!(" (approach re-planned: started {d:.4} from the checked start)"))
            .unwrap_or_default();
        println!(
            "  line {:>3}  {:<24} {:<12} at {:>6.2} s for {:>5.2} s  {}{replanned}",
            r.line,
            r.name,
            r.skill,
            r.started_s,
            r.duration_s,
            result_text(&r.outcome)
        );
    }
    if let Some(refused) = task.map(|t| t.segments_refused).filter(|n| *n > 0) {
        println!("  {refused} segments refused by the loop's full queue");
    }
    for fault in unit.fault_reports() {
        println!("  {fault}");
    }
    println!(
        "final tracking error {:.4} rad, loop {}",
        unit.tracking_error(),
        unit.snapshot.lifecycle
    );
    if let Some(b) = unit.base_pose {
        println!("base at ({:.3}, {:.3}, {:.3}) m", b[0], b[1], b[2]);
    }
}
