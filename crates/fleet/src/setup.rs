//! What a unit's checked configuration becomes on the wire: the bridge setup (buses at
//! the configured bit rate, control period, watchdog and damping time) and one actuator
//! setup per joint (bus, variant, CAN ids, MIT ranges). The bridge applies the unit's
//! stored calibration on top, so the actuators go out uncalibrated (direction +1, no
//! offset). The gains the bridge uses in place of a drive's own loops (position and
//! velocity commands, the watchdog's damping) scale with the joint's effort limit.

use embody_bridge::UnitSetup;
use embody_model::Model;
use embody_protocol::messages::{ActuatorSetup, BridgeSetup, BusSetup};
use embody_protocol::{MitCodec, MitRanges};

use crate::config::{Actuator, UnitConfig};
use crate::record::joint_names;

/// The bridge setup of `config` (checked: every actuated joint of `model` has its
/// actuator) for `model`'s joints, in joint order.
pub fn unit_setup(config: &UnitConfig, model: &Model) -> UnitSetup {
    let names = joint_names(model);
    let buses = config
        .actuators
        .values()
        .map(|a| usize::from(a.bus) + 1)
        .max()
        .unwrap_or(1);
    let mut bridge = BridgeSetup {
        joints: names.len() as u8,
        buses: heapless::Vec::new(),
        period_us: (1e6 / config.control.rate_hz).round() as u32,
        watchdog_ms: config.control.watchdog_ms.min(u32::from(u16::MAX)) as u16,
        damping_ms: config.control.damping_ms.min(u32::from(u16::MAX)) as u16,
    };
    for _ in 0..buses {
        let _ = bridge.buses.push(BusSetup {
            bitrate: config.bus.bitrate,
        });
    }
    let actuators = model
        .actuated_joints()
        .zip(&names)
        .enumerate()
        .filter_map(|(k, (j, name))| {
            let effort = model.joints[j.0].limits.effort;
            config
                .actuators
                .get(name)
                .map(|a| actuator_setup(k as u8, a, effort))
        })
        .collect();
    UnitSetup { bridge, actuators }
}

/// Joint `joint`'s actuator as the bridge is told about it; `effort` is the joint's
/// effort limit (N·m or N), which scales the stand-in gains.
fn actuator_setup(joint: u8, a: &Actuator, effort: f64) -> ActuatorSetup {
    let effort = if effort.is_finite() {
        effort.min(1e4)
    } else {
        a.torque_max_nm
    } as f32;
    let r = &a.ranges;
    ActuatorSetup {
        joint,
        bus: a.bus,
        codec: MitCodec {
            variant: a.variant.into(),
            ranges: MitRanges {
                p_max: r.p_max_rad as f32,
                v_max: r.v_max_radps as f32,
                kp_max: r.kp_max as f32,
                kd_max: r.kd_max as f32,
                t_max: r.t_max_nm as f32,
            },
            motor_id: a.can_id,
            master_id: a.master_id,
        },
        direction: 1,
        offset_rad: 0.0,
        damping_kd: 0.05 * effort,
        position_kp: 4.0 * effort,
        position_kd: 0.1 * effort,
        velocity_kd: 0.5 * effort,
    }
}
