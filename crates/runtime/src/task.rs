//! A task file as a session's driver: [`Task`] is the file read and parsed (so a bad
//! one is refused, located, before any robot is touched); [`TaskDriver`] checks it
//! against the robot's first measured state — before anything moves: the loop only
//! holds until segments come — and runs the checked plan with the planner's executor,
//! streaming its segments. A segment the loop's full queue refuses is counted and
//! cancels the task: what would run is no longer what was checked.

use std::path::Path;
use std::sync::Arc;

use embody_control::{Event, EventKind, Lifecycle, Segment};
use embody_model::Model;
use embody_planner::{
    Executor, Observation, Progress, RawTask, RobotInfo, Source, Status, TaskError, check,
};

use crate::drive::{DriveStatus, Driver, Poll, TaskOutcome};
use crate::error::RuntimeError;

/// A task file, read and parsed.
#[derive(Clone, Debug)]
pub struct Task {
    /// The file's text, for locating problems.
    pub source: Source,
    /// The task as written.
    pub raw: RawTask,
}

impl Task {
    /// Reads and parses the task file at `path`.
    pub fn load(path: &Path) -> Result<Task, TaskError> {
        let source = Source::read(path)?;
        let raw = source.parse()?;
        Ok(Task { source, raw })
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
}

impl TaskDriver {
    /// A driver for `task` on `model`, whose force-torque sensors are `sensors`.
    pub fn new(task: Task, model: &Arc<Model>, sensors: Vec<String>) -> TaskDriver {
        let name = task
            .raw
            .name
            .clone()
            .unwrap_or_else(|| task.source.file.display().to_string());
        TaskDriver {
            info: RobotInfo::new(model.as_ref().clone(), sensors),
            task,
            executor: None,
            name,
            segments: Vec::new(),
            refused: 0,
            pending: Vec::new(),
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

impl Driver for TaskDriver {
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        let n = poll.snapshot.n;
        let q = &poll.snapshot.q[..n];
        let executor = match &mut self.executor {
            Some(executor) => executor,
            None => {
                let start = self.info.clamp(q);
                let plan = check(&self.task.source, &self.task.raw, &self.info, &start)?;
                self.name = plan.name.clone();
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
        let status = executor.poll(
            &Observation {
                now_s: poll.now_s,
                q,
                tau: &poll.snapshot.tau_measured[..n],
                contacts: poll.snapshot.contacts,
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
        self.pending.extend(executor.drain_progress());
        // A cancel after the poll (a full queue) ends the task too.
        Ok(match (status, executor.status()) {
            (Status::Running, Status::Running) => DriveStatus::Running,
            _ => DriveStatus::Done,
        })
    }

    fn progress(&mut self) -> Vec<Progress> {
        std::mem::take(&mut self.pending)
    }

    fn settle_s(&self) -> f64 {
        SETTLE_S
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
