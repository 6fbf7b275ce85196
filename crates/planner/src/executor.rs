//! Running a checked plan against the loop. The executor is a state machine polled at
//! 100 Hz with what the loop reports (time, measured joints, contacts, a fault): each
//! step runs the motion the checker planned for it — when the reference the steps
//! before it left differs from the checked start, only the approach is re-planned (a
//! joint move to the checked end, or to a checked line's start before the line), and
//! its report says so — and the motions of every running step are composed and
//! streamed to the loop as 10 ms quintic segments, two ahead. It reports each step's
//! start, end or failure with timing, fails the task when the loop faults, and stops
//! smoothly when cancelled.
//! Polling is all it needs, so the same executor runs in lockstep simulation (polled by
//! the simulation's driver) and in real time (polled by a tokio interval).

use std::sync::Arc;

use embody_control::{Interpolation, JointPoint, Segment};

use crate::motion::{Chain, JointMove, Motion};
use crate::plan::{
    Action, Condition, Plan, PolicyStep, PoseMotion, Relative, RobotInfo, Step, plan_pose,
};
use embody_model::{Data, frame_placements};

/// Streaming period and lead.
const SEGMENT_S: f64 = 0.01;
const LEAD_S: f64 = 0.02;
/// How far (rad or m) a step may start from its checked start and still run the
/// checked motion as it is.
const SAME_START: f64 = 1e-6;

/// What the loop reports at a poll.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// Loop time (s).
    pub now_s: f64,
    /// Measured joint positions.
    pub q: &'a [f64],
    /// Measured joint efforts.
    pub tau: &'a [f64],
    /// Contact flags of the force-torque sensors (bit per sensor).
    pub contacts: u64,
    /// The scene objects' poses `[x y z qx qy qz qw]`, in [`RobotInfo::objects`]'
    /// order (empty when they are not seen: a `wait_until` on one is then skipped).
    pub objects: &'a [[f64; 7]],
    /// Where the cameras last saw each object of [`RobotInfo::seen`], in its order
    /// (`None`: not seen yet).
    pub seen: &'a [Option<SeenObject>],
    /// The loop faulted, with this cause.
    pub fault: Option<&'a str>,
}

/// Where the cameras last saw an object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeenObject {
    /// Its pose in the world, `x y z qx qy qz qw` (a tag's frame; the world's axes for
    /// an object found by colour).
    pub pose: [f64; 7],
    /// When the image it was seen in was captured (s, loop time).
    pub captured_s: f64,
    /// How much to trust it, 0–1.
    pub confidence: f64,
}

/// How recently an object must have been seen for a `seen` condition to hold (s).
pub const SEEN_FRESH_S: f64 = 0.5;

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It did what it should.
    Done,
    /// Its guard did not hold: not run.
    Skipped,
    /// It failed, with the reason.
    Failed(String),
}

/// One step's run, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// Step name.
    pub name: String,
    /// Skill.
    pub skill: String,
    /// Line in the task file.
    pub line: usize,
    /// When it started (s, task time).
    pub started_s: f64,
    /// How long it ran (s).
    pub duration_s: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its motion started this far (rad or m, largest joint) from where it was checked
    /// to start, and its approach was re-planned; `None`: it ran as checked.
    pub replanned_from: Option<f64>,
}

/// A step starting or ending, as it happens.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A step started (task time, s).
    Started {
        /// Step name.
        name: String,
        /// When.
        at_s: f64,
    },
    /// A step ended.
    Ended(StepReport),
}

/// The task's state.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Still running.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed (or the loop faulted).
    Failed(String),
}

/// A motion being streamed, owned by the step that started it.
struct Active {
    owner: usize,
    start_s: f64,
    motion: Box<dyn Motion>,
}

/// A step being run.
enum Run {
    NotStarted,
    Leaf {
        start_s: f64,
        motion: Option<usize>,
        replanned_from: Option<f64>,
    },
    Sequence {
        start_s: f64,
        index: usize,
        child: Box<Run>,
    },
    Parallel {
        start_s: f64,
        children: Vec<(Run, Option<bool>)>,
    },
    Retry {
        start_s: f64,
        attempt: u32,
        child: Box<Run>,
    },
    Timeout {
        start_s: f64,
        child: Box<Run>,
    },
}

