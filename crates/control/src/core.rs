//! One tick of the loop, in the fixed order read → estimate → control → safety → write,
//! with the clock read once by the caller so every stage sees the same time. [`LoopCore`]
//! owns every stage's state and buffer, sized at construction; [`LoopCore::tick`] never
//! allocates, locks or blocks (the robot's own bounded I/O aside). The runner calls it on
//! a real-time thread; lockstep simulation and tests call it directly.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use embody_hal::{CommandFrame, JointCommand, Robot, SensorFrame, Timestamp};
use embody_model::Model;
use embody_perception::{EstimatorConfig, StateEstimator};

use crate::ControlError;
use crate::channels::{Channels, LoopClient, LoopCommand};
use crate::controllers::{
    CartesianConfig, CartesianImpedance, ComputedTorque, ComputedTorqueConfig, ControlInput,
    ControllerKind, JointPd, JointPdConfig, blend, equivalent_torque,
};
use crate::events::{Cause, EventKind, Lifecycle};
use crate::safety::{Observation, SafetyConfig, Supervisor};
use crate::snapshot::{SnapshotWriter, StateSnapshot, snapshot_buffer};
use crate::targets::TargetFrame;
use crate::trajectory::{FollowerStatus, JointPoint, MAX_JOINTS, TrajectoryFollower};

/// Everything the loop is configured by; every section has defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Tick rate (Hz), 100–10 000. Default 1000.
    pub rate_hz: f64,
    /// The controller active at start. Default `joint_pd`.
    pub controller: ControllerKind,
    /// Time over which a controller switch blends the torques (s). Default 0.1.
    pub transfer_s: f64,
    /// Capacity of the segment queue. Default 256.
    pub segment_queue: usize,
    /// Capacity of the command queue. Default 64.
    pub command_queue: usize,
    /// Capacity of the event queue. Default 1024.
    pub event_queue: usize,
    /// State estimation.
    pub estimator: EstimatorConfig,
    /// Joint PD.
    pub joint_pd: JointPdConfig,
    /// Computed torque.
    pub computed_torque: ComputedTorqueConfig,
    /// Cartesian impedance.
    pub cartesian: CartesianConfig,
    /// Safety supervisor.
    pub safety: SafetyConfig,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            rate_hz: 1000.0,
            controller: ControllerKind::JointPd,
            transfer_s: 0.1,
            segment_queue: 256,
            command_queue: 64,
            event_queue: 1024,
            estimator: EstimatorConfig::default(),
            joint_pd: JointPdConfig::default(),
            computed_torque: ComputedTorqueConfig::default(),
            cartesian: CartesianConfig::default(),
            safety: SafetyConfig::default(),
        }
    }
}

impl ControlConfig {
    /// How long the loop goes on without a new joint state (ms) before it faults on
    /// stale sensors — and without a read that brings anything (link errors, counted in
    /// ticks at `rate_hz`, at least the configured count), so that neither faults first.
    /// Set `rate_hz` first.
    pub fn set_sensor_timeout(&mut self, ms: f64) {
        self.estimator.health.joint_timeout_ms = ms;
        let ticks = (ms * 1e-3 * self.rate_hz).ceil() as u32;
        self.safety.link_error_ticks = self.safety.link_error_ticks.max(ticks);
    }
}

/// A controller switch in progress: the old controller's torque fades out.
#[derive(Clone, Copy, Debug)]
struct Transfer {
    from: ControllerKind,
    started: Timestamp,
}

/// The loop's state and one tick of work. See the module docs.
pub struct LoopCore {
    model: Arc<Model>,
    n: usize,
    /// Where the actuated joints start in `q` and `v` (7 and 6 behind a free-flyer).
    offsets: (usize, usize),
    period_ns: u64,
    transfer_s: f64,
    estimator: StateEstimator,
    follower: TrajectoryFollower,
    joint_pd: JointPd,
    computed_torque: ComputedTorque,
    cartesian: CartesianImpedance,
    supervisor: Supervisor,
    active: ControllerKind,
    transfer: Option<Transfer>,
    channels: Arc<Channels>,
    writer: SnapshotWriter,
    snapshot: StateSnapshot,
    sensors: SensorFrame,
    commands: CommandFrame,
    fading: Vec<JointCommand>,
    hold: JointPoint,
    holding: bool,
    rejecting: bool,
    planner_messages: u64,
    last_planner_message: Timestamp,
    /// The newest driver targets, and when they arrived (or targets were switched on).
    targets: Option<TargetFrame>,
    targets_at: Timestamp,
    observation: Observation,
    write_failed: bool,
    tick: u64,
    last_now: Option<Timestamp>,
}

