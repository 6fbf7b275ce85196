//! Layered unit configuration: precedence, and every kind of problem reported with the
//! file that caused it, the key and the reason — on copies of `examples/fleet`.

mod common;

use common::Fleet;
use embody_bridge::DriveScale;
use embody_fleet::config::load;
use embody_fleet::setup::UnitLink;
use proptest::prelude::*;

#[test]
fn the_example_unit_is_good_and_later_layers_win() {
    let fleet = Fleet::new("good");
    assert_eq!(fleet.problems(), vec![]);
    let (layers, config) = load(&fleet.dir, "ARM-0001").expect("loads");
    // The unit's override beats the robot's value; the rest comes from below.
    assert_eq!(config.actuators["joint6"].velocity_max_radps, 6.0);
    assert_eq!(config.actuators["joint5"].velocity_max_radps, 4.0);
    assert_eq!(
        layers.source("actuators.joint6.velocity_max_radps"),
        fleet.file("units/ARM-0001.toml")
    );
    assert_eq!(
        layers.source("actuators.joint6.can_id"),
        fleet.file("robots/arm7.toml")
    );
    assert_eq!(layers.source("control.rate_hz"), fleet.file("fleet.toml"));
    assert_eq!(config.calibration.joints["joint4"].direction, -1);
    assert_eq!(config.serial, "ARM-0001");
}

#[test]
fn an_unknown_key_is_named_in_its_file() {
    let fleet = Fleet::new("unknown");
    fleet.append("units/ARM-0001.toml", "velocity_max = 3.0\n");
    fleet.expect_one(
        "units/ARM-0001.toml",
        "actuators.joint6.velocity_max",
        "unknown field",
    );
}

#[test]
fn a_duplicate_can_id_on_a_bus_is_refused() {
    let fleet = Fleet::new("dup");
    fleet.append("units/ARM-0001.toml", "\n[actuators.joint2]\ncan_id = 1\n");
    fleet.expect_one(
        "units/ARM-0001.toml",
        "actuators.joint2.can_id",
        "also joint1's on bus 0",
    );
}

#[test]
fn a_bus_over_its_budget_is_refused() {
    let fleet = Fleet::new("budget");
    fleet.append("units/ARM-0001.toml", "\n[actuators.joint5]\nbus = 0\n");
    fleet.expect_one(
        "units/ARM-0001.toml",
        "actuators.joint5.bus",
        "bus 0: 5 actuators need 1250 µs",
    );
}

#[test]
fn limits_above_an_actuators_rating_are_refused() {
    let fleet = Fleet::new("rating");
    fleet.replace(
        "robots/arm7.toml",
        "torque_max_nm = 120.0",
        "torque_max_nm = 50.0",
    );
    let problems = fleet.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}"); // joint1 and joint2
    assert_eq!(problems[0].key, "actuators.joint1.torque_max_nm");
    assert_eq!(problems[0].file, fleet.file("robots/arm7.toml"));
    assert!(
        problems[0].reason.contains("effort limit of 87"),
        "{}",
        problems[0]
    );
}

#[test]
fn ranges_that_cannot_carry_the_joint_or_its_rating_are_named() {
    let fleet = Fleet::new("ranges");
    // joint1 reaches ±2.9 rad and is rated 120 N·m.
    fleet.append(
        "units/ARM-0001.toml",
        "\n[actuators.joint1]\nranges = { p_max_rad = 2.0, v_max_radps = 10.0, t_max_nm = 100.0, kp_max = 500.0, kd_max = 5.0 }\n",
    );
    let problems = fleet.problems();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "actuators.joint1.ranges.p_max_rad",
            "actuators.joint1.ranges.t_max_nm"
        ],
        "{problems:#?}"
    );
    assert!(
        problems[0]
            .reason
            .contains("does not cover the joint's range [-2.9, 2.9]")
    );
    assert!(problems[1].reason.contains("below the rated torque of 120"));
    assert!(
        problems
            .iter()
            .all(|p| p.file == fleet.file("units/ARM-0001.toml"))
    );

    let fleet = Fleet::new("nan-range");
    fleet.replace("robots/arm7.toml", "kd_max = 87.0", "kd_max = nan");
    let problems = fleet.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}"); // joint1 and joint2
    assert_eq!(problems[0].key, "actuators.joint1.ranges.kd_max");
    assert!(problems[0].reason.contains("positive and finite"));
}

