//! The loop from embody-control drives the simulated arm and humanoid through the Robot
//! interface, in lockstep, with the default (non-ideal) actuators and sensors.

mod common;

use common::Rig;
use embody_control::{ControlConfig, JointPoint, Lifecycle};
use embody_model::spatial::Vec3;
use embody_sim::SimConfig;

/// The arm's home pose and a 0.5 Hz motion about it on the seven arm joints.
const ARM_HOME: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

fn arm_sine(t: f64) -> JointPoint {
    let w = std::f64::consts::PI;
    let mut p = JointPoint::at_rest(&ARM_HOME);
    for j in 0..7 {
        let a = 0.3 * if j % 2 == 0 { 1.0 } else { 0.5 };
        p.q[j] += a * (1.0 - (w * t).cos());
        p.dq[j] = a * w * (w * t).sin();
        p.ddq[j] = a * w * w * (w * t).cos();
    }
    p
}

#[test]
fn the_arm_tracks_a_joint_trajectory() {
    let mut rig = common::arm(SimConfig::default());
    rig.arm_and_start();
    rig.move_to(&ARM_HOME, 1.0);
    rig.run(1200);
    // Two segments ahead, as a planner keeps its queue primed.
    rig.stream(arm_sine(0.01));
    rig.stream(arm_sine(0.02));
    let mut worst = 0.0_f64;
    for k in 1..=4000u64 {
        if k % 10 == 0 {
            rig.stream(arm_sine((k + 20) as f64 * 1e-3));
        }
        rig.step();
        if k > 500 {
            let reference = arm_sine(k as f64 * 1e-3);
            for j in 0..7 {
                let (q, _) = rig.robot.world().joint(j);
                worst = worst.max((q - reference.q[j]).abs());
            }
        }
    }
    assert_eq!(rig.snapshot.lifecycle, Lifecycle::Running);
    // Joint PD with RNEA feed-forward through lagged, rotor-loaded actuators.
    assert!(worst < 0.005, "worst tracking error {worst:.4} rad");
}

/// Joint PD stiff enough to hold a 48 kg body up as an inverted pendulum on its ankles
/// (the loop's defaults are tuned for arms).
fn stiff_pd() -> ControlConfig {
    let mut config = ControlConfig::default();
    config.joint_pd.kp_per_effort = 20.0;
    config.joint_pd.kd_per_effort = 0.6;
    config
}

#[test]
fn the_humanoid_stands_for_ten_seconds() {
    let mut rig = common::humanoid(SimConfig::default(), stiff_pd());
    let z0 = rig.robot.world().q()[2];
    let soles = |rig: &Rig| -> Vec<Vec3> {
        let mut data = embody_model::Data::new(&rig.model);
        embody_model::frame_placements(&rig.model, &mut data, rig.robot.world().q().as_slice());
        ["left_sole", "right_sole"]
            .iter()
            .map(|name| {
                let id = rig.model.frame_id(name).expect("sole");
                data.world_from_frame[id.0].translation
            })
            .collect()
    };
    rig.arm_and_start();
    rig.run(100);
    let soles_start = soles(&rig);
    let mut lowest = f64::INFINITY;
    let mut worst_tilt = 0.0_f64;
    for _ in 0..10_000 {
        rig.step();
        let q = rig.robot.world().q();
        lowest = lowest.min(q[2]);
        let quat = nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            q[6], q[3], q[4], q[5],
        ));
        let up = quat * Vec3::z();
        worst_tilt = worst_tilt.max(up.z.clamp(-1.0, 1.0).acos());
    }
    assert_eq!(
        rig.snapshot.lifecycle,
        Lifecycle::Running,
        "{:?}",
        rig.events
    );
    // It sways as an inverted pendulum on stiff ankles, and neither falls nor slips.
    assert!(z0 - lowest < 0.03, "base sank {:.3} m", z0 - lowest);
    assert!(worst_tilt < 0.1, "base tilted {worst_tilt:.3} rad");
    for (start, end) in soles_start.iter().zip(soles(&rig)) {
        let slip = (end - start).xy().norm();
        assert!(slip < 0.001, "a sole slid {slip:.4} m");
    }
    // The soles carry the weight, on all eight corners.
    let weight = 9.81 * rig.model.total_mass();
    let contacts = rig.robot.world().contacts().active();
    let support: f64 = contacts.iter().map(|c| c.force.z).sum();
    assert_eq!(contacts.len(), 8);
    assert!(
        (support - weight).abs() < 0.02 * weight,
        "support {support:.1} N vs weight {weight:.1} N"
    );
}
