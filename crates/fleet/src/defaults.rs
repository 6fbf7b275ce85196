//! The generated default map of a robot: its actuated joints in joint order on as few
//! CAN buses as the bus budget allows at the control rate (four classic MIT motors per
//! 1 Mbit/s bus at 1 kHz), CAN ids 1, 2, … on each bus, each motor rated at its joint's
//! limits with MIT ranges wide enough for them and for the loop's gains. It is what a
//! run on the wire without a unit uses (and says so), and what `embody config init`
//! writes out as a robot's actuator file for an integrator to edit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use embody_bridge::variant_name;
use embody_model::{Joint, Model};
use embody_protocol::budget::actuators_per_bus;
use embody_protocol::messages::{MAX_BUSES, MAX_JOINTS};

pub use embody_protocol::MitVariant;

use crate::config::{Actuator, Bus, Calibration, Control, Mit, Ranges, UnitConfig};

/// How to lay a robot's motors out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DefaultMap {
    /// Every motor's protocol variant. Default classic MIT.
    pub variant: MitVariant,
    /// Control rate the buses must keep up with (Hz). Default 1000.
    pub rate_hz: f64,
    /// Bit rate of every bus (bit/s). Default 1 Mbit/s.
    pub bitrate: u32,
    /// All motors on bus 0 (a plain SLCAN adapter, whose host runs the bus itself and
    /// keeps to no budget). Default false.
    pub one_bus: bool,
}

impl Default for DefaultMap {
    fn default() -> DefaultMap {
        DefaultMap {
            variant: MitVariant::Classic,
            rate_hz: 1000.0,
            bitrate: 1_000_000,
            one_bus: false,
        }
    }
}

/// Why a robot has no default map.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DefaultsError {
    /// More joints than a bridge drives.
    #[error("{0} joints: a bridge drives at most {MAX_JOINTS}")]
    TooManyJoints(usize),
    /// The joints do not fit on the bridge's buses at this rate.
    #[error(
        "{joints} joints need {needed} CAN buses at {rate_hz} Hz ({per_bus} motors per bus); the bridge has {MAX_BUSES}"
    )]
    NotEnoughBuses {
        /// Joints to map.
        joints: usize,
        /// Buses needed.
        needed: usize,
        /// Motors per bus.
        per_bus: usize,
        /// Control rate.
        rate_hz: f64,
    },
    /// The rate is not a control rate.
    #[error("{0} Hz is outside 100–10000")]
    Rate(f64),
}

/// The ranges of a motor for a joint with these limits: the joint's reach plus a
/// radian of calibration margin (at least the classic ±12.5 rad), twice its speed,
/// 1.5 times its effort, and gains up to 25·effort and 1·effort (at least 500 and 5).
fn ranges(joint: &Joint) -> Ranges {
    let l = joint.limits;
    let effort = finite_or(l.effort.min(1e4), 10.0);
    let reach = l.lower.abs().max(l.upper.abs());
    Ranges {
        p_max_rad: if reach.is_finite() {
            (reach + 1.0).max(12.5)
        } else {
            12.5
        },
        v_max_radps: (2.0 * finite_or(l.velocity, 10.0)).clamp(10.0, 1000.0),
        t_max_nm: (1.5 * effort).max(1.0),
        kp_max: (25.0 * effort).max(500.0),
        kd_max: effort.max(5.0),
    }
}

fn finite_or(x: f64, default: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { default }
}

/// The actuated joints of `model`, in joint order.
fn joints(model: &Model) -> Vec<&Joint> {
    model
        .actuated_joints()
        .map(|j| &model.joints[j.0])
        .collect()
}

