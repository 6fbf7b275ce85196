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
        };
        let start = Instant::now();
        black_box(policy.step(&model, &state, &mut targets)?);
        if k >= 100 {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let feeds = policy.feeds().to_vec();
    let inference: Vec<f64> = (0..steps)
        .map(|_| {
            let start = Instant::now();
            let out = black_box(engine.run(black_box(&feeds)));
            let us = start.elapsed().as_secs_f64() * 1e6;
            out.map(|_| us)
        })
        .collect::<Result<_, _>>()?;
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
        inference_us: median(inference),
    })
}
