//! Demonstrations for behaviour cloning: a task (the planner is the expert) drives the
//! robot while, at a policy package's rate, the package's own observation is built from
//! the loop's snapshot and written with the action that would have produced the
//! expert's next target. One JSON object a line:
//! `{"t_s", "inputs": {name: [..]}, "action": [..]}` — `inputs` exactly as the network
//! will be fed (scaled, clipped, with history and normalisation), `action` the value
//! the package's action mapping turns into the loop's reference one policy step later
//! (position: `(q_ref − default) / scale`; velocity: `dq_ref / scale`; torque: the
//! commanded torque `/ scale`), in the policy's joint order. The `last_action` term
//! sees the previous line's action, as it will at run time.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use embody_model::Model;
use embody_policy::Package;
use embody_policy::manifest::ActionKind;
use embody_policy::observe::{Command, ObservationBuilder};

use crate::drive::{DriveStatus, Driver, Poll, TaskOutcome};
use crate::error::RuntimeError;
use crate::task::{Task, TaskDriver};

/// A demonstration run, as a session describes it.
#[derive(Clone, Debug)]
pub struct Demonstration {
    /// The expert.
    pub task: Task,
    /// The package whose observation and action are recorded.
    pub package: PathBuf,
    /// Command values over the manifest's (what the policy will be told, e.g. the goal
    /// the task reaches for).
    pub command: Vec<(String, f64)>,
    /// Where the lines go.
    pub out: PathBuf,
}

/// Where a demonstration starts: the package's start state on the task's robot (else
/// the package's), each policy joint moved uniformly by up to `jitter` (rad or m) from
/// it with `seed`, within the joint's limits.
pub fn start(
    demo: &Demonstration,
    jitter: f64,
    seed: u64,
) -> Result<nalgebra::DVector<f64>, RuntimeError> {
    use rand::{Rng as _, SeedableRng as _};
    let model = embody_policy::package::robot_for(&demo.package, demo.task.robot(), None)?;
    let package = Package::load(&demo.package, &model)?;
    let mut q = crate::policy_driver::start_configuration(&model, &package.manifest, 0.0);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let actuated: Vec<_> = model.actuated_joints().collect();
    for &j in &package.joints {
        let joint = &model.joints[actuated[j].0];
        let l = joint.limits;
        if jitter > 0.0 {
            let moved = q[joint.idx_q] + rng.random_range(-jitter..=jitter);
            q[joint.idx_q] = moved.clamp(l.lower, l.upper);
        }
    }
    Ok(q)
}

/// Records a demonstration. See the module docs.
pub struct DemonstrationDriver {
    task: TaskDriver,
    model: Arc<Model>,
    observe: ObservationBuilder,
    command: Command,
    kind: ActionKind,
    /// Per policy joint: the robot's actuated index, default and scale.
    joints: Vec<(usize, f64, f64)>,
    period_s: f64,
    started_s: Option<f64>,
    next_s: f64,
    /// The observation waiting for the next step's reference, and its time.
    pending: Option<(f64, Vec<Vec<f32>>)>,
    last_action: Vec<f64>,
    names: Vec<String>,
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    lines: u64,
}