/// Runs a plan. See the module docs.
pub struct Executor {
    /// Shared so a poll can walk it while it updates the executor (the checked motions
    /// in it are large: a line carries every IK sample).
    plan: Arc<Plan>,
    robot: RobotInfo,
    n: usize,
    run: Run,
    /// The reference the streamed trajectory rests at once current motions end.
    rest: Vec<f64>,
    active: Vec<Active>,
    next_owner: usize,
    sent_until_s: f64,
    started: Option<f64>,
    reports: Vec<StepReport>,
    progress: Vec<Progress>,
    status: Status,
    stop: Option<f64>,
    /// The `policy` step running (its line), if any.
    policy: Option<(usize, PolicyStep)>,
    /// The joints the running policy drives: the reference follows them.
    policy_joints: Vec<usize>,
    /// Whether this poll reached the running policy's leaf.
    policy_polled: bool,
}

impl Executor {
    /// An executor for `plan` on `robot`, the reference resting at `start` (the joint
    /// positions the plan was checked from).
    pub fn new(plan: Plan, robot: RobotInfo, start: &[f64]) -> Executor {
        let n = robot.joints.len();
        Executor {
            plan: Arc::new(plan),
            robot,
            n,
            run: Run::NotStarted,
            rest: start.to_vec(),
            active: Vec::new(),
            next_owner: 0,
            sent_until_s: 0.0,
            started: None,
            reports: Vec::new(),
            progress: Vec::new(),
            status: Status::Running,
            stop: None,
            policy: None,
            policy_joints: Vec::new(),
            policy_polled: false,
        }
    }

    /// Steps started and ended since the last call.
    pub fn drain_progress(&mut self) -> Vec<Progress> {
        std::mem::take(&mut self.progress)
    }

    /// Pre-emption: stops the running task smoothly (as [`Executor::cancel`]) and runs
    /// `plan` from where the robot comes to rest.
    pub fn replace(&mut self, plan: Plan, out: &mut Vec<Segment>) {
        self.cancel("replaced by a new task", out);
        self.plan = Arc::new(plan);
        self.run = Run::NotStarted;
        self.status = Status::Running;
    }

    /// The `policy` step running now, with its line: whoever drives the session runs its
    /// package while it lasts (the executor times it and checks its condition).
    pub fn running_policy(&self) -> Option<(usize, &PolicyStep)> {
        self.policy.as_ref().map(|(line, p)| (*line, p))
    }

    /// The running policy drives `joints`: while it runs, the reference follows where
    /// they are, so the next motion starts from where the policy left them.
    pub fn hand_over(&mut self, joints: &[usize]) {
        self.policy_joints = joints.to_vec();
    }

    /// Every step's report so far, in the order they ended.
    pub fn reports(&self) -> &[StepReport] {
        &self.reports
    }

    /// The task's state.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Stops the task smoothly: motions are brought to rest over 0.2 s from where the
    /// reference is, and the task ends as failed with `reason` (pre-emption: the next
    /// task then starts from rest).
    pub fn cancel(&mut self, reason: &str, out: &mut Vec<Segment>) {
        if self.status != Status::Running {
            return;
        }
        let point = self.sample(self.sent_until_s);
        let mut rest = JointPoint::at_rest(&point.q[..self.n]);
        for k in 0..self.n {
            // Where it would coast to decelerating evenly over 0.2 s.
            rest.q[k] += point.dq[k] * 0.1;
        }
        out.push(Segment {
            duration_s: 0.2,
            end: rest,
            interpolation: Interpolation::Quintic,
        });
        self.rest = rest.q[..self.n].to_vec();
        self.active.clear();
        self.sent_until_s += 0.2;
        self.stop = Some(self.sent_until_s);
        self.status = Status::Failed(format!("cancelled: {reason}"));
    }

    fn sample(&self, t: f64) -> JointPoint {
        let mut point = JointPoint::at_rest(&self.rest);
        for a in &self.active {
            a.motion.sample((t - a.start_s).max(0.0), &mut point);
        }
        point
    }