/// The generated actuators of `model`, by joint name.
pub fn actuators(
    model: &Model,
    map: &DefaultMap,
) -> Result<BTreeMap<String, Actuator>, DefaultsError> {
    let joints = joints(model);
    if joints.len() > MAX_JOINTS {
        return Err(DefaultsError::TooManyJoints(joints.len()));
    }
    if !(100.0..=10_000.0).contains(&map.rate_hz) {
        return Err(DefaultsError::Rate(map.rate_hz));
    }
    let period_us = (1e6 / map.rate_hz).round() as u32;
    let per_bus = if map.one_bus {
        joints.len().clamp(1, 127)
    } else {
        (actuators_per_bus(map.variant, map.bitrate, period_us) as usize).max(1)
    };
    let needed = joints.len().div_ceil(per_bus).max(1);
    if needed > MAX_BUSES || (map.one_bus && needed > 1) {
        return Err(DefaultsError::NotEnoughBuses {
            joints: joints.len(),
            needed,
            per_bus,
            rate_hz: map.rate_hz,
        });
    }
    Ok(joints
        .iter()
        .enumerate()
        .map(|(k, joint)| {
            let ranges = ranges(joint);
            let mit = Mit {
                variant: map.variant,
                can_id: (k % per_bus + 1) as u8,
                master_id: 0,
                ranges,
            };
            let actuator = Actuator::of_mit(
                (k / per_bus) as u8,
                mit,
                finite_or(joint.limits.effort, ranges.t_max_nm / 1.5),
                finite_or(joint.limits.velocity, ranges.v_max_radps / 2.0),
            );
            (joint.name.clone(), actuator)
        })
        .collect())
}

/// A whole unit configuration for `model` (named `robot`) with the generated map: the
/// loop at `map.rate_hz`, a 50 ms watchdog, a second of damping, no calibration.
pub fn unit_config(
    model: &Model,
    robot: &str,
    map: &DefaultMap,
) -> Result<UnitConfig, DefaultsError> {
    Ok(UnitConfig {
        serial: format!("default-{robot}"),
        robot: robot.to_owned(),
        port: None,
        control: Control {
            rate_hz: map.rate_hz,
            watchdog_ms: 50,
            damping_ms: 1000,
            sensor_timeout_ms: None,
        },
        bus: Bus {
            bitrate: map.bitrate,
            baud: None,
            drives_via: None,
            servos_via: None,
        },
        actuators: actuators(model, map)?,
        calibration: Calibration::default(),
        cameras: Default::default(),
    })
}

/// The bridge setup of `model`'s generated map (named `robot`).
pub fn setup(
    model: &Model,
    robot: &str,
    map: &DefaultMap,
) -> Result<embody_bridge::UnitSetup, DefaultsError> {
    Ok(crate::setup::unit_setup(
        &unit_config(model, robot, map)?,
        model,
    ))
}

/// One line saying what the generated map of `model` is, for a run that uses it.
pub fn describe(model: &Model, map: &DefaultMap) -> String {
    match actuators(model, map) {
        Ok(actuators) => {
            let buses = actuators.values().map(|a| a.bus).max().map_or(0, |b| b + 1);
            format!(
                "the generated default map of {}: {} {} motors on {buses} bus{} at {} kbit/s, CAN ids 1, 2, … per bus (`embody config init --robot {}` writes it out)",
                model.name,
                actuators.len(),
                variant_name(map.variant),
                if buses == 1 { "" } else { "es" },
                map.bitrate / 1000,
                model.name
            )
        }
        Err(e) => format!("no default map for {}: {e}", model.name),
    }
}

/// `name` as a TOML key: bare where TOML allows, else quoted (a joint named `hip.l`
/// stays one key).
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    match bare {
        true => name.to_owned(),
        false => toml::Value::from(name).to_string(),
    }
}

/// Writes `robot`'s generated actuator file to `path` (its folder made if missing),
/// refusing to replace a file there unless `force`.
pub fn write_robot_file(
    path: &std::path::Path,
    model: &Model,
    robot: &str,
    map: &DefaultMap,
    force: bool,
) -> Result<(), crate::FleetError> {
    let text = robot_file(model, robot, map)?;
    let io = |source: std::io::Error| crate::FleetError::Io {
        path: path.to_owned(),
        source,
    };
    if path.exists() && !force {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "exists already (--force replaces it)",
        )));
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|source| crate::FleetError::Io {
            path: folder.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(io)
}