#[test]
fn a_damping_time_over_a_minute_is_refused() {
    let fleet = Fleet::new("damping");
    fleet.replace(
        "fleet.toml",
        "watchdog_ms = 50",
        "watchdog_ms = 50\ndamping_ms = 120000",
    );
    fleet.expect_one("fleet.toml", "control.damping_ms", "at most 60 s");
}

#[test]
fn a_joint_without_actuator_and_an_actuator_without_joint_are_named() {
    let fleet = Fleet::new("joints");
    fleet.replace(
        "robots/arm7.toml",
        "[actuators.joint7]",
        "[actuators.joint9]",
    );
    let problems = fleet.problems();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["actuators.joint7", "actuators.joint9"],
        "{problems:#?}"
    );
    assert!(problems[0].reason.contains("has no actuator"));
    assert!(problems[1].reason.contains("no actuated joint 'joint9'"));
}

#[test]
fn bad_calibration_is_named_in_the_calibration_file() {
    let fleet = Fleet::new("cal");
    fleet.replace(
        "calibration/ARM-0001.toml",
        "direction = -1",
        "direction = 2",
    );
    // The procedure's hash no longer matches either.
    let problems = fleet.problems();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["calibration.joints.joint4.direction", "calibration.hash"],
        "{problems:#?}"
    );
    assert!(problems[0].reason.contains("must be 1 or -1"));
    assert!(problems[1].reason.contains("edited by hand"));
    assert!(
        problems
            .iter()
            .all(|p| p.file == fleet.file("calibration/ARM-0001.toml"))
    );
}

#[test]
fn syntax_errors_missing_units_and_unknown_robots_are_located() {
    let fleet = Fleet::new("syntax");
    fleet.append("fleet.toml", "[control\n");
    let problems = fleet.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file, fleet.file("fleet.toml"));
    assert!(problems[0].reason.contains("line"), "{}", problems[0]);

    let missing = load(&fleet.dir, "NOPE").expect_err("no unit");
    assert!(missing[0].reason.contains("no such unit"));

    let fleet = Fleet::new("robot");
    fleet.replace(
        "units/ARM-0001.toml",
        "robot = \"arm7\"",
        "robot = \"arm9\"",
    );
    fleet.expect_one("units/ARM-0001.toml", "robot", "robots/arm9.toml");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the unit file holds, loading and checking report, never panic.
    #[test]
    fn any_unit_file_is_reported_not_panicked(text in "(\\PC|\n|=|\\[|\\]|\"){0,200}") {
        let fleet = Fleet::new("prop");
        std::fs::write(fleet.file("units/ARM-0001.toml"), format!("robot = \"arm7\"\n{text}")).expect("write");
        let _ = fleet.problems();
    }
}

