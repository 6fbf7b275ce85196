//! Scenario files: a good one loads with every field; malformed ones are refused with
//! the file, the key and the reason; faults switch on and off at their times.

use std::path::Path;
use std::sync::Arc;

use embody_hal::{HalError, Robot, SensorFrame, Timestamp};
use embody_sim::{Fault, Scenario, SensorMounts, SimRobot};

const GOOD: &str = r#"
robot = "humanoid"
duration_s = 3.0

[initial]
posture = { left_knee_joint = 0.2, right_knee_joint = 0.2 }
base_rpy_rad = [0.0, 0.0, 0.3]

[environment]
ground_height_m = 0.0
boxes = [{ center = [0.8, 0.0, 0.35], size = [0.4, 0.6, 0.7] }]

[sim]
seed = 7
integrator = "rk4"

[sim.sensors]
feedback_latency_ticks = 2

[[faults]]
kind = "sensor_dropout"
sensor = "joints"
at_s = 1.0
duration_s = 0.5

[[faults]]
kind = "actuator_fault"
joint = "left_knee_joint"
fault = "over_temperature"
at_s = 2.0
"#;

fn path() -> &'static Path {
    Path::new("scenarios/test.toml")
}

#[test]
fn a_good_scenario_loads_with_every_field() {
    let loaded = Scenario::parse(GOOD, path()).expect("valid scenario");
    let s = &loaded.scenario;
    assert_eq!(s.robot, "humanoid");
    assert_eq!(s.sim.seed, 7);
    assert_eq!(s.sim.sensors.feedback_latency_ticks, 2);
    assert_eq!(s.environment.boxes.len(), 1);
    assert_eq!(s.faults.len(), 2);
    assert!(matches!(s.faults[1], Fault::ActuatorFault { .. }));
    let knee = loaded
        .model
        .actuated_joints()
        .position(|j| loaded.model.joints[j.0].name == "left_knee_joint");
    assert_eq!(loaded.fault_joints, vec![None, knee]);
    // Standing on the ground: the lowest point of the initial pose is at z = 0.
    let q = loaded.initial_configuration();
    let lowest = embody_sim::lowest_point(&loaded.model, q.as_slice()).expect("geometry");
    assert!(lowest.abs() < 1e-12, "lowest point at {lowest}");
}

