//! What drives the robot in a session: the [`Driver`] the session polls every 10 ms of
//! loop time with the loop's newest snapshot and every event so far, which streams
//! trajectory segments to the loop through its client. Built in: a task
//! ([`crate::task`]), a learned policy ([`crate::policy_driver`], polled at its own
//! rate), holding the posture the robot starts in, the drives off, and a gentle motion
//! about mid-range for benchmarks.

use std::sync::Arc;

use embody_control::{
    ControlConfig, Event, Interpolation, JointPoint, LoopClient, Segment, StateSnapshot,
};
use embody_model::Model;
use embody_planner::{Progress, StepReport};

use crate::error::RuntimeError;
use crate::policy_driver::{PolicyDriver, PolicyOutcome, PolicyRun};
use crate::task::{Task, TaskDriver};

/// What a driver sees at a poll.
pub struct Poll<'a> {
    /// Loop time (s) since the first tick.
    pub now_s: f64,
    /// The loop's newest snapshot.
    pub snapshot: &'a StateSnapshot,
    /// Every event so far.
    pub events: &'a [Event],
    /// The loop's client, to send segments and commands through.
    pub client: &'a LoopClient,
    /// The scene's objects as the simulator has them (none elsewhere).
    pub scene: &'a Scene,
}

/// The scene's objects: their names and their poses as last seen; and the robot's
/// cameras, to read their images.
#[derive(Clone, Debug, Default)]
pub struct Scene {
    /// Names, in the simulator's order.
    pub names: Vec<String>,
    /// Poses `[x y z qx qy qz qw]` (m), in the same order.
    pub poses: Vec<[f64; 7]>,
    /// The cameras: what each is, and its images.
    pub cameras: Vec<(embody_hal::CameraInfo, embody_hal::ImagePool)>,
}

impl Scene {
    /// The scene of `robot`: the simulator's objects, or none.
    pub(crate) fn of(robot: &crate::robot::AnyRobot) -> (Scene, Option<embody_sim::ObjectView>) {
        match robot.sim() {
            Some(sim) => {
                let view = sim.object_view();
                let mut scene = Scene {
                    names: sim.world().objects().names().to_vec(),
                    poses: Vec::new(),
                    cameras: (sim.cameras().iter())
                        .map(|c| {
                            use embody_hal::Camera;
                            (c.info().clone(), c.images().clone())
                        })
                        .collect(),
                };
                view.read(&mut scene.poses);
                (scene, Some(view))
            }
            None => (Scene::default(), None),
        }
    }
}

/// Values a driver records at a moment of loop time, under the robot's entity in Rerun.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Loop time (s).
    pub t_s: f64,
    /// The entity below the robot's, e.g. `policy/actions`.
    pub path: String,
    /// The values, one series each.
    pub values: Vec<f64>,
}

/// What a session's sinks hear from a driver at a poll.
pub(crate) enum Note {
    /// A task step started or ended (`true`: it failed).
    Event(String, bool),
    /// Values to record.
    Series(Series),
    /// What a camera's image showed, at its capture time (s).
    Sighting(f64, embody_viz::Sighting),
}

/// Whether a driver has more to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveStatus {
    /// Still driving.
    Running,
    /// Done: the session lets what was streamed play out, then ends.
    Done,
}

/// A task's outcome, for the session's report.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskOutcome {
    /// The task's name.
    pub name: String,
    /// How it ended (`Running` when the session stopped it first).
    pub status: embody_planner::Status,
    /// Every step's report, in the order they ended.
    pub steps: Vec<StepReport>,
    /// Segments the loop's full queue refused (each one cancels the task).
    pub segments_refused: u64,
}

/// Something that drives the robot. See the module docs.
pub trait Driver: Send {
    /// Whether the loop is armed and started for it (false: the drives stay off).
    fn arms(&self) -> bool {
        true
    }

    /// How often it wants to be polled (s of loop time); default every 10 ms.
    fn poll_period_s(&self) -> f64 {
        0.01
    }

    /// Advances at a poll.
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError>;

