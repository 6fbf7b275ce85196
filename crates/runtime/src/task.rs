//! A task file as a session's driver: [`Task`] is the file read and parsed (so a bad
//! one is refused, located, before any robot is touched); [`TaskDriver`] checks it
//! against the robot's first measured state — before anything moves: the loop only
//! holds until segments come — and runs the checked plan with the planner's executor,
//! streaming its segments. A segment the loop's full queue refuses is counted and
//! cancels the task: what would run is no longer what was checked. Its `policy` steps'
//! packages are loaded and checked against the robot with the task, before anything
//! moves; while one runs, its [`PolicyDriver`] drives the loop with targets, and when
//! it ends the loop returns to the controller it had.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use embody_control::{ControllerKind, Event, EventKind, Lifecycle, LoopCommand, Segment};
use embody_model::Model;
use embody_planner::{
    Executor, Observation, Progress, RawTask, RobotInfo, Source, Status, TaskError, check,
};
use embody_sim::Environment;
use embody_sim::camera::CameraConfig;
use serde::Deserialize;

use crate::drive::{DriveStatus, Driver, Poll, Series, TaskOutcome};
use crate::error::RuntimeError;
use crate::policy_driver::{PolicyDriver, PolicyOutcome, PolicyRun};
use crate::seen::{Seeing, SeenConfig};

/// A task file, read and parsed.
#[derive(Clone, Debug)]
pub struct Task {
    /// The file's text, for locating problems.
    pub source: Source,
    /// The task as written.
    pub raw: RawTask,
    /// The scene it is written for (its `[environment]`, checked): the simulator's.
    pub environment: Option<Environment>,
    /// Cameras it adds to the simulator (`[[cameras]]`).
    pub cameras: Vec<CameraConfig>,
    /// Objects it looks for with the cameras (`[[seen]]`).
    pub seen: Vec<SeenConfig>,
    /// How the robot starts in the simulator (`[start]`).
    pub start: TaskStart,
    /// Its named points in the world (`[places]`), by name.
    pub places: BTreeMap<String, Place>,
}

/// A named point in the world that steps move to (`relative_to = "place:drop"`) and
/// conditions check against (`{ object = "box", place = "drop" }`), moved for each
/// run's seed by up to its ranges: `[places] drop = { position = [-0.3, 0.3, 0.225],
/// random = { x_m = [-0.05, 0.05] } }`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Where it is (m, world).
    pub position: [f64; 3],
    /// The ranges it is moved by along x, y and z (m), drawn afresh for each run's seed.
    #[serde(default)]
    pub random: PlaceRandom,
}

/// How far a [`Place`] is moved: each axis uniformly within its `[lo, hi]` (m).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaceRandom {
    /// Along x (m).
    pub x_m: [f64; 2],
    /// Along y (m).
    pub y_m: [f64; 2],
    /// Along z (m).
    pub z_m: [f64; 2],
}

/// The largest range a place is moved by along an axis (m).
const PLACE_RANGE_M: f64 = 10.0;

impl Place {
    /// Why this place is wrong, if it is: its position and ranges must be finite, each
    /// range `[lo, hi]` with lo ≤ hi and no wider than 10 m.
    fn check(&self) -> Result<(), String> {
        if let Some(x) = self.position.iter().find(|x| !x.is_finite()) {
            return Err(format!("position: {x} is not a finite number of metres"));
        }
        let r = &self.random;
        for (axis, [lo, hi]) in ["x_m", "y_m", "z_m"].iter().zip([r.x_m, r.y_m, r.z_m]) {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi && hi - lo <= PLACE_RANGE_M) {
                return Err(format!(
                    "random.{axis}: [{lo}, {hi}] is not a range [lo, hi] of finite metres with lo ≤ hi, at most {PLACE_RANGE_M} m wide"
                ));
            }
        }
        Ok(())
    }
}

/// How a task's robot starts in the simulator: `[start] jitter_rad = 0.05` moves each
/// joint from its starting posture by up to that much (uniformly, a sliding joint a tenth
/// of it in metres, within its limits), drawn afresh for each run's seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskStart {
    /// The largest move of a joint (rad), 0–1.
    pub jitter_rad: f64,
}

