//! What a unit's configuration becomes on its bridge: the unit record (serial, robot,
//! the SHA-256 of the merged configuration, the calibration by joint index, the loop and
//! bus settings and where each actuator is), and what storing it would change against
//! the record the unit holds — named by the configuration's own keys
//! (`actuators.joint3.can_id`), so a host about to drive a unit can say exactly how its
//! configuration differs from the one the unit was given.

use embody_model::Model;
use embody_protocol::messages::{
    ActuatorRecord, ActuatorVariant, ControlRecord, JointCalibration, MAX_JOINTS, UnitRecord,
};

use crate::config::{
    Actuator, DriveMode, Family, Layers, PdoLayout, Problem, UnitConfig, Variant, problem,
};
use crate::hex;

/// SHA-256 of the merged configuration as applied (its port, a host setting, left out),
/// or why it cannot be written out canonically.
pub fn config_digest(config: &UnitConfig) -> Result<[u8; 32], String> {
    let applied = UnitConfig {
        port: None,
        ..config.clone()
    };
    let canonical = toml::to_string(&applied).map_err(|e| e.to_string())?;
    Ok(embody_fwimage::sha2_digest(canonical.as_bytes()))
}

/// The first four bytes of the SHA-256 of an actuator's ratings and ranges.
fn rest_digest(a: &Actuator, ranges: &crate::config::Ranges) -> u32 {
    #[derive(serde::Serialize)]
    struct Rest<'a> {
        torque_max_nm: f64,
        velocity_max_radps: f64,
        ranges: &'a crate::config::Ranges,
    }
    digest_of(&Rest {
        torque_max_nm: a.torque_max_nm,
        velocity_max_radps: a.velocity_max_radps,
        ranges,
    })
}

/// The first four bytes of the SHA-256 of a drive's ratings, mode, PDO layout, encoder
/// and gear (or a servo's ratings: its drive keys are all unset).
fn drive_rest_digest(a: &Actuator) -> u32 {
    #[derive(serde::Serialize)]
    struct Rest {
        torque_max_nm: f64,
        velocity_max_radps: f64,
        mode: Option<DriveMode>,
        pdo_layout: Option<PdoLayout>,
        encoder_increments: Option<u32>,
        gear: Option<u32>,
    }
    digest_of(&Rest {
        torque_max_nm: a.torque_max_nm,
        velocity_max_radps: a.velocity_max_radps,
        mode: a.mode,
        pdo_layout: a.pdo_layout,
        encoder_increments: a.encoder_increments,
        gear: a.gear,
    })
}