    /// Folds finished motions into the rest reference.
    fn retire(&mut self, t: f64) {
        let mut k = 0;
        while k < self.active.len() {
            let a = &self.active[k];
            if t - a.start_s >= a.motion.duration() {
                let mut point = JointPoint::at_rest(&self.rest);
                a.motion.sample(a.motion.duration(), &mut point);
                for j in 0..self.n {
                    if a.motion.drives(j) {
                        self.rest[j] = point.q[j];
                    }
                }
                self.active.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Advances the task to `obs.now_s`; appends the segments to send to `out`.
    pub fn poll(&mut self, obs: &Observation<'_>, out: &mut Vec<Segment>) -> Status {
        let now = obs.now_s;
        if self.rest.len() != self.n {
            // No start given: from where the robot is.
            self.rest = self.robot.clamp(obs.q);
        }
        let t0 = *self.started.get_or_insert_with(|| {
            self.sent_until_s = now;
            now
        });
        if self.status != Status::Running {
            return self.status.clone();
        }
        if let Some(cause) = obs.fault {
            self.status = Status::Failed(format!("the loop faulted: {cause}"));
            self.active.clear();
            return self.status.clone();
        }
        let plan = Arc::clone(&self.plan);
        let mut run = std::mem::replace(&mut self.run, Run::NotStarted);
        self.policy_polled = false;
        let result = self.step(&plan.root, &mut run, obs, t0);
        self.run = run;
        if !self.policy_polled {
            // Its leaf ended, or a timeout or failure above it ended it.
            self.policy = None;
            self.policy_joints.clear();
        }
        // Stream up to the lead.
        while self.sent_until_s < now + LEAD_S {
            self.sent_until_s += SEGMENT_S;
            let t = self.sent_until_s;
            let point = self.sample(t);
            out.push(Segment {
                duration_s: SEGMENT_S,
                end: point,
                interpolation: Interpolation::Quintic,
            });
            self.retire(t);
        }
        match result {
            Some(Outcome::Failed(reason)) => self.status = Status::Failed(reason),
            Some(_) if self.active.is_empty() => self.status = Status::Succeeded,
            _ => {}
        }
        self.status.clone()
    }

    fn holds(&self, condition: &Condition, obs: &Observation<'_>) -> bool {
        match *condition {
            Condition::JointNear {
                joint,
                value,
                tolerance,
            } => obs
                .q
                .get(joint)
                .is_some_and(|q| (q - value).abs() <= tolerance),
            Condition::ForceAbove { joint, threshold } => {
                obs.tau.get(joint).is_some_and(|t| t.abs() > threshold)
            }
            Condition::Contact { sensor } => obs.contacts & (1 << sensor) != 0,
            Condition::Seen { object } => obs
                .seen
                .get(object)
                .copied()
                .flatten()
                .is_some_and(|s| obs.now_s - s.captured_s <= SEEN_FRESH_S),
            Condition::ObjectNear {
                object,
                position,
                tolerance,
            } => obs.objects.get(object).is_some_and(|pose| {
                let d2: f64 = (0..3).map(|i| (pose[i] - position[i]).powi(2)).sum();
                d2.sqrt() <= tolerance
            }),
        }
    }

    fn report(
        &mut self,
        step: &Step,
        start_s: f64,
        now: f64,
        t0: f64,
        outcome: Outcome,
    ) -> Option<Outcome> {
        self.report_replanned(step, (start_s, now, t0), outcome, None)
    }

    fn report_replanned(
        &mut self,
        step: &Step,
        (start_s, now, t0): (f64, f64, f64),
        outcome: Outcome,
        replanned_from: Option<f64>,
    ) -> Option<Outcome> {
        let report = StepReport {
            name: step.name.clone(),
            skill: step.skill.clone(),
            line: step.line,
            started_s: start_s - t0,
            duration_s: now - start_s,
            outcome: outcome.clone(),
            replanned_from,
        };
        self.progress.push(Progress::Ended(report.clone()));
        self.reports.push(report);
        Some(outcome)
    }

    fn cancel_owner(&mut self, owner: Option<usize>) {
        if let Some(owner) = owner {
            let t = self.sent_until_s;
            let point = self.sample(t);
            if let Some(k) = self.active.iter().position(|a| a.owner == owner) {
                let a = self.active.remove(k);
                for j in 0..self.n {
                    if a.motion.drives(j) {
                        self.rest[j] = point.q[j];
                    }
                }
            }
        }
    }

    /// The motion a leaf starts at `start_s`: the checked one, its approach re-planned
    /// when the reference there is not where it was checked to start; with how far
    /// that was.
    fn start_motion(
        &mut self,
        action: &Action,
        start_s: f64,
        obs: &Observation<'_>,
    ) -> Result<(Option<usize>, Option<f64>), String> {
        let from = self.sample(start_s);
        let q = &from.q[..self.n];
        let joint_move = |m: &JointMove| -> (Box<dyn Motion>, f64) {
            let off = m.distance_from_start(q);
            if off <= SAME_START {
                (Box::new(m.clone()), off)
            } else {
                (Box::new(m.from_start(q)), off)
            }
        };
        let (motion, off): (Box<dyn Motion>, f64) = match action {
            Action::MoveJoints { motion, .. } | Action::Gripper { motion, .. } => {
                joint_move(motion)
            }
            Action::MovePose {
                frame,
                position,
                rpy,
                relative_to: Some(relative),
                speed,
                motion: PoseMotion::AtStart { line },
            } => {
                let (at, turn, what) = match relative {
                    Relative::Start => {
                        let mut data = Data::new(&self.robot.model);
                        frame_placements(&self.robot.model, &mut data, q);
                        let here = data.world_from_frame[frame.0].translation;
                        let at = [0, 1, 2].map(|i| here[i] + position[i]);
                        let what = format!("from [{:.3}, {:.3}, {:.3}]", here.x, here.y, here.z);
                        (at, *rpy, what)
                    }
                    Relative::Seen(k) => {
                        let name = self.robot.seen.get(*k).map_or("?", String::as_str);
                        let seen = (obs.seen.get(*k).copied().flatten())
                            .ok_or_else(|| format!("'{name}' has not been seen"))?;
                        let (at, turn) = seen_target(&seen, *position, *rpy);
                        let p = seen.pose;
                        let what =
                            format!("'{name}' seen at [{:.3}, {:.3}, {:.3}]", p[0], p[1], p[2]);
                        (at, turn, what)
                    }
                };
                let motion =
                    plan_pose(&self.robot, *frame, q, at, turn, *line, *speed).map_err(|e| {
                        format!(
                            "{what}: no way to [{:.3}, {:.3}, {:.3}]: {e}",
                            at[0], at[1], at[2]
                        )
                    })?;
                match motion {
                    PoseMotion::Joints(m) => (Box::new(m) as Box<dyn Motion>, 0.0),
                    PoseMotion::Line(path) => (Box::new(path) as Box<dyn Motion>, 0.0),
                    PoseMotion::AtStart { .. } => return Ok((None, None)),
                }
            }
            Action::MovePose {
                motion: PoseMotion::AtStart { .. },
                ..
            } => return Ok((None, None)),
            Action::MovePose {
                motion: PoseMotion::Joints(m),
                ..
            } => joint_move(m),
            Action::MovePose {
                motion: PoseMotion::Line(path),
                speed,
                ..
            } => {
                let off = path.distance_from_start(q);
                if off <= SAME_START {
                    (Box::new(path.clone()), off)
                } else {
                    // Back onto the checked line's start, then the line as checked.
                    let joints = path.driven().to_vec();
                    let start = joints.iter().map(|&j| q[j]).collect();
                    let end: Vec<f64> = joints.iter().map(|&j| path.samples()[0][j]).collect();
                    let limits: Vec<_> = joints
                        .iter()
                        .map(|&j| self.robot.limits_at(j, *speed))
                        .collect();
                    let approach = JointMove::new(joints, start, &end, &limits);
                    (
                        Box::new(Chain::new(Box::new(approach), Box::new(path.clone()))),
                        off,
                    )
                }
            }
            _ => return Ok((None, None)),
        };
        let owner = self.next_owner;
        self.next_owner += 1;
        self.active.push(Active {
            owner,
            start_s,
            motion,
        });
        Ok((Some(owner), (off > SAME_START).then_some(off)))
    }

    /// Advances one step; `Some(outcome)` when it ended.
    fn step(
        &mut self,
        step: &Step,
        run: &mut Run,
        obs: &Observation<'_>,
        t0: f64,
    ) -> Option<Outcome> {
        let now = obs.now_s;
        if let Run::NotStarted = run {
            if let Some(guard) = &step.guard
                && !self.holds(guard, obs)
            {
                return self.report(step, now, now, t0, Outcome::Skipped);
            }
            self.progress.push(Progress::Started {
                name: step.name.clone(),
                at_s: now - t0,
            });
            // Motions begin where the streamed trajectory is now.
            let start_s = self.sent_until_s;
            *run = match &step.action {
                Action::Sequence(_) => Run::Sequence {
                    start_s: now,
                    index: 0,
                    child: Box::new(Run::NotStarted),
                },
                Action::Parallel(children) => Run::Parallel {
                    start_s: now,
                    children: children.iter().map(|_| (Run::NotStarted, None)).collect(),
                },
                Action::Retry { .. } => Run::Retry {
                    start_s: now,
                    attempt: 1,
                    child: Box::new(Run::NotStarted),
                },
                Action::Timeout { .. } => Run::Timeout {
                    start_s: now,
                    child: Box::new(Run::NotStarted),
                },
                action => match self.start_motion(action, start_s, obs) {
                    Ok((Some(motion), replanned_from)) => Run::Leaf {
                        start_s,
                        motion: Some(motion),
                        replanned_from,
                    },
                    // Waits and holds count from now.
                    Ok((None, _)) => Run::Leaf {
                        start_s: now,
                        motion: None,
                        replanned_from: None,
                    },
                    Err(reason) => {
                        return self.report(step, now, now, t0, Outcome::Failed(reason));
                    }
                },
            };
        }
        match (&step.action, run) {
            (
                Action::Sequence(children),
                Run::Sequence {
                    start_s,
                    index,
                    child,
                },
            ) => {
                let start_s = *start_s;
                while *index < children.len() {
                    match self.step(&children[*index], child, obs, t0) {
                        None => return None,
                        Some(Outcome::Failed(reason)) => {
                            return self.report(step, start_s, now, t0, Outcome::Failed(reason));
                        }
                        Some(_) => {
                            *index += 1;
                            **child = Run::NotStarted;
                        }
                    }
                }
                if step.name == "task" {
                    return Some(Outcome::Done);
                }
                self.report(step, start_s, now, t0, Outcome::Done)
            }
            (
                Action::Parallel(children),
                Run::Parallel {
                    start_s,
                    children: runs,
                },
            ) => {
                let start_s = *start_s;
                for (k, (run, done)) in runs.iter_mut().enumerate() {
                    if done.is_none() {
                        match self.step(&children[k], run, obs, t0) {
                            Some(Outcome::Failed(reason)) => {
                                return self.report(
                                    step,
                                    start_s,
                                    now,
                                    t0,
                                    Outcome::Failed(reason),
                                );
                            }
                            Some(_) => *done = Some(true),
                            None => {}
                        }
                    }
                }
                if runs.iter().all(|(_, d)| d.is_some()) {
                    self.report(step, start_s, now, t0, Outcome::Done)
                } else {
                    None
                }
            }
            (
                Action::Retry { limit, step: inner },
                Run::Retry {
                    start_s,
                    attempt,
                    child,
                },
            ) => {
                let start_s = *start_s;
                match self.step(inner, child, obs, t0) {
                    None => None,
                    Some(Outcome::Failed(reason)) if *attempt >= *limit => self.report(
                        step,
                        start_s,
                        now,
                        t0,
                        Outcome::Failed(format!("{reason} (after {attempt} attempts)")),
                    ),
                    Some(Outcome::Failed(_)) => {
                        *attempt += 1;
                        **child = Run::NotStarted;
                        None
                    }
                    Some(_) => self.report(step, start_s, now, t0, Outcome::Done),
                }
            }
            (
                Action::Timeout {
                    seconds,
                    step: inner,
                },
                Run::Timeout { start_s, child },
            ) => {
                let start_s = *start_s;
                match self.step(inner, child, obs, t0) {
                    Some(outcome) => self.report(step, start_s, now, t0, outcome),
                    None if now - start_s > *seconds => {
                        let owner = leaf_motion(child);
                        self.cancel_owner(owner);
                        self.report(
                            step,
                            start_s,
                            now,
                            t0,
                            Outcome::Failed(format!("timed out after {seconds} s")),
                        )
                    }
                    None => None,
                }
            }
            (
                action,
                Run::Leaf {
                    start_s,
                    motion,
                    replanned_from,
                },
            ) => {
                let start_s = *start_s;
                let motion = *motion;
                let replanned_from = *replanned_from;
                let finished = |e: &Executor| {
                    motion.is_none_or(|owner| !e.active.iter().any(|a| a.owner == owner))
                };
                match action {
                    Action::Policy(p) => {
                        for &j in &self.policy_joints {
                            if let Some(&q) = obs.q.get(j) {
                                self.rest[j] = self.robot.clamp_joint(j, q);
                            }
                        }
                        let timed_out = p.seconds.is_some_and(|s| now - start_s >= s);
                        let met = p.until.as_ref().is_some_and(|c| self.holds(c, obs));
                        if timed_out || met {
                            self.report(step, start_s, now, t0, Outcome::Done)
                        } else {
                            self.policy_polled = true;
                            if self
                                .policy
                                .as_ref()
                                .is_none_or(|(line, _)| *line != step.line)
                            {
                                self.policy = Some((step.line, p.clone()));
                            }
                            None
                        }
                    }
                    Action::Hold { seconds } | Action::Wait { seconds } => {
                        if now - start_s >= *seconds {
                            self.report(step, start_s, now, t0, Outcome::Done)
                        } else {
                            None
                        }
                    }
                    Action::WaitUntil {
                        condition,
                        timeout_s,
                    } => {
                        if let Condition::ObjectNear { object, .. } = condition
                            && obs.objects.len() <= *object
                        {
                            // A robot that does not see its scene cannot check it.
                            self.report(step, start_s, now, t0, Outcome::Skipped)
                        } else if self.holds(condition, obs) {
                            self.report(step, start_s, now, t0, Outcome::Done)
                        } else if now - start_s > *timeout_s {
                            self.report(
                                step,
                                start_s,
                                now,
                                t0,
                                Outcome::Failed(format!("condition not met within {timeout_s} s")),
                            )
                        } else {
                            None
                        }
                    }
                    Action::Gripper {
                        joint,
                        force_n: Some(limit),
                        ..
                    } if obs.tau.get(*joint).is_some_and(|t| t.abs() > *limit) => {
                        // Gripping: the fingers' reference stops where it is now,
                        // past where they touch by as much as presses with the force
                        // reached, and so keeps holding with it.
                        let held = self.sample(now).q[*joint];
                        self.cancel_owner(motion);
                        self.rest[*joint] = self.robot.clamp_joint(*joint, held);
                        self.report_replanned(
                            step,
                            (start_s, now, t0),
                            Outcome::Done,
                            replanned_from,
                        )
                    }
                    _ if finished(self) && now >= self.sent_until_s - LEAD_S => self
                        .report_replanned(step, (start_s, now, t0), Outcome::Done, replanned_from),
                    _ => None,
                }
            }
            _ => Some(Outcome::Failed(
                "internal: step and run state disagree".into(),
            )),
        }
    }
}

fn leaf_motion(run: &Run) -> Option<usize> {
    match run {
        Run::Leaf { motion, .. } => *motion,
        _ => None,
    }
}

/// Where a pose given in a seen object's frame (`position`, and `rpy` if given) is in
/// the world: its position, and its roll, pitch, yaw when `rpy` was given.
fn seen_target(
    seen: &SeenObject,
    position: [f64; 3],
    rpy: Option<[f64; 3]>,
) -> ([f64; 3], Option<[f64; 3]>) {
    let p = seen.pose;
    let object = nalgebra::Isometry3::from_parts(
        nalgebra::Translation3::new(p[0], p[1], p[2]),
        nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            p[6], p[3], p[4], p[5],
        )),
    );
    let [r, pi, y] = rpy.unwrap_or([0.0; 3]);
    let offset = nalgebra::Isometry3::from_parts(
        nalgebra::Translation3::new(position[0], position[1], position[2]),
        nalgebra::UnitQuaternion::from_euler_angles(r, pi, y),
    );
    let target = object * offset;
    let t = target.translation.vector;
    let turn = rpy.map(|_| {
        let (r, p, y) = target.rotation.euler_angles();
        [r, p, y]
    });
    ([t.x, t.y, t.z], turn)
}
