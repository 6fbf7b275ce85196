//! Which actuator drives which joint: the default map of a robot onto CAN buses. Joints
//! go in joint order onto as few buses as the bus budget allows at the control rate
//! (classic MIT motors: four per 1 Mbit/s bus at 1 kHz), CAN ids 1, 2, … per bus,
//! motor ranges wide enough for the joint's limits and the loop's gains. The virtual
//! MCU configures its simulated motors from the same map, as a unit's motors are
//! flashed to match its configuration.

use embody_model::{Joint, Model};
use embody_protocol::messages::{ActuatorSetup, BridgeSetup, BusSetup, MAX_BUSES, MAX_JOINTS};
use embody_protocol::{MitCodec, MitRanges, MitVariant};

/// The bus bit rate the default map assumes (bit/s).
pub const DEFAULT_BITRATE: u32 = 1_000_000;
/// Watchdog period of the default setup (ms).
pub const DEFAULT_WATCHDOG_MS: u16 = 50;
/// Damping time before the motors are disabled (ms).
pub const DEFAULT_DAMPING_MS: u16 = 1000;

/// Why a robot cannot be mapped.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MapError {
    /// More joints than a bridge drives.
    #[error("{0} joints: a bridge drives at most {MAX_JOINTS}")]
    TooManyJoints(usize),
    /// The joints do not fit on the bridge's buses at this rate.
    #[error(
        "{joints} joints need {needed} CAN buses at {rate_hz} Hz (4 classic MIT motors per 1 Mbit/s bus at 1 kHz); the bridge has {MAX_BUSES}"
    )]
    NotEnoughBuses {
        /// Joints to map.
        joints: usize,
        /// Buses needed.
        needed: usize,
        /// Control rate.
        rate_hz: f64,
    },
}

/// The ranges a motor of a joint with this effort and speed limit is set up with.
fn ranges(effort: f64, velocity: f64, lower: f64, upper: f64) -> MitRanges {
    let span = lower.abs().max(upper.abs());
    MitRanges {
        p_max: if span.is_finite() {
            (span + 1.0).max(12.5) as f32
        } else {
            12.5
        },
        v_max: (2.0 * velocity).clamp(10.0, 1000.0) as f32,
        kp_max: (25.0 * effort).max(500.0) as f32,
        kd_max: effort.max(5.0) as f32,
        t_max: (1.5 * effort).max(1.0) as f32,
    }
}

/// The default bridge setup and actuator map of `model` at `rate_hz`.
pub fn default_map(
    model: &Model,
    rate_hz: f64,
) -> Result<(BridgeSetup, Vec<ActuatorSetup>), MapError> {
    let joints: Vec<_> = model
        .actuated_joints()
        .map(|j| &model.joints[j.0])
        .collect();
    if joints.len() > MAX_JOINTS {
        return Err(MapError::TooManyJoints(joints.len()));
    }
    let period_us = (1e6 / rate_hz).round() as u32;
    let per_bus = (period_us / classic_actuator_cost_us()).max(1) as usize;
    let needed = joints.len().div_ceil(per_bus).max(1);
    if needed > MAX_BUSES {
        return Err(MapError::NotEnoughBuses {
            joints: joints.len(),
            needed,
            rate_hz,
        });
    }
    let mut setup = BridgeSetup {
        joints: joints.len() as u8,
        buses: heapless::Vec::new(),
        period_us,
        watchdog_ms: DEFAULT_WATCHDOG_MS,
        damping_ms: DEFAULT_DAMPING_MS,
    };
    for _ in 0..needed {
        let _ = setup.buses.push(BusSetup {
            bitrate: DEFAULT_BITRATE,
        });
    }
    let actuators = joints
        .iter()
        .enumerate()
        .map(|(k, joint)| actuator(k, joint, (k / per_bus) as u8, (k % per_bus + 1) as u8))
        .collect();
    Ok((setup, actuators))
}

/// The actuator of joint `k` at `bus`, CAN id `id`.
fn actuator(k: usize, joint: &Joint, bus: u8, id: u8) -> ActuatorSetup {
    let effort = joint.limits.effort.min(1e4);
    ActuatorSetup {
        joint: k as u8,
        bus,
        codec: MitCodec {
            variant: MitVariant::Classic,
            ranges: ranges(
                effort,
                joint.limits.velocity,
                joint.limits.lower,
                joint.limits.upper,
            ),
            motor_id: id,
            master_id: 0,
        },
        direction: 1,
        offset_rad: 0.0,
        damping_kd: (0.05 * effort) as f32,
        position_kp: (4.0 * effort) as f32,
        position_kd: (0.1 * effort) as f32,
        velocity_kd: (0.5 * effort) as f32,
    }
}

/// The map of `model` behind a plain SLCAN adapter: one bus, motors at CAN ids 1..n in
/// joint order, replies to id 0 (the host runs the bus cycle itself; it is the user's to
/// keep `n` command-and-reply pairs within the control period).
pub fn slcan_map(model: &Model) -> Result<Vec<ActuatorSetup>, MapError> {
    let joints: Vec<_> = model
        .actuated_joints()
        .map(|j| &model.joints[j.0])
        .collect();
    if joints.len() > 127 {
        return Err(MapError::TooManyJoints(joints.len()));
    }
    Ok(joints
        .iter()
        .enumerate()
        .map(|(k, joint)| actuator(k, joint, 0, (k + 1) as u8))
        .collect())
}

/// Worst-case bus time of one classic MIT actuator (command + 6-byte reply) at the
/// default bit rate, in µs.
pub fn classic_actuator_cost_us() -> u32 {
    use embody_protocol::{CanFrame, CanId};
    let command = CanFrame::fixed(CanId::Standard(0), [0u8; 8]);
    let reply = CanFrame::fixed(CanId::Standard(0), [0u8; 6]);
    let bits = (command.worst_case_bits() + reply.worst_case_bits()) as u64;
    (bits * 1_000_000).div_ceil(DEFAULT_BITRATE as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_model::robots;

    #[test]
    fn arm7_fits_on_two_buses_at_one_kilohertz() {
        let model = robots::load("arm7", None).expect("arm7");
        let (setup, actuators) = default_map(&model, 1000.0).expect("maps");
        assert_eq!(setup.buses.len(), 2);
        assert_eq!(actuators.len(), 8);
        assert_eq!((actuators[4].bus, actuators[4].codec.motor_id), (1, 1));
        // The loop's joint PD gains fit the motor ranges (kp = 5·effort, kd = 0.3·effort).
        let effort = model.joints[model.actuated_joints().next().expect("joint").0]
            .limits
            .effort;
        assert!(actuators[0].codec.ranges.kp_max as f64 >= 5.0 * effort);
        assert!(actuators[0].codec.ranges.kd_max as f64 >= 0.3 * effort);
    }

    #[test]
    fn the_humanoid_needs_eight_buses_at_one_kilohertz() {
        let model = robots::load("humanoid", None).expect("humanoid");
        let (setup, _) = default_map(&model, 1000.0).expect("maps");
        assert_eq!(setup.buses.len(), 8);
        assert!(matches!(
            default_map(&model, 2000.0),
            Err(MapError::NotEnoughBuses { needed: 15, .. })
        ));
    }
}
