//! A learned policy as a session's driver: at the policy's rate it builds the network's
//! inputs from the loop's newest snapshot (joint state, the estimator's base pose and
//! velocity), runs the network off the loop thread, and hands the loop impedance targets
//! through the lock-free targets queue (`ControllerKind::Targets`): the actuators' PD
//! tracks them at the loop rate, a late step holds the last target, silence faults to
//! damping. A non-finite action is handed on as it is, so the loop's supervisor faults
//! on it and it is never sent. It measures each step's latency, snapshot read to
//! targets queued, counts late and skipped steps, follows a floating base's height and
//! tilt and, for a package whose episode reaches, how close its frame came; it adds
//! gravity compensation when the manifest asks, glides to the start posture first when
//! the run asks, and hands the session its actions, observation terms and latency to
//! record.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use embody_control::targets::TargetFrame;
use embody_control::{ControllerKind, Lifecycle, LoopCommand};
use embody_hal::{Image, JointCommand};
use embody_model::{Data, FrameId, Model, frame_placements, gravity_torques};
use embody_policy::manifest::{Episode, Success};
use embody_policy::observe::{Command, StepInput};
use embody_policy::{Package, Policy, PolicyError};

use crate::drive::{DriveStatus, Driver, Poll, Series};
use crate::error::RuntimeError;
pub use crate::policy_outcome::{PolicyOutcome, Reach};

/// Where the simulator starts a policy's robot: the manifest's default posture, its
/// start posture over it, and a floating base at its start height (default standing on
/// the ground at `ground_m`).
pub fn start_configuration(
    model: &Model,
    manifest: &embody_policy::Manifest,
    ground_m: f64,
) -> nalgebra::DVector<f64> {
    let mut q = model.neutral_configuration();
    let start = manifest.start.clone().unwrap_or_default();
    for (name, value) in manifest.default_posture.iter().chain(&start.posture) {
        if let Some(j) = model.joint_id(name) {
            q[model.joints[j.0].idx_q] = *value;
        }
    }
    if let Some(ff) = model.free_flyer() {
        let iz = model.joints[ff.0].idx_q + 2;
        match start.base_height_m {
            Some(h) => q[iz] = ground_m + h,
            None => {
                if let Some(lowest) = embody_sim::lowest_point(model, q.as_slice()) {
                    q[iz] += ground_m - lowest;
                }
            }
        }
    }
    q
}

/// A policy's view of the loop's snapshot `s`: its first `n` actuated joints, its base,
/// `t_s` into the run, with `command`.
pub(crate) fn step_input<'a>(
    s: &'a embody_control::StateSnapshot,
    n: usize,
    t_s: f64,
    command: &'a Command,
) -> StepInput<'a> {
    StepInput {
        t_s,
        q: &s.q[..n],
        dq: &s.dq[..n],
        tau: &s.tau_measured[..n],
        base_pose: s.base_pose,
        base_velocity: s.base_velocity,
        command,
        objects: &[],
        images: &[],
    }
}

/// Each observation term's Rerun entity, `policy/observation/<input>/<kind>` (a kind
/// twice in an input gets its term index), with where its values lie in its input.
fn term_paths(manifest: &embody_policy::Manifest) -> Vec<(usize, usize, usize, String)> {
    let mut paths = Vec::new();
    for (i, input) in manifest.inputs.iter().enumerate() {
        let layout = manifest.layout(i);
        for &(t, kind, start, len) in &layout {
            let twice = layout.iter().filter(|l| l.1 == kind).count() > 1;
            let suffix = if twice {
                format!("_{t}")
            } else {
                String::new()
            };
            let path = format!("policy/observation/{}/{}{suffix}", input.name, kind.name());
            paths.push((i, start, len, path));
        }
    }
    paths
}

/// A policy run, as a session describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRun {
    /// The package directory.
    pub package: PathBuf,
    /// Command values over the manifest's (`vx vy wz x y z`).
    pub command: Vec<(String, f64)>,
    /// How long the policy drives (s); `None`: until the session stops.
    pub seconds: Option<f64>,
    /// Write every inference's inputs and outputs here, one JSON object a line
    /// (`{"t_s", "inputs": {name: [..]}, "outputs": {name: [..]}}`), so a peer can
    /// recompute the outputs.
    pub record: Option<PathBuf>,
    /// First glide the policy's joints to its start posture (the manifest's default
    /// and start postures) with the loop's own controller, when they are further than
    /// 0.02 rad from it — a robot on the wire stands wherever it was left. The policy's
    /// time starts once it is there.
    pub approach: bool,
}

