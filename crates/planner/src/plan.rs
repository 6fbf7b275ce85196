//! From a task file to a checked plan: every step resolved against the robot (joint,
//! frame and sensor names, postures, limits) and every motion planned once from the
//! configuration the steps before it leave, so an unreachable pose or an out-of-limit
//! target is reported with its line before anything moves. The plan carries those
//! motions — joint moves, IK solutions, sampled Cartesian lines, their timing — and the
//! executor runs them; where a step starts elsewhere than checked, it re-plans only the
//! approach to the checked motion.

use std::cell::Cell;
use std::collections::BTreeMap;

use embody_model::{
    Data, FrameId, IkOptions, IkSolver, Model, frame_placements, spatial::Transform,
};
use nalgebra::{DVector, Rotation3};

use crate::motion::{JointMove, LineOptions, LinePath, Motion, MotionError, chain_joints};
use crate::numbers::{self, shown, shown3};
use crate::scurve::Limits;
use crate::task::{RawCondition, RawStep, RawTask, Source, TaskError};

/// A condition on the robot's state.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Joint within `tolerance` of `value`.
    JointNear {
        /// Joint index.
        joint: usize,
        /// Target (rad or m).
        value: f64,
        /// Tolerance.
        tolerance: f64,
    },
    /// A scene object's position within `tolerance` of `position` (the simulator's
    /// objects: [`RobotInfo::objects`]).
    ObjectNear {
        /// Object index.
        object: usize,
        /// Target position in the world (m).
        position: [f64; 3],
        /// Tolerance (m).
        tolerance: f64,
    },
    /// The joint's measured effort magnitude above `threshold` (N or N·m).
    ForceAbove {
        /// Joint index.
        joint: usize,
        /// Threshold.
        threshold: f64,
    },
    /// The force-torque sensor with this index reports contact.
    Contact {
        /// Sensor index.
        sensor: usize,
    },
    /// The cameras have seen this object ([`RobotInfo::seen`]) lately.
    Seen {
        /// Its index in [`RobotInfo::seen`].
        object: usize,
    },
}

/// What a `move_pose` target is relative to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relative {
    /// Where the frame is when the step starts: `position` is an offset along the
    /// world's axes (`rpy` stays the world's).
    Start,
    /// A seen object ([`RobotInfo::seen`], by index): `position` and `rpy` are in its
    /// frame, where it was last seen when the step starts.
    Seen(usize),
}

/// A pose move as checked: a joint-space move to the IK solution, or a sampled line.
#[derive(Clone, Debug)]
pub enum PoseMotion {
    /// Joint space, to the configuration IK found (on the frame's chain).
    Joints(JointMove),
    /// A straight line of the frame, sampled through IK.
    Line(LinePath),
    /// Relative to where the frame is or where an object was last seen: planned when
    /// the step starts (a straight line when `line`).
    AtStart {
        /// A straight line rather than a joint-space move.
        line: bool,
    },
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Move joints to targets (joint index, value), synchronised.
    MoveJoints {
        /// Targets.
        targets: Vec<(usize, f64)>,
        /// Fraction of the bounds.
        speed: f64,
        /// The move as checked.
        motion: JointMove,
    },
    /// Move a frame to a pose.
    MovePose {
        /// The frame.
        frame: FrameId,
        /// Target position (m).
        position: [f64; 3],
        /// Target roll, pitch, yaw (rad); keep the current orientation if absent.
        rpy: Option<[f64; 3]>,
        /// What `position` (and `rpy`) are relative to; the world when `None`.
        relative_to: Option<Relative>,
        /// Fraction of the bounds.
        speed: f64,
        /// The motion as checked.
        motion: PoseMotion,
    },
    /// Hold the current reference.
    Hold {
        /// Seconds.
        seconds: f64,
    },
    /// Wait (the reference is held).
    Wait {
        /// Seconds.
        seconds: f64,
    },
    /// Open or close the gripper.
    Gripper {
        /// Finger joint.
        joint: usize,
        /// Its target.
        target: f64,
        /// Stop closing when the finger's effort exceeds this (N).
        force_n: Option<f64>,
        /// The finger's move as checked.
        motion: JointMove,
    },
    /// Wait until a condition holds.
    WaitUntil {
        /// The condition.
        condition: Condition,
        /// Give up after (s).
        timeout_s: f64,
    },
    /// Run a learned policy package: the session's driver runs it on the joints it
    /// drives (the reference follows them there) until the time is up or the condition
    /// holds.
    Policy(PolicyStep),
    /// Children one after another.
    Sequence(Vec<Step>),
    /// Children at once (on disjoint joints).
    Parallel(Vec<Step>),
    /// The child until it succeeds, at most `limit` times.
    Retry {
        /// Attempts.
        limit: u32,
        /// The child.
        step: Box<Step>,
    },
    /// The child, failing if it takes longer.
    Timeout {
        /// Seconds.
        seconds: f64,
        /// The child.
        step: Box<Step>,
    },
}

