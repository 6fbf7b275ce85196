//! A loop driven tick by tick against the hal's MockRobot (rigid-body physics), with a
//! planner that streams 10 ms segments as a 100 Hz planner would.

#![allow(dead_code)]

use std::sync::Arc;

use embody_control::{ControlConfig, JointPoint};
use embody_hal::MockRobot;
use embody_model::robots;
use embody_testkit::lockstep::Lockstep;

/// The loop in lockstep with the mock robot (its faults at `rig.robot.faults()`).
pub type Rig = Lockstep<MockRobot>;

/// The pose the arm tests move to and oscillate about.
pub const ARM_HOME: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

/// The arm on the mock.
pub fn arm(config: ControlConfig) -> Rig {
    let model = Arc::new(robots::load("arm7", None).expect("arm7"));
    let robot = MockRobot::new(&model);
    Lockstep::new(model, robot, config)
}

/// The humanoid on the mock, its base pinned, with an IMU and loaded soles.
pub fn humanoid(config: ControlConfig) -> Rig {
    let model = Arc::new(robots::load("humanoid", None).expect("humanoid"));
    let fixed = robots::load("humanoid", Some(false)).expect("humanoid");
    let robot = MockRobot::new(&fixed)
        .with_imu("imu_link")
        .with_stance_sensors(&["left_sole", "right_sole"], 490.0);
    Lockstep::new(model, robot, config)
}

/// `ARM_HOME` plus `a·(1 − cos ωt)` at 0.5 Hz on the seven arm joints (starting at rest
/// at home), with exact derivatives.
pub fn arm_sine(t: f64) -> JointPoint {
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
