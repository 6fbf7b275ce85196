//! [`Lockstep`]: the loop driven tick by tick on simulated time against any robot —
//! the lockstep half of the one loop driver (the real-time half runs the same
//! [`LoopCore`] on its own thread, [`embody_control::spawn`]). Tick `k` (from 1) runs at
//! `k` periods; every event is collected after each tick, the newest snapshot when asked
//! for (reading it every tick would cost a light robot's tick half again).
//! Everything is open: sessions, tests and benchmarks reach the core, the robot and the
//! client directly.

use std::sync::Arc;

use embody_control::{ControlConfig, ControlError, Event, LoopClient, LoopCore, StateSnapshot};
use embody_hal::{Robot, Timestamp};
use embody_model::Model;

/// A loop and its robot in lockstep. See the module docs.
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
    /// The snapshot last read ([`Lockstep::read_snapshot`]).
    pub snapshot: StateSnapshot,
    period_ns: u64,
}

impl<R: Robot> Lockstep<R> {
    /// A loop under `config` for `model` on `robot`, before its first tick.
    pub fn new(
        model: Arc<Model>,
        robot: R,
        config: ControlConfig,
    ) -> Result<Lockstep<R>, ControlError> {
        let period_ns = (1e9 / config.rate_hz).round() as u64;
        let (core, client) = LoopCore::new(model.clone(), robot.capabilities(), config)?;
        let n = robot.capabilities().joints.len();
        Ok(Lockstep {
            model,
            robot,
            core,
            client,
            tick: 0,
            events: Vec::new(),
            snapshot: StateSnapshot::new(n),
            period_ns,
        })
    }

    /// The current tick's time.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_nanos(self.tick * self.period_ns)
    }

    /// Loop time (s) since the first tick: 0 at tick 1.
    pub fn loop_time_s(&self) -> f64 {
        self.tick.saturating_sub(1) as f64 * self.period_ns as f64 * 1e-9
    }

    /// The loop's period (ns).
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// Runs one tick; the events it raised are the last ones in [`Lockstep::events`],
    /// from the index returned.
    pub fn step(&mut self) -> usize {
        self.tick += 1;
        let now = self.now();
        self.core.tick(&mut self.robot, now);
        let fresh = self.events.len();
        self.events.extend(self.client.drain_events());
        fresh
    }

    /// Reads the newest snapshot into [`Lockstep::snapshot`]; whether the loop has
    /// published one.
    pub fn read_snapshot(&mut self) -> bool {
        self.client.snapshots().read(&mut self.snapshot)
    }

    /// Runs `ticks` ticks.
    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.step();
        }
    }
}
