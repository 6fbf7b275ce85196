//! embody's own CANopen master, `Cia402Robot`, drives the simulated CiA 402 drives of a
//! virtual MCU (`--drives cia402`, behind its SLCAN adapter) over a pseudo-terminal: it
//! finds them, maps their PDOs and walks them to operation enabled, the simulated joints
//! follow its CSP targets in either PDO layout, a drive's fault (overheating, the host's
//! heartbeat lost) becomes its joint's fault until the joint is commanded off and on,
//! drives with their own encoders and gears are each driven in their own counts, and
//! drives that do not answer, or whose encoder or gear differs from the setup's, are
//! named.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use embody_bridge::{Cia402Error, Cia402Robot, Cia402Setup, DriveScale, PdoLayout};
use embody_hal::{FaultBits, JointCommand, Robot, SensorFrame};
use embody_model::robots;
use embody_vmcu::{DeviceFault, VmcuConfig, VmcuThread};

const GOALS: [f64; 8] = [0.3, -0.2, 0.1, -0.4, -0.3, 0.2, -0.1, 0.01];

fn start(name: &str) -> VmcuThread {
    start_with(name, vec![DriveScale::default()])
}

/// Drives with encoders and gears `scales` in joint order.
fn start_with(name: &str, scales: Vec<DriveScale>) -> VmcuThread {
    let path: PathBuf =
        std::env::temp_dir().join(format!("embody-cia402-{name}-{}", std::process::id()));
    let config = VmcuConfig {
        drives: Some(scales),
        ..VmcuConfig::cia402("arm7", path, DriveScale::default()).expect("arm7")
    };
    VmcuThread::start(config).expect("virtual SLCAN adapter with drives")
}

/// Joint `k`'s drive in the mixed-drives tests: a 12-bit motor encoder behind a 100:1
/// gear on joint 1, a 20-bit one behind 9:1 on joint 4, 17 bits on the output elsewhere.
fn mixed_scale(k: usize) -> DriveScale {
    match k {
        1 => DriveScale {
            increments_per_turn: 4096,
            gear: 100,
        },
        4 => DriveScale {
            increments_per_turn: 1 << 20,
            gear: 9,
        },
        _ => DriveScale::default(),
    }
}

fn setup(layout: PdoLayout) -> Cia402Setup {
    Cia402Setup {
        layout,
        rate_hz: 200.0,
        ..Cia402Setup::default_for(8)
    }
}

/// `common::drive` on arm7's joints.
fn drive(
    robot: &mut Cia402Robot,
    seconds: f64,
    command: impl Fn(usize) -> JointCommand,
    frame: &mut SensorFrame,
) -> (u64, u64) {
    common::drive(robot, GOALS.len(), seconds, command, frame)
}

fn goals(k: usize) -> JointCommand {
    JointCommand::Position { q: GOALS[k] }
}

fn assert_at_goals(frame: &SensorFrame, what: &str) {
    for (k, (state, goal)) in frame.joints.iter().zip(GOALS).enumerate() {
        assert!(
            (state.q - goal).abs() < 0.02,
            "{what}: joint {k} at {:.4}, goal {goal}",
            state.q
        );
        assert!(
            state.faults.is_empty(),
            "{what}: joint {k}: {}",
            state.faults
        );
    }
}

#[test]
fn the_master_drives_the_joints_in_csp_with_either_pdo_layout() {
    let mcu = start("follow");
    let model = robots::load("arm7", Some(false)).expect("arm7");
    for layout in [PdoLayout::Full, PdoLayout::Compact] {
        let mut robot =
            Cia402Robot::connect(mcu.link(), &model, &setup(layout)).expect("drives answer");
        let mut frame = SensorFrame::for_robot(robot.capabilities());
        let (failed, ticks) = drive(&mut robot, 2.5, goals, &mut frame);
        // A busy machine can hold the virtual MCU's thread past a tick now and then.
        assert!(
            failed * 10 <= ticks,
            "{layout:?}: {failed} of {ticks} ticks failed"
        );
        assert_at_goals(&frame, layout.name());
        assert_eq!(robot.link_health().frames_bad, 0);
        if layout == PdoLayout::Full {
            // Joint 1 holds the arm up against gravity: its drive's torque says so.
            assert!(
                frame.joints[1].tau.abs() > 1.0,
                "torque {}",
                frame.joints[1].tau
            );
        }
    }
}

