//! `embody sim run <scenario.toml>`: loads and checks a scenario and runs it in a
//! session: its robot in its environment at its initial state, the loop holding that
//! posture (joint PD with gravity feed-forward, stiff enough to keep a humanoid
//! standing) — or every drive off — for the scenario's duration, its faults injected on
//! time. Lockstep by default (bit-identical for a seed); `--realtime` on the loop
//! thread. `--record` writes the states as JSON Lines; `--rerun` shows the simulator's
//! true state (in real time: what the loop measured); the summary lists every safety
//! event.

use std::path::PathBuf;

use clap::Args;
use embody_control::{EventKind, Lifecycle, RtConfig};
use embody_runtime::{Backend, Drive, Pacing, Quiet, Session, UnitReport};
use embody_sim::Scenario;
use serde_json::json;

use crate::error::{CliError, Result};
use crate::numbers::float;

/// Arguments of `embody sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Write the state at every tick to this file (JSON Lines; lockstep).
    #[arg(long, conflicts_with = "realtime")]
    record: Option<PathBuf>,
    /// Run the loop on its own thread on the wall clock instead of lockstep.
    #[arg(long)]
    realtime: bool,
    /// Run the loop thread under SCHED_FIFO at this priority (1–99) with `--realtime`;
    /// when the OS refuses, it warns and runs without. On a busy machine a loop
    /// descheduled for 5 ms faults on stale sensors, as on a robot.
    #[arg(long, requires = "realtime", value_parser = clap::value_parser!(i32).range(1..=99))]
    priority: Option<i32>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's duration (s).
    #[arg(long, value_parser = float(0.001..=3600.0, " s"))]
    duration: Option<f64>,
    /// What drives the robot: the loop holding the initial posture, or nothing (drives
    /// off: the passive dynamics, e.g. to compare with another simulator).
    #[arg(long, value_enum, default_value_t = Controller::Hold)]
    controller: Controller,
    #[command(flatten)]
    viz: crate::rerun_args::RerunArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What drives the simulated robot.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Controller {
    /// The control loop with joint PD holding the initial posture.
    Hold,
    /// Nothing: every drive off.
    None,
}

/// Runs `embody sim run`.
pub fn run(args: &RunArgs) -> Result {
    let mut loaded = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        loaded.scenario.sim.seed = seed;
    }
    if let Some(duration) = args.duration {
        loaded.scenario.duration_s = duration;
    }
    let (duration_s, faults) = (loaded.scenario.duration_s, loaded.scenario.faults.clone());
    let robot = loaded.model.name.clone();
    let floating = loaded.model.free_flyer().is_some();
    let seed = loaded.scenario.sim.seed;
    let drive = match args.controller {
        Controller::Hold => Drive::Hold,
        Controller::None => Drive::Off,
    };
    let session = Session {
        pacing: if args.realtime {
            Pacing::Realtime(RtConfig {
                priority: args.priority,
                ..RtConfig::default()
            })
        } else {
            Pacing::Lockstep
        },
        rerun: args.viz.config(&robot)?,
        record: args.record.clone(),
        seed,
        stop_after_s: Some(duration_s),
        ..Session::new(Backend::scenario(loaded), drive)
    };
    let report = session.run(&mut Quiet)?;
    let unit = report
        .units
        .first()
        .ok_or_else(|| CliError::Failed("no unit ran".into()))?;
    let factor = unit.loop_s / report.wall_s.max(1e-9);
    let events = transitions(unit);
    let base = unit.base_pose.filter(|_| floating);
    if args.json {
        let out = json!({
            "scenario": args.scenario.display().to_string(),
            "robot": robot,
            "simulated_s": unit.loop_s,
            "wall_s": report.wall_s,
            "realtime_factor": factor,
            "final_state": unit.snapshot.lifecycle.to_string(),
            "faults": unit.fault_reports(),
            "base_position_m": base.map(|b| [b[0], b[1], b[2]]),
            "contacts": unit.contacts,
            "faults_injected": faults.len(),
            "events": events,
            "objects": unit.objects_json(),
            "cameras": unit.cameras,
        });
        println!("{out}");
    } else {
        println!(
            "{}: {robot} for {:.2} s simulated in {:.2} s ({factor:.1}× real time), final state {}",
            args.scenario.display(),
            unit.loop_s,
            report.wall_s,
            unit.snapshot.lifecycle
        );
        if let Some(b) = base {
            println!(
                "base at ({:.3}, {:.3}, {:.3}) m, {} contact points",
                b[0],
                b[1],
                b[2],
                unit.contacts.unwrap_or(0)
            );
        }
        for (name, p) in &unit.objects {
            println!("object {name} at ({:.3}, {:.3}, {:.3}) m", p[0], p[1], p[2]);
        }
        for fault in &faults {
            let (at, duration) = fault.window();
            match duration {
                Some(d) => println!("fault {} at {at} s for {d} s", fault.kind()),
                None => println!("fault {} at {at} s", fault.kind()),
            }
        }
        for line in &events {
            println!("event {line}");
        }
        if unit.snapshot.lifecycle != Lifecycle::Running && args.controller == Controller::Hold {
            println!("the loop is not running at the end (see the events above)");
        }
    }
    args.viz.linger();
    Ok(())
}

/// The loop's transitions and refusals, one line each with its time (and the joint, by
/// name, a cause concerns).
fn transitions(unit: &UnitReport) -> Vec<String> {
    unit.events
        .iter()
        .filter_map(|e| {
            let (what, cause) = match e.kind {
                EventKind::Transition { from, to, cause } => (format!("{from} -> {to}"), cause),
                EventKind::Refused { state, cause } => (format!("{state} refused"), cause),
                _ => return None,
            };
            let joint = cause
                .joint()
                .and_then(|k| unit.joints.get(k))
                .map(|name| format!(" on {name}"))
                .unwrap_or_default();
            Some(format!(
                "{:.3} s: {what} ({cause}{joint})",
                e.stamp_ns as f64 * 1e-9
            ))
        })
        .collect()
}
