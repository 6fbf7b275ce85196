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

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lifecycle::Idle => "idle",
            Lifecycle::Armed => "armed",
            Lifecycle::Running => "running",
            Lifecycle::Fault => "fault",
            Lifecycle::Recovering => "recovering",
        })
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
    /// A measurement is not a number (NaN or infinite): nothing computed from it can be
    /// trusted.
    NonFiniteMeasurement {
        /// Joint index, or none for the IMU.
        joint: Option<usize>,
    },
    /// The damping phase of a fault ended: torque off.
    DampingElapsed,
    /// The driver's targets stopped arriving.
    DriverSilent,
    /// Every fault condition cleared.
    Recovered,
    /// The transition was refused because a fault condition is present.
    NotHealthy,
}

impl Cause {
    /// Its kind, as JSON names it (`actuator_fault`, `stale_sensors`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::Command => "command",
            Cause::EStop => "e_stop",
            Cause::Link { .. } => "link",
            Cause::ActuatorFault { .. } => "actuator_fault",
            Cause::StaleSensors => "stale_sensors",
            Cause::PositionLimit { .. } => "position_limit",
            Cause::VelocityLimit { .. } => "velocity_limit",
            Cause::NonFiniteCommand { .. } => "non_finite_command",
            Cause::NonFiniteMeasurement { .. } => "non_finite_measurement",
            Cause::DampingElapsed => "damping_elapsed",
            Cause::DriverSilent => "driver_silent",
            Cause::Recovered => "recovered",
            Cause::NotHealthy => "not_healthy",
        }
    }

    /// The joint (index) it concerns, if any.
    pub fn joint(&self) -> Option<usize> {
        match *self {
            Cause::ActuatorFault { joint, .. }
            | Cause::PositionLimit { joint }
            | Cause::VelocityLimit { joint }
            | Cause::NonFiniteCommand { joint } => Some(joint),
            Cause::NonFiniteMeasurement { joint } => joint,
            _ => None,
        }
    }
}

impl std::fmt::Display for Cause {
    /// What happened, in words (joints by index: [`Cause::joint`] gives it to name).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Command => f.write_str("a command"),
            Cause::EStop => f.write_str("the e-stop is pressed"),
            Cause::Link { error: Some(e) } => write!(f, "the link failed: {e}"),
            Cause::Link { error: None } => f.write_str("the link failed on consecutive ticks"),
            Cause::ActuatorFault { bits, .. } => write!(f, "the actuator reported {bits}"),
            Cause::StaleSensors => f.write_str("sensor data stopped arriving"),
            Cause::PositionLimit { .. } => f.write_str("the joint went past its soft limit"),
            Cause::VelocityLimit { .. } => f.write_str("the joint moved faster than its limit"),
            Cause::NonFiniteCommand { .. } => {
                f.write_str("the controller's command was not finite")
            }
            Cause::NonFiniteMeasurement { joint: Some(_) } => {
                f.write_str("the joint's measured position, velocity or torque is not finite")
            }
            Cause::NonFiniteMeasurement { joint: None } => {
                f.write_str("the IMU's measurement is not finite")
            }
            Cause::DampingElapsed => f.write_str("the damping time ended: torque off"),
            Cause::DriverSilent => f.write_str("the driver's targets stopped arriving"),
            Cause::Recovered => f.write_str("every fault condition cleared"),
            Cause::NotHealthy => f.write_str("a fault condition is present"),
        }
    }
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

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventKind::Transition { from, to, cause } => write!(f, "{from} -> {to}: {cause}"),
            EventKind::Refused { state, cause } => write!(f, "{state}: refused: {cause}"),
            EventKind::CommandRejected { cause } => write!(f, "command replaced by hold: {cause}"),
            EventKind::SegmentRejected { reason } => write!(f, "segment refused: {reason}"),
            EventKind::PlannerStarved => {
                f.write_str("the trajectory ran out while moving: holding")
            }
            EventKind::PlannerSilent => f.write_str("no planner message in time: holding"),
            EventKind::ControllerSwitched { from, to } => {
                write!(f, "controller {from} -> {to}")
            }
            EventKind::Overrun { missed } => write!(f, "overrun: {missed} deadlines missed"),
        }
    }
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
