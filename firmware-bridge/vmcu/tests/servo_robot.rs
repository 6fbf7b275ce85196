//! embody's own servo-bus master, `ServoRobot`, drives the simulated Dynamixel and
//! Feetech servos of a virtual MCU (`--servos`) over a pseudo-terminal: it pings them,
//! torques them on with goal positions that the simulated joints follow, reads their
//! state each tick, survives corrupted replies (counted, never a panic), reports a servo's
//! hardware error as its joint's fault and names the servos that do not answer.

mod common;

use std::path::PathBuf;

use embody_bridge::{ServoFamily, ServoRobot, ServoRobotError};
use embody_hal::{FaultBits, JointCommand, Robot, SensorFrame};
use embody_model::robots;
use embody_vmcu::{DeviceFault, VmcuConfig, VmcuThread};

const GOALS: [f64; 8] = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1, 0.0];

fn link(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("embody-servos-{name}-{}", std::process::id()))
}

/// Eight simulated servos of `family` on a virtual bus named after `name`, and
/// `ServoRobot` connected to them as arm7's joints.
fn connected(family: ServoFamily, name: &str) -> (VmcuThread, ServoRobot) {
    let path = link(name);
    let mcu = VmcuThread::start(VmcuConfig::servo_bus("arm7", path.clone(), family).expect("arm7"))
        .expect("virtual servo bus");
    let model = robots::load("arm7", Some(false)).expect("arm7");
    let ids: Vec<u8> = (1..=8).collect();
    let robot =
        ServoRobot::connect(&path, &model, family, &ids, 1_000_000, 200.0).expect("servos answer");
    (mcu, robot)
}

/// `common::drive` towards the goals.
fn drive(robot: &mut ServoRobot, seconds: f64, frame: &mut SensorFrame) -> (u64, u64) {
    let goal = |k: usize| JointCommand::Position { q: GOALS[k] };
    common::drive(robot, GOALS.len(), seconds, goal, frame)
}

fn follows(family: ServoFamily) {
    let (mcu, mut robot) = connected(family, family.name());
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

/// Overheating and overload injected into two servos become those joints' faults — a
/// Dynamixel's read from its hardware error register after its status's alert bit, a
/// Feetech's from its status's error bits — and clear with the servo's fault.
fn hardware_errors_are_joint_faults(family: ServoFamily) {
    let (mcu, mut robot) = connected(family, &format!("{}-fault", family.name()));
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    drive(&mut robot, 0.5, &mut frame);
    mcu.control().set_fault(2, Some(DeviceFault::Overheat));
    mcu.control().set_fault(4, Some(DeviceFault::Overload));
    drive(&mut robot, 0.3, &mut frame);
    let faults: Vec<FaultBits> = frame.joints.iter().map(|j| j.faults).collect();
    assert_eq!(faults[2], FaultBits::MOTOR_OVER_TEMPERATURE, "{family:?}");
    assert_eq!(faults[4], FaultBits::OVERLOAD, "{family:?}");
    for k in [0, 1, 3, 5, 6, 7] {
        assert!(faults[k].is_empty(), "{family:?} joint {k}: {}", faults[k]);
    }
    mcu.control().set_fault(2, None);
    drive(&mut robot, 0.3, &mut frame);
    assert!(frame.joints[2].faults.is_empty(), "{family:?}: cleared");
    assert_eq!(frame.joints[4].faults, FaultBits::OVERLOAD, "{family:?}");
    drop(robot);
    mcu.stop().expect("virtual MCU stops cleanly");
}

#[test]
fn a_dynamixels_hardware_error_register_names_its_joints_fault() {
    hardware_errors_are_joint_faults(ServoFamily::Dynamixel);
}

#[test]
fn a_feetechs_error_bits_name_its_joints_fault() {
    hardware_errors_are_joint_faults(ServoFamily::Feetech);
}

#[test]
fn a_dynamixels_position_p_gain_sets_how_stiffly_it_holds() {
    let (mcu, mut robot) = connected(ServoFamily::Dynamixel, "p-gain");
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    // Joint 1 holds the arm out against gravity: how far it sags is its loop's stiffness.
    let sag = |frame: &SensorFrame| (frame.joints[1].q - GOALS[1]).abs();
    drive(&mut robot, 1.5, &mut frame);
    let as_shipped = sag(&frame);
    let gains: Vec<(usize, u16)> = (0..8).map(|k| (k, 4000)).collect();
    robot.set_position_p_gains(&gains).expect("written");
    drive(&mut robot, 1.5, &mut frame);
    let stiff = sag(&frame);
    // Five times the gain: a fifth of the sag, give or take the arm's pose.
    assert!(
        stiff < as_shipped / 3.0 && as_shipped > 0.005,
        "sag {as_shipped:.4} rad at P 800, {stiff:.4} rad at P 4000"
    );
    drop(robot);
    mcu.stop().expect("virtual MCU stops cleanly");
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