#[test]
fn a_units_cameras_are_checked_against_its_robot() {
    let camera = "\n[cameras.wrist]\ndevice = \"/dev/video2\"\nwidth = 640\nheight = 480\nrate_hz = 30.0\nmount = { frame = { frame = \"link7\", xyz = [0.0, 0.0, 0.05] } }\n";
    let fleet = Fleet::new("camera");
    fleet.append("units/ARM-0001.toml", camera);
    assert_eq!(fleet.problems(), vec![]);
    let (layers, config) = load(&fleet.dir, "ARM-0001").expect("loads");
    assert_eq!(
        config.cameras["wrist"].device,
        std::path::Path::new("/dev/video2")
    );
    assert_eq!(
        layers.source("cameras.wrist.device"),
        fleet.file("units/ARM-0001.toml")
    );
    let fleet = Fleet::new("camera-frame");
    fleet.append("units/ARM-0001.toml", &camera.replace("link7", "link9"));
    fleet.expect_one(
        "units/ARM-0001.toml",
        "cameras.wrist.mount",
        "no frame 'link9'",
    );
    let fleet = Fleet::new("camera-rate");
    fleet.append("units/ARM-0001.toml", &camera.replace("30.0", "0.0"));
    fleet.expect_one("units/ARM-0001.toml", "cameras.wrist", "rate_hz 0");
    let fleet = Fleet::new("camera-key");
    fleet.append("units/ARM-0001.toml", &camera.replace("width", "widht"));
    fleet.expect_one(
        "units/ARM-0001.toml",
        "cameras.wrist.widht",
        "unknown field",
    );
}

/// Every problem with unit `serial` of `fleet`.
fn problems_of(fleet: &Fleet, serial: &str) -> Vec<String> {
    match load(&fleet.dir, serial) {
        Err(problems) => problems.iter().map(|p| p.to_string()).collect(),
        Ok((layers, config)) => (embody_fleet::check::check(&layers, &config).iter())
            .map(|p| p.to_string())
            .collect(),
    }
}

#[test]
fn units_of_drives_and_servos_are_good_and_replace_their_robots_motors_whole() {
    let fleet = Fleet::new("families");
    assert_eq!(problems_of(&fleet, "ARM-0002"), Vec::<String>::new());
    assert_eq!(problems_of(&fleet, "SO-0001"), Vec::<String>::new());
    assert_eq!(problems_of(&fleet, "SO-0002"), Vec::<String>::new());
    let (_, arm) = load(&fleet.dir, "ARM-0002").expect("loads");
    let joint1 = &arm.actuators["joint1"];
    // robots/arm7.toml's MIT keys did not linger under the unit's drive.
    assert_eq!((joint1.can_id, joint1.ranges), (None, None));
    assert_eq!(joint1.node_id, Some(1));
    let (_, so) = load(&fleet.dir, "SO-0001").expect("loads");
    assert_eq!(so.control.rate_hz, 500.0);
    assert_eq!(so.actuators["gripper_finger"].servo_id, Some(6));
    // Each drive keeps its own encoder and gear, in joint order.
    let unit = embody_fleet::Unit::load(&fleet.dir, "ARM-0002").expect("loads");
    let UnitLink::Cia402(setup) = unit.link() else {
        panic!("ARM-0002 is a unit of drives")
    };
    let scale = |increments_per_turn, gear| DriveScale {
        increments_per_turn,
        gear,
    };
    assert_eq!(setup.nodes, (1..=8).collect::<Vec<u8>>());
    assert_eq!(setup.scales[0], scale(131_072, 100));
    assert_eq!(setup.scales[4], scale(16_384, 50));
    assert_eq!(setup.scales[7], scale(131_072, 1));
    let unit = embody_fleet::Unit::load(&fleet.dir, "SO-0002").expect("loads");
    let UnitLink::Servos(bus) = unit.link() else {
        panic!("SO-0002 is a unit of servos")
    };
    let gains: Vec<(usize, u16)> = (0..6).map(|k| (k, 3000)).collect();
    assert_eq!(bus.position_p_gains, gains);
}

#[test]
fn drives_of_one_unit_share_a_mode_but_not_a_gear() {
    let fleet = Fleet::new("family-mode");
    fleet.replace(
        "units/ARM-0002.toml",
        "node_id = 3\nmode = \"csp\"",
        "node_id = 3\nmode = \"csv\"",
    );
    let arm = problems_of(&fleet, "ARM-0002");
    assert_eq!(arm.len(), 1, "{arm:#?}");
    assert!(
        arm[0].contains("actuators.joint3.mode: differs from"),
        "{arm:#?}"
    );
}