    /// Steps started and ended since the last call, to show as they happen.
    fn progress(&mut self) -> Vec<Progress> {
        Vec::new()
    }

    /// How long the session keeps the loop running once the driver is done (s), so the
    /// last streamed segments play out.
    fn settle_s(&self) -> f64 {
        0.0
    }

    /// Values to record (Rerun) since the last call, e.g. a policy's actions.
    fn series(&mut self) -> Vec<Series> {
        Vec::new()
    }

    /// What its cameras saw since the last call, each at its image's capture time (s),
    /// to record.
    fn sightings(&mut self) -> Vec<(f64, embody_viz::Sighting)> {
        Vec::new()
    }

    /// The task's outcome, for a task.
    fn outcome(&self) -> Option<TaskOutcome> {
        None
    }

    /// The policy's outcome, for a learned policy.
    fn policy_outcome(&self) -> Option<PolicyOutcome> {
        None
    }
}

/// Makes the driver of one unit from the robot's model and its force-torque sensors'
/// names.
pub type MakeDriver = dyn Fn(&Arc<Model>, Vec<String>) -> Box<dyn Driver> + Send + Sync;

/// How a driver of the caller's own (a learned policy, a teleoperation link, a test)
/// plugs into a session: one driver per unit, made by this.
#[derive(Clone)]
pub struct DriverFactory(pub Arc<MakeDriver>);

impl std::fmt::Debug for DriverFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DriverFactory")
    }
}

/// What drives the robot, as a session describes it.
#[derive(Clone, Debug)]
pub enum Drive {
    /// A checked task, run by the planner's executor.
    Task(Task),
    /// Hold the posture the robot starts in (joint PD with gravity feed-forward).
    Hold,
    /// Nothing: the loop is never armed and every drive stays off (passive dynamics).
    Off,
    /// A gentle motion about the middle of every joint's range (benchmarks).
    Motion,
    /// A learned policy package ([`crate::policy_driver`]).
    Policy(PolicyRun),
    /// A task recorded as demonstrations for a policy package
    /// ([`crate::demonstrate`]).
    Demonstrate(crate::demonstrate::Demonstration),
    /// A driver of the caller's, one per unit.
    Custom(DriverFactory),
}

impl Drive {
    /// The loop settings this drive needs on top of `config`.
    pub fn adjust(&self, config: &mut ControlConfig) {
        if matches!(self, Drive::Hold) {
            crate::session::stiff_joint_pd(config);
            // Holding is the plan: no planner to fall silent.
            config.safety.planner_timeout_ms = 0.0;
        }
    }

    /// A driver for one unit of `model`, whose force-torque sensors are `sensors`, and
    /// whose seed (for a task's places) is `seed`.
    pub fn driver(
        &self,
        model: &Arc<Model>,
        sensors: Vec<String>,
        seed: u64,
    ) -> Result<Box<dyn Driver>, RuntimeError> {
        Ok(match self {
            Drive::Task(task) => Box::new(TaskDriver::new(task.clone(), model, sensors, seed)),
            Drive::Hold => Box::new(Hold),
            Drive::Off => Box::new(Off),
            Drive::Motion => Box::new(MotionDriver::new(model.clone())),
            Drive::Policy(run) => Box::new(PolicyDriver::new(run, model)?),
            Drive::Demonstrate(demo) => Box::new(crate::demonstrate::DemonstrationDriver::new(
                demo, model, sensors, seed,
            )?),
            Drive::Custom(factory) => (factory.0)(model, sensors),
        })
    }
}

/// Holds: the loop holds its first measured posture.
struct Hold;

impl Driver for Hold {
    fn poll(&mut self, _: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        Ok(DriveStatus::Running)
    }
}

/// The drives off.
struct Off;

impl Driver for Off {
    fn arms(&self) -> bool {
        false
    }

    fn poll(&mut self, _: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        Ok(DriveStatus::Running)
    }
}

/// Streams a gentle motion: a 2 s glide to its start, then 10 ms segments three ahead.
struct MotionDriver {
    model: Arc<Model>,
    started_s: Option<f64>,
    sent: u64,
}