/// The generated map of `model` as a robot's actuator file (`robots/<robot>.toml`),
/// joints in joint order, with a comment on how it was made.
pub fn robot_file(model: &Model, robot: &str, map: &DefaultMap) -> Result<String, DefaultsError> {
    let actuators = actuators(model, map)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The {} model's actuators, generated by `embody config init` ({} MIT motors,\n# {} kbit/s buses laid out for {} Hz). Edit to match the unit as built.\nrobot = {}",
        robot.escape_debug(),
        variant_name(map.variant),
        map.bitrate / 1000,
        map.rate_hz,
        toml::Value::from(robot)
    );
    for joint in joints(model) {
        let Some((a, mit)) = (actuators.get(&joint.name)).and_then(|a| Some((a, a.mit()?))) else {
            continue;
        };
        let r = &mit.ranges;
        let _ = write!(
            out,
            "\n[actuators.{}]\nbus = {}\ncan_id = {}\nvariant = \"{}\"\ntorque_max_nm = {:?}\nvelocity_max_radps = {:?}\nranges = {{ p_max_rad = {:?}, v_max_radps = {:?}, t_max_nm = {:?}, kp_max = {:?}, kd_max = {:?} }}\n",
            toml_key(&joint.name),
            a.bus,
            mit.can_id,
            variant_name(mit.variant),
            a.torque_max_nm,
            a.velocity_max_radps,
            r.p_max_rad,
            r.v_max_radps,
            r.t_max_nm,
            r.kp_max,
            r.kd_max
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_model::robots;

    #[test]
    fn arm7_fits_on_two_classic_buses_at_one_kilohertz() {
        let model = robots::load("arm7", Some(false)).expect("arm7");
        let actuators = actuators(&model, &DefaultMap::default()).expect("maps");
        assert_eq!(actuators.len(), 8);
        let j5 = &actuators["joint5"];
        assert_eq!((j5.bus, j5.can_id), (1, Some(1)));
        // The loop's joint PD gains fit the ranges (kp = 5·effort, kd = 0.3·effort).
        let j1 = &actuators["joint1"];
        let r = j1.ranges.expect("ranges");
        assert!(r.kp_max >= 5.0 * 87.0 && r.kd_max >= 0.3 * 87.0);
    }

    #[test]
    fn the_humanoid_needs_eight_buses_at_one_kilohertz_and_too_many_at_two() {
        let model = robots::load("humanoid", Some(false)).expect("humanoid");
        let actuators = actuators(&model, &DefaultMap::default()).expect("maps");
        assert_eq!(actuators.values().map(|a| a.bus).max(), Some(7));
        let fast = DefaultMap {
            rate_hz: 2000.0,
            ..DefaultMap::default()
        };
        assert!(matches!(
            super::actuators(&model, &fast),
            Err(DefaultsError::NotEnoughBuses { needed: 15, .. })
        ));
    }

    #[test]
    fn a_joint_name_that_is_no_bare_key_stays_one_key() {
        for name in ["hip.l", "hip l", "hip\"]", "", "joint1"] {
            let text = format!("[actuators.{}]\nbus = 0\n", toml_key(name));
            let table: toml::Table = text.parse().expect("TOML");
            let actuators = table["actuators"].as_table().expect("table");
            assert_eq!(actuators.keys().collect::<Vec<_>>(), [name], "{text}");
        }
    }

    #[test]
    fn the_written_file_parses_back_to_the_same_actuators() {
        let model = robots::load("arm7", Some(false)).expect("arm7");
        let map = DefaultMap {
            variant: MitVariant::Robstride,
            ..DefaultMap::default()
        };
        let text = robot_file(&model, "arm7", &map).expect("file");
        #[derive(serde::Deserialize)]
        struct File {
            actuators: BTreeMap<String, Actuator>,
        }
        let parsed: File = toml::from_str(&text).expect("TOML");
        assert_eq!(parsed.actuators, actuators(&model, &map).expect("maps"));
        // Robstride motors cost 320 µs a cycle: three per 1 Mbit/s bus at 1 kHz.
        assert_eq!(parsed.actuators["joint4"].bus, 1);
    }
}
