//! What a session reports when it ends: per unit the task's outcome, the loop's last
//! snapshot and every event, how long it ran, and in the simulator the base's true
//! pose and the contacts; for the session the loop's timing (real time), what the OS
//! granted of the real-time settings, and the live recorder's counts.

use embody_control::{Event, RtStatus, StateSnapshot, TimingReport};
use embody_viz::LiveStats;

use crate::drive::TaskOutcome;

/// One unit's run.
#[derive(Clone, Debug)]
pub struct UnitReport {
    /// The unit's name (the robot's, and its index in a fleet).
    pub name: String,
    /// The task's outcome, when a task drove it.
    pub task: Option<TaskOutcome>,
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
}

impl UnitReport {
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
