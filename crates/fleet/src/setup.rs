//! What a unit's checked configuration becomes on the wire ([`UnitLink`]): for MIT
//! motors the bridge setup (buses at the configured bit rate, control period, watchdog
//! and damping time) and one actuator setup per joint (bus, variant, CAN ids, MIT
//! ranges); for CiA 402 drives the host's CANopen setup (node ids, mode, PDO layout,
//! encoders and gears), or, where the bridge masters them, the bridge setup with its
//! drive buses and one drive setup per joint; for servos the bus's family, ids and
//! baud rate, or, where the bridge masters them, the bridge setup with its servo bus and
//! one servo setup per joint. The bridge applies the unit's
//! stored calibration on top, so the actuators go out uncalibrated (direction +1, no
//! offset). The gains the bridge uses in place of a drive's own loops (position and
//! velocity commands, the watchdog's damping) scale with the joint's effort limit.

use embody_bridge::{Cia402Setup, DriveScale, ServoFamily, UnitSetup, travel_per_turn};
use embody_model::Model;
use embody_protocol::canopen::cia402::Mode;
use embody_protocol::messages::{
    ActuatorSetup, BridgeSetup, BusSetup, DriveActuatorSetup, DriveBusSetup, ServoActuatorSetup,
    ServoBusSetup,
};
use embody_protocol::{MitCodec, MitRanges};

use crate::config::{self, Actuator, DriveMode, Family, Mit, UnitConfig};
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
            let a = config.actuators.get(name)?;
            Some(actuator_setup(k as u8, a, a.mit()?, effort))
        })
        .collect();
    let (drive_buses, drives) = match family_of(config) {
        Family::Cia402 if config.bus.drives_on_bridge() => bridge_drives(config, model),
        _ => (Vec::new(), Vec::new()),
    };
    let (servo_bus, servos) = match family_of(config) {
        Family::Servo(family) if config.bus.servos_on_bridge() => {
            bridge_servos(config, model, family)
        }
        _ => (None, Vec::new()),
    };
    UnitSetup {
        bridge,
        actuators,
        drive_buses,
        drives,
        servo_bus,
        servos,
    }
}

/// The servo bus and servos of `config` (checked; its servos of `family` mastered by its
/// bridge).
fn bridge_servos(
    config: &UnitConfig,
    model: &Model,
    family: ServoFamily,
) -> (Option<ServoBusSetup>, Vec<ServoActuatorSetup>) {
    let bus = ServoBusSetup {
        family,
        baud: config.bus.servo_baud(),
    };
    let travel = travel_per_turn(model);
    let servos = (joint_names(model).iter().enumerate())
        .filter_map(|(k, name)| Some((k, config.actuators.get(name)?)))
        .map(|(k, a)| ServoActuatorSetup {
            joint: k as u8,
            id: a.servo_id.unwrap_or(0),
            travel_per_turn: travel[k] as f32,
            direction: 1,
            offset_rad: 0.0,
        })
        .collect();
    (Some(bus), servos)
}

/// The drive buses and drives of `config` (checked; its drives mastered by its bridge).
fn bridge_drives(
    config: &UnitConfig,
    model: &Model,
) -> (Vec<DriveBusSetup>, Vec<DriveActuatorSetup>) {
    let drives = cia402_setup(config, model);
    let travel = travel_per_turn(model);
    let names = joint_names(model);
    let on_joints: Vec<(usize, &Actuator)> = (names.iter().enumerate())
        .filter_map(|(k, name)| Some((k, config.actuators.get(name)?)))
        .collect();
    let mut buses: Vec<u8> = on_joints.iter().map(|(_, a)| a.bus).collect();
    buses.sort_unstable();
    buses.dedup();
    let bus_setups = (buses.into_iter())
        .map(|bus| DriveBusSetup {
            bus,
            mode: drives.mode,
            layout: drives.layout,
            heartbeat_ms: drives.heartbeat_ms,
        })
        .collect();
    let setups = (on_joints.iter().zip(&drives.scales))
        .map(|((k, a), scale)| DriveActuatorSetup {
            joint: *k as u8,
            bus: a.bus,
            node: a.node_id.unwrap_or(0),
            counts_per_unit: scale.counts(travel[*k]) as f32,
            direction: 1,
            offset_rad: 0.0,
        })
        .collect();
    (bus_setups, setups)
}

