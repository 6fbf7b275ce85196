//! The loop end to end against the MockRobot's rigid-body physics: tracking a streamed
//! trajectory over thousands of ticks, bumpless controller switches, and the reaction to
//! every fault path (link loss, actuator fault, stale sensors, e-stop, bad setpoints,
//! planner silence, encoder spikes).

mod common;

use common::{ARM_HOME, Rig, arm_sine};
use embody_control::{
    Cause, ControlConfig, ControllerKind, EventKind, Lifecycle, LoopCommand, Request, Segment,
    SegmentError,
};
use embody_hal::{FaultBits, JointCommand};
use embody_model::{Data, frame_placements};

/// Moves home in 2 s (within every joint's speed limit), then streams the sine at 100 Hz for `seconds`, calling `each` per
/// tick; returns the worst joint tracking error (rad) and the worst error of the tool
/// centre point (m) after the first `settle` ticks of the sine.
fn track(
    rig: &mut Rig,
    seconds: f64,
    settle: u64,
    mut each: impl FnMut(&mut Rig, u64),
) -> (f64, f64) {
    let tcp = rig.model.frame_id("tcp").expect("tcp");
    let (mut data, mut data_ref) = (Data::new(&rig.model), Data::new(&rig.model));
    let mut worst_tcp: f64 = 0.0;
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2000);
    let start = rig.tick;
    // Two segments ahead, as a planner keeps its queue primed.
    rig.stream(arm_sine(0.01));
    rig.stream(arm_sine(0.02));
    let mut worst: f64 = 0.0;
    let ticks = (seconds * 1000.0) as u64;
    for k in 1..=ticks {
        if k % 10 == 0 {
            rig.stream(arm_sine((k + 20) as f64 * 1e-3));
        }
        rig.step();
        each(rig, k);
        if k > settle {
            let s = &rig.snapshot;
            for j in 0..8 {
                worst = worst.max((s.q[j] - s.q_ref[j]).abs());
            }
            let truth = arm_sine((rig.tick - start) as f64 * 1e-3);
            assert!(
                (s.q_ref[0] - truth.q[0]).abs() < 1e-9,
                "reference follows the plan"
            );
            frame_placements(&rig.model, &mut data, &s.q);
            frame_placements(&rig.model, &mut data_ref, &s.q_ref);
            let error = data.world_from_frame[tcp.0].translation
                - data_ref.world_from_frame[tcp.0].translation;
            worst_tcp = worst_tcp.max(error.norm());
        }
    }
    (worst, worst_tcp)
}

#[test]
fn tracks_a_streamed_sine_for_seven_thousand_ticks_under_each_controller() {
    // Joint-space bound (rad) for the joint controllers; the Cartesian controller is
    // judged on its frame (m), its null space being compliant by design: the posture
    // drifts during the move home and takes 2.5 s to settle back.
    for (controller, settle, joint_bound, tcp_bound) in [
        (ControllerKind::JointPd, 500, 0.01, 0.01),
        (ControllerKind::ComputedTorque, 500, 0.01, 0.01),
        (
            ControllerKind::CartesianImpedance,
            2500,
            f64::INFINITY,
            0.015,
        ),
    ] {
        let config = ControlConfig {
            controller,
            ..ControlConfig::default()
        };
        let mut rig = common::arm(config);
        let (worst, worst_tcp) = track(&mut rig, 5.0, settle, |_, _| {});
        assert!(rig.tick >= 7000);
        assert!(
            worst < joint_bound,
            "{controller:?}: worst joint error {worst:.4} rad"
        );
        assert!(
            worst_tcp < tcp_bound,
            "{controller:?}: worst tcp error {worst_tcp:.4} m"
        );
        assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
        assert!(
            !rig.saw(|e| matches!(e, EventKind::PlannerStarved)),
            "{:?}",
            rig.events
        );
    }
}