/// A `policy` step as checked (the package itself is checked by whoever runs it).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyStep {
    /// The package directory (relative paths resolved against the task file's).
    pub package: std::path::PathBuf,
    /// Command values over the package's.
    pub command: Vec<(String, f64)>,
    /// Run this long (s) at most.
    pub seconds: Option<f64>,
    /// Stop once this holds.
    pub until: Option<Condition>,
}

/// A checked step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its name (given, or skill and line).
    pub name: String,
    /// The skill as written.
    pub skill: String,
    /// Its line in the task file.
    pub line: usize,
    /// Run only if this holds when the step starts.
    pub guard: Option<Condition>,
    /// What it does.
    pub action: Action,
}

/// A checked task.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Task name.
    pub name: String,
    /// The steps, as one sequence.
    pub root: Step,
}

impl Step {
    /// This step and every step below it, depth first.
    pub fn walk(&self) -> Vec<&Step> {
        let mut out = vec![self];
        match &self.action {
            Action::Sequence(children) | Action::Parallel(children) => {
                for child in children {
                    out.extend(child.walk());
                }
            }
            Action::Retry { step, .. } | Action::Timeout { step, .. } => out.extend(step.walk()),
            _ => {}
        }
        out
    }
}

impl Plan {
    /// Every `policy` step, with its line.
    pub fn policy_steps(&self) -> Vec<(usize, &PolicyStep)> {
        (self.root.walk().into_iter())
            .filter_map(|s| match &s.action {
                Action::Policy(p) => Some((s.line, p)),
                _ => None,
            })
            .collect()
    }
}

/// What the planner knows of the robot.
#[derive(Clone, Debug)]
pub struct RobotInfo {
    /// The model (fixed-base for Cartesian moves).
    pub model: Model,
    /// Actuated joint names, in the loop's order.
    pub joints: Vec<String>,
    /// Per-joint motion bounds at full speed.
    pub limits: Vec<Limits>,
    /// Position limits per joint.
    pub ranges: Vec<(f64, f64)>,
    /// Named postures: name → joint values (by name).
    pub postures: BTreeMap<String, BTreeMap<String, f64>>,
    /// The gripper: finger joint, open and closed positions.
    pub gripper: Option<(usize, f64, f64)>,
    /// Force-torque sensor names, in the robot's order.
    pub sensors: Vec<String>,
    /// The scene's objects by name, in the order their poses are observed (none
    /// unless given: [`RobotInfo::with_objects`]).
    pub objects: Vec<String>,
    /// The objects the cameras look for, by name, in the order they are observed (none
    /// unless given: [`RobotInfo::with_seen`]).
    pub seen: Vec<String>,
    /// Named points in the world (m) that steps move to and conditions check against
    /// (`relative_to = "place:<name>"`, `{ object, place }`): a task's `[places]`, drawn
    /// for the run (none unless given: [`RobotInfo::with_places`]).
    pub places: BTreeMap<String, [f64; 3]>,
}

impl RobotInfo {
    /// The planner's view of `model` (built-in postures for the built-in robots).
    pub fn new(model: Model, sensors: Vec<String>) -> RobotInfo {
        let joints: Vec<String> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].name.clone())
            .collect();
        let (limits, ranges) = model
            .actuated_joints()
            .map(|j| {
                let l = model.joints[j.0].limits;
                let v = if l.velocity.is_finite() && l.velocity > 0.0 {
                    l.velocity
                } else {
                    1.0
                };
                (
                    Limits {
                        velocity: v,
                        acceleration: 4.0 * v,
                        jerk: 40.0 * v,
                    },
                    (l.lower, l.upper),
                )
            })
            .unzip();
        // Open and closed a tenth of the travel inside the stops, clear of the loop's
        // soft limits.
        let gripper = joints.iter().position(|n| n.contains("finger")).map(|k| {
            let (lo, hi) = ranges_of(&model, k);
            let inset = 0.1 * (hi - lo);
            (k, hi - inset, lo + inset)
        });
        RobotInfo {
            postures: builtin_postures(&model.name),
            model,
            joints,
            limits,
            ranges,
            gripper,
            sensors,
            objects: Vec::new(),
            seen: Vec::new(),
            places: BTreeMap::new(),
        }
    }

    /// This view with the objects its cameras look for named (in the order they are
    /// observed).
    pub fn with_seen(mut self, seen: Vec<String>) -> RobotInfo {
        self.seen = seen;
        self
    }

    /// This view with the task's places where they are for this run.
    pub fn with_places(mut self, places: BTreeMap<String, [f64; 3]>) -> RobotInfo {
        self.places = places;
        self
    }

    /// This view with the scene's objects named (in the order they are observed).
    pub fn with_objects(mut self, objects: Vec<String>) -> RobotInfo {
        self.objects = objects;
        self
    }
}