impl Task {
    /// Reads and parses the task file at `path`.
    pub fn load(path: &Path) -> Result<Task, TaskError> {
        Task::parse(Source::read(path)?)
    }

    /// Parses and checks `source`'s task (its steps are checked against the robot when
    /// it runs).
    pub fn parse(source: Source) -> Result<Task, TaskError> {
        let raw = source.parse()?;
        let environment = match &raw.environment {
            Some(value) => {
                let at = |reason: String| source.error(value.span(), reason);
                let mut environment = Environment::deserialize(value.get_ref().clone())
                    .map_err(|e| at(format!("environment: {}", e.message())))?;
                let folder = source.file.parent().unwrap_or(Path::new(""));
                (environment.load_meshes(folder))
                    .map_err(|(key, reason)| at(format!("environment.{key}: {reason}")))?;
                environment
                    .check()
                    .map_err(|(key, reason)| at(format!("environment.{key}: {reason}")))?;
                Some(environment)
            }
            None => None,
        };
        let cameras: Vec<CameraConfig> = match &raw.cameras {
            Some(value) => Vec::deserialize(value.get_ref().clone())
                .map_err(|e| source.error(value.span(), format!("cameras: {}", e.message())))?,
            None => Vec::new(),
        };
        let seen: Vec<SeenConfig> = match &raw.seen {
            Some(value) => Vec::deserialize(value.get_ref().clone())
                .map_err(|e| source.error(value.span(), format!("seen: {}", e.message())))?,
            None => Vec::new(),
        };
        let start = match &raw.start {
            Some(value) => {
                let at = |reason: String| source.error(value.span(), reason);
                let start = TaskStart::deserialize(value.get_ref().clone())
                    .map_err(|e| at(format!("start: {}", e.message())))?;
                if !(0.0..=1.0).contains(&start.jitter_rad) {
                    return Err(at(format!(
                        "start.jitter_rad: {} is outside 0–1 rad",
                        start.jitter_rad
                    )));
                }
                start
            }
            None => TaskStart::default(),
        };
        let places: BTreeMap<String, Place> = match &raw.places {
            Some(value) => {
                let at = |reason: String| source.error(value.span(), reason);
                let places = BTreeMap::deserialize(value.get_ref().clone())
                    .map_err(|e| at(format!("places: {}", e.message())))?;
                for (name, place) in &places {
                    let place: &Place = place;
                    place
                        .check()
                        .map_err(|reason| at(format!("places.{name}.{reason}")))?;
                }
                places
            }
            None => BTreeMap::new(),
        };
        Ok(Task {
            source,
            raw,
            environment,
            cameras,
            seen,
            start,
            places,
        })
    }

    /// Where its places are for the run with `seed`: each moved by a draw within its
    /// ranges, in name order, from a stream of its own (the same seed, the same places;
    /// the scene's objects and the sensors' noise do not shift with them).
    pub fn places(&self, seed: u64) -> BTreeMap<String, [f64; 3]> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ 0x0070_6c61_6365_7321);
        let mut draw = |[lo, hi]: [f64; 2]| {
            if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        };
        (self.places.iter())
            .map(|(name, place)| {
                let r = place.random;
                let [x, y, z] = place.position;
                (
                    name.clone(),
                    [x + draw(r.x_m), y + draw(r.y_m), z + draw(r.z_m)],
                )
            })
            .collect()
    }

    /// The robot the task was written for, if it says.
    pub fn robot(&self) -> Option<&str> {
        self.raw.robot.as_deref()
    }
}

/// How long the session keeps the loop running after the task ends (s).
const SETTLE_S: f64 = 0.3;

/// Runs a task. See the module docs.
pub struct TaskDriver {
    task: Task,
    info: RobotInfo,
    executor: Option<Executor>,
    name: String,
    segments: Vec<Segment>,
    refused: u64,
    pending: Vec<Progress>,
    model: Arc<Model>,
    /// Each `policy` step's driver, by line, made when the task is checked.
    policies: BTreeMap<usize, PolicyDriver>,
    /// The policy step running (its line) and the controller it took over from.
    running: Option<(usize, ControllerKind)>,
    /// The last policy step's outcome.
    policy_outcome: Option<PolicyOutcome>,
    /// What the cameras see of the task's `[[seen]]` objects.
    seeing: Option<Seeing>,
}