/// Joint speed of the approach to the start posture (rad/s or m/s).
const APPROACH_SPEED: f64 = 0.4;

/// Runs a policy. See the module docs.
pub struct PolicyDriver {
    policy: Policy,
    model: Arc<Model>,
    command: Command,
    period_s: f64,
    seconds: Option<f64>,
    started_s: Option<f64>,
    next_s: f64,
    targets: Vec<JointCommand>,
    outcome: PolicyOutcome,
    record: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    kinematics: Kinematics,
    /// The start posture by actuated joint, when the run approaches it first.
    approach: Option<Vec<(usize, f64)>>,
    /// When the approach is over (loop time).
    approach_until: Option<f64>,
    gravity_feedforward: bool,
    reach_frame: Option<FrameId>,
    /// Each observation term's Rerun entity: (input, first value, values, path).
    term_paths: Vec<(usize, usize, usize, String)>,
    series: Vec<Series>,
    /// The cameras its `image` terms read, and the oldest image they may take (s).
    cameras: Vec<String>,
    max_image_age_s: f64,
    /// The objects its `object_pose` terms observe.
    objects: Vec<String>,
    /// Where the task's cameras last saw objects, by name (set before each poll).
    seen: Vec<(String, [f64; 7])>,
}

/// The model's configuration and frames at the measured state, for gravity torques and
/// the reached frame.
struct Kinematics {
    data: Data,
    q: Vec<f64>,
    /// Configuration and velocity index of each actuated joint.
    idx: Vec<(usize, usize)>,
    floating: bool,
}

impl Kinematics {
    fn new(model: &Model) -> Kinematics {
        Kinematics {
            data: Data::new(model),
            q: model.neutral_configuration().as_slice().to_vec(),
            idx: model
                .actuated_joints()
                .map(|j| (model.joints[j.0].idx_q, model.joints[j.0].idx_v))
                .collect(),
            floating: model.free_flyer().is_some(),
        }
    }

    /// Sets the configuration from a snapshot's joints and base.
    fn set(&mut self, q: &[f64], base_pose: &[f64; 7]) {
        if self.floating {
            self.q[..7].copy_from_slice(base_pose);
        }
        for (&(iq, _), &value) in self.idx.iter().zip(q) {
            self.q[iq] = value;
        }
    }
}

