//! The safety supervisor: the lifecycle `Idle → Armed → Running → Fault → Recovering →
//! Idle`, what each state lets out to the motors, and the checks that move it.
//!
//! - Idle and Recovering: torque off. Armed: hold position. Running: the controller,
//!   shaped by the limits below. Fault: damping for `damping_s`, then torque off.
//! - Faults (from any powered state): e-stop (wins over everything, and a reset is refused
//!   while it is held), link loss for `link_error_ticks` consecutive ticks, actuator fault
//!   bits, stale sensors, a joint past its soft limit by more than the tolerance, a joint
//!   faster than `velocity_fault_factor` × its limit for `velocity_fault_s` of its
//!   samples' time. (The velocity is estimated from positions stamped when they were
//!   asked for; a device that samples late — a USB adapter's latency, a stalled host —
//!   makes one sample look like a jump, and the estimate spikes for a sample or two. A
//!   runaway stays fast. The time is the samples', not the loop's: a loop held up
//!   between two samples has not seen the joint fast for longer.)
//! - Shaping in Running: position targets clamped into the soft limits (hard limits less
//!   `position_margin_rad`), velocity targets to the limit, torques to the effort limit and
//!   to a maximum rate of change. A non-finite command is never sent: the tick holds.
//! - Recovering returns to Idle once every fault condition has been clear for
//!   `recover_s`; a condition that returns sends it back to Fault.
//!
//! Every transition is reported as an event with its cause. Real-time safe.

use serde::{Deserialize, Serialize};

use embody_hal::{FaultBits, JointCommand, Timestamp};
use embody_model::Model;

use crate::controllers::equivalent_torque;
use crate::events::{Cause, EventKind, Lifecycle};

/// Limits and timings of the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Soft limits sit this far inside the hard position limits (rad), at most 5 % of
    /// the joint's range. Default 0.02.
    pub position_margin_rad: f64,
    /// A joint this far past its soft limit is a fault (rad), at most 10 % of the joint's
    /// range. Default 0.05.
    pub position_tolerance_rad: f64,
    /// A joint faster than this multiple of its velocity limit is a fault. Default 1.2.
    pub velocity_fault_factor: f64,
    /// ... when it stays that fast for this long (s). Default 0.01.
    pub velocity_fault_s: f64,
    /// Largest torque change per second, per N·m of effort limit (1/s). Default 100:
    /// a 100 N·m joint may change its torque by 10 N·m per millisecond.
    pub torque_rate_per_effort: f64,
    /// Damping gain of the fault state, per N·m of effort limit (s/rad). Default 0.05.
    pub damping_kd_per_effort: f64,
    /// Time spent damping before torque off (s). Default 1.
    pub damping_s: f64,
    /// Consecutive failed reads or writes that make a link fault. Default 5.
    pub link_error_ticks: u32,
    /// Time every fault condition must stay clear before Recovering returns to Idle (s).
    /// Default 0.05.
    pub recover_s: f64,
    /// Report the planner silent, and hold, if no planner message arrives for this long
    /// while the trajectory is exhausted (ms); 0 disables. Default 500. A trajectory that
    /// runs out while still moving holds at once.
    pub planner_timeout_ms: f64,
    /// With driver targets active ([`crate::ControllerKind::Targets`]), fault if no frame
    /// arrives for this long (ms); 0 disables. Default 200: a 50 Hz policy may miss
    /// nine steps, each holding the last target.
    pub driver_timeout_ms: f64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            position_margin_rad: 0.02,
            position_tolerance_rad: 0.05,
            velocity_fault_factor: 1.2,
            velocity_fault_s: 0.01,
            torque_rate_per_effort: 100.0,
            damping_kd_per_effort: 0.05,
            damping_s: 1.0,
            link_error_ticks: 5,
            recover_s: 0.05,
            planner_timeout_ms: 500.0,
            driver_timeout_ms: 200.0,
        }
    }
}

/// What the supervisor is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Idle → Armed (motors on, holding).
    Arm,
    /// Armed → Running.
    Start,
    /// Running → Armed.
    Stop,
    /// Armed or Running → Idle.
    Disarm,
    /// Fault → Recovering.
    Reset,
}