impl TaskDriver {
    /// A driver for `task` on `model`, whose force-torque sensors are `sensors`, with
    /// its places where `seed` draws them.
    pub fn new(task: Task, model: &Arc<Model>, sensors: Vec<String>, seed: u64) -> TaskDriver {
        let name = task
            .raw
            .name
            .clone()
            .unwrap_or_else(|| task.source.file.display().to_string());
        TaskDriver {
            info: RobotInfo::new(model.as_ref().clone(), sensors).with_places(task.places(seed)),
            task,
            executor: None,
            name,
            segments: Vec::new(),
            refused: 0,
            pending: Vec::new(),
            model: model.clone(),
            policies: BTreeMap::new(),
            running: None,
            policy_outcome: None,
            seeing: None,
        }
    }
}

/// The cause of the loop's first fault, if it faulted.
fn fault_cause(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e.kind {
        EventKind::Transition {
            to: Lifecycle::Fault,
            cause,
            ..
        } => Some(cause.to_string()),
        _ => None,
    })
}

/// Why the loop last refused a segment: the motion is then not what was planned.
fn rejection(events: &[Event]) -> Option<String> {
    events.iter().rev().find_map(|e| match e.kind {
        EventKind::SegmentRejected { reason } => Some(reason.to_string()),
        _ => None,
    })
}

impl TaskDriver {
    /// The task's `[[seen]]` objects, checked against the robot's cameras.
    fn see(&self, poll: &Poll<'_>) -> Result<Seeing, RuntimeError> {
        let cameras: Vec<String> = (poll.scene.cameras.iter())
            .map(|(info, _)| info.name.clone())
            .collect();
        for (k, object) in self.task.seen.iter().enumerate() {
            object.check(&cameras).map_err(|(key, reason)| {
                let span = self.task.raw.seen.as_ref().map_or(0..0, |s| s.span());
                self.task.source.error(
                    span,
                    format!("seen[{k}] ({}): {key}: {reason}", object.name),
                )
            })?;
        }
        Ok(Seeing::new(&self.task.seen, &poll.scene.cameras))
    }

    /// Starts, steps or ends the policy step running (`running`: its line).
    fn drive_policy(
        &mut self,
        poll: &Poll<'_>,
        running: Option<usize>,
    ) -> Result<(), RuntimeError> {
        if let Some((line, before)) = self.running
            && running != Some(line)
        {
            // Ended: back to the controller it took over from (bumpless).
            let _ = poll.client.send(LoopCommand::SetController(before));
            self.running = None;
            if let Some(driver) = self.policies.get_mut(&line) {
                self.policy_outcome = Some(driver.outcome().clone());
            }
        }
        let Some(line) = running else {
            return Ok(());
        };
        let Some(driver) = self.policies.get_mut(&line) else {
            return Ok(());
        };
        if let Some(seeing) = &self.seeing {
            driver.set_seen(seeing.poses());
        }
        if self.running.is_none() {
            driver.restart();
            let before = ControllerKind::from_u8(poll.snapshot.controller)
                .filter(|k| *k != ControllerKind::Targets)
                .unwrap_or_default();
            self.running = Some((line, before));
        }
        driver.poll(poll)?;
        Ok(())
    }
}

