//! What `embody config check` checks beyond the schema: the loop rate, watchdog and
//! damping time, the robot model (no more joints than a bridge drives), one actuator per
//! actuated joint and no more, all of one family (MIT motors, CiA 402 drives, or servos
//! of one protocol) with the keys of its variant and no others, CAN ids, node ids and
//! servo ids unique on each bus, each bus's cycle within the control period, ratings and
//! MIT ranges positive and finite with the joints' limits within them, a calibration
//! that names real joints with sane values, and cameras whose numbers make sense,
//! mounted on frames the robot has.

use std::collections::BTreeMap;

use embody_model::{JointLimits, Model, robots};
use embody_protocol::budget::{drive_cycle_us, variant_cycle_us};
use embody_protocol::messages::{MAX_BUSES, MAX_JOINTS};

use crate::config::{Actuator, Family, Layers, Problem, Ranges, UnitConfig, Variant, problem};
use crate::setup::{UnitLink, family_of, unit_link};
use embody_bridge::UnitSetup;

/// The model a unit's `robot` names: a built-in, or a URDF relative to the fleet
/// directory.
pub fn load_model(layers: &Layers, config: &UnitConfig) -> Result<Model, Problem> {
    let name = &config.robot;
    // Not a built-in: a file in the fleet, wherever the command runs.
    let target = match robots::builtin(name) {
        Some(_) => name.clone(),
        None => layers.dir.join(name).to_string_lossy().into_owned(),
    };
    // The bridge drives joints; a floating base is the estimator's business.
    robots::load(&target, Some(false)).map_err(|e| problem(layers, "robot", e.to_string()))
}

/// The largest rating or range a motor can have (in its unit: N·m, rad/s, rad, …).
const MAX_MOTOR_VALUE: f64 = 1e6;

/// Why `value`, a motor's rating or range, is no such thing: it must be finite, positive
/// and below [`MAX_MOTOR_VALUE`].
/// Why `ms` is no sensor timeout for a loop at `rate_hz`: it must be at least two
/// control periods and at most 100 ms. A unit's `[control] sensor_timeout_ms` and a
/// command line's `--sensor-timeout` are held to the same bounds.
pub fn sensor_timeout_problem(ms: f64, rate_hz: f64) -> Option<String> {
    let two_periods_ms = 2e3 / rate_hz.max(1.0);
    (!(ms >= two_periods_ms && ms <= 100.0)).then(|| {
        format!("{ms} ms: at least two control periods ({two_periods_ms:.1} ms) and at most 100 ms")
    })
}

fn motor_value_problem(value: f64) -> Option<String> {
    let good = value.is_finite() && value > 0.0 && value < MAX_MOTOR_VALUE;
    (!good).then(|| format!("{value}: must be positive and finite, below {MAX_MOTOR_VALUE:e}"))
}

/// Problems with an actuator's ratings: each finite, positive and not absurd.
fn rating_problems(a: &Actuator) -> Vec<(&'static str, String)> {
    [
        ("torque_max_nm", a.torque_max_nm),
        ("velocity_max_radps", a.velocity_max_radps),
    ]
    .into_iter()
    .filter_map(|(name, value)| motor_value_problem(value).map(|why| (name, why)))
    .collect()
}

/// Problems with an actuator's MIT ranges against its joint's limits: every range
/// finite and positive, positions and the rated torque and speed within them.
fn range_problems(a: &Actuator, r: &Ranges, limits: &JointLimits) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let fields = [
        ("p_max_rad", r.p_max_rad),
        ("v_max_radps", r.v_max_radps),
        ("t_max_nm", r.t_max_nm),
        ("kp_max", r.kp_max),
        ("kd_max", r.kd_max),
    ];
    for (name, value) in fields {
        if let Some(why) = motor_value_problem(value) {
            out.push((name, why));
        }
    }
    if !out.is_empty() {
        return out;
    }
    let reach = limits.lower.abs().max(limits.upper.abs());
    if reach.is_finite() && reach > r.p_max_rad {
        out.push((
            "p_max_rad",
            format!(
                "±{} rad does not cover the joint's range [{}, {}]",
                r.p_max_rad, limits.lower, limits.upper
            ),
        ));
    }
    if r.t_max_nm < a.torque_max_nm {
        out.push((
            "t_max_nm",
            format!(
                "±{} N·m is below the rated torque of {} N·m",
                r.t_max_nm, a.torque_max_nm
            ),
        ));
    }
    if r.v_max_radps < a.velocity_max_radps {
        out.push((
            "v_max_radps",
            format!(
                "±{} rad/s is below the rated speed of {} rad/s",
                r.v_max_radps, a.velocity_max_radps
            ),
        ));
    }
    out
}