/// The fault conditions observed this tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observation {
    /// Hardware or software e-stop active.
    pub estop: bool,
    /// This tick's read or write failed.
    pub link_error: bool,
    /// First joint reporting fault bits, and the bits.
    pub actuator_fault: Option<(usize, FaultBits)>,
    /// Some sensor is stale.
    pub stale: bool,
    /// The first non-finite measurement: a joint's index, or none for the IMU.
    pub non_finite: Option<Option<usize>>,
    /// When the newest joint sample was measured (the joint velocities' time).
    pub sampled_at: Timestamp,
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct Supervisor {
    config: SafetyConfig,
    state: Lifecycle,
    soft_lower: Vec<f64>,
    soft_upper: Vec<f64>,
    tolerance: Vec<f64>,
    velocity: Vec<f64>,
    /// Since when each joint has been faster than the fault speed, while powered.
    too_fast_since: Vec<Option<Timestamp>>,
    effort: Vec<f64>,
    damping_kd: Vec<f64>,
    previous_torque: Vec<f64>,
    fault_since: Timestamp,
    torque_off: bool,
    clear_since: Option<Timestamp>,
    link_errors: u32,
}

impl Supervisor {
    /// A supervisor for the actuated joints of `model`, starting Idle.
    pub fn new(model: &Model, config: SafetyConfig) -> Supervisor {
        let limits: Vec<_> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].limits)
            .collect();
        // Margins shrink for short ranges (a 4 cm gripper): at most 5 % of the range.
        let margin = |l: &embody_model::JointLimits| {
            config.position_margin_rad.min(0.05 * (l.upper - l.lower))
        };
        Supervisor {
            soft_lower: limits.iter().map(|l| l.lower + margin(l)).collect(),
            soft_upper: limits.iter().map(|l| l.upper - margin(l)).collect(),
            tolerance: limits
                .iter()
                .map(|l| config.position_tolerance_rad.min(0.1 * (l.upper - l.lower)))
                .collect(),
            velocity: limits.iter().map(|l| l.velocity).collect(),
            too_fast_since: vec![None; limits.len()],
            effort: limits.iter().map(|l| l.effort).collect(),
            damping_kd: limits
                .iter()
                .map(|l| config.damping_kd_per_effort * l.effort.min(1e4))
                .collect(),
            previous_torque: vec![0.0; limits.len()],
            config,
            state: Lifecycle::Idle,
            fault_since: Timestamp::ZERO,
            torque_off: false,
            clear_since: None,
            link_errors: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> Lifecycle {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &SafetyConfig {
        &self.config
    }

    fn go(
        &mut self,
        to: Lifecycle,
        cause: Cause,
        now: Timestamp,
        emit: &mut impl FnMut(EventKind),
    ) {
        let from = self.state;
        self.state = to;
        match to {
            Lifecycle::Fault => {
                self.fault_since = now;
                self.torque_off = false;
            }
            Lifecycle::Recovering => self.clear_since = None,
            _ => {}
        }
        emit(EventKind::Transition { from, to, cause });
    }

    /// Goes into the fault state for `cause` from a powered state (the loop found it).
    pub fn fault(&mut self, cause: Cause, now: Timestamp, emit: &mut impl FnMut(EventKind)) {
        if matches!(self.state, Lifecycle::Armed | Lifecycle::Running) {
            self.go(Lifecycle::Fault, cause, now, emit);
        }
    }

    /// Handles a request; refusals are reported as events.
    pub fn request(
        &mut self,
        request: Request,
        obs: &Observation,
        now: Timestamp,
        emit: &mut impl FnMut(EventKind),
    ) {
        use Lifecycle::*;
        let healthy = self.first_fault(obs, &[]).is_none();
        let target = match (request, self.state) {
            (Request::Arm, Idle) if healthy => Armed,
            (Request::Start, Armed) => Running,
            (Request::Stop, Running) => Armed,
            (Request::Disarm, Armed | Running) => Idle,
            (Request::Reset, Fault) if !obs.estop => Recovering,
            (_, state) => {
                let cause = if healthy {
                    Cause::Command
                } else {
                    Cause::NotHealthy
                };
                emit(EventKind::Refused { state, cause });
                return;
            }
        };
        self.go(target, Cause::Command, now, emit);
    }

    /// The first fault condition present, e-stop first, but for the joints' speed.
    /// `q` holds the joint positions (may be empty to skip the limit check).
    fn first_fault(&self, obs: &Observation, q: &[f64]) -> Option<Cause> {
        if obs.estop {
            return Some(Cause::EStop);
        }
        if self.link_errors >= self.config.link_error_ticks {
            return Some(Cause::Link { error: None });
        }
        if let Some((joint, bits)) = obs.actuator_fault {
            return Some(Cause::ActuatorFault { joint, bits });
        }
        if let Some(joint) = obs.non_finite {
            return Some(Cause::NonFiniteMeasurement { joint });
        }
        if obs.stale {
            return Some(Cause::StaleSensors);
        }
        for (joint, &x) in q.iter().enumerate().take(self.soft_lower.len()) {
            let tol = self.tolerance[joint];
            if x < self.soft_lower[joint] - tol || x > self.soft_upper[joint] + tol {
                return Some(Cause::PositionLimit { joint });
            }
        }
        None
    }

    /// The first joint that has been faster than the fault speed for `velocity_fault_s`
    /// of sample time, given the velocities `dq` sampled at `sampled_at` (empty: none is
    /// timed).
    fn too_fast(&mut self, dq: &[f64], sampled_at: Timestamp) -> Option<Cause> {
        let (factor, hold_s) = (
            self.config.velocity_fault_factor,
            self.config.velocity_fault_s,
        );
        let mut first = None;
        for (joint, since) in self.too_fast_since.iter_mut().enumerate() {
            let fast = dq
                .get(joint)
                .is_some_and(|v| v.abs() > factor * self.velocity[joint]);
            if !fast {
                *since = None;
                continue;
            }
            let since = *since.get_or_insert(sampled_at);
            if first.is_none() && sampled_at.nanos_since(since) as f64 * 1e-9 >= hold_s {
                first = Some(Cause::VelocityLimit { joint });
            }
        }
        first
    }

    /// Per-tick checks: moves to Fault on any condition (from a powered state, or from
    /// Idle for an e-stop), handles the damping timer and recovery.
    pub fn check(
        &mut self,
        obs: &Observation,
        q: &[f64],
        dq: &[f64],
        now: Timestamp,
        emit: &mut impl FnMut(EventKind),
    ) {
        self.link_errors = if obs.link_error {
            self.link_errors.saturating_add(1)
        } else {
            0
        };
        let powered = matches!(self.state, Lifecycle::Armed | Lifecycle::Running);
        let (q, dq) = if powered { (q, dq) } else { (&[][..], &[][..]) };
        let fault = self.first_fault(obs, q);
        let too_fast = self.too_fast(dq, obs.sampled_at);
        let fault = fault.or(too_fast);
        match (self.state, fault) {
            (Lifecycle::Armed | Lifecycle::Running | Lifecycle::Recovering, Some(cause)) => {
                self.go(Lifecycle::Fault, cause, now, emit)
            }
            (Lifecycle::Idle, Some(Cause::EStop)) => {
                self.go(Lifecycle::Fault, Cause::EStop, now, emit)
            }
            (Lifecycle::Fault, _) => {
                let elapsed = now.nanos_since(self.fault_since) as f64 * 1e-9;
                if !self.torque_off && elapsed >= self.config.damping_s {
                    self.torque_off = true;
                    emit(EventKind::Refused {
                        state: Lifecycle::Fault,
                        cause: Cause::DampingElapsed,
                    });
                }
            }
            (Lifecycle::Recovering, None) => {
                let since = *self.clear_since.get_or_insert(now);
                if now.nanos_since(since) as f64 * 1e-9 >= self.config.recover_s {
                    self.go(Lifecycle::Idle, Cause::Recovered, now, emit);
                }
            }
            _ => {}
        }
    }

    /// True while the fault state still damps (before torque off).
    pub fn damping(&self) -> bool {
        self.state == Lifecycle::Fault && !self.torque_off
    }

    /// The damping command for every joint.
    pub fn damping_commands(&self, out: &mut [JointCommand]) {
        for (c, &kd) in out.iter_mut().zip(&self.damping_kd) {
            *c = JointCommand::damping(kd);
        }
    }

    /// Forgets the torque history (after a state change the rate limit starts afresh).
    pub fn reset_rate_limit(&mut self, torque: impl Iterator<Item = f64>) {
        for (p, t) in self.previous_torque.iter_mut().zip(torque) {
            *p = t;
        }
    }

    /// Shapes outgoing commands in place: clamps targets into the soft limits and speed
    /// limits, torques to the effort limit and rate. Returns the first joint whose command
    /// was not finite (the caller must not send it).
    pub fn shape(
        &mut self,
        commands: &mut [JointCommand],
        q: &[f64],
        dq: &[f64],
        dt_s: f64,
    ) -> Option<usize> {
        if let Some(bad) = commands.iter().position(|c| !c.is_finite()) {
            return Some(bad);
        }
        for (j, cmd) in commands.iter_mut().enumerate() {
            let (lo, hi, vmax, effort) = (
                self.soft_lower[j],
                self.soft_upper[j],
                self.velocity[j],
                self.effort[j],
            );
            let max_step = self.config.torque_rate_per_effort * effort.min(1e4) * dt_s;
            let previous = self.previous_torque[j];
            let slew = |tau: f64| {
                tau.clamp(-effort, effort)
                    .clamp(previous - max_step, previous + max_step)
            };
            match cmd {
                JointCommand::Off => {}
                JointCommand::Position { q } => *q = q.clamp(lo, hi),
                JointCommand::Velocity { dq } => *dq = dq.clamp(-vmax, vmax),
                JointCommand::Torque { tau } => *tau = slew(*tau),
                JointCommand::Impedance {
                    q: target,
                    dq: target_dq,
                    ..
                } => {
                    *target = target.clamp(lo, hi);
                    *target_dq = target_dq.clamp(-vmax, vmax);
                    // Rate-limit the torque the law applies now through the feed-forward.
                    let applied = equivalent_torque(cmd, q[j], dq[j]);
                    if let JointCommand::Impedance { tau_ff, .. } = cmd {
                        *tau_ff += slew(applied) - applied;
                    }
                }
            }
            self.previous_torque[j] = equivalent_torque(cmd, q[j], dq[j]);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_model::robots;

    struct Harness {
        sup: Supervisor,
        events: Vec<EventKind>,
        now_ms: u64,
    }

    impl Harness {
        fn new() -> Harness {
            let model = robots::load("arm7", None).expect("arm7");
            Harness {
                sup: Supervisor::new(&model, SafetyConfig::default()),
                events: Vec::new(),
                now_ms: 0,
            }
        }
        fn now(&self) -> Timestamp {
            Timestamp::from_nanos(self.now_ms * 1_000_000)
        }
        fn request(&mut self, r: Request, obs: Observation) {
            let now = self.now();
            let events = &mut self.events;
            self.sup.request(r, &obs, now, &mut |e| events.push(e));
        }
        /// A tick with a fresh sample.
        fn tick(&mut self, obs: Observation, q: &[f64], dq: &[f64]) {
            self.now_ms += 1;
            let now = self.now();
            self.tick_sampled(obs, q, dq, now);
        }
        /// A tick whose newest sample was measured at `sampled_at`.
        fn tick_sampled(&mut self, obs: Observation, q: &[f64], dq: &[f64], sampled_at: Timestamp) {
            let now = self.now();
            let obs = Observation { sampled_at, ..obs };
            let events = &mut self.events;
            self.sup.check(&obs, q, dq, now, &mut |e| events.push(e));
        }
        fn running(&mut self) {
            self.request(Request::Arm, Observation::default());
            self.request(Request::Start, Observation::default());
            assert_eq!(self.sup.state(), Lifecycle::Running);
        }
        fn last_cause(&self) -> Option<Cause> {
            self.events.iter().rev().find_map(|e| match e {
                EventKind::Transition { cause, .. } | EventKind::Refused { cause, .. } => {
                    Some(*cause)
                }
                _ => None,
            })
        }
    }

    const REST: [f64; 8] = [0.0; 8];

    #[test]
    fn the_lifecycle_moves_only_by_its_explicit_transitions() {
        let mut h = Harness::new();
        h.request(Request::Start, Observation::default());
        assert_eq!(h.sup.state(), Lifecycle::Idle, "cannot start unarmed");
        h.running();
        h.request(Request::Stop, Observation::default());
        assert_eq!(h.sup.state(), Lifecycle::Armed);
        h.request(Request::Disarm, Observation::default());
        assert_eq!(h.sup.state(), Lifecycle::Idle);
        let stale = Observation {
            stale: true,
            ..Observation::default()
        };
        h.request(Request::Arm, stale);
        assert_eq!(
            (h.sup.state(), h.last_cause()),
            (Lifecycle::Idle, Some(Cause::NotHealthy))
        );
    }

    #[test]
    fn each_fault_condition_faults_then_damps_then_turns_torque_off() {
        let link = Observation {
            link_error: true,
            ..Observation::default()
        };
        // (observation, q, dq, expected cause, ticks until the fault)
        type Case = (Observation, [f64; 8], [f64; 8], Cause, u32);
        let cases: Vec<Case> = vec![
            (
                Observation {
                    estop: true,
                    ..Observation::default()
                },
                REST,
                REST,
                Cause::EStop,
                1,
            ),
            (link, REST, REST, Cause::Link { error: None }, 5),
            (
                Observation {
                    actuator_fault: Some((2, FaultBits::OVER_CURRENT)),
                    ..Observation::default()
                },
                REST,
                REST,
                Cause::ActuatorFault {
                    joint: 2,
                    bits: FaultBits::OVER_CURRENT,
                },
                1,
            ),
            (
                Observation {
                    stale: true,
                    ..Observation::default()
                },
                REST,
                REST,
                Cause::StaleSensors,
                1,
            ),
            (
                Observation::default(),
                [0.0, 1.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                REST,
                Cause::PositionLimit { joint: 1 },
                1,
            ),
            (
                Observation::default(),
                REST,
                [0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
                Cause::VelocityLimit { joint: 3 },
                // Fast from the first tick, at 1 ms a tick: 10 ms later.
                11,
            ),
        ];
        for (obs, q, dq, cause, ticks) in cases {
            let mut h = Harness::new();
            h.running();
            for _ in 0..ticks - 1 {
                h.tick(obs, &q, &dq);
                assert_eq!(h.sup.state(), Lifecycle::Running, "{cause:?} too early");
            }
            h.tick(obs, &q, &dq);
            assert_eq!(
                (h.sup.state(), h.last_cause()),
                (Lifecycle::Fault, Some(cause))
            );
            assert!(h.sup.damping());
            for _ in 0..999 {
                h.tick(Observation::default(), &REST, &REST);
            }
            assert!(h.sup.damping(), "{cause:?}: still damping before 1 s");
            h.tick(Observation::default(), &REST, &REST);
            assert!(!h.sup.damping(), "{cause:?}: torque off after 1 s");
            // Reset, conditions clear for 50 ms, back to Idle.
            h.request(Request::Reset, Observation::default());
            for _ in 0..51 {
                h.tick(Observation::default(), &REST, &REST);
            }
            assert_eq!(
                (h.sup.state(), h.last_cause()),
                (Lifecycle::Idle, Some(Cause::Recovered))
            );
        }
    }

    #[test]
    fn a_speed_spike_of_a_few_ticks_is_not_a_runaway_but_a_joint_that_stays_fast_is() {
        // Joint 3's limit is 2.4 rad/s: faults above 2.88 held for 10 ms.
        let fast = [0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0];
        let mut h = Harness::new();
        h.running();
        // A late sample's spike: fast for 9 ms, one tick back under, again and again.
        for _ in 0..50 {
            for _ in 0..9 {
                h.tick(Observation::default(), &REST, &fast);
            }
            h.tick(Observation::default(), &REST, &REST);
        }
        assert_eq!(h.sup.state(), Lifecycle::Running);
        // A loop held up 12 ms between two fast samples measured 2 ms apart.
        h.tick(Observation::default(), &REST, &fast);
        let sampled = h.now();
        h.now_ms += 12;
        h.tick_sampled(
            Observation::default(),
            &REST,
            &fast,
            Timestamp::from_nanos(sampled.as_nanos() + 2_000_000),
        );
        assert_eq!(h.sup.state(), Lifecycle::Running, "a stalled loop");
        h.tick(Observation::default(), &REST, &REST);
        // Two joints taking turns each start their own timer.
        let other = [0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        for k in 0..40 {
            let dq = if k % 8 < 4 { &fast } else { &other };
            h.tick(Observation::default(), &REST, dq);
        }
        assert_eq!(h.sup.state(), Lifecycle::Running);
        for _ in 0..10 {
            h.tick(Observation::default(), &REST, &fast);
        }
        assert_eq!(h.sup.state(), Lifecycle::Running, "fast for 9 ms");
        h.tick(Observation::default(), &REST, &fast);
        assert_eq!(
            (h.sup.state(), h.last_cause()),
            (Lifecycle::Fault, Some(Cause::VelocityLimit { joint: 3 }))
        );
    }

    #[test]
    fn estop_wins_everywhere_and_blocks_reset_while_held() {
        let estop = Observation {
            estop: true,
            ..Observation::default()
        };
        let mut h = Harness::new();
        h.tick(estop, &REST, &REST);
        assert_eq!(
            (h.sup.state(), h.last_cause()),
            (Lifecycle::Fault, Some(Cause::EStop))
        );
        h.request(Request::Reset, estop);
        assert_eq!(
            h.sup.state(),
            Lifecycle::Fault,
            "reset refused while the e-stop is held"
        );
        h.request(Request::Reset, Observation::default());
        assert_eq!(h.sup.state(), Lifecycle::Recovering);
        // The e-stop pressed again during recovery wins.
        h.tick(estop, &REST, &REST);
        assert_eq!(
            (h.sup.state(), h.last_cause()),
            (Lifecycle::Fault, Some(Cause::EStop))
        );
    }

    #[test]
    fn a_single_bus_error_does_not_fault() {
        let mut h = Harness::new();
        h.running();
        let link = Observation {
            link_error: true,
            ..Observation::default()
        };
        for _ in 0..100 {
            h.tick(link, &REST, &REST);
            h.tick(Observation::default(), &REST, &REST);
        }
        assert_eq!(h.sup.state(), Lifecycle::Running);
    }

    #[test]
    fn shaping_clamps_targets_torques_and_rates_and_refuses_non_finite_commands() {
        let mut h = Harness::new();
        let mut cmds = [JointCommand::Off; 8];
        cmds[0] = JointCommand::Position { q: 5.0 };
        cmds[1] = JointCommand::Torque { tau: 1e6 };
        cmds[2] = JointCommand::Velocity { dq: -50.0 };
        cmds[3] = JointCommand::Impedance {
            q: -9.0,
            dq: 0.0,
            kp: 100.0,
            kd: 0.0,
            tau_ff: 0.0,
        };
        assert_eq!(h.sup.shape(&mut cmds, &REST, &REST, 1e-3), None);
        assert_eq!(cmds[0], JointCommand::Position { q: 2.88 });
        // 87 N·m effort, 100/s·87 N·m·1 ms = 8.7 N·m per tick from rest.
        assert!(matches!(cmds[1], JointCommand::Torque { tau } if (tau - 8.7).abs() < 1e-12));
        assert_eq!(cmds[2], JointCommand::Velocity { dq: -2.4 });
        let applied = equivalent_torque(&cmds[3], 0.0, 0.0);
        assert!(
            (applied + 6.0).abs() < 1e-9,
            "impedance torque limited to one step: {applied}"
        );
        cmds[5] = JointCommand::Torque { tau: f64::NAN };
        assert_eq!(h.sup.shape(&mut cmds, &REST, &REST, 1e-3), Some(5));
    }
}