impl PolicyDriver {
    /// The driver for `run` on `model`: the package loaded, checked and built on tract.
    pub fn new(run: &PolicyRun, model: &Arc<Model>) -> Result<PolicyDriver, RuntimeError> {
        let package = Package::load(&run.package, model)?;
        let engine = package.tract()?;
        let mut values = package.manifest.command.clone();
        values.extend(run.command.iter().cloned());
        let command = Command::from_values(&values).map_err(|key| {
            RuntimeError::Invalid(format!(
                "command {key}: not a command (vx, vy, wz, x, y, z)"
            ))
        })?;
        let period_s = 1.0 / package.manifest.rate_hz;
        let record = match &run.record {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|source| RuntimeError::Io {
                    path: path.clone(),
                    source,
                })?;
                Some((path.clone(), std::io::BufWriter::new(file)))
            }
            None => None,
        };
        let reach = match &package.manifest.episode {
            Some(Episode {
                success: Success::Reach { frame, within_m },
                ..
            }) => Some((frame.clone(), *within_m)),
            _ => None,
        };
        let reach_frame = reach.as_ref().and_then(|(f, _)| model.frame_id(f));
        let gravity_feedforward = package.manifest.action.gravity_feedforward;
        let outcome = PolicyOutcome {
            reach: reach.map(|(frame, within_m)| Reach {
                frame,
                goal: command.goal,
                within_m,
                final_m: f64::NAN,
                closest_m: f64::INFINITY,
                reached_at_s: None,
            }),
            ..PolicyOutcome::default()
        };
        let term_paths = term_paths(&package.manifest);
        let terms = || package.manifest.inputs.iter().flat_map(|i| &i.terms);
        let mut cameras: Vec<String> = terms()
            .filter_map(|t| t.image.as_ref().map(|i| i.camera.clone()))
            .collect();
        cameras.dedup();
        let objects: Vec<String> = terms().filter_map(|t| t.object.clone()).collect();
        let max_image_age_s =
            (package.manifest.max_image_age_s).unwrap_or(embody_policy::manifest::MAX_IMAGE_AGE_S);
        let approach = run.approach.then(|| {
            let m = &package.manifest;
            let start = m.start.clone().unwrap_or_default();
            (package.joints.iter().zip(&m.joints))
                .map(|(&j, name)| {
                    let q = start.posture.get(name).or(m.default_posture.get(name));
                    (j, q.copied().unwrap_or(0.0))
                })
                .collect()
        });
        let policy = Policy::new(package, Box::new(engine), model)?;
        Ok(PolicyDriver {
            policy,
            model: model.clone(),
            command,
            period_s,
            seconds: run.seconds,
            started_s: None,
            next_s: 0.0,
            targets: vec![JointCommand::Off; model.actuated_joints().count()],
            outcome,
            record,
            kinematics: Kinematics::new(model),
            approach,
            approach_until: None,
            gravity_feedforward,
            reach_frame,
            term_paths,
            series: Vec::new(),
            cameras,
            max_image_age_s,
            objects,
            seen: Vec::new(),
        })
    }

    /// Where the task's cameras last saw its objects, by name: what `object_pose` terms
    /// observe (before the simulator's own objects).
    pub fn set_seen(&mut self, seen: Vec<(String, [f64; 7])>) {
        self.seen = seen;
    }

    /// The images and object poses its terms take from `poll`; `Err` with the camera
    /// and the image's age (ms, `None` for no image) when one is missing or too old.
    #[allow(clippy::type_complexity)]
    fn sights(
        &mut self,
        poll: &Poll<'_>,
    ) -> Result<(Vec<(String, Arc<Image>)>, Vec<(String, [f64; 7])>), (String, Option<f64>)> {
        let mut images = Vec::with_capacity(self.cameras.len());
        for camera in &self.cameras {
            let latest = (poll.scene.cameras.iter())
                .find(|(info, _)| info.name == *camera)
                .and_then(|(_, pool)| pool.latest());
            let Some(image) = latest else {
                return Err((camera.clone(), None));
            };
            let age_ms = poll
                .snapshot
                .stamp_ns
                .saturating_sub(image.captured.as_nanos()) as f64
                * 1e-6;
            self.outcome.max_image_age_ms = self.outcome.max_image_age_ms.max(age_ms);
            self.series.push(Series {
                t_s: poll.now_s,
                path: format!("policy/image_age_ms/{camera}"),
                values: vec![age_ms],
            });
            if age_ms > self.max_image_age_s * 1e3 {
                return Err((camera.clone(), Some(age_ms)));
            }
            images.push((camera.clone(), image));
        }
        let objects = (self.objects.iter())
            .filter_map(|name| {
                let seen = self.seen.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
                let scene = || {
                    let k = poll.scene.names.iter().position(|n| n == name)?;
                    poll.scene.poses.get(k).copied()
                };
                Some((name.clone(), seen.or_else(scene)?))
            })
            .collect();
        Ok((images, objects))
    }

    /// Holds the policy for a step: no inference; its joints keep their last targets.
    fn hold(&mut self, poll: &Poll<'_>, camera: &str, age_ms: Option<f64>) {
        if self.outcome.held == 0 {
            let why = age_ms.map_or("none yet".to_owned(), |a| format!("{a:.0} ms old"));
            tracing::warn!(camera, "policy held: the camera's image is {why}");
        }
        self.outcome.held += 1;
        self.series.push(Series {
            t_s: poll.now_s,
            path: "policy/held".into(),
            values: vec![1.0],
        });
        let mut frame = TargetFrame::default();
        for &k in &self.policy.package().joints {
            frame.set(k, self.targets[k]);
        }
        if poll.client.send_targets(frame).is_err() {
            self.outcome.refused += 1;
        }
    }

    /// One policy step on `poll`'s snapshot.
    fn step(&mut self, poll: &Poll<'_>, t_s: f64) -> Result<(), RuntimeError> {
        let read = Instant::now();
        let (images, objects) = match self.sights(poll) {
            Ok(sights) => sights,
            Err((camera, age_ms)) => {
                self.hold(poll, &camera, age_ms);
                return Ok(());
            }
        };
        let s = poll.snapshot;
        if self.model.free_flyer().is_some() {
            let [_, _, z, qx, qy, _, _] = s.base_pose;
            let heights = self.outcome.base_height_m.get_or_insert((z, z));
            heights.1 = heights.1.min(z);
            // The angle between the base's z axis and the world's: R₂₂ = 1 − 2(qx² + qy²).
            let tilt = (1.0 - 2.0 * (qx * qx + qy * qy)).clamp(-1.0, 1.0).acos();
            self.outcome.max_tilt_rad = self.outcome.max_tilt_rad.max(tilt);
        }
        let n = s.n.min(self.targets.len());
        let state = StepInput {
            objects: &objects,
            images: &images,
            ..step_input(s, n, t_s, &self.command)
        };
        if self.gravity_feedforward || self.reach_frame.is_some() {
            self.kinematics.set(&s.q[..n], &s.base_pose);
        }
        if let (Some(frame), Some(reach)) = (self.reach_frame, &mut self.outcome.reach) {
            let k = &mut self.kinematics;
            frame_placements(&self.model, &mut k.data, &k.q);
            let at = k.data.world_from_frame[frame.0].translation;
            let d = (at - nalgebra::Vector3::from(reach.goal)).norm();
            reach.final_m = d;
            reach.closest_m = reach.closest_m.min(d);
            if d <= reach.within_m && reach.reached_at_s.is_none() {
                reach.reached_at_s = Some(t_s);
            }
        }
        let mut frame = TargetFrame::default();
        let now_s = poll.now_s;
        match self.policy.step(&self.model, &state, &mut self.targets) {
            Ok(report) => {
                self.outcome.inferences += u64::from(report.inferred);
                if report.inferred {
                    self.write_record(t_s)?;
                    self.observe_series(now_s);
                }
                self.series.push(Series {
                    t_s: now_s,
                    path: "policy/actions".into(),
                    values: report.action,
                });
                if self.gravity_feedforward {
                    self.add_gravity();
                }
                for &k in &self.policy.package().joints {
                    frame.set(k, self.targets[k]);
                }
            }
            Err(PolicyError::NonFinite { .. }) => {
                // The loop's supervisor faults on it; nothing of it reaches a motor.
                for &k in &self.policy.package().joints {
                    frame.set(k, JointCommand::Torque { tau: f64::NAN });
                }
            }
            Err(e) => return Err(e.into()),
        }
        if poll.client.send_targets(frame).is_err() {
            self.outcome.refused += 1;
        }
        self.outcome.steps += 1;
        let latency_us = read.elapsed().as_secs_f64() * 1e6;
        self.outcome.latency_us.push(latency_us);
        self.series.push(Series {
            t_s: now_s,
            path: "policy/latency_us".into(),
            values: vec![latency_us],
        });
        Ok(())
    }

    /// Queues each observation term's values of the last inference for the recording.
    fn observe_series(&mut self, t_s: f64) {
        let observed = self.policy.observation();
        for (input, start, len, path) in &self.term_paths {
            if let Some(values) = observed
                .get(*input)
                .and_then(|v| v.get(*start..start + len))
            {
                self.series.push(Series {
                    t_s,
                    path: path.clone(),
                    values: values.iter().map(|&x| f64::from(x)).collect(),
                });
            }
        }
    }

    /// Adds the gravity torque at the measured posture to the policy's targets.
    fn add_gravity(&mut self) {
        let k = &mut self.kinematics;
        let g = gravity_torques(&self.model, &mut k.data, &k.q);
        for &j in &self.policy.package().joints {
            if let (Some(JointCommand::Impedance { tau_ff, .. }), Some(&(_, iv))) =
                (self.targets.get_mut(j), k.idx.get(j))
            {
                *tau_ff = g[iv];
            }
        }
    }

    /// Writes the last inference to the record, if one is kept.
    fn write_record(&mut self, t_s: f64) -> Result<(), RuntimeError> {
        use std::io::Write as _;
        let Some((path, out)) = &mut self.record else {
            return Ok(());
        };
        let (inputs, outputs) = self.policy.io_names();
        let named = |names: Vec<String>,
                     values: &[Vec<f32>]|
         -> serde_json::Map<String, serde_json::Value> {
            names
                .into_iter()
                .zip(values)
                .map(|(n, v)| (n, serde_json::json!(v)))
                .collect()
        };
        let line = serde_json::json!({
            "t_s": t_s,
            "inputs": named(inputs, self.policy.feeds()),
            "outputs": named(outputs, self.policy.outputs()),
        });
        writeln!(out, "{line}").map_err(|source| RuntimeError::Io {
            path: path.clone(),
            source,
        })
    }

    /// The robot's actuated joints the policy drives, in the policy's order.
    pub fn joints(&self) -> &[usize] {
        &self.policy.package().joints
    }

    /// Glides to the start posture if it is far, through the loop's segments; when the
    /// policy may start (loop time).
    fn begin_approach(&self, poll: &Poll<'_>) -> f64 {
        let Some(start) = &self.approach else {
            return poll.now_s;
        };
        let s = poll.snapshot;
        let far = (start.iter())
            .map(|&(j, q)| (s.q.get(j).copied().unwrap_or(q) - q).abs())
            .fold(0.0, f64::max);
        if far <= 0.02 {
            return poll.now_s;
        }
        let mut end = embody_control::JointPoint::ZERO;
        // The other joints stay where they are, within their limits (a measured finger
        // a hair past its stop would have the loop refuse the segment).
        for ((slot, &q), joint) in end
            .q
            .iter_mut()
            .zip(&s.q[..s.n])
            .zip(self.model.actuated_joints())
        {
            let l = self.model.joints[joint.0].limits;
            *slot = q.clamp(l.lower, l.upper);
        }
        for &(j, q) in start {
            if let Some(slot) = end.q.get_mut(j) {
                *slot = q;
            }
        }
        let duration_s = (far / APPROACH_SPEED).max(1.0);
        let _ = poll.client.send_segment(embody_control::Segment {
            duration_s,
            end,
            interpolation: embody_control::Interpolation::Quintic,
        });
        poll.now_s + duration_s + 0.3
    }

    /// Makes it start afresh at its next poll (a task's policy step run again): state
    /// reset, a new outcome.
    pub fn restart(&mut self) {
        self.started_s = None;
        self.approach_until = None;
        self.outcome = PolicyOutcome {
            reach: self.outcome.reach.clone().map(|r| Reach {
                final_m: f64::NAN,
                closest_m: f64::INFINITY,
                reached_at_s: None,
                ..r
            }),
            ..PolicyOutcome::default()
        };
        self.series.clear();
    }

    /// What the run did.
    pub fn outcome(&self) -> &PolicyOutcome {
        &self.outcome
    }
}

