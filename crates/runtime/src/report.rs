//! What a session reports when it ends: per unit the task's outcome, the loop's last
//! snapshot and every event, how long it ran, and in the simulator the base's true
//! pose and the contacts; for the session the loop's timing (real time), what the OS
//! granted of the real-time settings, and the live recorder's counts.

use embody_control::{Event, EventKind, Lifecycle, RtStatus, StateSnapshot, TimingReport};
use embody_model::Model;
use embody_viz::LiveStats;
use serde::Serialize;

use crate::drive::TaskOutcome;
use crate::policy_driver::PolicyOutcome;

/// One unit's run.
#[derive(Clone, Debug)]
pub struct UnitReport {
    /// The unit's name (the robot's, and its index in a fleet).
    pub name: String,
    /// The actuated joints' names, in the loop's order (to name a fault's joint).
    pub joints: Vec<String>,
    /// The task's outcome, when a task drove it.
    pub task: Option<TaskOutcome>,
    /// The policy's outcome, when a learned policy drove it.
    pub policy: Option<PolicyOutcome>,
    /// The loop's last snapshot.
    pub snapshot: StateSnapshot,
    /// Every event the loop raised.
    pub events: Vec<Event>,
    /// Loop time run (s): simulated in lockstep, wall-clock in real time.
    pub loop_s: f64,
    /// The simulator's base pose `[x y z qx qy qz qw]` at the end (floating base).
    pub base_pose: Option<[f64; 7]>,
    /// The simulator's active contact points at the end.
    pub contacts: Option<usize>,
    /// The events' clock at loop time zero (ns): 0 in lockstep, the system clock's
    /// reading when a real-time loop started.
    pub origin_ns: u64,
    /// Each simulated object's name and final pose, `x y z qx qy qz qw`.
    pub objects: Vec<(String, [f64; 7])>,
    /// Each simulated camera: its name, the images it published and the frames it
    /// skipped (still drawing the one before).
    pub cameras: Vec<CameraCount>,
}

/// What one simulated camera did in a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CameraCount {
    /// Its name.
    pub name: String,
    /// Images published.
    pub images: u64,
    /// Frames skipped.
    pub skipped: u64,
}

/// `robot`'s simulated cameras and their counts (none off the simulator).
pub(crate) fn camera_counts(robot: &crate::robot::AnyRobot) -> Vec<CameraCount> {
    use embody_hal::Camera;
    let Some(sim) = robot.sim() else {
        return Vec::new();
    };
    (sim.cameras().iter())
        .map(|c| CameraCount {
            name: c.info().name.clone(),
            images: c.images().published(),
            skipped: c.skipped(),
        })
        .collect()
}

/// Each object of `robot`'s simulator with its pose (none off the simulator).
pub(crate) fn object_poses(robot: &crate::robot::AnyRobot) -> Vec<(String, [f64; 7])> {
    let Some(sim) = robot.sim() else {
        return Vec::new();
    };
    let objects = sim.world().objects();
    (objects.names().iter().enumerate())
        .filter_map(|(k, name)| objects.pose(k).map(|pose| (name.clone(), pose)))
        .collect()
}

impl UnitReport {
    /// The objects' final poses in JSON: `[{"name", "position_m", "quaternion_xyzw"}]`.
    pub fn objects_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            (self.objects.iter())
                .map(|(name, p)| {
                    serde_json::json!({
                        "name": name,
                        "position_m": [p[0], p[1], p[2]],
                        "quaternion_xyzw": [p[3], p[4], p[5], p[6]],
                    })
                })
                .collect(),
        )
    }

    /// The largest joint tracking error `|q − q_ref|` at the end (rad or m).
    pub fn tracking_error(&self) -> f64 {
        let s = &self.snapshot;
        (0..s.n)
            .map(|k| (s.q[k] - s.q_ref[k]).abs())
            .fold(0.0, f64::max)
    }

    /// Faults the loop raised.
    pub fn faults(&self) -> usize {
        self.events.iter().filter(|e| e.is_fault()).count()
    }

    /// Each time the loop went into its fault state: when, the kind, the joint by name
    /// and the cause in words.
    pub fn fault_reports(&self) -> Vec<FaultReport> {
        self.events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Transition {
                    to: Lifecycle::Fault,
                    cause,
                    ..
                } => Some(FaultReport {
                    at_s: e.stamp_ns.saturating_sub(self.origin_ns) as f64 * 1e-9,
                    kind: cause.kind(),
                    joint: cause.joint().map(|k| {
                        self.joints
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| format!("#{k}"))
                    }),
                    cause: cause.to_string(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// One fault of the loop, as a user reads it. See [`UnitReport::fault_reports`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultReport {
    /// Loop time (s).
    pub at_s: f64,
    /// The cause's kind (`stale_sensors`, `actuator_fault`, …).
    pub kind: &'static str,
    /// The joint it concerns, by name.
    pub joint: Option<String>,
    /// The cause in words.
    pub cause: String,
}

impl std::fmt::Display for FaultReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fault at {:.3} s", self.at_s)?;
        if let Some(joint) = &self.joint {
            write!(f, " on {joint}")?;
        }
        write!(f, ": {}", self.cause)
    }
}

/// The loop's transitions and refusals in words, one after another; overruns only
/// counted (a slow machine raises thousands).
pub(crate) fn describe_events(events: &[Event]) -> String {
    let overruns = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Overrun { .. }))
        .count();
    let mut parts: Vec<String> = events
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::Overrun { .. }))
        .map(|e| format!("{:.3} s: {}", e.stamp_ns as f64 * 1e-9, e.kind))
        .collect();
    if overruns > 0 {
        parts.push(format!("{overruns} overruns"));
    }
    if parts.is_empty() {
        return "no events".to_owned();
    }
    parts.join("; ")
}

/// The actuated joints' names of `model`, in the loop's order.
pub(crate) fn joint_names(model: &Model) -> Vec<String> {
    model
        .actuated_joints()
        .map(|j| model.joints[j.0].name.clone())
        .collect()
}

/// A whole session's run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Each unit's.
    pub units: Vec<UnitReport>,
    /// Wall-clock time of the run (s).
    pub wall_s: f64,
    /// The loop's timing from `measure_after_s` on (real time; lockstep runs are not
    /// timed).
    pub timing: Option<TimingReport>,
    /// What the OS granted of the real-time settings (real time).
    pub rt: Option<RtStatus>,
    /// The live recorder's counts (real time, recording).
    pub recording: Option<LiveStats>,
    /// What the session said as it started (the map it drives the motors with, …).
    pub notes: Vec<String>,
}