impl LoopCore {
    /// A loop for `model` driven through a robot with `caps`, and the client that talks
    /// to it.
    pub fn new(
        model: Arc<Model>,
        caps: &embody_hal::Capabilities,
        config: ControlConfig,
    ) -> Result<(LoopCore, LoopClient), ControlError> {
        if !(100.0..=10_000.0).contains(&config.rate_hz) {
            return Err(ControlError::Rate(config.rate_hz));
        }
        let n = caps.joints.len();
        if n > MAX_JOINTS {
            return Err(ControlError::TooManyJoints(n));
        }
        let estimator = StateEstimator::new(&model, caps, config.estimator.clone())?;
        let limits: Vec<_> = model
            .actuated_joints()
            .map(|j| model.joints[j.0].limits)
            .collect();
        let lower: Vec<f64> = limits.iter().map(|l| l.lower).collect();
        let upper: Vec<f64> = limits.iter().map(|l| l.upper).collect();
        let channels = Arc::new(Channels::new(
            config.segment_queue,
            config.command_queue,
            config.event_queue,
        ));
        let (writer, reader) = snapshot_buffer();
        let core = LoopCore {
            n,
            offsets: if model.free_flyer().is_some() {
                (7, 6)
            } else {
                (0, 0)
            },
            period_ns: (1e9 / config.rate_hz).round() as u64,
            transfer_s: config.transfer_s,
            estimator,
            follower: TrajectoryFollower::new(&lower, &upper)
                .with_velocity_limits(&limits.iter().map(|l| l.velocity).collect::<Vec<_>>()),
            joint_pd: JointPd::new(&model, config.joint_pd),
            computed_torque: ComputedTorque::new(&model, config.computed_torque),
            cartesian: CartesianImpedance::new(&model, config.cartesian.clone())?,
            supervisor: Supervisor::new(&model, config.safety),
            active: config.controller,
            transfer: None,
            channels: channels.clone(),
            writer,
            snapshot: StateSnapshot::new(n),
            sensors: SensorFrame::for_robot(caps),
            commands: CommandFrame::new(n),
            fading: vec![JointCommand::Off; n],
            hold: JointPoint::ZERO,
            holding: false,
            rejecting: false,
            planner_messages: 0,
            last_planner_message: Timestamp::ZERO,
            targets: None,
            targets_at: Timestamp::ZERO,
            observation: Observation::default(),
            write_failed: false,
            tick: 0,
            last_now: None,
            model,
        };
        Ok((
            core,
            LoopClient {
                channels,
                snapshots: reader,
            },
        ))
    }

    /// The tick period (ns).
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// The supervisor's state.
    pub fn lifecycle(&self) -> Lifecycle {
        self.supervisor.state()
    }

    /// The commands written by the last tick.
    pub fn last_commands(&self) -> &CommandFrame {
        &self.commands
    }

    fn emit(&self, now: Timestamp, kind: EventKind) {
        self.channels.emit(self.tick, now.as_nanos(), kind);
    }

