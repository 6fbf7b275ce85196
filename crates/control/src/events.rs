//! What the loop tells the outside world happened: supervisor lifecycle transitions with
//! their cause, rejected commands, controller switches, planner starvation. Events are
//! small `Copy` values pushed into a bounded lock-free queue; when nobody drains it the
//! loop drops them and counts the drops.

use serde::{Deserialize, Serialize};

use embody_hal::{FaultBits, HalError};

use crate::controllers::ControllerKind;
use crate::trajectory::SegmentError;

/// The safety supervisor's lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Lifecycle {
    /// Motors off; waiting to be armed.
    #[default]
    Idle = 0,
    /// Motors on, holding position; waiting for start.
    Armed = 1,
    /// Controllers run.
    Running = 2,
    /// A fault: damping, then torque off.
    Fault = 3,
    /// Reset requested: torque off until every fault condition has cleared.
    Recovering = 4,
}

impl Lifecycle {
    /// The lifecycle with this discriminant (`Fault` for an unknown one).
    pub fn from_u8(v: u8) -> Lifecycle {
        match v {
            0 => Lifecycle::Idle,
            1 => Lifecycle::Armed,
            2 => Lifecycle::Running,
            4 => Lifecycle::Recovering,
            _ => Lifecycle::Fault,
        }
    }
}

/// Why something happened.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Cause {
    /// An operator or planner command (arm, start, stop, reset, disarm).
    Command,
    /// The e-stop input (hardware or software).
    EStop,
    /// Reading from or writing to the robot failed.
    Link {
        /// The backend's error.
        #[serde(skip)]
        error: Option<HalError>,
    },
    /// An actuator reported fault bits.
    ActuatorFault {
        /// Joint index.
        joint: usize,
        /// The bits.
        bits: FaultBits,
    },
    /// Sensor data stopped arriving.
    StaleSensors,
    /// A joint went past its soft limit by more than the margin.
    PositionLimit {
        /// Joint index.
        joint: usize,
    },
    /// A joint moved faster than its limit allows.
    VelocityLimit {
        /// Joint index.
        joint: usize,
    },
    /// A controller produced a non-finite command.
    NonFiniteCommand {
        /// Joint index.
        joint: usize,
    },
    /// The damping phase of a fault ended: torque off.
    DampingElapsed,
    /// Every fault condition cleared.
    Recovered,
    /// The transition was refused because a fault condition is present.
    NotHealthy,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum EventKind {
    /// The supervisor changed state.
    Transition {
        /// State before.
        from: Lifecycle,
        /// State after.
        to: Lifecycle,
        /// Why.
        cause: Cause,
    },
    /// A command was refused without a change of state.
    Refused {
        /// State at the time.
        state: Lifecycle,
        /// Why.
        cause: Cause,
    },
    /// A controller's output was replaced by holding position this tick.
    CommandRejected {
        /// Why.
        cause: Cause,
    },
    /// A trajectory segment was dropped.
    SegmentRejected {
        /// Why.
        reason: SegmentError,
    },
    /// The trajectory ran out while moving (the planner missed its deadline): holding.
    PlannerStarved,
    /// No planner message within the configured timeout after the trajectory ended:
    /// holding.
    PlannerSilent,
    /// The active controller changed (bumpless: outputs blend over the transfer time).
    ControllerSwitched {
        /// Before.
        from: ControllerKind,
        /// After.
        to: ControllerKind,
    },
    /// The loop overran its period and skipped deadlines.
    Overrun {
        /// Deadlines skipped.
        missed: u64,
    },
}

/// One event, stamped with the tick it happened in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Tick number.
    pub tick: u64,
    /// Tick time (ns on the loop's clock).
    pub stamp_ns: u64,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// The loop went into its fault state.
    pub fn is_fault(&self) -> bool {
        matches!(
            self.kind,
            EventKind::Transition {
                to: Lifecycle::Fault,
                ..
            }
        )
    }
}