#[test]
fn malformed_scenarios_name_the_key_and_the_reason() {
    let cases: &[(&str, &[&str])] = &[
        (
            "robot = \"humanoid\"\nduration_s = 1\nspeed = 3\n",
            &["unknown field `speed`", "line 3"],
        ),
        (
            "robot = \"humanoid\"\nduration_s = \"long\"\n",
            &["duration_s", "line 2"],
        ),
        ("duration_s = 1\n", &["missing field `robot`"]),
        (
            "robot = \"humanoid\"\nduration_s = -1\n",
            &["duration_s", "must be in (0, 3600]"],
        ),
        (
            "robot = \"humanoid\"\nduration_s = 1\n[initial]\nposture = { elbow = 1.0 }\n",
            &["initial.posture.elbow", "no actuated joint named 'elbow'"],
        ),
        (
            "robot = \"humanoid\"\nduration_s = 1\n[initial]\nposture = { left_knee_joint = 9.0 }\n",
            &[
                "initial.posture.left_knee_joint",
                "outside the joint's limits",
            ],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[initial]\nbase_position_m = [0, 0, 1]\n",
            &["initial.base_position_m", "fixed base"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[[faults]]\nkind = \"joint_stuck\"\njoint = \"nope\"\nat_s = 1\n",
            &["faults[0].joint", "no actuated joint named 'nope'"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[[faults]]\nkind = \"latency_spike\"\nticks = 0\nat_s = 1\n",
            &["faults[0].ticks", "1..=63"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[[faults]]\nkind = \"meteor\"\nat_s = 1\n",
            &["unknown variant `meteor`"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[[faults]]\nkind = \"estop\"\nat_s = -2\n",
            &[
                "faults[0].at_s",
                "must be a finite number in [0, 3600], not -2",
            ],
        ),
        (
            "robot = \"humanoid\"\nduration_s = 1\n[environment]\nground_height_m = nan\n",
            &["environment.ground_height_m", "not NaN"],
        ),
        (
            "robot = \"humanoid\"\nduration_s = 1\n[environment]\nground_height_m = 1e300\n",
            &["environment.ground_height_m", "not 1e300"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[environment]\nboxes = [{ center = [nan, 0, 0], size = [1, 1, 1] }]\n",
            &["environment.boxes[0].center.x", "not NaN"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[environment]\nboxes = [{ center = [0, 0, 0], size = [1, inf, 1] }]\n",
            &["environment.boxes[0].size.y", "not inf"],
        ),
        (
            "robot = \"humanoid\"\nduration_s = 1\n[initial]\nbase_rpy_rad = [0, -inf, 0]\n",
            &["initial.base_rpy_rad.pitch", "not -inf"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[[faults]]\nkind = \"estop\"\nat_s = inf\n",
            &["faults[0].at_s", "not inf"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim.contact]\nstiffness_npm = 1e300\n",
            &["sim.contact.stiffness_npm", "[0, 1e9], not 1e300"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim]\ndt_s = 0.5\n",
            &["sim.dt_s", "(0, 0.01]"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim.contact]\nstiffnes_npm = 3\n",
            &["unknown field `stiffnes_npm`"],
        ),
        (
            "robot = \"missing.urdf\"\nduration_s = 1\n",
            &["robot:", "missing.urdf"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim.contact]\ncylinder_rim_points = 1000000000\n",
            &["sim.contact.cylinder_rim_points", "3..=64"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim.contact]\nstiffness_npm = nan\n",
            &["sim.contact.stiffness_npm", "finite"],
        ),
        (
            "robot = \"arm7\"\nduration_s = 1\n[sim.sensors]\nfeedback_latency_ticks = 64\n",
            &["sim.sensors", "at most 63"],
        ),
        ("robot = [\n", &["line 1"]),
    ];
    for (text, needles) in cases {
        let error = Scenario::parse(text, path())
            .expect_err(&format!("should be refused:\n{text}"))
            .to_string();
        assert!(
            error.starts_with("scenarios/test.toml: "),
            "no file in: {error}"
        );
        for needle in *needles {
            assert!(error.contains(needle), "'{needle}' missing from: {error}");
        }
    }
}

#[test]
fn faults_switch_on_and_off_at_their_times() {
    let loaded = Scenario::parse(GOOD, path()).expect("valid scenario");
    let model = Arc::new(loaded.model.clone());
    let mut robot = SimRobot::new(
        model.clone(),
        &loaded.scenario.environment,
        loaded.scenario.sim.clone(),
        &SensorMounts::detect(&model),
    )
    .expect("robot");
    let faults = robot.faults();
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    let knee = loaded.fault_joints[1].expect("knee");
    let read_at = |t: f64, robot: &mut SimRobot, frame: &mut SensorFrame| {
        loaded.apply_faults(t, &faults);
        robot.read(Timestamp::from_nanos((t * 1e9) as u64), frame)
    };
    assert!(read_at(0.5, &mut robot, &mut frame).is_ok());
    assert_eq!(read_at(1.2, &mut robot, &mut frame), Err(HalError::Timeout));
    assert!(read_at(1.6, &mut robot, &mut frame).is_ok());
    assert!(frame.joints[knee].faults.is_empty());
    // Feedback is 2 ticks late, so the fault shows on the third read after it starts.
    for t in [2.0, 2.001, 2.002] {
        read_at(t, &mut robot, &mut frame).expect("reads");
    }
    assert!(!frame.joints[knee].faults.is_empty());
    assert!(robot.world().fault(knee).disabled);
}