impl RobotInfo {
    /// `q` with each joint clamped into its position limits (a reading a count outside
    /// a stop starts at the stop).
    pub fn clamp(&self, q: &[f64]) -> Vec<f64> {
        q.iter()
            .take(self.ranges.len())
            .enumerate()
            .map(|(j, q)| self.clamp_joint(j, *q))
            .collect()
    }

    /// `q` clamped into joint `j`'s position limits.
    pub fn clamp_joint(&self, j: usize, q: f64) -> f64 {
        let (lower, upper) = self.ranges[j];
        q.max(lower).min(upper)
    }

    /// Joint `k`'s bounds at a fraction `speed` of them.
    pub fn limits_at(&self, k: usize, speed: f64) -> Limits {
        scaled(&self.limits[k], speed)
    }
}

fn ranges_of(model: &Model, k: usize) -> (f64, f64) {
    model.actuated_joints().nth(k).map_or((0.0, 0.0), |j| {
        (
            model.joints[j.0].limits.lower,
            model.joints[j.0].limits.upper,
        )
    })
}

/// Postures every task on a built-in robot can name.
fn builtin_postures(robot: &str) -> BTreeMap<String, BTreeMap<String, f64>> {
    let table: &[(&str, &[(&str, f64)])] = match robot {
        "arm7" => &[
            (
                "home",
                &[
                    ("joint1", 0.0),
                    ("joint2", 0.3),
                    ("joint3", 0.0),
                    ("joint4", -1.0),
                    ("joint5", 0.0),
                    ("joint6", 0.8),
                    ("joint7", 0.0),
                ],
            ),
            (
                "ready",
                &[
                    ("joint1", 0.0),
                    ("joint2", 0.6),
                    ("joint3", 0.0),
                    ("joint4", -1.6),
                    ("joint5", 0.0),
                    ("joint6", 1.0),
                    ("joint7", 0.0),
                ],
            ),
        ],
        "so101" => &[
            (
                "home",
                &[
                    ("shoulder_pan", 0.0),
                    ("shoulder_lift", 0.3),
                    ("elbow_flex", -1.0),
                    ("wrist_flex", 0.8),
                    ("wrist_roll", 0.0),
                ],
            ),
            (
                "ready",
                &[
                    ("shoulder_pan", 0.0),
                    ("shoulder_lift", -0.4),
                    ("elbow_flex", -1.15),
                    ("wrist_flex", -1.591_593),
                    ("wrist_roll", 0.0),
                ],
            ),
        ],
        "humanoid" => &[
            (
                "stand",
                &[
                    ("left_hip_pitch_joint", 0.0),
                    ("left_knee_joint", 0.0),
                    ("left_ankle_pitch_joint", 0.0),
                    ("right_hip_pitch_joint", 0.0),
                    ("right_knee_joint", 0.0),
                    ("right_ankle_pitch_joint", 0.0),
                ],
            ),
            (
                "squat",
                &[
                    ("left_hip_pitch_joint", -0.5),
                    ("left_knee_joint", 1.0),
                    ("left_ankle_pitch_joint", -0.5),
                    ("right_hip_pitch_joint", -0.5),
                    ("right_knee_joint", 1.0),
                    ("right_ankle_pitch_joint", -0.5),
                ],
            ),
        ],
        _ => &[],
    };
    table
        .iter()
        .map(|(name, joints)| {
            (
                (*name).to_owned(),
                joints.iter().map(|(j, v)| ((*j).to_owned(), *v)).collect(),
            )
        })
        .collect()
}

/// The most IK samples a task's straight lines may take together: 1 km of lines at
/// the 1 mm resolution, about 100 MB of plan.
pub const MAX_LINE_SAMPLES: usize = 1_000_000;

struct Checker<'a> {
    source: &'a Source,
    robot: &'a RobotInfo,
    /// The robot's joint names → their index.
    joints: BTreeMap<&'a str, usize>,
    postures: BTreeMap<String, BTreeMap<String, f64>>,
    /// IK samples the task's lines have taken so far.
    line_samples: Cell<usize>,
}

const SKILLS: &str = "move_joints, move_pose, hold, wait, gripper, wait_until, policy, sequence, parallel, retry, timeout";