#[test]
fn switching_controllers_mid_motion_is_bumpless() {
    let mut rig = common::arm(ControlConfig::default());
    let mut previous: Option<Vec<f64>> = None;
    let (mut steady, mut switching) = (0.0_f64, 0.0_f64);
    let (worst, _) = track(&mut rig, 3.0, 500, |rig, k| {
        if k == 1500 {
            rig.client
                .send(LoopCommand::SetController(ControllerKind::ComputedTorque))
                .expect("queue");
        }
        let tau = rig.snapshot.tau_command.clone();
        if let Some(p) = &previous {
            let step = tau
                .iter()
                .zip(p)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            if (1000..1499).contains(&k) {
                steady = steady.max(step);
            } else if (1500..1700).contains(&k) {
                switching = switching.max(step);
            }
        }
        previous = Some(tau);
    });
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::ControllerSwitched {
            to: ControllerKind::ComputedTorque,
            ..
        }
    )));
    assert!(worst < 0.01, "tracking through the switch: {worst:.4} rad");
    assert!(
        switching < 3.0 * steady.max(0.05),
        "torque step per tick while switching {switching:.3} N·m vs steady {steady:.3} N·m"
    );
}

#[test]
fn a_lost_link_damps_then_turns_torque_off_and_recovers_after_reset() {
    let mut rig = common::arm(ControlConfig::default());
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2100);
    // A blip of three failed reads is survived.
    rig.robot.faults().set_link_down(true);
    rig.run(3);
    rig.robot.faults().set_link_down(false);
    rig.run(5);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
    // Five in a row is a link fault.
    rig.robot.faults().set_link_down(true);
    rig.run(5);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Fault);
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::Transition {
            to: Lifecycle::Fault,
            cause: Cause::Link { .. },
            ..
        }
    )));
    rig.robot.faults().set_link_down(false);
    rig.step();
    assert!(
        rig.core
            .last_commands()
            .joints
            .iter()
            .all(|c| matches!(c, JointCommand::Impedance { kp, .. } if *kp == 0.0))
    );
    rig.run(1000);
    assert!(
        rig.core
            .last_commands()
            .joints
            .iter()
            .all(|c| *c == JointCommand::Off)
    );
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::Refused {
            cause: Cause::DampingElapsed,
            ..
        }
    )));
    rig.client.request(Request::Reset).expect("queue");
    rig.run(60);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Idle);
    rig.arm_and_start();
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
}

#[test]
fn actuator_faults_stale_sensors_and_estop_each_fault_with_their_cause() {
    type Inject = fn(&Rig, bool);
    type Expect = fn(&Cause) -> bool;
    let cases: [(Inject, Expect); 3] = [
        (
            |rig, on| {
                rig.robot.faults().set_joint_faults(
                    4,
                    if on {
                        FaultBits::MOTOR_OVER_TEMPERATURE
                    } else {
                        FaultBits::NONE
                    },
                )
            },
            |c| matches!(c, Cause::ActuatorFault { joint: 4, bits } if *bits == FaultBits::MOTOR_OVER_TEMPERATURE),
        ),
        (
            |rig, on| rig.robot.faults().set_frozen(on),
            |c| matches!(c, Cause::StaleSensors),
        ),
        (
            |rig, on| rig.client.set_estop(on),
            |c| matches!(c, Cause::EStop),
        ),
    ];
    for (inject, expected) in cases {
        let mut rig = common::arm(ControlConfig::default());
        rig.arm_and_start();
        rig.run(100);
        inject(&rig, true);
        rig.run(10);
        assert_eq!(rig.core.lifecycle(), Lifecycle::Fault);
        let cause = rig.events.iter().find_map(|e| match e.kind {
            EventKind::Transition {
                to: Lifecycle::Fault,
                cause,
                ..
            } => Some(cause),
            _ => None,
        });
        assert!(cause.as_ref().is_some_and(expected), "got {cause:?}");
        // Reset is refused or undone while the condition holds.
        rig.client.request(Request::Reset).expect("queue");
        rig.run(100);
        assert_ne!(rig.core.lifecycle(), Lifecycle::Idle);
        inject(&rig, false);
        rig.client.request(Request::Reset).expect("queue");
        rig.run(100);
        assert_eq!(
            rig.core.lifecycle(),
            Lifecycle::Idle,
            "recovers once the cause is gone"
        );
    }
}