    /// One tick at time `now`. Real-time safe.
    pub fn tick(&mut self, robot: &mut dyn Robot, now: Timestamp) {
        let dt = self
            .last_now
            .map_or(0.0, |t| now.nanos_since(t).max(0) as f64 * 1e-9);
        self.last_now = Some(now);
        self.tick += 1;
        // Read.
        let read_ok = robot.read(now, &mut self.sensors).is_ok();
        let stages_start = Instant::now();
        // Estimate.
        let est = self.estimator.update(&self.model, &self.sensors, now);
        let joint_faults = self
            .sensors
            .joints
            .iter()
            .position(|j| !j.faults.is_empty())
            .map(|k| (k, self.sensors.joints[k].faults));
        self.observation = Observation {
            estop: self.sensors.estop || self.channels.estop.load(Ordering::Acquire),
            link_error: !read_ok || self.write_failed,
            actuator_fault: joint_faults
                .or((!est.joint_faults.is_empty()).then_some((0, est.joint_faults))),
            stale: est.health.any_stale(),
            non_finite: self.sensors.first_non_finite(),
            sampled_at: self.sensors.stamp,
        };
        // Commands from outside, then the supervisor's own checks.
        let before = self.supervisor.state();
        self.take_commands(now);
        self.check_safety(now);
        let after = self.supervisor.state();
        if after != before {
            self.enter(after, now);
        }
        // Control and safety shaping.
        self.control(now, dt);
        self.channels
            .timing
            .stages
            .record(stages_start.elapsed().as_nanos() as u64);
        // Write.
        self.commands.stamp = now;
        self.commands.seq = self.tick;
        self.write_failed = robot.write(now, &self.commands).is_err();
        let link = robot.link_health();
        self.snapshot.link = [
            link.frames_ok,
            link.frames_bad,
            link.timeouts,
            link.bus_errors,
        ];
        self.publish(now);
    }

    fn take_commands(&mut self, now: Timestamp) {
        let messages = self.channels.planner_messages.load(Ordering::Relaxed);
        if messages != self.planner_messages {
            self.planner_messages = messages;
            self.last_planner_message = now;
            self.holding = false;
        }
        while let Some(command) = self.channels.commands.pop() {
            match command {
                LoopCommand::Request(request) => {
                    let (sup, channels, tick, obs) = (
                        &mut self.supervisor,
                        &self.channels,
                        self.tick,
                        self.observation,
                    );
                    sup.request(request, &obs, now, &mut |e| {
                        channels.emit(tick, now.as_nanos(), e)
                    });
                }
                LoopCommand::SetController(kind) if kind != self.active => {
                    self.transfer = Some(Transfer {
                        from: self.active,
                        started: now,
                    });
                    self.emit(
                        now,
                        EventKind::ControllerSwitched {
                            from: self.active,
                            to: kind,
                        },
                    );
                    self.active = kind;
                    if kind == ControllerKind::Targets {
                        // Silence counts from the switch; stale frames do not replay.
                        self.targets = None;
                        self.targets_at = now;
                        while self.channels.targets.pop().is_some() {}
                    }
                }
                LoopCommand::SetController(_) | LoopCommand::Heartbeat => {}
                LoopCommand::CartesianTarget(target) => self.cartesian.set_target(target),
            }
        }
    }

    fn check_safety(&mut self, now: Timestamp) {
        let (oq, ov) = self.offsets;
        let est = self.estimator.estimate();
        let q = &est.q.as_slice()[oq..];
        let dq = &est.v.as_slice()[ov..];
        let (channels, tick) = (&self.channels, self.tick);
        self.supervisor
            .check(&self.observation, q, dq, now, &mut |e| {
                channels.emit(tick, now.as_nanos(), e)
            });
    }

    /// Work done on entering a state.
    fn enter(&mut self, state: Lifecycle, now: Timestamp) {
        let est = self.estimator.estimate();
        let (oq, _) = self.offsets;
        let q = &est.q.as_slice()[oq..oq + self.n];
        match state {
            Lifecycle::Armed | Lifecycle::Running => {
                // Bumpless start: hold, and follow, from where the robot is.
                self.hold = JointPoint::at_rest(q);
                self.follower.reset(q);
                self.holding = false;
                self.last_planner_message = now;
                self.transfer = None;
                self.supervisor
                    .reset_rate_limit(est.joint_tau.iter().copied());
            }
            Lifecycle::Fault | Lifecycle::Idle => {
                // Stale segments must not replay after recovery.
                while self.channels.segments.pop().is_some() {}
                self.transfer = None;
            }
            Lifecycle::Recovering => self.estimator.reset(),
        }
    }