/// Joint `joint`'s actuator as the bridge is told about it; `effort` is the joint's
/// effort limit (N·m or N), which scales the stand-in gains.
fn actuator_setup(joint: u8, a: &Actuator, mit: Mit, effort: f64) -> ActuatorSetup {
    let effort = if effort.is_finite() {
        effort.min(1e4)
    } else {
        a.torque_max_nm
    } as f32;
    let r = &mit.ranges;
    ActuatorSetup {
        joint,
        bus: a.bus,
        codec: MitCodec {
            variant: mit.variant,
            ranges: MitRanges {
                p_max: r.p_max_rad as f32,
                v_max: r.v_max_radps as f32,
                kp_max: r.kp_max as f32,
                kd_max: r.kd_max as f32,
                t_max: r.t_max_nm as f32,
            },
            motor_id: mit.can_id,
            master_id: mit.master_id,
        },
        direction: 1,
        offset_rad: 0.0,
        damping_kd: 0.05 * effort,
        position_kp: 4.0 * effort,
        position_kd: 0.1 * effort,
        velocity_kd: 0.5 * effort,
    }
}

/// How the host reaches a unit's actuators (all of one family: the check says so).
#[derive(Clone, Debug, PartialEq)]
pub enum UnitLink {
    /// MIT motors, or drives or servos it masters, behind the bridge, set up so.
    Bridge(UnitSetup),
    /// CiA 402 drives on one CANopen bus, through an SLCAN adapter, the host their master
    /// (drives the bridge masters are [`UnitLink::Bridge`]'s).
    Cia402(Cia402Setup),
    /// Servos on one serial bus.
    Servos(ServoBus),
}

/// A serial bus of servos.
#[derive(Clone, Debug, PartialEq)]
pub struct ServoBus {
    /// Their protocol.
    pub family: ServoFamily,
    /// Each actuated joint's servo id, in joint order.
    pub ids: Vec<u8>,
    /// The bus's baud rate.
    pub baud: u32,
    /// The position P gains to write at connect: (joint, gain) for each Dynamixel whose
    /// configuration sets one.
    pub position_p_gains: Vec<(usize, u16)>,
}

/// The family of `config`'s actuators (MIT when it has none).
pub fn family_of(config: &UnitConfig) -> Family {
    config
        .actuators
        .values()
        .next()
        .map_or(Family::Mit, |a| a.variant.family())
}

/// The actuators of `config` on `model`'s actuated joints, in joint order.
fn in_joint_order<'a>(config: &'a UnitConfig, model: &Model) -> Vec<&'a Actuator> {
    (joint_names(model).iter())
        .filter_map(|n| config.actuators.get(n))
        .collect()
}

/// The CiA 402 drives of `config` (checked: all drives, one mode and PDO layout) on
/// `model`'s joints: node ids, mode, layout, encoders and gears in joint order.
pub fn cia402_setup(config: &UnitConfig, model: &Model) -> Cia402Setup {
    let in_order = in_joint_order(config, model);
    let first = in_order.first();
    Cia402Setup {
        nodes: in_order.iter().filter_map(|a| a.node_id).collect(),
        mode: match first.and_then(|a| a.mode) {
            None | Some(DriveMode::Csp) => Mode::CyclicPosition,
            Some(DriveMode::Csv) => Mode::CyclicVelocity,
            Some(DriveMode::Cst) => Mode::CyclicTorque,
        },
        layout: match first.and_then(|a| a.pdo_layout) {
            None | Some(config::PdoLayout::Full) => embody_bridge::PdoLayout::Full,
            Some(config::PdoLayout::Compact) => embody_bridge::PdoLayout::Compact,
        },
        scales: (in_order.iter())
            .map(|a| {
                let shipped = DriveScale::default();
                DriveScale {
                    increments_per_turn: (a.encoder_increments)
                        .unwrap_or(shipped.increments_per_turn),
                    gear: a.gear.unwrap_or(shipped.gear),
                }
            })
            .collect(),
        bitrate: config.bus.bitrate,
        rate_hz: config.control.rate_hz,
        ..Cia402Setup::default_for(0)
    }
}

/// How the host reaches the actuators of `config` (checked) on `model`'s joints.
pub fn unit_link(config: &UnitConfig, model: &Model) -> UnitLink {
    let in_order = in_joint_order(config, model);
    match family_of(config) {
        family if config.bus.has_bridge(family) => UnitLink::Bridge(unit_setup(config, model)),
        Family::Cia402 => UnitLink::Cia402(cia402_setup(config, model)),
        Family::Mit => UnitLink::Bridge(unit_setup(config, model)),
        Family::Servo(family) => UnitLink::Servos(ServoBus {
            family,
            ids: in_order.iter().filter_map(|a| a.servo_id).collect(),
            baud: config.bus.servo_baud(),
            position_p_gains: (in_order.iter().enumerate())
                .filter_map(|(k, a)| Some((k, a.position_p_gain?)))
                .collect(),
        }),
    }
}
