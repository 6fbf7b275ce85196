//! What a unit's configuration becomes on its bridge: the unit record (serial, robot,
//! the SHA-256 of the merged configuration, the calibration by joint index), and what
//! storing it would change against the record the unit holds.

use embody_model::Model;
use embody_protocol::messages::{JointCalibration, MAX_JOINTS, UnitRecord};

use crate::config::{Layers, Problem, UnitConfig, problem};
use crate::hex;

/// SHA-256 of the merged configuration as applied (its port, a host setting, left out).
pub fn config_digest(config: &UnitConfig) -> [u8; 32] {
    let applied = UnitConfig {
        port: None,
        ..config.clone()
    };
    let canonical = toml::to_string(&applied).unwrap_or_default();
    embody_fwimage::sha2_digest(canonical.as_bytes())
}

/// The names of `model`'s actuated joints, in the bridge's joint order.
pub fn joint_names(model: &Model) -> Vec<String> {
    model
        .actuated_joints()
        .map(|j| model.joints[j.0].name.clone())
        .collect()
}

fn text<const N: usize>(
    layers: &Layers,
    key: &str,
    value: &str,
) -> Result<heapless::String<N>, Problem> {
    heapless::String::try_from(value).map_err(|_| {
        problem(
            layers,
            key,
            format!("longer than the unit stores ({N} bytes)"),
        )
    })
}

/// The record `config` (checked) becomes on its unit, applied by `tool`.
pub fn record_of(
    layers: &Layers,
    config: &UnitConfig,
    model: &Model,
    tool: &str,
) -> Result<UnitRecord, Problem> {
    let names = joint_names(model);
    let mut record = UnitRecord {
        serial: text(layers, "serial", &config.serial)?,
        robot: text(layers, "robot", &config.robot)?,
        config_digest: config_digest(config),
        tool: text(layers, "calibration.tool", tool)?,
        calibration: heapless::Vec::new(),
    };
    for (name, c) in &config.calibration.joints {
        let key = format!("calibration.joints.{name}");
        let joint = names
            .iter()
            .position(|n| n == name)
            .filter(|j| *j < MAX_JOINTS)
            .ok_or_else(|| problem(layers, &key, "not an actuated joint of the robot"))?;
        let entry = JointCalibration {
            joint: joint as u8,
            zero_offset_rad: c.zero_offset_rad as f32,
            direction: c.direction,
        };
        record
            .calibration
            .push(entry)
            .map_err(|_| problem(layers, &key, "more calibrated joints than a bridge has"))?;
    }
    Ok(record)
}

/// One difference between the unit and the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// What differs (`serial`, `config_digest`, `calibration.<joint>`).
    pub key: String,
    /// On the unit now (`-`: nothing).
    pub on_unit: String,
    /// After applying.
    pub applied: String,
}

fn calibration_text(c: Option<&JointCalibration>) -> String {
    match c {
        Some(c) => format!(
            "zero {:+.5} rad, direction {:+}",
            c.zero_offset_rad, c.direction
        ),
        None => "-".into(),
    }
}

/// What storing `wanted` would change on a unit holding `on_unit`; `names` are the
/// robot's actuated joints (for naming calibration entries). Empty: nothing.
pub fn diff(on_unit: Option<&UnitRecord>, wanted: &UnitRecord, names: &[String]) -> Vec<Change> {
    let empty = UnitRecord::default();
    let have = on_unit.unwrap_or(&empty);
    let mut out = Vec::new();
    let mut field = |key: &str, a: String, b: String| {
        if a != b {
            out.push(Change {
                key: key.to_owned(),
                on_unit: if on_unit.is_some() { a } else { "-".into() },
                applied: b,
            });
        }
    };
    field("serial", have.serial.to_string(), wanted.serial.to_string());
    field("robot", have.robot.to_string(), wanted.robot.to_string());
    field(
        "config_digest",
        hex(&have.config_digest),
        hex(&wanted.config_digest),
    );
    let mut joints: Vec<u8> = have
        .calibration
        .iter()
        .chain(&wanted.calibration)
        .map(|c| c.joint)
        .collect();
    joints.sort_unstable();
    joints.dedup();
    for j in joints {
        let name = names
            .get(usize::from(j))
            .cloned()
            .unwrap_or_else(|| format!("#{j}"));
        let (a, b) = (have.joint(j), wanted.joint(j));
        if a != b {
            out.push(Change {
                key: format!("calibration.{name}"),
                on_unit: calibration_text(a),
                applied: calibration_text(b),
            });
        }
    }
    out
}