fn digest_of(rest: &impl serde::Serialize) -> u32 {
    // A table of numbers always serializes; the digest must never be of nothing.
    let canonical = toml::to_string(rest).unwrap_or_else(|e| e.to_string());
    let digest = embody_fwimage::sha2_digest(canonical.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
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
        config_digest: config_digest(config)
            .map_err(|e| problem(layers, "", format!("cannot be written out: {e}")))?,
        tool: text(layers, "calibration.tool", tool)?,
        calibration: heapless::Vec::new(),
        control: ControlRecord {
            rate_hz: config.control.rate_hz as f32,
            watchdog_ms: config.control.watchdog_ms,
            damping_ms: config.control.damping_ms,
            bitrate: config.bus.bitrate,
        },
        actuators: heapless::Vec::new(),
    };
    for (name, a) in &config.actuators {
        let key = format!("actuators.{name}");
        let joint = joint_index(&names, name)
            .ok_or_else(|| problem(layers, &key, "not an actuated joint of the robot"))?;
        let entry = match a.mit() {
            Some(mit) => ActuatorRecord {
                joint,
                bus: a.bus,
                can_id: mit.can_id,
                master_id: mit.master_id,
                variant: ActuatorVariant::Mit(mit.variant),
                rest_digest: rest_digest(a, &mit.ranges),
            },
            None if a.variant == Variant::Cia402 && config.bus.drives_on_bridge() => {
                ActuatorRecord {
                    joint,
                    bus: a.bus,
                    can_id: a.node_id.unwrap_or(0),
                    master_id: 0,
                    variant: ActuatorVariant::Cia402,
                    rest_digest: drive_rest_digest(a),
                }
            }
            None if let Family::Servo(family) = a.variant.family()
                && config.bus.servos_on_bridge() =>
            {
                ActuatorRecord {
                    joint,
                    bus: a.bus,
                    can_id: a.servo_id.unwrap_or(0),
                    master_id: 0,
                    variant: ActuatorVariant::Servo(family),
                    rest_digest: drive_rest_digest(a),
                }
            }
            None => {
                return Err(problem(
                    layers,
                    &format!("{key}.variant"),
                    format!(
                        "a {} actuator: the host drives it itself; only a unit of MIT motors, or of drives or servos its bridge masters (bus.drives_via or bus.servos_via = \"bridge\"), has a bridge to hold its configuration",
                        a.variant.name()
                    ),
                ));
            }
        };
        record
            .actuators
            .push(entry)
            .map_err(|_| problem(layers, &key, "more actuators than a bridge has"))?;
    }
    for (name, c) in &config.calibration.joints {
        let key = format!("calibration.joints.{name}");
        let joint = joint_index(&names, name)
            .ok_or_else(|| problem(layers, &key, "not an actuated joint of the robot"))?;
        let entry = JointCalibration {
            joint,
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

/// The index of joint `name` among `names`, if it is one a bridge can hold.
fn joint_index(names: &[String], name: &str) -> Option<u8> {
    names
        .iter()
        .position(|n| n == name)
        .filter(|j| *j < MAX_JOINTS)
        .map(|j| j as u8)
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

fn actuator_fields(a: Option<&ActuatorRecord>) -> [(&'static str, String); 5] {
    let text = |f: fn(&ActuatorRecord) -> String| a.map_or_else(|| "-".to_owned(), f);
    [
        ("bus", text(|a| a.bus.to_string())),
        ("can_id", text(|a| format!("{0} (0x{0:02x})", a.can_id))),
        (
            "master_id",
            text(|a| format!("{0} (0x{0:02x})", a.master_id)),
        ),
        (
            "variant",
            text(|a| embody_bridge::actuator_variant_name(a.variant).to_owned()),
        ),
        (
            "",
            text(|a| format!("ratings and ranges #{:08x}", a.rest_digest)),
        ),
    ]
}

/// What storing `wanted` would change on a unit holding `on_unit`, by the
/// configuration's keys; `names` are the robot's actuated joints (for naming joints).
/// Empty: nothing. `config_digest` is listed only when no key explains a difference of
/// digests (a key the unit does not keep itemised changed, such as `calibration.tool`).
pub fn diff(on_unit: Option<&UnitRecord>, wanted: &UnitRecord, names: &[String]) -> Vec<Change> {
    let empty = UnitRecord::default();
    let have = on_unit.unwrap_or(&empty);
    let mut out = Vec::new();
    let mut field = |key: String, a: String, b: String| {
        if a != b {
            out.push(Change {
                key,
                on_unit: if on_unit.is_some() { a } else { "-".into() },
                applied: b,
            });
        }
    };
    field(
        "serial".into(),
        have.serial.to_string(),
        wanted.serial.to_string(),
    );
    field(
        "robot".into(),
        have.robot.to_string(),
        wanted.robot.to_string(),
    );
    let (hc, wc) = (&have.control, &wanted.control);
    field(
        "control.rate_hz".into(),
        hc.rate_hz.to_string(),
        wc.rate_hz.to_string(),
    );
    field(
        "control.watchdog_ms".into(),
        hc.watchdog_ms.to_string(),
        wc.watchdog_ms.to_string(),
    );
    field(
        "control.damping_ms".into(),
        hc.damping_ms.to_string(),
        wc.damping_ms.to_string(),
    );
    field(
        "bus.bitrate".into(),
        hc.bitrate.to_string(),
        wc.bitrate.to_string(),
    );
    let name_of = |j: u8| {
        names
            .get(usize::from(j))
            .cloned()
            .unwrap_or_else(|| format!("#{j}"))
    };
    for j in joints_of(have, wanted, |r| {
        r.actuators.iter().map(|a| a.joint).collect()
    }) {
        let (a, b) = (have.actuator(j), wanted.actuator(j));
        let key = format!("actuators.{}", name_of(j));
        if a.is_none() || b.is_none() {
            let present =
                |x: Option<&ActuatorRecord>| x.map_or("-".to_owned(), |_| "an actuator".to_owned());
            field(key, present(a), present(b));
            continue;
        }
        for ((name, x), (_, y)) in actuator_fields(a).into_iter().zip(actuator_fields(b)) {
            let key = if name.is_empty() {
                key.clone()
            } else {
                format!("{key}.{name}")
            };
            field(key, x, y);
        }
    }
    for j in joints_of(have, wanted, |r| {
        r.calibration.iter().map(|c| c.joint).collect()
    }) {
        field(
            format!("calibration.joints.{}", name_of(j)),
            calibration_text(have.joint(j)),
            calibration_text(wanted.joint(j)),
        );
    }
    if out.is_empty() && have.config_digest != wanted.config_digest {
        out.push(Change {
            key: "config_digest".into(),
            on_unit: if on_unit.is_some() {
                hex(&have.config_digest)
            } else {
                "-".into()
            },
            applied: hex(&wanted.config_digest),
        });
    }
    out
}

/// The joints either record lists, by `list`, sorted once each.
fn joints_of(a: &UnitRecord, b: &UnitRecord, list: impl Fn(&UnitRecord) -> Vec<u8>) -> Vec<u8> {
    let mut joints = list(a);
    joints.extend(list(b));
    joints.sort_unstable();
    joints.dedup();
    joints
}
