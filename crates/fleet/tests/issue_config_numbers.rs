//! Issue 22, while there: every number of a unit's configuration and calibration — loop
//! rate, watchdog and damping time, bit rate, buses and CAN ids, ratings, MIT ranges,
//! zero offsets and directions — refuses NaN, ±inf, absurdly large and nonsensical
//! negative values with its file and key, and nothing downstream of a configuration that
//! passes (bridge setup, record) or fails (the checks themselves) panics or grows without
//! bound. Ratings of NaN used to pass, and a bus at a bit rate of 1 bit/s overflowed
//! the bus-budget sum.

mod common;

use std::time::{Duration, Instant};

use common::Fleet;
use embody_fleet::Unit;
use embody_fleet::config::MAX_FILE_BYTES;
use embody_fleet::defaults::{self, DefaultMap};
use proptest::prelude::*;

/// `(file, text in it, replacement, key refused, words of the reason)`.
const BAD_NUMBERS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "fleet.toml",
        "rate_hz = 1000.0",
        "rate_hz = nan",
        "control.rate_hz",
        "outside 100–10000",
    ),
    (
        "fleet.toml",
        "rate_hz = 1000.0",
        "rate_hz = inf",
        "control.rate_hz",
        "outside",
    ),
    (
        "fleet.toml",
        "rate_hz = 1000.0",
        "rate_hz = -inf",
        "control.rate_hz",
        "outside",
    ),
    (
        "fleet.toml",
        "rate_hz = 1000.0",
        "rate_hz = 1e300",
        "control.rate_hz",
        "outside",
    ),
    (
        "fleet.toml",
        "rate_hz = 1000.0",
        "rate_hz = -1000.0",
        "control.rate_hz",
        "outside",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = -50",
        "control.watchdog_ms",
        "invalid value",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 99999999999",
        "control.watchdog_ms",
        "invalid value",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = nan",
        "control.watchdog_ms",
        "invalid type",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 4000000000",
        "control.watchdog_ms",
        "at most 10 s",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\ndamping_ms = -1",
        "control.damping_ms",
        "invalid value",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\ndamping_ms = 4294967295",
        "control.damping_ms",
        "at most 60 s",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\nsensor_timeout_ms = nan",
        "control.sensor_timeout_ms",
        "at least two control periods",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\nsensor_timeout_ms = 0.5",
        "control.sensor_timeout_ms",
        "at least two control periods (2.0 ms)",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\nsensor_timeout_ms = 1e9",
        "control.sensor_timeout_ms",
        "at most 100 ms",
    ),
    (
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\nsensor_timeout_ms = -5",
        "control.sensor_timeout_ms",
        "at least two",
    ),
    (
        "fleet.toml",
        "bitrate = 1_000_000",
        "bitrate = 0",
        "bus.bitrate",
        "outside",
    ),
    (
        "fleet.toml",
        "bitrate = 1_000_000",
        "bitrate = -1",
        "bus.bitrate",
        "invalid value",
    ),
    (
        "fleet.toml",
        "bitrate = 1_000_000",
        "bitrate = inf",
        "bus.bitrate",
        "invalid type",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = -1\ncan_id = 1",
        "actuators.joint1.bus",
        "invalid value",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 255\ncan_id = 1",
        "actuators.joint1.bus",
        "the bridge has 8",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 0\ncan_id = 0",
        "actuators.joint1.can_id",
        "outside 1–127",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 0\ncan_id = 128",
        "actuators.joint1.can_id",
        "outside 1–127",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 0\ncan_id = 1000",
        "actuators.joint1.can_id",
        "invalid value",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 0\ncan_id = 1\nmaster_id = -1",
        "actuators.joint1.master_id",
        "invalid value",
    ),
    (
        "robots/arm7.toml",
        "bus = 0\ncan_id = 1",
        "bus = 0\ncan_id = 1\nmaster_id = 256",
        "actuators.joint1.master_id",
        "invalid value",
    ),
    (
        "robots/arm7.toml",
        "torque_max_nm = 120.0",
        "torque_max_nm = nan",
        "actuators.joint1.torque_max_nm",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "torque_max_nm = 120.0",
        "torque_max_nm = inf",
        "actuators.joint1.torque_max_nm",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "torque_max_nm = 120.0",
        "torque_max_nm = 1e300",
        "actuators.joint1.torque_max_nm",
        "below 1e6",
    ),
    (
        "robots/arm7.toml",
        "torque_max_nm = 120.0",
        "torque_max_nm = -120.0",
        "actuators.joint1.torque_max_nm",
        "positive",
    ),
    (
        "robots/arm7.toml",
        "velocity_max_radps = 3.0",
        "velocity_max_radps = nan",
        "actuators.joint1.velocity_max_radps",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "velocity_max_radps = 3.0",
        "velocity_max_radps = -inf",
        "actuators.joint1.velocity_max_radps",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "kp_max = 2175.0",
        "kp_max = inf",
        "actuators.joint1.ranges.kp_max",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "kp_max = 2175.0",
        "kp_max = -1.0",
        "actuators.joint1.ranges.kp_max",
        "positive and finite",
    ),
    (
        "robots/arm7.toml",
        "p_max_rad = 12.5",
        "p_max_rad = 1e300",
        "actuators.joint1.ranges.p_max_rad",
        "below 1e6",
    ),
    (
        "robots/arm7.toml",
        "p_max_rad = 12.5",
        "p_max_rad = 0.0",
        "actuators.joint1.ranges.p_max_rad",
        "positive",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871",
        "zero_offset_rad = nan",
        "calibration.joints.joint1.zero_offset_rad",
        "within ±π",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871",
        "zero_offset_rad = -inf",
        "calibration.joints.joint1.zero_offset_rad",
        "within ±π",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871",
        "zero_offset_rad = 1e300",
        "calibration.joints.joint1.zero_offset_rad",
        "within ±π",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871\ndirection = 1",
        "zero_offset_rad = -0.1052871\ndirection = 0",
        "calibration.joints.joint1.direction",
        "must be 1 or -1",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871\ndirection = 1",
        "zero_offset_rad = -0.1052871\ndirection = -128",
        "calibration.joints.joint1.direction",
        "must be 1 or -1",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871\ndirection = 1",
        "zero_offset_rad = -0.1052871\ndirection = 1000",
        "calibration.joints.joint1.direction",
        "invalid value",
    ),
    (
        "calibration/ARM-0001.toml",
        "zero_offset_rad = -0.1052871\ndirection = 1",
        "zero_offset_rad = -0.1052871\ndirection = 1.0",
        "calibration.joints.joint1.direction",
        "invalid type",
    ),
];

