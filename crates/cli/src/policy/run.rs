//! `embody policy run`: a package driving its robot through the runtime's policy driver —
//! in simulation (lockstep by default, `--realtime` on the wall clock) from the
//! manifest's start state, or on the wire (`--port`, `--unit`) from where the robot
//! stands; prints what it did, or JSON.

use std::path::PathBuf;

use clap::Args;
use embody_runtime::policy_eval::{RobotChoice, simulation};
use embody_runtime::{Backend, PolicyRun, Quiet};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::numbers::float;
use crate::rerun_args::RerunArgs;
use crate::unit_args::PacingArgs;

/// Arguments of `embody policy run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The package directory.
    package: PathBuf,
    /// The robot (built-in name or URDF path); default the manifest's.
    #[arg(long, conflicts_with = "unit")]
    robot: Option<String>,
    /// Override whether the robot's base floats.
    #[arg(long)]
    floating_base: Option<bool>,
    /// Command values over the manifest's: `vx=0.5,wz=0.2` or `x=0.4,y=0,z=0.5`.
    #[arg(long, value_delimiter = ',')]
    command: Vec<String>,
    /// How long the policy drives (s).
    #[arg(long, default_value_t = 5.0, value_parser = float(0.01..=3600.0, " s"))]
    seconds: f64,
    #[command(flatten)]
    live: PacingArgs,
    /// Seed of the simulator: its noise, and where the scene's `random` objects land.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    viz: RerunArgs,
    #[command(flatten)]
    dataset: crate::dataset_args::DatasetArgs,
    /// Write every inference's inputs and outputs to this file (JSON lines), for a peer
    /// to recompute.
    #[arg(long)]
    record_policy: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `key=value` pairs, each value a finite number.
pub(super) fn command(pairs: &[String]) -> Result<Vec<(String, f64)>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                CliError::Usage(format!("--command {pair}: write key=value, e.g. vx=0.5"))
            })?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    CliError::Usage(format!("--command {pair}: {value} is not a finite number"))
                })?;
            Ok((key.trim().to_owned(), value))
        })
        .collect()
}

/// Prints the session's notes (each recorded episode's end).
struct Notes;

impl embody_runtime::Observer for Notes {
    fn note(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// Runs `embody policy run`.
pub fn run(args: &RunArgs) -> Result {
    let pacing = args.live.pacing()?;
    let run = PolicyRun {
        package: args.package.clone(),
        command: command(&args.command)?,
        seconds: Some(args.seconds),
        record: args.record_policy.clone(),
        approach: true,
    };
    let choice = RobotChoice {
        robot: args.robot.clone(),
        floating_base: args.floating_base,
    };
    let (mut session, manifest) = simulation(run, &choice)?;
    if let Some(wire) = args.live.wire.load()? {
        session.backend = Backend::Wire(wire);
        session.floating_base = None;
    }
    session.pacing = pacing;
    session.seed = args.seed;
    session.rerun = args.viz.config(&session.robot_name())?;
    session.net = (args.live.net).link(&args.live.wire, &session.robot_name())?;
    if args.dataset.record(&session, &mut Notes, args.json)? {
        return Ok(());
    }
    let report = session.run(&mut Quiet)?;
    let unit = report
        .units
        .first()
        .ok_or_else(|| CliError::Failed("no unit ran".into()))?;
    let outcome = unit.policy.clone().unwrap_or_default();
    // The driver follows the base's height only when it floats.
    let base = unit.base_pose.filter(|_| outcome.base_height_m.is_some());

    let faults = unit.fault_reports();
    if args.json {
        let mut out = outcome.summary();
        let extra = json!({
            "policy": manifest.name,
            "robot": unit.name,
            "base": base.map(|b| json!({"position": [b[0], b[1], b[2]]})),
            "fell": outcome.fell(),
            "final_state": unit.snapshot.lifecycle.to_string(),
            "faults": faults,
            "simulated_s": unit.loop_s,
            "wall_s": report.wall_s,
        });
        if let (Some(out), serde_json::Value::Object(extra)) = (out.as_object_mut(), extra) {
            out.extend(extra);
        }
        println!("{out}");
    } else {
        println!(
            "{} on {}: {} steps at {:.1} Hz ({} inferences) in {:.2} s simulated ({:.2} s wall), loop {}",
            manifest.name,
            unit.name,
            outcome.steps,
            outcome.rate_hz(),
            outcome.inferences,
            unit.loop_s,
            report.wall_s,
            unit.snapshot.lifecycle
        );
        println!(
            "latency snapshot to targets: p50 {:.1} µs, p99 {:.1} µs",
            outcome.latency_quantile_us(0.5),
            outcome.latency_quantile_us(0.99)
        );
        if let Some(b) = base {
            let fell = if outcome.fell() { ", fell" } else { "" };
            println!("base at ({:.3}, {:.3}, {:.3}) m{fell}", b[0], b[1], b[2]);
        }
        if let Some(r) = &outcome.reach {
            let when = r.reached_at_s.map_or("never within reach".to_owned(), |t| {
                format!("within reach at {t:.2} s")
            });
            println!(
                "{} {:.1} mm from the goal at the end (closest {:.1} mm, {when})",
                r.frame,
                r.final_m * 1e3,
                r.closest_m * 1e3
            );
        }
        for fault in &faults {
            println!("  {fault}");
        }
    }
    args.viz.linger();
    if faults.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("the loop faulted: {}", faults[0])))
    }
}
