//! The control loop driven tick by tick on simulated time against any robot (the hal's
//! mock, the simulator), with the planner's side at hand: arm and start, queue a move,
//! stream 10 ms segments, and look through the events.

use std::sync::Arc;

use embody_control::{
    ControlConfig, Event, EventKind, Interpolation, JointPoint, LoopClient, LoopCore, Request,
    Segment, StateSnapshot,
};
use embody_hal::{Robot, Timestamp};
use embody_model::Model;

/// A loop and its robot in lockstep at 1 kHz; everything is open to the test.
pub struct Lockstep<R: Robot> {
    /// The model the loop controls.
    pub model: Arc<Model>,
    /// The robot it drives.
    pub robot: R,
    /// The loop.
    pub core: LoopCore,
    /// The planner's side of the loop.
    pub client: LoopClient,
    /// Ticks run.
    pub tick: u64,
    /// Every event so far.
    pub events: Vec<Event>,
    /// The snapshot of the last tick.
    pub snapshot: StateSnapshot,
}

impl<R: Robot> Lockstep<R> {
    /// A loop under `config` for `model` on `robot`, before its first tick.
    pub fn new(model: Arc<Model>, robot: R, config: ControlConfig) -> Lockstep<R> {
        let (core, client) =
            LoopCore::new(model.clone(), robot.capabilities(), config).expect("loop");
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

    /// The current tick's time.
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

    /// Runs `ticks` ticks.
    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.step();
        }
    }

    /// Arms and starts the loop, and runs the tick that takes the requests.
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

    /// Whether any event so far matches `pred`.
    pub fn saw(&self, pred: impl Fn(&EventKind) -> bool) -> bool {
        self.events.iter().any(|e| pred(&e.kind))
    }
}