#[test]
fn bad_setpoints_are_refused_and_a_silent_planner_makes_the_loop_hold() {
    let mut rig = common::arm(ControlConfig::default());
    rig.arm_and_start();
    let mut nan = ARM_HOME;
    nan[2] = f64::NAN;
    rig.move_to(&nan, 0.5);
    let mut too_far = ARM_HOME;
    too_far[1] = 2.5;
    rig.move_to(&too_far, 0.5);
    rig.run(5);
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::SegmentRejected {
            reason: SegmentError::NotFinite(2)
        }
    )));
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::SegmentRejected {
            reason: SegmentError::OutOfLimits(1)
        }
    )));
    assert!(
        rig.client
            .send_segment(Segment {
                duration_s: 0.0,
                ..starting_segment()
            })
            .is_ok()
    );
    rig.step();
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::SegmentRejected {
            reason: SegmentError::Duration(_)
        }
    )));
    // A plan, then silence past the 500 ms timeout: hold where the reference was.
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2100);
    rig.client.send(LoopCommand::Heartbeat).expect("queue");
    rig.run(400);
    assert!(!rig.snapshot.holding);
    rig.run(200);
    assert!(rig.snapshot.holding);
    assert!(rig.saw(|e| matches!(e, EventKind::PlannerSilent)));
    assert_eq!(
        rig.core.lifecycle(),
        Lifecycle::Running,
        "holding is not a fault"
    );
    for (j, (q, home)) in rig.snapshot.q.iter().zip(ARM_HOME).enumerate() {
        assert!((q - home).abs() < 0.01, "joint {j} held near home");
    }
    // The planner speaking again ends the hold.
    rig.client.send(LoopCommand::Heartbeat).expect("queue");
    rig.step();
    assert!(!rig.snapshot.holding);
}

fn starting_segment() -> Segment {
    Segment {
        duration_s: 1.0,
        end: embody_control::JointPoint::at_rest(&ARM_HOME),
        interpolation: embody_control::Interpolation::Cubic,
    }
}

#[test]
fn an_encoder_spike_is_filtered_out_and_does_not_fault() {
    let mut rig = common::arm(ControlConfig::default());
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2100);
    rig.robot.faults().set_encoder_spike(Some(1));
    rig.step();
    rig.robot.faults().set_encoder_spike(None);
    rig.run(5);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
    assert!((rig.snapshot.q[1] - ARM_HOME[1]).abs() < 0.01);
}

#[test]
fn the_humanoid_stands_armed_and_running_with_its_base_estimated_level() {
    let mut rig = common::humanoid(ControlConfig::default());
    rig.arm_and_start();
    let mut crouch = vec![0.0; 29];
    for (j, v) in [
        (2, -0.3),
        (3, 0.6),
        (4, -0.3),
        (8, -0.3),
        (9, 0.6),
        (10, -0.3),
    ] {
        crouch[j] = v;
    }
    rig.move_to(&crouch, 1.0);
    rig.run(2000);
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running, "{:?}", rig.events);
    let s = &rig.snapshot;
    for (j, (q, target)) in s.q.iter().zip(&crouch).enumerate() {
        assert!((q - target).abs() < 0.01, "joint {j}: {q} vs {target}");
    }
    assert_eq!(s.contacts, 0b11);
    assert!(
        s.base_velocity.iter().all(|v| v.abs() < 1e-2),
        "{:?}",
        s.base_velocity
    );
    assert!(
        (s.base_pose[6] - 1.0).abs() < 1e-6,
        "level: {:?}",
        s.base_pose
    );
}

