//! `embody policy run`: a package driving its robot in simulation (lockstep), through the
//! runtime's policy driver; prints what it did, or JSON.

use std::path::PathBuf;

use clap::Args;
use embody_runtime::policy::package::robot_for;
use embody_runtime::policy::{Manifest, Problem};
use embody_runtime::policy_driver::start_configuration;
use embody_runtime::{Backend, Drive, PolicyRun, Quiet, RuntimeError, Session, Simulator};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::numbers::float;

/// Arguments of `embody policy run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The package directory.
    package: PathBuf,
    /// The robot (built-in name or URDF path); default the manifest's.
    #[arg(long)]
    robot: Option<String>,
    /// Override whether the robot's base floats.
    #[arg(long)]
    floating_base: Option<bool>,
    /// Command values over the manifest's: `vx=0.5,wz=0.2` or `x=0.4,y=0,z=0.5`.
    #[arg(long, value_delimiter = ',')]
    command: Vec<String>,
    /// How long the policy drives (s of simulated time).
    #[arg(long, default_value_t = 5.0, value_parser = float(0.01..=3600.0, " s"))]
    seconds: f64,
    /// Write every inference's inputs and outputs to this file (JSON lines), for a peer
    /// to recompute.
    #[arg(long)]
    record_policy: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `key=value` pairs, each value a finite number.
fn command(pairs: &[String]) -> Result<Vec<(String, f64)>> {
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

/// Runs `embody policy run`.
pub fn run(args: &RunArgs) -> Result {
    let model = robot_for(&args.package, args.robot.as_deref(), args.floating_base)
        .map_err(RuntimeError::from)?;
    let file = args.package.join("policy.toml");
    let text = std::fs::read_to_string(&file).map_err(|e| CliError::file(&file, e))?;
    let manifest = Manifest::parse(&text, &file).map_err(|p: Vec<Problem>| {
        RuntimeError::from(embody_runtime::policy::PolicyError::Problems(p))
    })?;
    let simulator = Simulator {
        initial: Some(start_configuration(&model, &manifest, 0.0)),
        show_truth: true,
        ..Simulator::default()
    };
    let session = Session {
        robot: args.robot.clone().or(manifest.robot.clone()),
        stop_after_s: Some(args.seconds + 0.01),
        ..Session::new(
            Backend::Simulator(simulator),
            Drive::Policy(PolicyRun {
                package: args.package.clone(),
                command: command(&args.command)?,
                seconds: Some(args.seconds),
                record: args.record_policy.clone(),
            }),
        )
    };
    let report = session.run(&mut Quiet)?;
    let unit = report
        .units
        .first()
        .ok_or_else(|| CliError::Failed("no unit ran".into()))?;
    let outcome = unit.policy.clone().unwrap_or_default();
    let base = unit.base_pose.filter(|_| model.free_flyer().is_some());
    let faults = unit.fault_reports();
    if args.json {
        let out = json!({
            "policy": manifest.name,
            "robot": unit.name,
            "steps": outcome.steps,
            "inferences": outcome.inferences,
            "policy_hz": outcome.rate_hz(),
            "base": base.map(|b| json!({"position": [b[0], b[1], b[2]]})),
            "fell": outcome.fell(),
            "latency_us": {
                "p50": outcome.latency_quantile_us(0.5),
                "p99": outcome.latency_quantile_us(0.99),
            },
            "refused": outcome.refused,
            "final_state": unit.snapshot.lifecycle.to_string(),
            "faults": faults,
            "simulated_s": unit.loop_s,
            "wall_s": report.wall_s,
        });
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
        for fault in &faults {
            println!("  {fault}");
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("the loop faulted: {}", faults[0])))
    }
}