#[test]
fn a_drive_or_servo_with_foreign_missing_or_shared_keys_is_named() {
    let fleet = Fleet::new("family-keys");
    fleet.replace("units/ARM-0002.toml", "node_id = 2\n", "can_id = 2\n");
    fleet.replace("robots/so101.toml", "servo_id = 3\n", "servo_id = 2\n");
    let arm = problems_of(&fleet, "ARM-0002").join("\n");
    assert!(
        arm.contains("actuators.joint2.can_id: not a key of a cia402 actuator"),
        "{arm}"
    );
    assert!(
        arm.contains("actuators.joint2.node_id: missing: a cia402 actuator needs it"),
        "{arm}"
    );
    let so = problems_of(&fleet, "SO-0001").join("\n");
    assert!(so.contains("servo_id 2 is also"), "{so}");
    // A position P gain is a Dynamixel's: a Feetech takes none, and it has a top.
    fleet.replace(
        "robots/so101.toml",
        "servo_id = 4\n",
        "servo_id = 4\nposition_p_gain = 900\n",
    );
    let so = problems_of(&fleet, "SO-0001").join("\n");
    assert!(
        so.contains("actuators.wrist_flex.position_p_gain: not a key of a feetech actuator"),
        "{so}"
    );
    fleet.replace(
        "units/SO-0002.toml",
        "servo_id = 3\nposition_p_gain = 3000",
        "servo_id = 3\nposition_p_gain = 20000",
    );
    let so = problems_of(&fleet, "SO-0002").join("\n");
    assert!(
        so.contains("actuators.elbow_flex.position_p_gain: 20000 is over a Dynamixel's 16383"),
        "{so}"
    );
}

#[test]
fn mixed_families_and_an_overfull_drive_bus_are_refused() {
    let fleet = Fleet::new("family-mix");
    fleet.append(
        "units/SO-0001.toml",
        "\n[actuators.wrist_roll]\nvariant = \"dynamixel\"\nbus = 0\nservo_id = 5\ntorque_max_nm = 3.0\nvelocity_max_radps = 4.7\n",
    );
    let so = problems_of(&fleet, "SO-0001").join("\n");
    assert!(
        so.contains("actuators.wrist_roll.variant: dynamixel here"),
        "{so}"
    );
    // Eight drives in the compact layout need about 1.9 ms of a 1 Mbit/s bus: not 1 kHz.
    fleet.replace("units/ARM-0002.toml", "rate_hz = 500.0", "rate_hz = 1000.0");
    let arm = problems_of(&fleet, "ARM-0002").join("\n");
    assert!(
        arm.contains("8 CiA 402 drives (compact PDO layout) need")
            && arm.contains("more than the 1000 µs period"),
        "{arm}"
    );
}