    fn control(&mut self, now: Timestamp, dt: f64) {
        match self.supervisor.state() {
            Lifecycle::Idle | Lifecycle::Recovering => self.commands.joints.fill(JointCommand::Off),
            Lifecycle::Fault => {
                if self.supervisor.damping() {
                    self.supervisor.damping_commands(&mut self.commands.joints);
                } else {
                    self.commands.joints.fill(JointCommand::Off);
                }
            }
            Lifecycle::Armed => self.run_hold(dt),
            Lifecycle::Running => self.run_controllers(now, dt),
        }
    }

    fn run_hold(&mut self, dt: f64) {
        let input = ControlInput {
            model: &self.model,
            estimate: self.estimator.estimate(),
            reference: &self.hold,
            n: self.n,
        };
        self.joint_pd.update(&input, &mut self.commands.joints);
        self.shape(dt);
    }

    fn run_controllers(&mut self, now: Timestamp, dt: f64) {
        if self.uses_targets() && !self.take_targets(now) {
            // Faulted: damp from this tick on.
            self.supervisor.damping_commands(&mut self.commands.joints);
            return;
        }
        if !self.holding {
            match self.follower.advance(dt, &self.channels.segments) {
                FollowerStatus::Moving => self.last_planner_message = now,
                FollowerStatus::Starved => {
                    // The trajectory ran out mid-motion: the planner missed its deadline.
                    self.holding = true;
                    self.emit(now, EventKind::PlannerStarved);
                }
                FollowerStatus::Rejected(reason) => {
                    self.emit(now, EventKind::SegmentRejected { reason })
                }
                FollowerStatus::Idle => {}
            }
        }
        // Silence: no message and nothing to follow for longer than the timeout.
        let timeout_ms = self.supervisor.config().planner_timeout_ms;
        if !self.holding
            && timeout_ms > 0.0
            && now.nanos_since(self.last_planner_message) as f64 * 1e-6 > timeout_ms
        {
            self.holding = true;
            self.emit(now, EventKind::PlannerSilent);
        }
        let reference = *self.follower.reference();
        let input = ControlInput {
            model: &self.model,
            estimate: self.estimator.estimate(),
            reference: &reference,
            n: self.n,
        };
        let out = &mut self.commands.joints;
        match self.active {
            ControllerKind::JointPd => self.joint_pd.update(&input, out),
            ControllerKind::ComputedTorque => self.computed_torque.update(&input, out),
            ControllerKind::CartesianImpedance => self.cartesian.update(&input, out),
            ControllerKind::Targets => {
                self.joint_pd.update(&input, out);
                if let Some(frame) = &self.targets {
                    frame.apply(out);
                }
            }
        }
        if let Some(transfer) = self.transfer {
            let s = now.nanos_since(transfer.started) as f64 * 1e-9 / self.transfer_s.max(1e-9);
            if s >= 1.0 {
                self.transfer = None;
            } else {
                let fading = &mut self.fading;
                match transfer.from {
                    ControllerKind::JointPd => self.joint_pd.update(&input, fading),
                    ControllerKind::ComputedTorque => self.computed_torque.update(&input, fading),
                    ControllerKind::CartesianImpedance => self.cartesian.update(&input, fading),
                    ControllerKind::Targets => {
                        self.joint_pd.update(&input, fading);
                        if let Some(frame) = &self.targets {
                            frame.apply(fading);
                        }
                    }
                }
                let (oq, ov) = input.offsets();
                let est = input.estimate;
                for (k, (new, old)) in out.iter_mut().zip(fading.iter()).enumerate() {
                    *new = blend(old, new, s, est.q[oq + k], est.v[ov + k]);
                }
            }
        }
        self.shape(dt);
    }

    /// Whether driver targets are in use (active, or fading out).
    fn uses_targets(&self) -> bool {
        self.active == ControllerKind::Targets
            || self
                .transfer
                .is_some_and(|t| t.from == ControllerKind::Targets)
    }