impl Driver for TaskDriver {
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        let n = poll.snapshot.n;
        let q = &poll.snapshot.q[..n];
        let executor = match &mut self.executor {
            Some(executor) => executor,
            None => {
                let start = self.info.clamp(q);
                // The objects the simulator has; on a robot that does not see its
                // scene, the task's own (their conditions are then skipped).
                self.info.objects = if poll.scene.names.is_empty() {
                    (self.task.environment.iter())
                        .flat_map(|e| e.objects.iter().map(|o| o.name.clone()))
                        .collect()
                } else {
                    poll.scene.names.clone()
                };
                let seeing = self.see(poll)?;
                self.info.seen = seeing.names();
                self.seeing = Some(seeing);
                let plan = check(&self.task.source, &self.task.raw, &self.info, &start)?;
                self.name = plan.name.clone();
                for (line, step) in plan.policy_steps() {
                    let run = PolicyRun {
                        package: step.package.clone(),
                        command: step.command.clone(),
                        seconds: None,
                        record: None,
                        approach: false,
                    };
                    let driver = PolicyDriver::new(&run, &self.model).map_err(|e| {
                        RuntimeError::Invalid(format!(
                            "{}:{line}: policy {}: {e}",
                            self.task.source.file.display(),
                            step.package.display()
                        ))
                    })?;
                    self.policies.insert(line, driver);
                }
                self.executor
                    .insert(Executor::new(plan, self.info.clone(), &start))
            }
        };
        self.segments.clear();
        if let Some(why) = rejection(poll.events) {
            executor.cancel(
                &format!("the loop refused a segment: {why}"),
                &mut self.segments,
            );
        }
        let cause = fault_cause(poll.events);
        let seen = match &mut self.seeing {
            Some(seeing) => {
                seeing.update(poll.now_s, poll.snapshot.stamp_ns);
                seeing.found()
            }
            None => &[],
        };
        let status = executor.poll(
            &Observation {
                now_s: poll.now_s,
                q,
                tau: &poll.snapshot.tau_measured[..n],
                contacts: poll.snapshot.contacts,
                objects: &poll.scene.poses,
                seen,
                fault: cause.as_deref(),
            },
            &mut self.segments,
        );
        let before = self.refused;
        for segment in self.segments.drain(..) {
            if poll.client.send_segment(segment).is_err() {
                self.refused += 1;
            }
        }
        if self.refused > before {
            let mut rest = Vec::new();
            executor.cancel(
                &format!(
                    "the loop's segment queue was full: {} segment{} not sent",
                    self.refused,
                    if self.refused == 1 { "" } else { "s" }
                ),
                &mut rest,
            );
            // The stopping segment, if the queue has room again; counted if not.
            for segment in rest {
                if poll.client.send_segment(segment).is_err() {
                    self.refused += 1;
                }
            }
        }
        let running = executor.running_policy().map(|(line, _)| line);
        let joints = running
            .and_then(|line| self.policies.get(&line))
            .map(|d| d.joints().to_vec());
        if let (Some(line), Some(joints)) = (running, &joints)
            && self.running.map(|(l, _)| l) != Some(line)
        {
            executor.hand_over(joints);
        }
        self.pending.extend(executor.drain_progress());
        // A cancel after the poll (a full queue) ends the task too.
        let done = !matches!(
            (status, executor.status()),
            (Status::Running, Status::Running)
        );
        self.drive_policy(poll, running)?;
        Ok(if done {
            DriveStatus::Done
        } else {
            DriveStatus::Running
        })
    }

    fn progress(&mut self) -> Vec<Progress> {
        std::mem::take(&mut self.pending)
    }

    fn settle_s(&self) -> f64 {
        SETTLE_S
    }

    fn series(&mut self) -> Vec<Series> {
        match self
            .running
            .and_then(|(line, _)| self.policies.get_mut(&line))
        {
            Some(driver) => driver.series(),
            None => Vec::new(),
        }
    }

    fn sightings(&mut self) -> Vec<(f64, embody_viz::Sighting)> {
        self.seeing.as_mut().map(Seeing::drain).unwrap_or_default()
    }

    fn policy_outcome(&self) -> Option<PolicyOutcome> {
        match self.running.and_then(|(line, _)| self.policies.get(&line)) {
            Some(driver) => Some(driver.outcome().clone()),
            None => self.policy_outcome.clone(),
        }
    }

    fn outcome(&self) -> Option<TaskOutcome> {
        Some(TaskOutcome {
            name: self.name.clone(),
            status: self
                .executor
                .as_ref()
                .map_or(Status::Failed("the task never started".into()), |e| {
                    e.status().clone()
                }),
            steps: self
                .executor
                .as_ref()
                .map(|e| e.reports().to_vec())
                .unwrap_or_default(),
            segments_refused: self.refused,
        })
    }
}