impl Driver for PolicyDriver {
    fn poll_period_s(&self) -> f64 {
        // Four polls a step: a real-time step runs at most a quarter period late, however
        // the poll timer and the loop's clock drift.
        self.period_s / 4.0
    }

    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        if poll.snapshot.lifecycle == Lifecycle::Fault {
            return Ok(DriveStatus::Done);
        }
        let started = match self.started_s {
            Some(t) => t,
            None => {
                if poll.snapshot.lifecycle != Lifecycle::Running {
                    // Armed and started by the session; on the wire that takes a moment.
                    return Ok(DriveStatus::Running);
                }
                let until = match self.approach_until {
                    Some(t) => t,
                    None => *self.approach_until.insert(self.begin_approach(poll)),
                };
                if poll.now_s < until {
                    return Ok(DriveStatus::Running);
                }
                let _ = poll
                    .client
                    .send(LoopCommand::SetController(ControllerKind::Targets));
                self.policy.reset();
                self.started_s = Some(poll.now_s);
                self.next_s = poll.now_s;
                poll.now_s
            }
        };
        let t_s = poll.now_s - started;
        if self.seconds.is_some_and(|s| t_s >= s) {
            return Ok(DriveStatus::Done);
        }
        // Half a loop period of slack: polls land on whole ticks.
        if poll.now_s + 5e-4 >= self.next_s {
            if poll.now_s - self.next_s > 0.5 * self.period_s {
                self.outcome.late += 1;
            }
            self.step(poll, t_s)?;
            self.outcome.active_s = t_s;
            self.next_s += self.period_s;
            if self.next_s <= poll.now_s {
                // Behind by more than a step (real time): skip, do not burst.
                let behind = ((poll.now_s - self.next_s) / self.period_s).floor() as u64 + 1;
                self.outcome.skipped += behind;
                self.next_s += behind as f64 * self.period_s;
            }
        }
        Ok(DriveStatus::Running)
    }

    fn series(&mut self) -> Vec<Series> {
        std::mem::take(&mut self.series)
    }

    fn policy_outcome(&self) -> Option<PolicyOutcome> {
        Some(self.outcome.clone())
    }
}
