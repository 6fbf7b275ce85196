//! The control loop of embody-control driving a simulated robot in lockstep: each tick
//! the loop reads the robot at the tick's time, which steps the world up to it.

#![allow(dead_code)]

use std::sync::Arc;

use embody_control::ControlConfig;
use embody_model::{Model, robots};
use embody_sim::{Environment, SensorMounts, SimConfig, SimRobot, lowest_point};
use embody_testkit::lockstep::Lockstep;

/// The loop in lockstep with a simulated robot.
pub type Rig = Lockstep<SimRobot>;

/// The arm on its stand.
pub fn arm(config: SimConfig) -> Rig {
    let model = Arc::new(robots::load("arm7", None).expect("arm7"));
    let robot = SimRobot::new(
        model.clone(),
        &Environment::default(),
        config,
        &SensorMounts::detect(&model),
    )
    .expect("sim robot");
    Lockstep::new(model, robot, ControlConfig::default())
}

/// The humanoid standing on the ground at its neutral posture, soles just touching.
pub fn humanoid(config: SimConfig, control: ControlConfig) -> Rig {
    let model = Arc::new(robots::load("humanoid", None).expect("humanoid"));
    let mut robot = SimRobot::new(
        model.clone(),
        &Environment::default(),
        config,
        &SensorMounts::detect(&model),
    )
    .expect("sim robot");
    let mut q = model.neutral_configuration();
    q[2] = standing_height(&model);
    let v = vec![0.0; model.nv];
    robot.world_mut().set_state(q.as_slice(), &v);
    Lockstep::new(model, robot, control)
}

/// Base height at which the lowest collision probe of the neutral posture touches z = 0.
pub fn standing_height(model: &Model) -> f64 {
    let q = model.neutral_configuration();
    q[2] - lowest_point(model, q.as_slice()).expect("collision geometry")
}