#[test]
fn a_controller_producing_non_finite_torques_is_never_sent_the_tick_holds_instead() {
    let config = ControlConfig {
        controller: ControllerKind::CartesianImpedance,
        ..ControlConfig::default()
    };
    let mut rig = common::arm(config);
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 2.0);
    rig.run(2100);
    // A target pose with a NaN in it makes the Cartesian law produce NaN torques.
    let mut target = embody_model::spatial::Transform::IDENTITY;
    target.translation.x = f64::NAN;
    rig.client
        .send(LoopCommand::CartesianTarget(Some(target)))
        .expect("queue");
    let before = rig.snapshot.q.clone();
    rig.run(50);
    assert!(rig.saw(|e| matches!(
        e,
        EventKind::CommandRejected {
            cause: Cause::NonFiniteCommand { .. }
        }
    )));
    assert!(
        rig.core
            .last_commands()
            .joints
            .iter()
            .all(JointCommand::is_finite)
    );
    assert_eq!(rig.core.lifecycle(), Lifecycle::Running, "{:?}", rig.events);
    for (j, (q, held)) in rig.snapshot.q.iter().zip(&before).enumerate() {
        assert!(
            (q - held).abs() < 0.01,
            "joint {j} held where it was: {q} vs {held}"
        );
    }
    // Back to following the reference: the rejections stop.
    rig.client
        .send(LoopCommand::CartesianTarget(None))
        .expect("queue");
    rig.step();
    rig.events.clear();
    rig.run(10);
    assert!(!rig.saw(|e| matches!(e, EventKind::CommandRejected { .. })));
}

/// The mock, with one measurement replaced by a non-finite number while `poison` is set.
struct Poisoned {
    robot: embody_hal::MockRobot,
    poison: Option<(usize, f64)>,
}

impl embody_hal::Robot for Poisoned {
    fn capabilities(&self) -> &embody_hal::Capabilities {
        self.robot.capabilities()
    }

    fn read(
        &mut self,
        now: embody_hal::Timestamp,
        frame: &mut embody_hal::SensorFrame,
    ) -> Result<(), embody_hal::HalError> {
        self.robot.read(now, frame)?;
        if let Some((field, value)) = self.poison {
            let joint = &mut frame.joints[3];
            match field {
                0 => joint.q = value,
                1 => joint.dq = value,
                _ => joint.tau = value,
            }
        }
        Ok(())
    }

    fn write(
        &mut self,
        now: embody_hal::Timestamp,
        frame: &embody_hal::CommandFrame,
    ) -> Result<(), embody_hal::HalError> {
        self.robot.write(now, frame)
    }

    fn link_health(&self) -> embody_hal::LinkHealth {
        self.robot.link_health()
    }
}

#[test]
fn a_non_finite_measurement_faults_the_loop_within_one_tick() {
    for field in 0..3 {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let model =
                std::sync::Arc::new(embody_model::robots::load("arm7", None).expect("arm7"));
            let robot = Poisoned {
                robot: embody_hal::MockRobot::new(&model),
                poison: None,
            };
            let mut rig =
                embody_testkit::lockstep::Lockstep::new(model, robot, ControlConfig::default());
            rig.arm_and_start();
            rig.run(100);
            assert_eq!(rig.core.lifecycle(), Lifecycle::Running);
            rig.robot.poison = Some((field, value));
            rig.run(1);
            assert_eq!(
                rig.core.lifecycle(),
                Lifecycle::Fault,
                "field {field} = {value}: {:?}",
                rig.events
            );
            assert!(rig.saw(|e| matches!(
                e,
                EventKind::Transition {
                    cause: Cause::NonFiniteMeasurement { joint: Some(3) },
                    ..
                }
            )));
            // Damping, then off: never a non-finite command.
            rig.run(1500);
            assert!(
                rig.core
                    .last_commands()
                    .joints
                    .iter()
                    .all(JointCommand::is_finite)
            );
            // Not armed again while the measurement stays bad.
            rig.client
                .send(LoopCommand::Request(Request::Reset))
                .expect("queue");
            rig.run(2000);
            rig.client
                .send(LoopCommand::Request(Request::Arm))
                .expect("queue");
            rig.run(1);
            assert_ne!(rig.core.lifecycle(), Lifecycle::Armed);
        }
    }
}