    /// Takes the newest driver targets. False when the loop faulted instead: a frame
    /// with a non-finite value, or silence past the timeout. Real-time safe.
    fn take_targets(&mut self, now: Timestamp) -> bool {
        while let Some(frame) = self.channels.targets.pop() {
            if let Some(joint) = frame.first_non_finite() {
                self.fault(now, Cause::NonFiniteCommand { joint });
                return false;
            }
            self.targets = Some(frame);
            self.targets_at = now;
        }
        let timeout_ms = self.supervisor.config().driver_timeout_ms;
        let silent_ms = now.nanos_since(self.targets_at) as f64 * 1e-6;
        if self.active == ControllerKind::Targets && timeout_ms > 0.0 && silent_ms > timeout_ms {
            self.fault(now, Cause::DriverSilent);
            return false;
        }
        true
    }

    /// Faults the loop for `cause` found while controlling.
    fn fault(&mut self, now: Timestamp, cause: Cause) {
        let (channels, tick) = (&self.channels, self.tick);
        self.supervisor
            .fault(cause, now, &mut |e| channels.emit(tick, now.as_nanos(), e));
        self.enter(Lifecycle::Fault, now);
    }

    /// Applies the supervisor's limits; a non-finite command makes the tick hold instead.
    fn shape(&mut self, dt: f64) {
        let (oq, ov) = self.offsets;
        let est = self.estimator.estimate();
        let q = &est.q.as_slice()[oq..oq + self.n];
        let dq = &est.v.as_slice()[ov..ov + self.n];
        let Some(joint) = self.supervisor.shape(&mut self.commands.joints, q, dq, dt) else {
            self.rejecting = false;
            return;
        };
        let cause = Cause::NonFiniteCommand { joint };
        self.emit(est.stamp, EventKind::CommandRejected { cause });
        // Hold where the robot was when the rejections began.
        if !self.rejecting {
            self.hold = JointPoint::at_rest(q);
        }
        self.rejecting = true;
        let input = ControlInput {
            model: &self.model,
            estimate: est,
            reference: &self.hold,
            n: self.n,
        };
        self.joint_pd.update(&input, &mut self.commands.joints);
        if self
            .supervisor
            .shape(&mut self.commands.joints, q, dq, dt)
            .is_some()
        {
            self.supervisor.damping_commands(&mut self.commands.joints);
        }
    }

    fn publish(&mut self, now: Timestamp) {
        let (oq, ov) = self.offsets;
        let est = self.estimator.estimate();
        let s = &mut self.snapshot;
        s.tick = self.tick;
        s.stamp_ns = now.as_nanos();
        s.lifecycle = self.supervisor.state();
        s.controller = self.active as u8;
        s.holding = self.holding;
        let reference = self.follower.reference();
        for k in 0..self.n {
            let (q, dq) = (est.q[oq + k], est.v[ov + k]);
            s.q[k] = q;
            s.dq[k] = dq;
            s.tau_measured[k] = est.joint_tau[k];
            s.q_ref[k] = reference.q[k];
            s.dq_ref[k] = reference.dq[k];
            s.tau_command[k] = equivalent_torque(&self.commands.joints[k], q, dq);
        }
        if oq == 7 {
            for k in 0..7 {
                s.base_pose[k] = est.q[k];
            }
            for k in 0..6 {
                s.base_velocity[k] = est.v[k];
            }
        }
        s.contacts = est
            .contacts
            .iter()
            .enumerate()
            .fold(0, |bits, (k, &c)| bits | (u64::from(c) << k));
        s.overruns = self.channels.timing.overruns();
        for (force, sample) in s.forces.iter_mut().zip(&self.sensors.force_torque) {
            *force = sample.force_n;
        }
        self.writer.publish(s);
    }

    /// Reports an overrun (called by the runner).
    pub(crate) fn report_overrun(&self, now: Timestamp, missed: u64) {
        self.channels.timing.count_overrun(missed);
        self.emit(now, EventKind::Overrun { missed });
    }

    /// The timing store shared with the client.
    pub(crate) fn timing(&self) -> &crate::timing::LoopTiming {
        &self.channels.timing
    }
}
