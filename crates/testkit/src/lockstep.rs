//! The runtime's lockstep loop driver ([`embody_runtime::Lockstep`]) for tests, with
//! the planner's side at hand: arm and start, queue a move, stream 10 ms segments, and
//! look through the events. Failures to set up or queue panic: this is test code.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use embody_control::{ControlConfig, EventKind, Interpolation, JointPoint, Segment};
use embody_hal::Robot;
use embody_model::Model;

/// A loop and its robot in lockstep at the loop's rate; everything is open to the test
/// (through `Deref` to the runtime's driver).
pub struct Lockstep<R: Robot>(pub embody_runtime::Lockstep<R>);

impl<R: Robot> Deref for Lockstep<R> {
    type Target = embody_runtime::Lockstep<R>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<R: Robot> DerefMut for Lockstep<R> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<R: Robot> Lockstep<R> {
    /// A loop under `config` for `model` on `robot`, before its first tick.
    pub fn new(model: Arc<Model>, robot: R, config: ControlConfig) -> Lockstep<R> {
        Lockstep(embody_runtime::Lockstep::new(model, robot, config).expect("loop"))
    }

    /// Runs one tick and checks it published a snapshot.
    pub fn step(&mut self) {
        self.0.step();
        assert!(self.0.read_snapshot(), "the loop published no snapshot");
    }

    /// Runs `ticks` ticks.
    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.step();
        }
    }

    /// Arms and starts the loop, and runs the tick that takes the requests.
    pub fn arm_and_start(&mut self) {
        embody_runtime::arm_and_start(&self.0.client);
        self.step();
    }

    /// Queues one segment to `q` over `duration_s`, at rest at the end.
    pub fn move_to(&self, q: &[f64], duration_s: f64) {
        self.0
            .client
            .send_segment(Segment {
                duration_s,
                end: JointPoint::at_rest(q),
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }

    /// Queues a 10 ms segment ending on `point`.
    pub fn stream(&self, point: JointPoint) {
        self.0
            .client
            .send_segment(Segment {
                duration_s: 0.01,
                end: point,
                interpolation: Interpolation::Quintic,
            })
            .expect("queue");
    }

    /// Whether any event so far matches `pred`.
    pub fn saw(&self, pred: impl Fn(&EventKind) -> bool) -> bool {
        self.0.events.iter().any(|e| pred(&e.kind))
    }
}