/// Every problem with `config` against its robot (empty: it is good).
pub fn check(layers: &Layers, config: &UnitConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut say = |key: &str, reason: String| out.push(problem(layers, key, reason));
    let c = &config.control;
    if !(100.0..=10_000.0).contains(&c.rate_hz) {
        say(
            "control.rate_hz",
            format!("{} Hz is outside 100–10000", c.rate_hz),
        );
    }
    let period_us = 1e6 / c.rate_hz.max(1.0);
    if f64::from(c.watchdog_ms) * 1e3 < 2.0 * period_us || c.watchdog_ms > 10_000 {
        say(
            "control.watchdog_ms",
            format!(
                "{} ms: at least two control periods ({:.1} ms) and at most 10 s",
                c.watchdog_ms,
                2e-3 * period_us
            ),
        );
    }
    if let Some(why) = c
        .sensor_timeout_ms
        .and_then(|ms| sensor_timeout_problem(ms, c.rate_hz))
    {
        say("control.sensor_timeout_ms", why);
    }
    if c.damping_ms > 60_000 {
        say(
            "control.damping_ms",
            format!("{} ms: at most 60 s", c.damping_ms),
        );
    }
    if !(10_000..=1_000_000).contains(&config.bus.bitrate) {
        say(
            "bus.bitrate",
            format!(
                "{} bit/s is outside 10 kbit/s – 1 Mbit/s",
                config.bus.bitrate
            ),
        );
    }
    let model = match load_model(layers, config) {
        Ok(model) => model,
        Err(p) => {
            out.push(p);
            return out;
        }
    };
    let joints: BTreeMap<String, usize> = model
        .actuated_joints()
        .enumerate()
        .map(|(k, j)| (model.joints[j.0].name.clone(), k))
        .collect();
    let family = family_of(config);
    if config.bus.drives_via.is_some() && family != Family::Cia402 {
        say(
            "bus.drives_via",
            "for a unit of CiA 402 drives: this one has none".into(),
        );
    }
    if config.bus.servos_via.is_some() && !matches!(family, Family::Servo(_)) {
        say(
            "bus.servos_via",
            "for a unit of Dynamixel or Feetech servos: this one has none".into(),
        );
    }
    let on_bridge = config.bus.has_bridge(family);
    if on_bridge && joints.len() > MAX_JOINTS {
        say(
            "robot",
            format!(
                "{} has {} actuated joints: a bridge drives at most {MAX_JOINTS}",
                model.name,
                joints.len()
            ),
        );
    }
    for (name, camera) in &config.cameras {
        if let Err(why) = crate::name::check("a camera name", name) {
            say(&format!("cameras.{name}"), why.to_string());
        }
        if let Err(why) = camera.check() {
            say(&format!("cameras.{name}"), why);
        }
        if let embody_hal::Mount::Frame { frame, .. } = &camera.mount
            && model.frame_id(frame).is_none()
        {
            say(
                &format!("cameras.{name}.mount"),
                format!("{} has no frame '{frame}'", model.name),
            );
        }
    }
    for name in joints.keys() {
        if !config.actuators.contains_key(name) {
            say(
                &format!("actuators.{name}"),
                format!("joint '{name}' of {} has no actuator", model.name),
            );
        }
    }
    let mut ids: BTreeMap<(u8, u8), &str> = BTreeMap::new();
    // Per bus: µs per cycle, actuators, and the one whose `bus` the latest layer set
    // (where a budget problem is reported: the change that overloaded the bus).
    let mut cycle_us: BTreeMap<u8, (u32, usize, String)> = BTreeMap::new();
    let first = config.actuators.iter().next();
    for (name, a) in &config.actuators {
        let key = |field: &str| format!("actuators.{name}.{field}");
        let Some(&k) = joints.get(name) else {
            say(
                &format!("actuators.{name}"),
                format!("{} has no actuated joint '{name}'", model.name),
            );
            continue;
        };
        let limits = model.joints[model.actuated_joints().nth(k).map_or(0, |j| j.0)].limits;
        for (field, reason) in rating_problems(a) {
            say(&key(field), reason);
        }
        if limits.effort.is_finite() && limits.effort > a.torque_max_nm {
            say(
                &key("torque_max_nm"),
                format!(
                    "{} N·m is below the joint's effort limit of {} N·m",
                    a.torque_max_nm, limits.effort
                ),
            );
        }
        if limits.velocity.is_finite() && limits.velocity > a.velocity_max_radps {
            say(
                &key("velocity_max_radps"),
                format!(
                    "{} rad/s is below the joint's velocity limit of {} rad/s",
                    a.velocity_max_radps, limits.velocity
                ),
            );
        }
        if let Some((other, o)) = first.filter(|(_, o)| o.variant.family() != a.variant.family()) {
            say(
                &key("variant"),
                format!(
                    "{} here, {} on {other}: a unit's actuators are all MIT motors, all CiA 402 drives or all servos of one protocol",
                    a.variant.name(),
                    o.variant.name()
                ),
            );
            continue;
        }
        let (required, optional) = a.variant.keys();
        let set = a.keys_set();
        for field in &set {
            if !required.contains(field) && !optional.contains(field) {
                say(
                    &key(field),
                    format!(
                        "not a key of a {} actuator (its keys: bus, {}, torque_max_nm, velocity_max_radps)",
                        a.variant.name(),
                        [required, optional].concat().join(", ")
                    ),
                );
            }
        }
        for field in required.iter().filter(|f| !set.contains(f)) {
            say(
                &key(field),
                format!("missing: a {} actuator needs it", a.variant.name()),
            );
        }
        let bus = cycle_us.entry(a.bus).or_default();
        bus.1 += 1;
        let bus_key = key("bus");
        if bus.2.is_empty() || layers.layer_of(&bus_key) > layers.layer_of(&bus.2) {
            bus.2 = bus_key;
        }
        if a.variant.family() != Family::Mit {
            // Drives and servos: ids on the unit's one bus; the bus's time after the loop.
            let (id, field, top) = match a.variant {
                Variant::Cia402 => (a.node_id, "node_id", 127),
                Variant::Dynamixel => (a.servo_id, "servo_id", 252),
                _ => (a.servo_id, "servo_id", 253),
            };
            let on_bridge = a.variant == Variant::Cia402 && config.bus.drives_on_bridge();
            if on_bridge && usize::from(a.bus) >= MAX_BUSES {
                say(
                    &key("bus"),
                    format!("bus {} (the bridge has {MAX_BUSES})", a.bus),
                );
            } else if a.bus != 0 && !on_bridge {
                let (what, on) = match a.variant {
                    Variant::Cia402 => ("drives", "SLCAN adapter"),
                    _ => ("servos", "servo bus"),
                };
                let bridge = match a.variant {
                    Variant::Cia402 => {
                        " (or set bus.drives_via = \"bridge\": the bridge has several)"
                    }
                    _ => "",
                };
                say(
                    &key("bus"),
                    format!(
                        "bus {}: a unit's {what} are on its one {on} (bus 0){bridge}",
                        a.bus
                    ),
                );
            }
            let low = u8::from(a.variant == Variant::Cia402);
            match id {
                Some(id) if !(low..=top).contains(&id) => {
                    say(&key(field), format!("{id} is outside {low}–{top}"));
                }
                Some(id) => {
                    if let Some(other) = ids.insert((a.bus, id), name) {
                        say(&key(field), format!("{field} {id} is also {other}'s"));
                    }
                }
                None => {}
            }
            if let Some((other, o)) = first.filter(|(_, o)| o.variant == Variant::Cia402) {
                let differs = [
                    ("mode", a.mode != o.mode),
                    ("pdo_layout", a.pdo_layout != o.pdo_layout),
                ];
                for (field, _) in differs.into_iter().filter(|(_, d)| *d) {
                    say(
                        &key(field),
                        format!(
                            "differs from {other}'s: the host drives a unit's drives with one mode and PDO layout"
                        ),
                    );
                }
            }
            if a.encoder_increments == Some(0) || a.gear == Some(0) {
                let field = if a.gear == Some(0) {
                    "gear"
                } else {
                    "encoder_increments"
                };
                say(&key(field), "0: must be at least 1".into());
            }
            let p_max = embody_protocol::dynamixel::x_series::POSITION_P_GAIN_MAX;
            if let Some(gain) = a.position_p_gain.filter(|g| *g > p_max) {
                say(
                    &key("position_p_gain"),
                    format!("{gain} is over a Dynamixel's {p_max}"),
                );
            }
            continue;
        }
        let Some(mit) = a.mit() else {
            continue;
        };
        if usize::from(a.bus) >= MAX_BUSES {
            say(
                &key("bus"),
                format!("bus {} (the bridge has {MAX_BUSES})", a.bus),
            );
        }
        if !(1..=127).contains(&mit.can_id) {
            say(&key("can_id"), format!("{} is outside 1–127", mit.can_id));
        } else if let Some(other) = ids.insert((a.bus, mit.can_id), name) {
            say(
                &key("can_id"),
                format!("CAN id {} is also {other}'s on bus {}", mit.can_id, a.bus),
            );
        }
        for (field, reason) in range_problems(a, &mit.ranges, &limits) {
            say(&format!("actuators.{name}.ranges.{field}"), reason);
        }
        let bus = cycle_us.entry(a.bus).or_default();
        // Saturating: a bit rate of a few bit/s makes cycles of minutes.
        bus.0 = bus
            .0
            .saturating_add(variant_cycle_us(mit.variant, config.bus.bitrate));
    }
    // The drives' or servos' bus time is reported where the MIT motors' would be.
    let blamed = cycle_us.get(&0).map(|b| b.2.clone()).unwrap_or_default();
    for (bus, (us, n, blamed)) in cycle_us {
        if f64::from(us) > period_us {
            say(
                &blamed,
                format!(
                    "bus {bus}: {n} actuators need {us} µs per cycle at {} bit/s, more than the {period_us:.0} µs period at {} Hz",
                    config.bus.bitrate, c.rate_hz
                ),
            );
        }
    }
    if let Some(baud) = config.bus.baud
        && !(9600..=4_500_000).contains(&baud)
    {
        say("bus.baud", format!("{baud} baud is outside 9600–4,500,000"));
    }
    if family != Family::Mit {
        let (us, n, what) = match unit_link(config, &model) {
            UnitLink::Cia402(setup) => (
                setup.tick_us(),
                setup.nodes.len(),
                format!("CiA 402 drives ({} PDO layout) need", setup.layout.name()),
            ),
            UnitLink::Servos(bus) => (
                bus.family.tick_us(bus.ids.len(), bus.baud),
                bus.ids.len(),
                format!("{} servos at {} baud need", bus.family.name(), bus.baud),
            ),
            UnitLink::Bridge(UnitSetup {
                servo_bus: Some(bus),
                servos,
                ..
            }) => (
                bus.family.tick_us(servos.len(), bus.baud),
                servos.len(),
                format!(
                    "{} servos at {} baud (through the bridge) need",
                    bus.family.name(),
                    bus.baud
                ),
            ),
            UnitLink::Bridge(setup) => {
                for d in &setup.drive_buses {
                    let n = setup.drives.iter().filter(|a| a.bus == d.bus).count();
                    let us = drive_cycle_us(d.mode, d.layout, n as u32, config.bus.bitrate);
                    if f64::from(us) > period_us {
                        say(
                            &blamed,
                            format!(
                                "bus {}: {n} CiA 402 drives ({} PDO layout) need {us} µs a cycle at {} bit/s, more than the {period_us:.0} µs period at {} Hz",
                                d.bus,
                                d.layout.name(),
                                config.bus.bitrate,
                                c.rate_hz
                            ),
                        );
                    }
                }
                (0.0, 0, String::new())
            }
        };
        if us > period_us {
            say(
                &blamed,
                format!(
                    "{n} {what} {us:.0} µs of their bus a cycle, more than the {period_us:.0} µs period at {} Hz",
                    c.rate_hz
                ),
            );
        }
        let bridge_calibrates = config.bus.has_bridge(family);
        if let Some(joint) = config
            .calibration
            .joints
            .keys()
            .next()
            .filter(|_| !bridge_calibrates)
        {
            say(
                &format!("calibration.joints.{joint}"),
                "a calibration is applied by the bridge (or the host to MIT motors on an SLCAN adapter), not yet to servos or drives the host masters: set their zeros in the devices".into(),
            );
        }
    }
    for (name, cal) in &config.calibration.joints {
        let key = |field: &str| format!("calibration.joints.{name}.{field}");
        if !joints.contains_key(name) {
            say(
                &format!("calibration.joints.{name}"),
                format!("{} has no actuated joint '{name}'", model.name),
            );
            continue;
        }
        if cal.direction != 1 && cal.direction != -1 {
            say(
                &key("direction"),
                format!("{}: must be 1 or -1", cal.direction),
            );
        }
        if !(cal.zero_offset_rad.is_finite() && cal.zero_offset_rad.abs() <= std::f64::consts::PI) {
            say(
                &key("zero_offset_rad"),
                format!("{}: must be within ±π", cal.zero_offset_rad),
            );
        }
    }
    let cal = &config.calibration;
    if !cal.hash.is_empty() && cal.hash != crate::calibrate::joints_hash(&cal.joints) {
        say(
            "calibration.hash",
            "the joints do not match the hash the calibration procedure wrote (edited by hand?)"
                .into(),
        );
    }
    out
}