#[test]
fn a_drive_fault_is_its_joints_until_commanded_off_and_on() {
    let mcu = start("fault");
    let model = robots::load("arm7", Some(false)).expect("arm7");
    let mut robot =
        Cia402Robot::connect(mcu.link(), &model, &setup(PdoLayout::Full)).expect("drives answer");
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    drive(&mut robot, 2.0, goals, &mut frame);
    assert_at_goals(&frame, "before");

    mcu.control().set_fault(3, Some(DeviceFault::Overheat));
    drive(&mut robot, 0.2, goals, &mut frame);
    assert_eq!(frame.joints[3].faults, FaultBits::DRIVER_OVER_TEMPERATURE);
    assert!(frame.joints[2].faults.is_empty());
    // Cooled down, it stays off while still commanded: only off and on again re-arms it.
    mcu.control().set_fault(3, None);
    drive(&mut robot, 0.2, goals, &mut frame);
    assert!(
        !frame.joints[3].faults.is_empty(),
        "re-armed without being commanded off"
    );
    drive(&mut robot, 0.1, |_| JointCommand::Off, &mut frame);
    drive(&mut robot, 2.0, goals, &mut frame);
    assert_at_goals(&frame, "after the reset");

    // The host falls silent for 300 ms: every drive's watch on its heartbeat faults it.
    std::thread::sleep(Duration::from_millis(300));
    drive(&mut robot, 0.1, goals, &mut frame);
    for (k, state) in frame.joints.iter().enumerate() {
        assert!(
            state.faults.contains(FaultBits::COMMUNICATION_LOST),
            "joint {k}: {}",
            state.faults
        );
    }
}

#[test]
fn drives_that_do_not_answer_are_named() {
    let mcu = start("missing");
    mcu.control().set_fault(2, Some(DeviceFault::Lost));
    mcu.control().set_fault(5, Some(DeviceFault::Lost));
    let model = robots::load("arm7", Some(false)).expect("arm7");
    std::thread::sleep(Duration::from_millis(20));
    match Cia402Robot::connect(mcu.link(), &model, &setup(PdoLayout::Full)) {
        Err(Cia402Error::Missing(nodes)) => assert_eq!(nodes, vec![3, 6]),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("connected without drives 3 and 6"),
    }
    let mut wrong = setup(PdoLayout::Full);
    wrong.scales[0].increments_per_turn = 4096;
    mcu.control().set_fault(2, None);
    mcu.control().set_fault(5, None);
    std::thread::sleep(Duration::from_millis(100));
    let err = Cia402Robot::connect(mcu.link(), &model, &wrong)
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "node 1: its encoder resolution (0x608F:1) is 131072, the setup says 4096"
    );
}

#[test]
fn drives_with_their_own_encoders_and_gears_are_each_driven_in_their_counts() {
    let scales: Vec<DriveScale> = (0..GOALS.len()).map(mixed_scale).collect();
    let mcu = start_with("mixed", scales.clone());
    let model = robots::load("arm7", Some(false)).expect("arm7");
    // The host takes every drive for a 17-bit direct one: node 2's gear is named.
    let err = Cia402Robot::connect(mcu.link(), &model, &setup(PdoLayout::Compact))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "node 2: its encoder resolution (0x608F:1) is 4096, the setup says 131072"
    );
    let mut robot = Cia402Robot::connect(
        mcu.link(),
        &model,
        &Cia402Setup {
            scales,
            ..setup(PdoLayout::Compact)
        },
    )
    .expect("drives answer");
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    let (failed, ticks) = drive(&mut robot, 2.5, goals, &mut frame);
    assert!(failed * 10 <= ticks, "{failed} of {ticks} ticks failed");
    assert_at_goals(&frame, "mixed drives");
    // Where the simulator's joints are, not only what the drives report.
    drop(robot);
    let control = mcu.control().clone();
    mcu.stop().expect("virtual MCU stops cleanly");
    let simulated = control.joint_positions();
    assert_eq!(simulated.len(), GOALS.len());
    for (k, (q, goal)) in simulated.iter().zip(GOALS).enumerate() {
        assert!(
            (q - goal).abs() < 0.02,
            "simulated joint {k} at {q:.4}, goal {goal}"
        );
    }
}