/// How long the glide to the motion's start takes (s).
const GLIDE_S: f64 = 2.0;

impl MotionDriver {
    fn new(model: Arc<Model>) -> MotionDriver {
        MotionDriver {
            model,
            started_s: None,
            sent: 0,
        }
    }
}

impl Driver for MotionDriver {
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        let send = |duration_s, end| {
            // A full queue only means the loop is behind: the motion is a benchmark's.
            let _ = poll.client.send_segment(Segment {
                duration_s,
                end,
                interpolation: Interpolation::Quintic,
            });
        };
        let t0 = *self.started_s.get_or_insert_with(|| {
            send(GLIDE_S, motion(&self.model, 0.0));
            poll.now_s
        });
        let t = poll.now_s - t0 - (GLIDE_S - 0.05);
        if t < 0.0 {
            return Ok(DriveStatus::Running);
        }
        let due = (t / 0.01) as u64 + 3;
        while self.sent < due {
            self.sent += 1;
            send(0.01, motion(&self.model, self.sent as f64 * 0.01));
        }
        Ok(DriveStatus::Running)
    }
}

/// The benchmark motion at `t`: every joint swings about its range's middle by at most
/// 0.2 rad at 0.5 Hz, each a little out of phase.
pub fn motion(model: &Model, t: f64) -> JointPoint {
    let mut p = JointPoint::ZERO;
    for (k, j) in model.actuated_joints().enumerate() {
        let l = model.joints[j.0].limits;
        let (mid, half) = if l.lower.is_finite() && l.upper.is_finite() {
            (0.5 * (l.lower + l.upper), 0.5 * (l.upper - l.lower))
        } else {
            (0.0, 1.0)
        };
        let a = (0.2f64).min(0.2 * half);
        let w = 2.0 * std::f64::consts::PI * 0.5;
        let phase = k as f64 * 0.3;
        p.q[k] = mid + a * (w * t + phase).sin();
        p.dq[k] = a * w * (w * t + phase).cos();
        p.ddq[k] = -a * w * w * (w * t + phase).sin();
    }
    p
}

/// A task step's start or end in words: when (task time, s), what, and whether it
/// failed — `started grip`, `finished grip (0.52 s)`, `FAILED (why): grip (0.52 s)`.
pub fn describe_progress(progress: &Progress) -> (f64, String, bool) {
    match progress {
        Progress::Started { name, at_s } => (*at_s, format!("started {name}"), false),
        Progress::Ended(r) => {
            let (word, failed) = match &r.outcome {
                embody_planner::Outcome::Done => ("finished".to_owned(), false),
                embody_planner::Outcome::Skipped => ("skipped".to_owned(), false),
                embody_planner::Outcome::Failed(why) => (format!("FAILED ({why}):"), true),
            };
            (
                r.started_s + r.duration_s,
                format!("{word} {} ({:.2} s)", r.name, r.duration_s),
                failed,
            )
        }
    }
}

/// Polls a session's driver, as both halves of the loop driver do: forwards the steps it
/// started and ended to the observer (of unit `unit`) and, with its series, to `record`,
/// and once it is done sets when the session may end (`settle_until`).
pub(crate) fn poll_driver(
    driver: &mut dyn Driver,
    poll: &Poll<'_>,
    unit: usize,
    settle_until: &mut Option<f64>,
    observer: &mut dyn crate::session::Observer,
    record: &mut dyn FnMut(Note) -> Result<(), RuntimeError>,
) -> Result<(), RuntimeError> {
    let status = driver.poll(poll)?;
    for progress in driver.progress() {
        observer.progress(unit, &progress);
        // At loop time (the step's own times count from the task's start).
        let (_, text, failed) = describe_progress(&progress);
        record(Note::Event(text, failed))?;
    }
    for series in driver.series() {
        record(Note::Series(series))?;
    }
    for (t_s, sighting) in driver.sightings() {
        record(Note::Sighting(t_s, sighting))?;
    }
    if status == DriveStatus::Done && settle_until.is_none() {
        *settle_until = Some(poll.now_s + driver.settle_s());
    }
    Ok(())
}