#[test]
fn non_finite_and_absurd_numbers_are_refused_where_they_are_set() {
    for (k, (file, from, to, key, words)) in BAD_NUMBERS.iter().enumerate() {
        let fleet = Fleet::new(&format!("number-{k}"));
        // The first occurrence only: joint1's.
        let text = std::fs::read_to_string(fleet.file(file)).expect("read");
        assert!(text.contains(from), "{file} has no '{from}'");
        std::fs::write(fleet.file(file), text.replacen(from, to, 1)).expect("write");
        fleet.expect_among(file, key, words);
    }
}

#[test]
fn a_tiny_bit_rate_on_many_actuators_is_refused_not_overflowed() {
    let fleet = Fleet::new("bitrate-1");
    // The humanoid's 30-odd motors all on bus 0: minutes per cycle at 1 bit/s, summed.
    let model = embody_model::robots::load("humanoid", Some(false)).expect("humanoid");
    let one_bus = DefaultMap {
        one_bus: true,
        ..DefaultMap::default()
    };
    let text = defaults::robot_file(&model, "humanoid", &one_bus).expect("map");
    std::fs::write(fleet.file("robots/humanoid.toml"), text).expect("write");
    std::fs::write(fleet.file("units/ARM-0001.toml"), "robot = \"humanoid\"\n").expect("write");
    std::fs::remove_file(fleet.file("calibration/ARM-0001.toml")).expect("remove");
    fleet.replace("fleet.toml", "bitrate = 1_000_000", "bitrate = 1");
    fleet.expect_among("fleet.toml", "bus.bitrate", "outside");
    let over: Vec<_> = (fleet.problems().into_iter())
        .filter(|p| p.reason.contains("per cycle at 1 bit/s"))
        .collect();
    assert_eq!(over.len(), 1, "bus 0: {over:#?}");
    assert!(
        over[0].reason.contains(&u32::MAX.to_string()),
        "{}",
        over[0]
    );
}

#[test]
fn more_joints_than_a_bridge_drives_are_refused() {
    let fleet = Fleet::new("many-joints");
    // A chain of 70 revolute joints, in the fleet.
    let mut urdf = String::from("<robot name=\"snake\">\n<link name=\"l0\"/>\n");
    for k in 1..=70 {
        urdf.push_str(&format!(
            "<link name=\"l{k}\"><inertial><mass value=\"1\"/><inertia ixx=\"0.01\" iyy=\"0.01\" izz=\"0.01\" ixy=\"0\" ixz=\"0\" iyz=\"0\"/></inertial></link>\n\
             <joint name=\"j{k}\" type=\"revolute\"><parent link=\"l{}\"/><child link=\"l{k}\"/>\
             <axis xyz=\"0 0 1\"/><limit lower=\"-1\" upper=\"1\" effort=\"10\" velocity=\"1\"/></joint>\n",
            k - 1
        ));
    }
    urdf.push_str("</robot>\n");
    std::fs::write(fleet.file("snake.urdf"), urdf).expect("write");
    std::fs::write(fleet.file("robots/snake.toml"), "[actuators]\n").expect("write");
    std::fs::write(
        fleet.file("units/ARM-0001.toml"),
        "robot = \"snake.urdf\"\n",
    )
    .expect("write");
    std::fs::remove_file(fleet.file("calibration/ARM-0001.toml")).expect("remove");
    fleet.expect_among("units/ARM-0001.toml", "robot", "70 actuated joints");
}