impl DemonstrationDriver {
    /// The driver for `demo` on `model`, whose force-torque sensors are `sensors` (its
    /// task's places drawn by `seed`).
    pub fn new(
        demo: &Demonstration,
        model: &Arc<Model>,
        sensors: Vec<String>,
        seed: u64,
    ) -> Result<DemonstrationDriver, RuntimeError> {
        let package = Package::load(&demo.package, model)?;
        let m = &package.manifest;
        if m.action.chunk.is_some() {
            return Err(RuntimeError::Invalid(format!(
                "{}: demonstrations are recorded one action a step; this package's actions come in chunks",
                demo.package.display()
            )));
        }
        let mut values = m.command.clone();
        values.extend(demo.command.iter().cloned());
        let command = Command::from_values(&values).map_err(|key| {
            RuntimeError::Invalid(format!(
                "command {key}: not a command (vx, vy, wz, x, y, z)"
            ))
        })?;
        let joints = package
            .joints
            .iter()
            .zip(&m.joints)
            .enumerate()
            .map(|(k, (&j, name))| {
                let default = m.default_posture.get(name).copied().unwrap_or(0.0);
                let scale = m.action.scale.as_ref().map_or(1.0, |s| s.at(k));
                (j, default, scale)
            })
            .collect();
        let file = std::fs::File::create(&demo.out).map_err(|source| RuntimeError::Io {
            path: demo.out.clone(),
            source,
        })?;
        Ok(DemonstrationDriver {
            task: TaskDriver::new(demo.task.clone(), model, sensors, seed),
            model: model.clone(),
            observe: package.observation_builder(model),
            command,
            kind: m.action.kind,
            joints,
            period_s: 1.0 / m.rate_hz,
            started_s: None,
            next_s: 0.0,
            pending: None,
            last_action: vec![0.0; m.action_size()],
            names: m.inputs.iter().map(|i| i.name.clone()).collect(),
            out: std::io::BufWriter::new(file),
            path: demo.out.clone(),
            lines: 0,
        })
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The action whose mapping gives the snapshot's reference (policy order).
    fn action(&self, poll: &Poll<'_>) -> Vec<f64> {
        let s = poll.snapshot;
        let at = |v: &[f64], j: usize| v.get(j).copied().unwrap_or(0.0);
        self.joints
            .iter()
            .map(|&(j, default, scale)| {
                let value = match self.kind {
                    ActionKind::Position => at(&s.q_ref, j) - default,
                    ActionKind::Velocity => at(&s.dq_ref, j),
                    ActionKind::Torque => at(&s.tau_command, j),
                };
                if scale != 0.0 { value / scale } else { 0.0 }
            })
            .collect()
    }

    /// One policy step: the pending observation is written with this step's action,
    /// and this step's observation waits for the next.
    fn step(&mut self, poll: &Poll<'_>, t_s: f64) -> Result<(), RuntimeError> {
        let action = self.action(poll);
        if let Some(k) = action.iter().position(|a| !a.is_finite()) {
            return Err(RuntimeError::Invalid(format!(
                "the expert's reference for policy joint {k} is not finite ({})",
                action[k]
            )));
        }
        if let Some((at_s, inputs)) = self.pending.take() {
            let named: serde_json::Map<String, serde_json::Value> = (self.names.iter())
                .zip(&inputs)
                .map(|(n, v)| (n.clone(), serde_json::json!(v)))
                .collect();
            let line = serde_json::json!({"t_s": at_s, "inputs": named, "action": action});
            writeln!(self.out, "{line}").map_err(|source| RuntimeError::Io {
                path: self.path.clone(),
                source,
            })?;
            self.lines += 1;
            self.last_action.clone_from(&action);
        }
        let s = poll.snapshot;
        let n = s.n.min(self.model.actuated_joints().count());
        let state = crate::policy_driver::step_input(s, n, t_s, &self.command);
        let mut inputs = vec![Vec::new(); self.names.len()];
        self.observe
            .build(&self.model, &state, &self.last_action, &mut inputs);
        self.pending = Some((t_s, inputs));
        Ok(())
    }
}

impl Driver for DemonstrationDriver {
    fn poll_period_s(&self) -> f64 {
        // The task's 10 ms or finer, a whole number of polls a policy step.
        self.period_s / (self.period_s / 0.01).ceil().max(1.0)
    }

    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        let status = self.task.poll(poll)?;
        let started = *self.started_s.get_or_insert(poll.now_s);
        let t_s = poll.now_s - started;
        // Half a loop period of slack: polls land on whole ticks.
        if poll.now_s + 5e-4 >= started + self.next_s {
            self.step(poll, t_s)?;
            self.next_s += self.period_s;
        }
        if status == DriveStatus::Done {
            self.out.flush().map_err(|source| RuntimeError::Io {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(status)
    }

    fn progress(&mut self) -> Vec<embody_planner::Progress> {
        self.task.progress()
    }

    fn settle_s(&self) -> f64 {
        self.task.settle_s()
    }

    fn outcome(&self) -> Option<TaskOutcome> {
        self.task.outcome()
    }
}