#[test]
fn drives_the_bridge_masters_go_on_its_buses_within_each_buss_budget() {
    let fleet = Fleet::new("family-bridge");
    assert_eq!(problems_of(&fleet, "ARM-0003"), Vec::<String>::new());
    let unit = embody_fleet::Unit::load(&fleet.dir, "ARM-0003").expect("loads");
    let UnitLink::Bridge(setup) = unit.link() else {
        panic!("ARM-0003's drives are its bridge's")
    };
    // Two drive buses; each drive on its joint, its counts its encoder behind its gear.
    let buses: Vec<u8> = setup.drive_buses.iter().map(|b| b.bus).collect();
    assert_eq!(buses, [0, 1]);
    assert!(setup.actuators.is_empty());
    let nodes: Vec<(u8, u8, u8)> = (setup.drives.iter())
        .map(|d| (d.joint, d.bus, d.node))
        .collect();
    assert_eq!(nodes[3], (3, 0, 4));
    assert_eq!(nodes[4], (4, 1, 5));
    let per_rad = 131_072.0 * 100.0 / std::f32::consts::TAU;
    assert!((setup.drives[0].counts_per_unit - per_rad).abs() < 0.01);
    // Its record names drives, so `config apply` stores it.
    let record = unit.record().expect("a record");
    let joint1 = record.actuator(0).expect("joint 1's");
    assert_eq!(
        joint1.variant,
        embody_protocol::messages::ActuatorVariant::Cia402
    );
    assert_eq!(joint1.can_id, 1);
    // Five drives on bus 0 do not fit 1 kHz; one bus for all is an SLCAN adapter's rule.
    fleet.replace(
        "units/ARM-0003.toml",
        "bus = 1\nnode_id = 5\n",
        "bus = 0\nnode_id = 5\n",
    );
    let arm = problems_of(&fleet, "ARM-0003").join("\n");
    assert!(
        arm.contains("bus 0: 5 CiA 402 drives (compact PDO layout) need 1205 µs"),
        "{arm}"
    );
    fleet.replace("units/ARM-0003.toml", "drives_via = \"bridge\"", "");
    let arm = problems_of(&fleet, "ARM-0003").join("\n");
    assert!(
        arm.contains("a unit's drives are on its one SLCAN adapter (bus 0) (or set bus.drives_via"),
        "{arm}"
    );
    // The key is for drives only.
    fleet.append("units/SO-0001.toml", "\n[bus]\ndrives_via = \"bridge\"\n");
    let so = problems_of(&fleet, "SO-0001").join("\n");
    assert!(
        so.contains("bus.drives_via: for a unit of CiA 402 drives"),
        "{so}"
    );
}

#[test]
fn servos_the_bridge_masters_go_on_its_servo_bus_within_the_period() {
    let fleet = Fleet::new("servos-bridge");
    assert_eq!(problems_of(&fleet, "SO-0003"), Vec::<String>::new());
    let unit = embody_fleet::Unit::load(&fleet.dir, "SO-0003").expect("loads");
    let UnitLink::Bridge(setup) = unit.link() else {
        panic!("SO-0003's servos are its bridge's")
    };
    let bus = setup.servo_bus.expect("a servo bus");
    assert_eq!(bus.family, embody_bridge::ServoFamily::Feetech);
    assert_eq!(bus.baud, 1_000_000);
    assert!(setup.actuators.is_empty() && setup.drives.is_empty());
    // Each servo on its joint, ids 1–6; a revolute joint a turn per servo turn, the
    // gripper's finger 0.05 m.
    let ids: Vec<(u8, u8)> = setup.servos.iter().map(|s| (s.joint, s.id)).collect();
    assert_eq!(ids, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]);
    assert_eq!(setup.servos[0].travel_per_turn, std::f32::consts::TAU);
    assert_eq!(setup.servos[5].travel_per_turn, 0.05);
    // Its record names servos, so `config apply` stores it.
    let record = unit.record().expect("a record");
    let lift = record.actuator(1).expect("joint 1's");
    assert_eq!(
        lift.variant,
        embody_protocol::messages::ActuatorVariant::Servo(embody_bridge::ServoFamily::Feetech)
    );
    assert_eq!(lift.can_id, 2);
    // At 1 kHz six servos' exchange (1,120 µs) does not fit.
    fleet.replace(
        "units/SO-0003.toml",
        "sensor_timeout_ms = 40.0",
        "sensor_timeout_ms = 40.0\nrate_hz = 1000.0",
    );
    let so = problems_of(&fleet, "SO-0003").join("\n");
    assert!(
        so.contains("6 feetech servos at 1000000 baud (through the bridge) need 1120 µs"),
        "{so}"
    );
    // The key is for servos only.
    fleet.append("units/ARM-0002.toml", "\n[bus]\nservos_via = \"bridge\"\n");
    let arm = problems_of(&fleet, "ARM-0002").join("\n");
    assert!(
        arm.contains("bus.servos_via: for a unit of Dynamixel or Feetech servos"),
        "{arm}"
    );
}
