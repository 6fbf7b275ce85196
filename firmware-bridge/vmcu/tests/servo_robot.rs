//! embody's own servo-bus master, `ServoRobot`, drives the simulated Dynamixel and
//! Feetech servos of a virtual MCU (`--servos`) over a pseudo-terminal: it pings them,
//! torques them on with goal positions that the simulated joints follow, reads their
//! state each tick, survives corrupted replies (counted, never a panic) and names the
//! servos that do not answer.

mod common;

use std::path::PathBuf;

use embody_bridge::{ServoFamily, ServoRobot, ServoRobotError};
use embody_hal::{JointCommand, Robot, SensorFrame};
use embody_model::robots;
use embody_vmcu::{VmcuConfig, VmcuThread};

const GOALS: [f64; 8] = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1, 0.0];

fn link(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("embody-servos-{name}-{}", std::process::id()))
}

/// `common::drive` towards the goals.
fn drive(robot: &mut ServoRobot, seconds: f64, frame: &mut SensorFrame) -> (u64, u64) {
    let goal = |k: usize| JointCommand::Position { q: GOALS[k] };
    common::drive(robot, GOALS.len(), seconds, goal, frame)
}

fn follows(family: ServoFamily) {
    let path = link(family.name());
    let mcu = VmcuThread::start(VmcuConfig::servo_bus("arm7", path.clone(), family).expect("arm7"))
        .expect("virtual servo bus");
    let model = robots::load("arm7", Some(false)).expect("arm7");
    let ids: Vec<u8> = (1..=8).collect();
    let mut robot =
        ServoRobot::connect(&path, &model, family, &ids, 1_000_000, 200.0).expect("servos answer");
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    // A busy machine can hold the servos' thread past a tick now and then.
    let (failed, ticks) = drive(&mut robot, 2.0, &mut frame);
    assert!(
        failed * 10 <= ticks,
        "{failed} of {ticks} ticks failed on a clean line"
    );
    for (k, (state, goal)) in frame.joints.iter().zip(GOALS).enumerate().take(7) {
        assert!(
            (state.q - goal).abs() < 0.06,
            "{family:?} joint {k}: at {:.3} rad, goal {goal}",
            state.q
        );
        assert!(state.faults.is_empty(), "joint {k}: {}", state.faults);
    }
    let clean = robot.link_health();
    assert_eq!(clean.frames_bad, 0);

    // Every 40th byte from the servos corrupted: answers are lost and counted, the loop
    // goes on, and it reads again once the line is clean.
    mcu.control().corrupt_output(40);
    drive(&mut robot, 0.5, &mut frame);
    let noisy = robot.link_health();
    assert!(noisy.frames_bad > 0, "corrupted answers counted");
    assert!(
        noisy.timeouts > clean.timeouts,
        "ticks without every answer counted"
    );
    mcu.control().corrupt_output(0);
    let (failed, ticks) = drive(&mut robot, 0.5, &mut frame);
    assert!(
        failed * 10 <= ticks,
        "{failed} of {ticks} ticks failed after the line was clean again"
    );
    drop(robot);
    mcu.stop().expect("virtual MCU stops cleanly");
}

#[test]
fn servo_robot_drives_simulated_dynamixel_servos() {
    follows(ServoFamily::Dynamixel);
}

#[test]
fn servo_robot_drives_simulated_feetech_servos() {
    follows(ServoFamily::Feetech);
}

#[test]
fn servos_that_do_not_answer_are_named() {
    let path = link("missing");
    let mcu = VmcuThread::start(
        VmcuConfig::servo_bus("arm7", path.clone(), ServoFamily::Feetech).expect("arm7"),
    )
    .expect("virtual servo bus");
    let model = robots::load("arm7", Some(false)).expect("arm7");
    let ids = [1, 2, 3, 4, 5, 6, 7, 12];
    match ServoRobot::connect(&path, &model, ServoFamily::Feetech, &ids, 1_000_000, 200.0) {
        Err(ServoRobotError::Missing { missing, .. }) => assert_eq!(missing, vec![12]),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("servo 12 is not on the bus"),
    }
    match ServoRobot::connect(
        &path,
        &model,
        ServoFamily::Feetech,
        &ids[..3],
        1_000_000,
        200.0,
    ) {
        Err(e @ ServoRobotError::Ids { .. }) => {
            assert!(e.to_string().contains("3 servo ids for 8"))
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("3 ids for 8 joints"),
    }
    mcu.stop().expect("virtual MCU stops cleanly");
}
