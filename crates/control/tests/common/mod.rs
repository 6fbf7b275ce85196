//! A loop driven tick by tick against the hal's MockRobot (rigid-body physics), with a
//! planner that streams 10 ms segments as a 100 Hz planner would.

#![allow(dead_code)]

use std::sync::Arc;

use embody_control::{
    ControlConfig, Event, EventKind, Interpolation, JointPoint, LoopClient, LoopCore, Request,
    Segment, StateSnapshot,
};
use embody_hal::{MockFaults, MockRobot, Robot, Timestamp};
use embody_model::{Model, robots};

pub struct Rig {
    pub model: Arc<Model>,
    pub robot: MockRobot,
    pub core: LoopCore,
    pub client: LoopClient,
    pub faults: MockFaults,
    pub tick: u64,
    pub events: Vec<Event>,
    pub snapshot: StateSnapshot,
}

/// The pose the arm tests move to and oscillate about.
pub const ARM_HOME: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

impl Rig {
    pub fn arm(config: ControlConfig) -> Rig {
        let model = Arc::new(robots::load("arm7", None).expect("arm7"));
        let robot = MockRobot::new(&model);
        Rig::new(model, robot, config)
    }

    pub fn humanoid(config: ControlConfig) -> Rig {
        let model = Arc::new(robots::load("humanoid", None).expect("humanoid"));
        let fixed = robots::load("humanoid", Some(false)).expect("humanoid");
        let robot = MockRobot::new(&fixed)
            .with_imu("imu_link")
            .with_stance_sensors(&["left_sole", "right_sole"], 490.0);
        Rig::new(model, robot, config)
    }

    fn new(model: Arc<Model>, robot: MockRobot, config: ControlConfig) -> Rig {
        let (core, client) =
            LoopCore::new(model.clone(), robot.capabilities(), config).expect("loop");
        let n = robot.capabilities().joints.len();
        Rig {
            faults: robot.faults(),
            model,
            robot,
            core,
            client,
            tick: 0,
            events: Vec::new(),
            snapshot: StateSnapshot::new(n),
        }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.tick * 1_000_000)
    }

    /// Runs one 1 kHz tick and collects its events and snapshot.
    pub fn step(&mut self) {
        self.tick += 1;
        let now = self.now();
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

    /// Queues one segment to `q` over `duration_s`, at rest at the end.
    pub fn move_to(&self, q: &[f64], duration_s: f64) {
        self.client
            .send_segment(Segment {
                duration_s,
                end: JointPoint::at_rest(q),
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }

    /// Queues a 10 ms segment ending on `point`.
    pub fn stream(&self, point: JointPoint) {
        self.client
            .send_segment(Segment {
                duration_s: 0.01,
                end: point,
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }

    pub fn saw(&self, pred: impl Fn(&EventKind) -> bool) -> bool {
        self.events.iter().any(|e| pred(&e.kind))
    }
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