#[test]
fn an_oversized_configuration_file_is_refused_unread() {
    let fleet = Fleet::new("huge-file");
    let mut text = std::fs::read_to_string(fleet.file("units/ARM-0001.toml")).expect("read");
    text.push_str(&"#".repeat(MAX_FILE_BYTES as usize));
    std::fs::write(fleet.file("units/ARM-0001.toml"), text).expect("write");
    fleet.expect_one("units/ARM-0001.toml", "", "larger than 1024 KiB");
}

#[test]
fn a_file_of_many_keys_loads_in_linear_time() {
    let fleet = Fleet::new("many-keys");
    // About 1 MiB of actuators of no joint: each merged, located and refused.
    let mut text = String::from("robot = \"arm7\"\n");
    let mut k = 0;
    while text.len() < MAX_FILE_BYTES as usize - 200 {
        text.push_str(&format!(
            "[actuators.x{k}]\nbus = 0\ncan_id = 1\nvariant = \"classic\"\ntorque_max_nm = 1.0\n\
             velocity_max_radps = 1.0\nranges = {{ p_max_rad = 1.0, v_max_radps = 1.0, \
             t_max_nm = 1.0, kp_max = 1.0, kd_max = 1.0 }}\n"
        ));
        k += 1;
    }
    std::fs::write(fleet.file("units/ARM-0001.toml"), text).expect("write");
    let start = Instant::now();
    let problems = fleet.problems();
    let elapsed = start.elapsed();
    assert!(
        problems.len() >= k,
        "{k} actuators, {} problems",
        problems.len()
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "{k} actuators took {elapsed:?}"
    );
}

/// Every numeric key of the example unit, as `(file, text before the value)`.
const NUMERIC_KEYS: &[(&str, &str)] = &[
    ("fleet.toml", "rate_hz = "),
    ("fleet.toml", "watchdog_ms = "),
    ("fleet.toml", "bitrate = "),
    ("robots/arm7.toml", "bus = "),
    ("robots/arm7.toml", "can_id = "),
    ("robots/arm7.toml", "torque_max_nm = "),
    ("robots/arm7.toml", "velocity_max_radps = "),
    ("robots/arm7.toml", "p_max_rad = "),
    ("robots/arm7.toml", "v_max_radps = "),
    ("robots/arm7.toml", "t_max_nm = "),
    ("robots/arm7.toml", "kp_max = "),
    ("robots/arm7.toml", "kd_max = "),
    ("calibration/ARM-0001.toml", "zero_offset_rad = "),
    ("calibration/ARM-0001.toml", "direction = "),
];

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_owned()),
        Just("inf".to_owned()),
        Just("-inf".to_owned()),
        Just("-0.0".to_owned()),
        Just("0".to_owned()),
        Just("1e300".to_owned()),
        Just("-1e300".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        (-1e4..1e4f64).prop_map(|x| format!("{x:?}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any number in any numeric key: refused with its file and key, or a unit whose
    /// bridge setup and record are made without a panic.
    #[test]
    fn any_number_in_any_key_is_refused_or_runs(
        key in 0..NUMERIC_KEYS.len(),
        occurrence in 0..8usize,
        value in number(),
    ) {
        let (file, prefix) = NUMERIC_KEYS[key];
        let fleet = Fleet::new("number-prop");
        let text = std::fs::read_to_string(fleet.file(file)).expect("read");
        let Some((at, _)) = text.match_indices(prefix).nth(occurrence) else {
            return Ok(());
        };
        let start = at + prefix.len();
        let end = start + text[start..].find([',', '\n', ' ']).unwrap_or(text.len() - start);
        let changed = format!("{}{value}{}", &text[..start], &text[end..]);
        std::fs::write(fleet.file(file), changed).expect("write");
        match Unit::load(&fleet.dir, "ARM-0001") {
            Ok(unit) => {
                let _ = unit.setup();
                let _ = unit.record();
            }
            Err(_) => {
                let problems = fleet.problems();
                prop_assert!(!problems.is_empty());
                for p in problems {
                    prop_assert!(p.file.starts_with(&fleet.dir) && !p.reason.is_empty(), "{p}");
                }
            }
        }
    }
}
