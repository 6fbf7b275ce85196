//! What the robot reports each tick: joint states with fault bits, the IMU, force-torque
//! sensors and the e-stop input, gathered in a preallocated [`SensorFrame`].

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::robot::Capabilities;

/// Fault flags an actuator reports (the union of what MIT-protocol drives signal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultBits(pub u32);

impl FaultBits {
    /// No fault.
    pub const NONE: FaultBits = FaultBits(0);
    /// Supply voltage above the drive's rating.
    pub const OVER_VOLTAGE: FaultBits = FaultBits(1 << 0);
    /// Supply voltage below the drive's minimum.
    pub const UNDER_VOLTAGE: FaultBits = FaultBits(1 << 1);
    /// Phase current above the drive's limit.
    pub const OVER_CURRENT: FaultBits = FaultBits(1 << 2);
    /// Driver (MOSFET) temperature too high.
    pub const DRIVER_OVER_TEMPERATURE: FaultBits = FaultBits(1 << 3);
    /// Motor coil temperature too high.
    pub const MOTOR_OVER_TEMPERATURE: FaultBits = FaultBits(1 << 4);
    /// The drive lost its command stream.
    pub const COMMUNICATION_LOST: FaultBits = FaultBits(1 << 5);
    /// Sustained overload.
    pub const OVERLOAD: FaultBits = FaultBits(1 << 6);
    /// Encoder error (magnet, calibration or read failure).
    pub const ENCODER: FaultBits = FaultBits(1 << 7);
    /// The actuator stopped answering on the bus (set by the host or bridge).
    pub const NOT_RESPONDING: FaultBits = FaultBits(1 << 8);

    /// True if no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if every bit of `other` is set here.
    pub const fn contains(self, other: FaultBits) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    pub const fn union(self, other: FaultBits) -> FaultBits {
        FaultBits(self.0 | other.0)
    }
}

impl std::fmt::Display for FaultBits {
    /// The set bits by name, e.g. `over-current, encoder`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 9] = [
            "over-voltage",
            "under-voltage",
            "over-current",
            "driver over-temperature",
            "motor over-temperature",
            "communication lost",
            "overload",
            "encoder",
            "not responding",
        ];
        let mut names = NAMES
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>();
        let unknown = self.0 & !((1 << NAMES.len()) - 1);
        let unknown = format!("unknown bits {unknown:#x}");
        if self.0 >> NAMES.len() != 0 {
            names.push(&unknown);
        }
        if names.is_empty() {
            names.push("none");
        }
        f.write_str(&names.join(", "))
    }
}

/// The measured state of one joint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointState {
    /// Position (rad; m for prismatic joints).
    pub q: f64,
    /// Velocity as the actuator reports it (rad/s or m/s).
    pub dq: f64,
    /// Torque (N·m or N), measured or estimated from current.
    pub tau: f64,
    /// Motor temperature (°C).
    pub temperature_c: f64,
    /// Fault flags.
    pub faults: FaultBits,
}

/// One IMU sample in the IMU's own frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImuSample {
    /// When it was measured.
    pub stamp: Timestamp,
    /// Angular velocity (rad/s).
    pub angular_velocity_radps: [f64; 3],
    /// Specific force (m/s²): at rest it points up with magnitude g.
    pub linear_acceleration_mps2: [f64; 3],
}

/// One force-torque sample in its sensor's frame: the wrench the environment applies to
/// the robot at the sensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceTorqueSample {
    /// When it was measured.
    pub stamp: Timestamp,
    /// Force (N).
    pub force_n: [f64; 3],
    /// Torque (N·m).
    pub torque_nm: [f64; 3],
}

/// Everything read from the robot in one tick. Sized once from the robot's
/// [`Capabilities`]; [`crate::Robot::read`] overwrites it in place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFrame {
    /// When the joint states were measured.
    pub stamp: Timestamp,
    /// The backend's frame counter: it stops advancing when the sensors freeze.
    pub seq: u64,
    /// One state per joint, in the robot's joint order.
    pub joints: Vec<JointState>,
    /// The IMU sample, if the robot has an IMU.
    pub imu: Option<ImuSample>,
    /// One sample per force-torque sensor, in [`Capabilities::force_torque`] order.
    pub force_torque: Vec<ForceTorqueSample>,
    /// The hardware emergency-stop input is active.
    pub estop: bool,
}

impl SensorFrame {
    /// The first measurement that is not a finite number: `Some(Some(k))` for joint `k`'s
    /// position, velocity or torque, `Some(None)` for the IMU, `None` when all are finite.
    pub fn first_non_finite(&self) -> Option<Option<usize>> {
        if let Some(k) = self
            .joints
            .iter()
            .position(|j| !(j.q.is_finite() && j.dq.is_finite() && j.tau.is_finite()))
        {
            return Some(Some(k));
        }
        let imu_finite = self.imu.is_none_or(|imu| {
            imu.angular_velocity_radps
                .iter()
                .chain(&imu.linear_acceleration_mps2)
                .all(|x| x.is_finite())
        });
        (!imu_finite).then_some(None)
    }

    /// A zeroed frame sized for `caps`.
    pub fn for_robot(caps: &Capabilities) -> SensorFrame {
        SensorFrame {
            stamp: Timestamp::ZERO,
            seq: 0,
            joints: vec![JointState::default(); caps.joints.len()],
            imu: caps.imu_frame.as_ref().map(|_| ImuSample::default()),
            force_torque: vec![ForceTorqueSample::default(); caps.force_torque.len()],
            estop: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_frames_round_trip_through_json() {
        let frame = SensorFrame {
            stamp: Timestamp::from_nanos(1_000_000),
            seq: 3,
            joints: vec![JointState {
                q: 0.25,
                dq: -0.5,
                tau: 1.75,
                temperature_c: 41.0,
                faults: FaultBits::OVER_CURRENT.union(FaultBits::ENCODER),
            }],
            imu: Some(ImuSample {
                stamp: Timestamp::from_nanos(999_000),
                angular_velocity_radps: [0.1, 0.2, 0.3],
                linear_acceleration_mps2: [0.0, 0.0, 9.81],
            }),
            force_torque: vec![ForceTorqueSample {
                stamp: Timestamp::from_nanos(999_500),
                force_n: [1.0, 2.0, 245.0],
                torque_nm: [0.5, -0.5, 0.0],
            }],
            estop: true,
        };
        let text = serde_json::to_string(&frame).expect("serializes");
        let back: SensorFrame = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, frame);
    }

    #[test]
    fn fault_bits_combine() {
        let both = FaultBits::OVER_VOLTAGE.union(FaultBits::OVERLOAD);
        assert!(both.contains(FaultBits::OVERLOAD));
        assert!(!both.contains(FaultBits::ENCODER));
        assert!(FaultBits::NONE.is_empty());
        assert!(!both.is_empty());
    }
}
