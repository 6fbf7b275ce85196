//! Driver targets (issue 16): a learned policy hands the loop impedance targets
//! `(q, dq, kp, kd, τ)` for the joints it drives, at its own rate, through the lock-free
//! targets queue. The actuators' PD tracks them at the loop rate on the mock's
//! rigid-body physics; a late step holds the last target; silence past the timeout and a
//! non-finite target fault the loop (damping, then off).

mod common;

use common::{ARM_HOME, Rig};
use embody_control::targets::TargetFrame;
use embody_control::{Cause, ControlConfig, ControllerKind, EventKind, Lifecycle, LoopCommand};
use embody_hal::JointCommand;

/// The arm at home under driver targets, the first frame holding it there.
fn arm_on_targets() -> Rig {
    let mut rig = common::arm(ControlConfig::default());
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2100);
    rig.client
        .send(LoopCommand::SetController(ControllerKind::Targets))
        .expect("queue");
    rig
}

/// A frame driving joints 1 and 3 to `q1`, `q3` with stiff impedance.
fn frame(q1: f64, q3: f64) -> TargetFrame {
    let mut frame = TargetFrame::default();
    for (k, q) in [(1, q1), (3, q3)] {
        frame.set(
            k,
            JointCommand::Impedance {
                q,
                dq: 0.0,
                kp: 400.0,
                kd: 20.0,
                tau_ff: 0.0,
            },
        );
    }
    frame
}

#[test]
fn targets_sent_at_50_hz_are_tracked_and_other_joints_hold() {
    let mut rig = arm_on_targets();
    let (q1, q3) = (0.5, -0.7);
    for step in 0..100 {
        rig.client.send_targets(frame(q1, q3)).expect("queue");
        rig.run(20);
        if step == 0 {
            assert!(rig.saw(|e| matches!(
                e,
                EventKind::ControllerSwitched {
                    to: ControllerKind::Targets,
                    ..
                }
            )));
        }
    }
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running, "{:?}", rig.events);
    let s = &rig.snapshot;
    // Stiff impedance against gravity: within a few hundredths of a radian.
    assert!((s.q[1] - q1).abs() < 0.05, "joint1 at {}", s.q[1]);
    assert!((s.q[3] - q3).abs() < 0.05, "joint3 at {}", s.q[3]);
    for k in [0, 2, 4, 5, 6] {
        assert!(
            (s.q[k] - ARM_HOME[k]).abs() < 0.02,
            "joint {k} held: {}",
            s.q[k]
        );
    }
}

#[test]
fn a_late_step_holds_the_last_target_and_silence_faults() {
    let mut rig = arm_on_targets();
    // Past the bumpless transfer from joint PD, at 50 Hz.
    for _ in 0..25 {
        rig.client.send_targets(frame(0.4, -0.9)).expect("queue");
        rig.run(20);
    }
    // 150 ms without a frame: within the 200 ms timeout, the last target holds.
    rig.run(150);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
    assert!(matches!(
        rig.core.last_commands().joints[1],
        JointCommand::Impedance { q, kp, .. } if (q - 0.4).abs() < 1e-9 && kp == 400.0
    ));
    // Past it: the loop faults on silence and damps.
    rig.run(100);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Fault);
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::Transition {
            cause: Cause::DriverSilent,
            ..
        }
    )));
}

#[test]
fn a_non_finite_target_faults_the_loop_and_is_never_sent() {
    let mut rig = arm_on_targets();
    rig.client.send_targets(frame(0.4, -0.9)).expect("queue");
    rig.run(20);
    rig.client
        .send_targets(frame(f64::NAN, -0.9))
        .expect("queue");
    rig.run(1);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Fault);
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::Transition {
            cause: Cause::NonFiniteCommand { joint: 1 },
            ..
        }
    )));
    assert!(
        rig.core
            .last_commands()
            .joints
            .iter()
            .all(JointCommand::is_finite)
    );
}