impl<'a> Checker<'a> {
    /// A checker of tasks on `robot`, which may name `postures`.
    fn new(
        source: &'a Source,
        robot: &'a RobotInfo,
        postures: BTreeMap<String, BTreeMap<String, f64>>,
    ) -> Checker<'a> {
        Checker {
            source,
            robot,
            joints: robot
                .joints
                .iter()
                .enumerate()
                .map(|(k, name)| (name.as_str(), k))
                .collect(),
            postures,
            line_samples: Cell::new(0),
        }
    }

    fn joint(&self, name: &str, span: std::ops::Range<usize>) -> Result<usize, TaskError> {
        self.joints.get(name).copied().ok_or_else(|| {
            self.source.error(
                span,
                format!("no joint named '{name}' on {}", self.robot.model.name),
            )
        })
    }

    fn condition(&self, raw: &toml::Spanned<RawCondition>) -> Result<Condition, TaskError> {
        let span = raw.span();
        let c = raw.get_ref();
        let forms = [
            c.near.is_some(),
            c.force_above_n.is_some(),
            c.contact.is_some(),
            c.position.is_some() || c.place.is_some(),
            c.seen.is_some(),
        ];
        if forms.iter().filter(|f| **f).count() != 1 || (c.position.is_some() && c.place.is_some())
        {
            return Err(self.source.error(span, "a condition has exactly one of `near` (with `joint`), `force_above_n` (with `joint`), `contact`, `position` or `place` (with `object`) or `seen`"));
        }
        if let Some(name) = &c.seen {
            return Ok(Condition::Seen {
                object: self.seen_object(name, span)?,
            });
        }
        if let Some(name) = &c.place {
            let position = self.place(name, span.clone())?;
            return self.object_condition(c, position, span);
        }
        if let Some(position) = c.position {
            return self.object_condition(c, position, span);
        }
        if let Some(sensor) = &c.contact {
            let index = self
                .robot
                .sensors
                .iter()
                .position(|s| s == sensor)
                .ok_or_else(|| {
                    self.source.error(
                        span.clone(),
                        format!(
                            "no force-torque sensor named '{sensor}' (the robot has: {})",
                            self.robot.sensors.join(", ")
                        ),
                    )
                })?;
            return Ok(Condition::Contact { sensor: index });
        }
        let Some(joint) = &c.joint else {
            return Err(self.source.error(span, "this condition needs a `joint`"));
        };
        let joint = self.joint(joint, span.clone())?;
        let bad = |reason: String| self.source.error(span.clone(), reason);
        Ok(match (c.near, c.force_above_n) {
            (Some(value), _) => {
                let value = numbers::finite("near", value, "").map_err(bad)?;
                let tolerance = numbers::tolerance(c.tolerance.unwrap_or(0.01)).map_err(bad)?;
                let (lo, hi) = self.robot.ranges[joint];
                if value + tolerance < lo || value - tolerance > hi {
                    return Err(bad(format!(
                        "{} near {} (± {}) can never hold: its limits are [{}, {}]",
                        self.robot.joints[joint],
                        shown(value),
                        shown(tolerance),
                        shown(lo),
                        shown(hi)
                    )));
                }
                Condition::JointNear {
                    joint,
                    value,
                    tolerance,
                }
            }
            (_, Some(threshold)) => Condition::ForceAbove {
                joint,
                threshold: numbers::force("force_above_n", threshold).map_err(bad)?,
            },
            _ => unreachable!("one form checked above"),
        })
    }

    /// The index of the seen object `name`.
    fn seen_object(&self, name: &str, span: std::ops::Range<usize>) -> Result<usize, TaskError> {
        (self.robot.seen.iter().position(|o| o == name)).ok_or_else(|| {
            self.source.error(
                span,
                if self.robot.seen.is_empty() {
                    format!("no seen object named '{name}': the task looks for none (declare it in [[seen]], with the camera that looks for it)")
                } else {
                    format!(
                        "no seen object named '{name}' (the task looks for: {})",
                        self.robot.seen.join(", ")
                    )
                },
            )
        })
    }

    /// Where the place `name` is for this run.
    fn place(&self, name: &str, span: std::ops::Range<usize>) -> Result<[f64; 3], TaskError> {
        self.robot.places.get(name).copied().ok_or_else(|| {
            self.source.error(
                span,
                if self.robot.places.is_empty() {
                    format!("no place named '{name}': the task has no [places]")
                } else {
                    format!(
                        "no place named '{name}' (the task's places: {})",
                        (self.robot.places.keys().cloned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            )
        })
    }

    /// `{ object = "box", position = [x, y, z], tolerance = m }` (or `place = "drop"`).
    fn object_condition(
        &self,
        c: &RawCondition,
        position: [f64; 3],
        span: std::ops::Range<usize>,
    ) -> Result<Condition, TaskError> {
        let bad = |reason: String| self.source.error(span.clone(), reason);
        let Some(name) = &c.object else {
            return Err(bad("a `position` condition needs an `object`".into()));
        };
        if c.joint.is_some() {
            return Err(bad(
                "a `position` condition is on an `object`, not a `joint`".into(),
            ));
        }
        let object = (self.robot.objects.iter().position(|o| o == name)).ok_or_else(|| {
            bad(if self.robot.objects.is_empty() {
                format!("no object named '{name}': the scene has no objects (objects are the simulator's, from the task's or the scenario's [environment])")
            } else {
                format!(
                    "no object named '{name}' (the scene has: {})",
                    self.robot.objects.join(", ")
                )
            })
        })?;
        for (axis, x) in ["x", "y", "z"].iter().zip(position) {
            numbers::finite(&format!("position.{axis}"), x, "").map_err(bad)?;
        }
        Ok(Condition::ObjectNear {
            object,
            position,
            tolerance: numbers::tolerance(c.tolerance.unwrap_or(0.01)).map_err(bad)?,
        })
    }

    fn check_target(
        &self,
        k: usize,
        value: f64,
        span: std::ops::Range<usize>,
    ) -> Result<(), TaskError> {
        let (lo, hi) = self.robot.ranges[k];
        let name = &self.robot.joints[k];
        let value = numbers::finite(name, value, "")
            .map_err(|reason| self.source.error(span.clone(), reason))?;
        if value < lo || value > hi {
            return Err(self.source.error(
                span,
                format!(
                    "{name} = {} is outside its limits [{}, {}]",
                    shown(value),
                    shown(lo),
                    shown(hi)
                ),
            ));
        }
        Ok(())
    }

    /// A task's own postures: every joint named on the robot, every value within its
    /// limits (used or not).
    fn task_postures(&self, task: &RawTask) -> Result<(), TaskError> {
        for (name, posture) in &task.postures {
            for (joint, value) in posture.get_ref() {
                self.joint(joint, posture.span())
                    .and_then(|k| self.check_target(k, *value, posture.span()))
                    .map_err(|e| TaskError {
                        reason: format!("posture '{name}': {}", e.reason),
                        ..e
                    })?;
            }
        }
        Ok(())
    }

    /// `duration_s` of the motion a `skill` step planned, if not longer than a step
    /// may last.
    fn motion_time(
        &self,
        skill: &str,
        duration_s: f64,
        span: std::ops::Range<usize>,
    ) -> Result<(), TaskError> {
        numbers::motion_s(skill, duration_s)
            .map(|_| ())
            .map_err(|reason| self.source.error(span, reason))
    }

    /// Counts a line's IK samples against [`MAX_LINE_SAMPLES`].
    fn line_budget(&self, path: &LinePath, span: std::ops::Range<usize>) -> Result<(), TaskError> {
        let total = self.line_samples.get() + path.samples().len();
        self.line_samples.set(total);
        if total > MAX_LINE_SAMPLES {
            return Err(self.source.error(
                span,
                format!(
                    "the task's straight lines need more than {MAX_LINE_SAMPLES} IK samples \
                     (1 km of lines at 1 mm), the most a task may plan: split it into several tasks"
                ),
            ));
        }
        Ok(())
    }

    /// Checks a step, planning its motion from `q` and leaving in `q` where it ends.
    fn step(&self, raw: &toml::Spanned<RawStep>, q: &mut Vec<f64>) -> Result<Step, TaskError> {
        let span = raw.span();
        let r = raw.get_ref();
        let skill = r.skill.get_ref().as_str();
        let line = self.source.line(span.start);
        let err = |reason: String| self.source.error(span.clone(), reason);
        // Which keys each skill takes; any other key given is an error.
        let allowed: &[&str] = match skill {
            "move_joints" => &["posture", "joints", "speed"],
            "move_pose" => &["frame", "position", "rpy", "path", "speed", "relative_to"],
            "hold" | "wait" => &["seconds"],
            "gripper" => &["action", "force_n"],
            "wait_until" => &["condition", "timeout_s"],
            "policy" => &["package", "command", "seconds", "condition"],
            "sequence" | "parallel" => &["steps"],
            "retry" => &["step", "limit"],
            "timeout" => &["step", "seconds"],
            other => {
                return Err(self.source.error(
                    r.skill.span(),
                    format!("unknown skill '{other}' (skills: {SKILLS})"),
                ));
            }
        };
        let given = [
            ("posture", r.posture.is_some()),
            ("joints", r.joints.is_some()),
            ("speed", r.speed.is_some()),
            ("frame", r.frame.is_some()),
            ("position", r.position.is_some()),
            ("rpy", r.rpy.is_some()),
            ("path", r.path.is_some()),
            ("relative_to", r.relative_to.is_some()),
            ("seconds", r.seconds.is_some()),
            ("action", r.action.is_some()),
            ("force_n", r.force_n.is_some()),
            ("condition", r.condition.is_some()),
            ("timeout_s", r.timeout_s.is_some()),
            ("steps", r.steps.is_some()),
            ("step", r.step.is_some()),
            ("limit", r.limit.is_some()),
            ("package", r.package.is_some()),
            ("command", r.command.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(k, g)| *g && !allowed.contains(k)) {
            return Err(err(format!(
                "`{key}` is not a key of {skill} (it takes: {})",
                allowed.join(", ")
            )));
        }
        let speed = match &r.speed {
            Some(s) => numbers::speed(*s.get_ref())
                .map_err(|reason| self.source.error(s.span(), reason))?,
            None => 0.5,
        };
        let seconds = |what: &str| -> Result<f64, TaskError> {
            match &r.seconds {
                Some(s) => numbers::seconds("seconds", *s.get_ref(), false)
                    .map_err(|reason| self.source.error(s.span(), reason)),
                None => Err(err(format!("{what} needs `seconds`"))),
            }
        };
        let action = match skill {
            "move_joints" => {
                let mut targets: Vec<(usize, f64)> = Vec::new();
                match (&r.posture, &r.joints) {
                    (Some(p), None) => {
                        let posture = self.postures.get(p.get_ref()).ok_or_else(|| {
                            let known: Vec<&str> =
                                self.postures.keys().map(String::as_str).collect();
                            self.source.error(
                                p.span(),
                                format!(
                                    "no posture named '{}' (known: {})",
                                    p.get_ref(),
                                    known.join(", ")
                                ),
                            )
                        })?;
                        for (name, value) in posture {
                            let k = self.joint(name, p.span())?;
                            self.check_target(k, *value, p.span())?;
                            targets.push((k, *value));
                        }
                    }
                    (None, Some(j)) => {
                        for (name, value) in j.get_ref() {
                            let k = self.joint(name, j.span())?;
                            self.check_target(k, *value, j.span())?;
                            targets.push((k, *value));
                        }
                    }
                    _ => {
                        return Err(err(
                            "move_joints needs exactly one of `posture` or `joints`".into(),
                        ));
                    }
                }
                let joints: Vec<usize> = targets.iter().map(|(k, _)| *k).collect();
                let start: Vec<f64> = joints.iter().map(|k| q[*k]).collect();
                let end: Vec<f64> = targets.iter().map(|(_, v)| *v).collect();
                let limits: Vec<Limits> = joints
                    .iter()
                    .map(|k| self.robot.limits_at(*k, speed))
                    .collect();
                let motion = JointMove::new(joints, start, &end, &limits);
                self.motion_time(skill, motion.duration(), span.clone())?;
                for (k, v) in &targets {
                    q[*k] = *v;
                }
                Action::MoveJoints {
                    targets,
                    speed,
                    motion,
                }
            }
            "move_pose" => {
                if self.robot.model.free_flyer().is_some() {
                    return Err(err(
                        "move_pose needs a fixed-base robot (floating-base IK is not planned yet)"
                            .into(),
                    ));
                }
                let frame_name = r.frame.as_ref().map_or("tcp", |f| f.get_ref().as_str());
                let frame = self.robot.model.frame_id(frame_name).ok_or_else(|| {
                    err(format!(
                        "no frame named '{frame_name}' on {}",
                        self.robot.model.name
                    ))
                })?;
                let Some(position) = &r.position else {
                    return Err(err("move_pose needs `position`".into()));
                };
                let mut position = numbers::position(*position.get_ref())
                    .map_err(|reason| self.source.error(position.span(), reason))?;
                let rpy = match &r.rpy {
                    Some(rpy) => Some(
                        numbers::rpy(*rpy.get_ref())
                            .map_err(|reason| self.source.error(rpy.span(), reason))?,
                    ),
                    None => None,
                };
                let line = match r.path.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
                    None | Some(("free", _)) => false,
                    Some(("line", _)) => true,
                    Some((other, span)) => {
                        return Err(self
                            .source
                            .error(span, format!("path '{other}': `line` or `free`")));
                    }
                };
                let relative_to = match &r.relative_to {
                    Some(to) if to.get_ref() == "start" => Some(Relative::Start),
                    // A place is where it is for the whole run: the move is planned now.
                    Some(to) if to.get_ref().starts_with("place:") => {
                        let name = &to.get_ref()["place:".len()..];
                        let place = self.place(name, to.span())?;
                        for (p, o) in position.iter_mut().zip(place) {
                            *p += o;
                        }
                        None
                    }
                    Some(to) => {
                        let Some(name) = to.get_ref().strip_prefix("object:") else {
                            return Err(self.source.error(
                                to.span(),
                                format!(
                                    "relative_to '{}': `start` (where the frame is), `object:<name>` (a [[seen]] object) or `place:<name>` (one of [places])",
                                    to.get_ref()
                                ),
                            ));
                        };
                        Some(Relative::Seen(self.seen_object(name, to.span())?))
                    }
                    None => None,
                };
                // Relative to where the frame is or to a seen object, where it goes is
                // known when it starts: the steps after it are checked from where the
                // steps before it left the robot, and start from wherever it ends.
                let motion = if relative_to.is_some() {
                    PoseMotion::AtStart { line }
                } else {
                    plan_pose(self.robot, frame, q, position, rpy, line, speed).map_err(
                        |reason| err(format!("move_pose to {}: {reason}", shown3(position))),
                    )?
                };
                match &motion {
                    PoseMotion::Joints(m) => {
                        self.motion_time(skill, m.duration(), span.clone())?;
                        for (j, v) in m.joints().iter().zip(m.end()) {
                            q[*j] = *v;
                        }
                    }
                    PoseMotion::AtStart { .. } => {}
                    PoseMotion::Line(path) => {
                        self.line_budget(path, span.clone())?;
                        self.motion_time(skill, path.duration(), span.clone())?;
                        if let Some(end) = path.samples().last() {
                            for &j in path.driven() {
                                q[j] = end[j];
                            }
                        }
                    }
                }
                Action::MovePose {
                    frame,
                    position,
                    rpy,
                    relative_to,
                    speed,
                    motion,
                }
            }
            "hold" => Action::Hold {
                seconds: seconds("hold")?,
            },
            "wait" => Action::Wait {
                seconds: seconds("wait")?,
            },
            "gripper" => {
                let Some((joint, open, closed)) = self.robot.gripper else {
                    return Err(err(format!("{} has no gripper", self.robot.model.name)));
                };
                let target = match r.action.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
                    Some(("open", _)) => open,
                    Some(("close", _)) => closed,
                    Some((other, span)) => {
                        return Err(self
                            .source
                            .error(span, format!("gripper action '{other}': `open` or `close`")));
                    }
                    None => return Err(err("gripper needs `action`".into())),
                };
                let force_n = match &r.force_n {
                    Some(f) => Some(
                        numbers::force("force_n", *f.get_ref())
                            .map_err(|reason| self.source.error(f.span(), reason))?,
                    ),
                    None => None,
                };
                let motion = JointMove::new(
                    vec![joint],
                    vec![q[joint]],
                    &[target],
                    &[self.robot.limits_at(joint, 0.5)],
                );
                self.motion_time(skill, motion.duration(), span.clone())?;
                q[joint] = target;
                Action::Gripper {
                    joint,
                    target,
                    force_n,
                    motion,
                }
            }
            "wait_until" => {
                let Some(condition) = &r.condition else {
                    return Err(err("wait_until needs `condition`".into()));
                };
                let timeout_s = match &r.timeout_s {
                    Some(t) => numbers::seconds("timeout_s", *t.get_ref(), true)
                        .map_err(|reason| self.source.error(t.span(), reason))?,
                    None => 5.0,
                };
                Action::WaitUntil {
                    condition: self.condition(condition)?,
                    timeout_s,
                }
            }
            "policy" => {
                let Some(package) = &r.package else {
                    return Err(err("policy needs `package` (its directory)".into()));
                };
                let seconds = match &r.seconds {
                    Some(_) => Some(seconds("policy")?),
                    None => None,
                };
                let until = match &r.condition {
                    Some(c) => Some(self.condition(c)?),
                    None => None,
                };
                if seconds.is_none() && until.is_none() {
                    return Err(err(
                        "policy needs `seconds`, a `condition` to stop at, or both".into(),
                    ));
                }
                let mut command = Vec::new();
                for (key, value) in r
                    .command
                    .as_ref()
                    .map(|c| c.get_ref())
                    .into_iter()
                    .flatten()
                {
                    let span = r.command.as_ref().map_or(span.clone(), |c| c.span());
                    let value = numbers::finite(&format!("command.{key}"), *value, "")
                        .map_err(|reason| self.source.error(span, reason))?;
                    command.push((key.clone(), value));
                }
                let dir = self
                    .source
                    .file
                    .parent()
                    .unwrap_or(std::path::Path::new(""));
                Action::Policy(PolicyStep {
                    package: dir.join(package.get_ref()),
                    command,
                    seconds,
                    until,
                })
            }
            "sequence" | "parallel" => {
                let Some(children) = &r.steps else {
                    return Err(err(format!("{skill} needs `steps`")));
                };
                if skill == "sequence" {
                    let steps = children
                        .iter()
                        .map(|c| self.step(c, q))
                        .collect::<Result<_, _>>()?;
                    Action::Sequence(steps)
                } else {
                    let start = q.clone();
                    let mut steps = Vec::new();
                    for child in children {
                        let mut branch = start.clone();
                        let checked = self.step(child, &mut branch)?;
                        if let Some(p) = checked.walk().iter().find(|s| s.skill == "policy") {
                            return Err(self.source.error(
                                child.span(),
                                format!(
                                    "the policy at line {} cannot run in parallel: it drives the robot on its own",
                                    p.line
                                ),
                            ));
                        }
                        steps.push(checked);
                        for (k, (b, s)) in branch.iter().zip(&start).enumerate() {
                            if b != s {
                                q[k] = *b;
                            }
                        }
                    }
                    Action::Parallel(steps)
                }
            }
            "retry" | "timeout" => {
                let Some(child) = &r.step else {
                    return Err(err(format!("{skill} needs `step`")));
                };
                let step = Box::new(self.step(child, q)?);
                if skill == "retry" {
                    let limit = match &r.limit {
                        Some(l) => numbers::attempts(*l.get_ref())
                            .map_err(|reason| self.source.error(l.span(), reason))?,
                        None => 3,
                    };
                    Action::Retry { limit, step }
                } else {
                    Action::Timeout {
                        seconds: seconds("timeout")?,
                        step,
                    }
                }
            }
            _ => unreachable!("skills matched above"),
        };
        let guard = r.guard.as_ref().map(|g| self.condition(g)).transpose()?;
        Ok(Step {
            name: r.name.clone().unwrap_or_else(|| format!("{skill}@{line}")),
            skill: skill.to_owned(),
            line,
            guard,
            action,
        })
    }
}

/// The motion taking `frame` from where it is at `q` to `position` (and `rpy`, or the
/// current orientation): a straight line when `line`, else a joint move of the frame's
/// chain to the configuration IK finds.
pub fn plan_pose(
    robot: &RobotInfo,
    frame: FrameId,
    q: &[f64],
    position: [f64; 3],
    rpy: Option<[f64; 3]>,
    line: bool,
    speed: f64,
) -> Result<PoseMotion, MotionError> {
    let model = &robot.model;
    let start = DVector::from_column_slice(q);
    let target = target_pose(model, frame, q, position, rpy);
    let limits: Vec<Limits> = robot.limits.iter().map(|l| scaled(l, speed)).collect();
    if line {
        let path = LinePath::new(
            model,
            frame,
            &start,
            &target,
            &limits,
            &LineOptions::default(),
        )?;
        return Ok(PoseMotion::Line(path));
    }
    let mut data = Data::new(model);
    let mut solver = IkSolver::new(model, IkOptions::default());
    let mut end = start.clone();
    let report = solver.solve(model, &mut data, frame, &target, &mut end);
    if !report.converged {
        return Err(MotionError::NoSolution {
            error_m: report.position_error_m,
        });
    }
    let joints = chain_joints(model, frame);
    let from: Vec<f64> = joints.iter().map(|&j| q[j]).collect();
    let to: Vec<f64> = joints.iter().map(|&j| end[j]).collect();
    let bounds: Vec<Limits> = joints.iter().map(|&j| limits[j]).collect();
    Ok(PoseMotion::Joints(JointMove::new(
        joints, from, &to, &bounds,
    )))
}

/// The pose a `move_pose` asks for: `position`, and `rpy` or else the frame's
/// orientation at `q`.
pub fn target_pose(
    model: &Model,
    frame: FrameId,
    q: &[f64],
    position: [f64; 3],
    rpy: Option<[f64; 3]>,
) -> Transform {
    let rotation = match rpy {
        Some([r, p, y]) => *Rotation3::from_euler_angles(r, p, y).matrix(),
        None => {
            let mut data = Data::new(model);
            frame_placements(model, &mut data, q);
            data.world_from_frame[frame.0].rotation
        }
    };
    Transform::new(rotation, position.into())
}

/// `limits` at a fraction `speed` (velocity ×s, acceleration ×s², jerk ×s³).
pub fn scaled(limits: &Limits, speed: f64) -> Limits {
    Limits {
        velocity: limits.velocity * speed,
        acceleration: limits.acceleration * speed * speed,
        jerk: limits.jerk * speed * speed * speed,
    }
}

/// Checks `task` against `robot`, starting from joint positions `start`.
pub fn check(
    source: &Source,
    task: &RawTask,
    robot: &RobotInfo,
    start: &[f64],
) -> Result<Plan, TaskError> {
    let mut postures = robot.postures.clone();
    postures.extend(
        task.postures
            .iter()
            .map(|(name, posture)| (name.clone(), posture.get_ref().clone())),
    );
    let checker = Checker::new(source, robot, postures);
    checker.task_postures(task)?;
    let mut q = start.to_vec();
    let steps = task
        .steps
        .iter()
        .map(|s| checker.step(s, &mut q))
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        name: task
            .name
            .clone()
            .unwrap_or_else(|| source.file.display().to_string()),
        root: Step {
            name: "task".into(),
            skill: "sequence".into(),
            line: 1,
            guard: None,
            action: Action::Sequence(steps),
        },
    })
}

#[cfg(test)]
mod tests {
    use embody_model::robots;

    use super::*;

    #[test]
    fn lines_past_the_sample_budget_are_refused() {
        let robot = RobotInfo::new(robots::load("arm7", None).expect("arm7"), Vec::new());
        let source = Source::new(
            "lines.toml",
            "[[steps]]\nskill = \"move_joints\"\njoints = { joint2 = 0.5, joint4 = -2.0, joint6 = -1.64 }\n\
             [[steps]]\nskill = \"move_pose\"\nposition = [-0.45, 0.0, 0.25]\npath = \"line\"\n",
        );
        let task = source.parse().expect("parses");
        let checker = Checker::new(&source, &robot, BTreeMap::new());
        // As if the lines before had taken all but 10 samples.
        checker.line_samples.set(MAX_LINE_SAMPLES - 10);
        let mut q = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
        checker
            .step(&task.steps[0], &mut q)
            .expect("moves over the table");
        let error = checker
            .step(&task.steps[1], &mut q)
            .expect_err("over budget");
        assert_eq!(error.line, 4, "{error}");
        assert!(
            error
                .reason
                .starts_with("the task's straight lines need more than 1000000 IK samples"),
            "{error}"
        );
    }
}
