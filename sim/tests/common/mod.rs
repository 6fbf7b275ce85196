//! The control loop of embody-control driving a simulated robot in lockstep: each tick
//! the loop reads the robot at the tick's time, which steps the world up to it.

#![allow(dead_code)]

use std::sync::Arc;

use embody_control::{
    ControlConfig, Event, Interpolation, JointPoint, LoopClient, LoopCore, Request, Segment,
    StateSnapshot,
};
use embody_hal::{Robot, Timestamp};
use embody_model::{Model, robots};
use embody_sim::{Environment, SensorMounts, SimConfig, SimRobot, lowest_point};

pub struct Lockstep {
    pub model: Arc<Model>,
    pub robot: SimRobot,
    pub core: LoopCore,
    pub client: LoopClient,
    pub tick: u64,
    pub events: Vec<Event>,
    pub snapshot: StateSnapshot,
}

impl Lockstep {
    pub fn new(model: Arc<Model>, robot: SimRobot, control: ControlConfig) -> Lockstep {
        let (core, client) =
            LoopCore::new(model.clone(), robot.capabilities(), control).expect("loop");
        let n = robot.capabilities().joints.len();
        Lockstep {
            model,
            robot,
            core,
            client,
            tick: 0,
            events: Vec::new(),
            snapshot: StateSnapshot::new(n),
        }
    }

    pub fn arm(config: SimConfig) -> Lockstep {
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
    pub fn humanoid(config: SimConfig, control: ControlConfig) -> Lockstep {
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

    pub fn step(&mut self) {
        self.tick += 1;
        let now = Timestamp::from_nanos(self.tick * 1_000_000);
        self.core.tick(&mut self.robot, now);
        self.events.extend(self.client.drain_events());
        assert!(self.client.snapshots().read(&mut self.snapshot));
    }

    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.step();
        }
    }

    pub fn arm_and_start(&mut self) {
        self.client.request(Request::Arm).expect("queue");
        self.client.request(Request::Start).expect("queue");
        self.step();
    }

    pub fn move_to(&self, q: &[f64], duration_s: f64) {
        self.client
            .send_segment(Segment {
                duration_s,
                end: JointPoint::at_rest(q),
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }

    pub fn stream(&self, point: JointPoint) {
        self.client
            .send_segment(Segment {
                duration_s: 0.01,
                end: point,
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }
}

/// Base height at which the lowest collision probe of the neutral posture touches z = 0.
pub fn standing_height(model: &Model) -> f64 {
    let q = model.neutral_configuration();
    q[2] - lowest_point(model, q.as_slice()).expect("collision geometry")
}
