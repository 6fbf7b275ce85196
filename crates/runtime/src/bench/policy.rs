//! What a policy step costs: observation, inference and action for a package on its
//! robot, on a fixed robot state, timed step by step off the loop (the inference thread's
//! view). Inference alone is timed too, on the same inputs, so the share of the
//! observation and action maps shows.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use embody_hal::JointCommand;
use embody_policy::engine::Engine;
use embody_policy::observe::{Command, StepInput};
use embody_policy::package::robot_for;
use embody_policy::{Package, Policy};
use serde::Serialize;

use super::median;
use crate::error::RuntimeError;

/// The figures.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyFigures {
    /// The policy.
    pub policy: String,
    /// The engine.
    pub engine: String,
    /// Values the network takes in (all inputs).
    pub inputs: usize,
    /// Steps timed.
    pub steps: usize,
    /// Observation + inference + action, median (µs).
    pub step_us: f64,
    /// The same, 99th percentile (µs).
    pub step_p99_us: f64,
    /// Inference alone on the recorded inputs, median (µs).
    pub inference_us: f64,
    /// The same inference on onnxruntime in process (feature `ort`), median (µs).
    pub onnxruntime_us: Option<f64>,
}

/// Median time (µs) of `steps` runs of `engine` on `feeds`.
fn time_inference(
    engine: &mut dyn Engine,
    feeds: &[Vec<f32>],
    steps: usize,
) -> Result<f64, RuntimeError> {
    let times = (0..steps)
        .map(|_| {
            let start = Instant::now();
            let out = black_box(engine.run(black_box(feeds)));
            let us = start.elapsed().as_secs_f64() * 1e6;
            out.map(|_| us)
        })
        .collect::<Result<_, _>>()?;
    Ok(median(times))
}

/// Times `steps` steps of the package in `dir` (after a warm-up).
pub fn run(dir: &Path, steps: usize) -> Result<PolicyFigures, RuntimeError> {
    let model = robot_for(dir, None, None)?;
    let package = Package::load(dir, &model)?;
    let mut engine = package.tract()?;
    let name = package.manifest.name.clone();
    let mut policy = Policy::new(package.clone(), Box::new(package.tract()?), &model)?;
    let n = model.actuated_joints().count();
    let q: Vec<f64> = (0..n).map(|k| 0.01 * k as f64).collect();
    let zero = vec![0.0; n];
    let command = Command::default();
    let mut targets = vec![JointCommand::Off; n];
    let mut times = Vec::with_capacity(steps);
    for k in 0..steps + 100 {
        let state = StepInput {
            t_s: k as f64 * 0.02,
            q: &q,
            dq: &zero,
            tau: &zero,
            base_pose: [0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 1.0],
            base_velocity: [0.0; 6],
            command: &command,
            objects: &[],
            images: &[],
        };
        let start = Instant::now();
        black_box(policy.step(&model, &state, &mut targets)?);
        if k >= 100 {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let feeds = policy.feeds().to_vec();
    let inference_us = time_inference(&mut engine, &feeds, steps)?;
    #[cfg(feature = "ort")]
    let onnxruntime_us = Some(time_inference(
        &mut policy.package().onnxruntime()?,
        &feeds,
        steps,
    )?);
    #[cfg(not(feature = "ort"))]
    let onnxruntime_us = None;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(PolicyFigures {
        policy: name,
        engine: engine.name().to_owned(),
        inputs: feeds.iter().map(Vec::len).sum(),
        steps,
        step_us: median(times),
        step_p99_us: sorted
            .get(((sorted.len() as f64 - 1.0) * 0.99) as usize)
            .copied()
            .unwrap_or(f64::NAN),
        inference_us,
        onnxruntime_us,
    })
}

/// The loop's timing over one real-time run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoopFigures {
    /// Ticks measured.
    pub ticks: u64,
    /// Ticks that ran past the next deadline.
    pub overruns: u64,
    /// Deadlines skipped.
    pub missed_deadlines: u64,
    /// Wake-up lateness, 99th percentile (µs).
    pub jitter_p99_us: f64,
    /// A tick's compute, 99th percentile (µs).
    pub compute_p99_us: f64,
}

impl LoopFigures {
    fn of(report: &crate::report::Report) -> LoopFigures {
        report
            .timing
            .map_or_else(LoopFigures::default, |t| LoopFigures {
                ticks: t.ticks,
                overruns: t.overruns,
                missed_deadlines: t.missed_deadlines,
                jitter_p99_us: t.jitter.p99_ns as f64 * 1e-3,
                compute_p99_us: t.compute.p99_ns as f64 * 1e-3,
            })
    }
}

/// A policy in real time beside its robot's loop, and the loop without it.
#[derive(Clone, Debug, Serialize)]
pub struct BesideLoop {
    /// The policy.
    pub policy: String,
    /// Its rate (Hz).
    pub rate_hz: f64,
    /// Seconds measured, each run.
    pub seconds: f64,
    /// Steps taken.
    pub steps: u64,
    /// Share of the steps due that ran on time (within half a period).
    pub on_time: f64,
    /// Steps late, and skipped.
    pub late: u64,
    /// Steps skipped.
    pub skipped: u64,
    /// Snapshot-to-targets latency, median and 99th percentile (µs).
    pub latency_p50_us: f64,
    /// The same, 99th percentile.
    pub latency_p99_us: f64,
    /// The loop holding its posture, no policy.
    pub holding: LoopFigures,
    /// The loop with the policy driving.
    pub with_policy: LoopFigures,
    /// The loop's faults in either run (a run that faults ends early).
    pub faults: Vec<crate::report::FaultReport>,
}

/// Runs the package in `dir` for `seconds` in real time in simulation with the loop
/// under `rt`, after the loop holding its start posture as long: how many policy steps
/// ran on time, and the loop's overruns in each run.
pub fn beside_loop(
    dir: &Path,
    seconds: f64,
    rt: embody_control::RtConfig,
) -> Result<BesideLoop, RuntimeError> {
    use crate::policy_eval::{RobotChoice, simulation};
    use crate::session::{Pacing, Quiet};
    const WARM_UP_S: f64 = 0.5;
    let run = crate::PolicyRun {
        package: dir.to_owned(),
        command: Vec::new(),
        seconds: Some(seconds + WARM_UP_S),
        record: None,
        approach: false,
    };
    let (mut session, manifest) = simulation(run, &RobotChoice::default())?;
    session.pacing = Pacing::Realtime(rt);
    session.measure_after_s = WARM_UP_S;
    let holding = crate::session::Session {
        drive: crate::drive::Drive::Hold,
        stop_after_s: Some(seconds + WARM_UP_S),
        ..session.clone()
    }
    .run(&mut Quiet)?;
    let report = session.run(&mut Quiet)?;
    let outcome = (report.units.first())
        .and_then(|u| u.policy.clone())
        .unwrap_or_default();
    let faults = (report.units.iter())
        .chain(&holding.units)
        .flat_map(|u| u.fault_reports())
        .collect();
    Ok(BesideLoop {
        policy: manifest.name,
        rate_hz: manifest.rate_hz,
        seconds,
        steps: outcome.steps,
        on_time: outcome.on_time(),
        late: outcome.late,
        skipped: outcome.skipped,
        latency_p50_us: outcome.latency_quantile_us(0.5),
        latency_p99_us: outcome.latency_quantile_us(0.99),
        holding: LoopFigures::of(&holding),
        with_policy: LoopFigures::of(&report),
        faults,
    })
}
