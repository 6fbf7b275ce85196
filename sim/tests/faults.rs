//! Every fault the simulator can inject, seen through the loop of embody-control (or,
//! for delays, through the frames themselves): the loop must notice each one and take
//! its safe path.

mod common;

use common::Rig;
use embody_control::{Cause, ControlConfig, EventKind, Lifecycle};
use embody_hal::{CommandFrame, FaultBits, JointCommand, Robot, SensorFrame, Timestamp};
use embody_sim::{SensorConfig, SimConfig};

fn fault_cause(rig: &Rig) -> Option<Cause> {
    rig.events.iter().find_map(|e| match e.kind {
        EventKind::Transition {
            to: Lifecycle::Fault,
            cause,
            ..
        } => Some(cause),
        _ => None,
    })
}

fn running_arm() -> Rig {
    let mut rig = common::arm(SimConfig::default());
    rig.arm_and_start();
    rig.run(200);
    assert_eq!(rig.snapshot.lifecycle, Lifecycle::Running);
    rig
}

#[test]
fn an_actuator_fault_trips_the_loop_and_the_drive_goes_limp() {
    let mut rig = running_arm();
    rig.robot
        .faults()
        .set_joint_faults(3, FaultBits::OVER_CURRENT);
    rig.run(50);
    assert!(matches!(
        fault_cause(&rig),
        Some(Cause::ActuatorFault { joint: 3, .. })
    ));
    assert!(rig.robot.world().motor_torques()[3].abs() < 1e-6);
}

#[test]
fn a_silent_bus_is_a_link_loss_damped_then_switched_off() {
    let mut rig = running_arm();
    let faults = rig.robot.faults();
    faults.set_joints_dropout(true);
    rig.run(20);
    assert!(matches!(fault_cause(&rig), Some(Cause::Link { .. })));
    // Damping first, then torque off once the damping time has run out.
    rig.run(1500);
    assert!(rig.saw(|kind| matches!(
        kind,
        EventKind::Refused {
            cause: Cause::DampingElapsed,
            ..
        }
    )));
}

#[test]
fn a_frozen_frame_is_stale() {
    let mut rig = running_arm();
    rig.robot.faults().set_frozen(true);
    rig.run(100);
    assert_eq!(fault_cause(&rig), Some(Cause::StaleSensors));
}

#[test]
fn an_imu_dropout_on_the_humanoid_is_stale() {
    let mut config = ControlConfig::default();
    config.joint_pd.kp_per_effort = 20.0;
    config.joint_pd.kd_per_effort = 0.6;
    let mut rig = common::humanoid(SimConfig::default(), config);
    rig.arm_and_start();
    rig.run(300);
    assert_eq!(rig.snapshot.lifecycle, Lifecycle::Running);
    rig.robot.faults().set_imu_dropout(true);
    rig.run(200);
    assert_eq!(fault_cause(&rig), Some(Cause::StaleSensors));
}

#[test]
fn the_estop_wins() {
    let mut rig = running_arm();
    rig.robot.faults().set_estop(true);
    rig.run(5);
    assert_eq!(fault_cause(&rig), Some(Cause::EStop));
}

#[test]
fn a_stuck_joint_does_not_move_however_hard_it_is_driven() {
    let mut rig = running_arm();
    let (stuck_at, _) = rig.robot.world().joint(0);
    rig.robot.faults().set_stuck(0, true);
    let mut target = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    target[0] = stuck_at + 0.5;
    rig.move_to(&target, 2.0);
    rig.run(2200);
    let (q, _) = rig.robot.world().joint(0);
    assert!((q - stuck_at).abs() < 1e-3, "moved {:.4} rad", q - stuck_at);
    // Released, it lurches towards the reference the loop kept moving (fast enough
    // that the supervisor trips on the velocity limit: a stuck joint is not hidden).
    rig.robot.faults().set_stuck(0, false);
    rig.run(100);
    let (q, _) = rig.robot.world().joint(0);
    assert!(q - stuck_at > 0.05, "did not move when released: {q:.4}");
}

/// Feedback and command delays, measured on the frames and on the motor.
#[test]
fn latency_delays_feedback_and_commands_by_whole_ticks() {
    let config = SimConfig {
        sensors: SensorConfig {
            feedback_latency_ticks: 3,
            command_latency_ticks: 2,
            ..SensorConfig::ideal()
        },
        ..SimConfig::default()
    };
    let rig = common::arm(config);
    let mut robot = rig.0.robot;
    let faults = robot.faults();
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    let n = frame.joints.len();
    let mut push = CommandFrame::new(n);
    push.joints[0] = JointCommand::Torque { tau: 5.0 };
    let off = CommandFrame::new(n);
    let mut torque_seen_at = None;
    for tick in 1..=20u64 {
        let now = Timestamp::from_nanos(tick * 1_000_000);
        robot.read(now, &mut frame).expect("reads");
        if (4..11).contains(&tick) {
            assert_eq!(frame.seq, tick - 3, "feedback 3 ticks late");
        }
        if tick == 10 {
            faults.set_extra_latency(5);
        }
        if tick >= 11 {
            // A spike stalls the feedback (the newest delivered frame repeats) until the
            // longer delay has passed; time never runs backwards.
            assert_eq!(frame.seq, (tick - 8).max(7), "spike adds 5 ticks");
        }
        robot
            .write(now, if tick >= 5 { &push } else { &off })
            .expect("writes");
        if torque_seen_at.is_none() && robot.world().motor_torques()[0] != 0.0 {
            torque_seen_at = Some(tick);
        }
    }
    // Written at tick 5, applied after two more writes (tick 7), felt in the step after.
    assert_eq!(torque_seen_at, Some(8));
}
