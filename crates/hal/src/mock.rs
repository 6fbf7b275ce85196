//! [`MockRobot`]: the in-process backend that ships with the interface. It integrates the
//! robot's rigid-body dynamics (ABA from embody-model, gravity, joint damping and
//! Coulomb friction, hard stops) under actuators that obey every [`JointCommand`] mode, so controllers are tested
//! against real physics without a simulator. A floating-base robot is mocked with its base
//! pinned: pass the fixed-base model. Faults are injected from another thread through
//! [`MockFaults`]. Real-time safe: `read` and `write` never allocate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nalgebra::DVector;

use embody_model::{Data, JointId, Model, aba};

use crate::clock::Timestamp;
use crate::command::{CommandFrame, CommandModes, JointCommand};
use crate::faults::FaultSwitches;
use crate::robot::{Capabilities, ForceTorqueInfo, HalError, LinkHealth, Robot};
use crate::sensor::{ForceTorqueSample, ImuSample, JointState, SensorFrame};

/// Longest physics step (s): 10 kHz, the rate of an actuator's current loop; longer
/// intervals between reads are substepped.
const MAX_STEP_S: f64 = 0.0001;

/// Faults to inject into a running [`MockRobot`]; clones share the same switches. The
/// common ones ([`FaultSwitches`]) are reached through it; the encoder spike is its own.
#[derive(Clone, Debug)]
pub struct MockFaults {
    inner: Arc<MockSwitches>,
}

#[derive(Debug)]
struct MockSwitches {
    common: FaultSwitches,
    /// Joint index whose encoder reads a spike of 1 rad (`u64::MAX`: none).
    spike: AtomicU64,
}

impl std::ops::Deref for MockFaults {
    type Target = FaultSwitches;

    fn deref(&self) -> &FaultSwitches {
        &self.inner.common
    }
}

impl MockFaults {
    fn new(njoints: usize) -> MockFaults {
        MockFaults {
            inner: Arc::new(MockSwitches {
                common: FaultSwitches::new(njoints),
                spike: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// Joint `joint`'s encoder reads 1 rad too high until cleared with `None`.
    pub fn set_encoder_spike(&self, joint: Option<usize>) {
        let value = joint.map_or(u64::MAX, |j| j as u64);
        self.inner.spike.store(value, Ordering::Release);
    }
}

/// Coulomb friction is regularised below this speed (rad/s), as a real gearbox's
/// stiction blends into sliding.
const COULOMB_SMOOTHING_RADPS: f64 = 0.05;

/// Gains of the mock actuators' own position and velocity loops, per unit of the joint's
/// effort limit: `kp = POSITION_KP_PER_NM · effort`.
const POSITION_KP_PER_NM: f64 = 4.0;
const POSITION_KD_PER_NM: f64 = 0.1;
const VELOCITY_KD_PER_NM: f64 = 0.5;

/// An in-process robot with real rigid-body dynamics. See the module docs.
#[derive(Debug)]
pub struct MockRobot {
    model: Model,
    data: Data,
    caps: Capabilities,
    joints: Vec<JointId>,
    q: DVector<f64>,
    v: DVector<f64>,
    tau: DVector<f64>,
    commands: Vec<JointCommand>,
    applied: Vec<f64>,
    last_time: Option<Timestamp>,
    seq: u64,
    health: LinkHealth,
    faults: MockFaults,
    stance_force_n: f64,
}

impl MockRobot {
    /// A mock of `model` at its neutral configuration, at rest, every joint off. For a
    /// floating-base robot pass the fixed-base model: the base is pinned.
    pub fn new(model: &Model) -> MockRobot {
        let caps = Capabilities::from_model(model, CommandModes::ALL);
        let joints: Vec<JointId> = model.actuated_joints().collect();
        let n = joints.len();
        MockRobot {
            data: Data::new(model),
            caps,
            q: model.neutral_configuration(),
            v: DVector::zeros(model.nv),
            tau: DVector::zeros(model.nv),
            commands: vec![JointCommand::Off; n],
            applied: vec![0.0; n],
            joints,
            last_time: None,
            seq: 0,
            health: LinkHealth::default(),
            faults: MockFaults::new(n),
            stance_force_n: 0.0,
            model: model.clone(),
        }
    }

    /// Adds an IMU mounted in `frame`. The pinned base is at rest and level, so it reads
    /// zero angular velocity and a specific force of `+g` along the world's z axis.
    pub fn with_imu(mut self, frame: &str) -> MockRobot {
        self.caps.imu_frame = Some(frame.to_owned());
        self
    }

    /// Adds force-torque sensors at `frames` (e.g. the soles) sharing `total_force_n`
    /// of normal load equally, as when the robot stands.
    pub fn with_stance_sensors(mut self, frames: &[&str], total_force_n: f64) -> MockRobot {
        self.caps.force_torque = frames
            .iter()
            .map(|f| ForceTorqueInfo {
                name: (*f).to_owned(),
                frame: (*f).to_owned(),
            })
            .collect();
        self.stance_force_n = total_force_n / frames.len().max(1) as f64;
        self
    }

    /// Sets the joint positions (rad), in joint order; extra values are ignored.
    pub fn set_joint_positions(&mut self, q: &[f64]) {
        for (j, &value) in self.joints.iter().zip(q) {
            self.q[self.model.joints[j.0].idx_q] = value;
        }
    }

    /// The switches that inject faults into this robot.
    pub fn faults(&self) -> MockFaults {
        self.faults.clone()
    }

    fn actuator_torque(&self, k: usize) -> f64 {
        let joint = &self.model.joints[self.joints[k].0];
        let (q, dq) = (self.q[joint.idx_q], self.v[joint.idx_v]);
        let effort = joint.limits.effort.min(1e4);
        let tau = match self.commands[k] {
            JointCommand::Off => 0.0,
            JointCommand::Position { q: target } => {
                effort * (POSITION_KP_PER_NM * (target - q) - POSITION_KD_PER_NM * dq)
            }
            JointCommand::Velocity { dq: target } => effort * VELOCITY_KD_PER_NM * (target - dq),
            JointCommand::Torque { tau } => tau,
            JointCommand::Impedance {
                q: target,
                dq: target_dq,
                kp,
                kd,
                tau_ff,
            } => kp * (target - q) + kd * (target_dq - dq) + tau_ff,
        };
        tau.clamp(-effort, effort)
    }

    fn step(&mut self, dt: f64) {
        self.tau.fill(0.0);
        for k in 0..self.joints.len() {
            let tau = self.actuator_torque(k);
            self.applied[k] = tau;
            let joint = &self.model.joints[self.joints[k].0];
            let v = self.v[joint.idx_v];
            let friction =
                joint.damping * v + joint.friction * (v / COULOMB_SMOOTHING_RADPS).tanh();
            self.tau[joint.idx_v] = tau - friction;
        }
        let ddq = aba(
            &self.model,
            &mut self.data,
            self.q.as_slice(),
            self.v.as_slice(),
            self.tau.as_slice(),
        );
        for &j in &self.joints {
            let joint = &self.model.joints[j.0];
            let (iq, iv) = (joint.idx_q, joint.idx_v);
            self.v[iv] += ddq[iv] * dt;
            self.q[iq] += self.v[iv] * dt;
            // Hard stops: the joint stops dead at its limits.
            let (lower, upper) = (joint.limits.lower, joint.limits.upper);
            if self.q[iq] < lower || self.q[iq] > upper {
                self.q[iq] = self.q[iq].clamp(lower, upper);
                self.v[iv] = 0.0;
            }
        }
    }

    fn advance_to(&mut self, now: Timestamp) {
        let last = *self.last_time.get_or_insert(now);
        let mut remaining = now.nanos_since(last).max(0) as f64 * 1e-9;
        self.last_time = Some(now);
        while remaining > 0.0 {
            let dt = remaining.min(MAX_STEP_S);
            self.step(dt);
            remaining -= dt;
        }
    }

    fn fill(&self, now: Timestamp, frame: &mut SensorFrame) {
        let faults = &self.faults;
        frame.stamp = now;
        frame.seq = self.seq;
        let spike = faults.inner.spike.load(Ordering::Acquire);
        for (k, state) in frame.joints.iter_mut().enumerate() {
            let joint = &self.model.joints[self.joints[k].0];
            *state = JointState {
                q: self.q[joint.idx_q] + if spike == k as u64 { 1.0 } else { 0.0 },
                dq: self.v[joint.idx_v],
                tau: self.applied[k],
                temperature_c: 30.0 + 0.02 * self.applied[k].abs(),
                faults: faults.joint_faults(k),
            };
        }
        if let Some(imu) = frame.imu.as_mut()
            && !faults.imu_dropout()
        {
            *imu = ImuSample {
                stamp: now,
                angular_velocity_radps: [0.0; 3],
                linear_acceleration_mps2: [0.0, 0.0, -self.model.gravity.z],
            };
        }
        for ft in frame.force_torque.iter_mut() {
            *ft = ForceTorqueSample {
                stamp: now,
                force_n: [0.0, 0.0, self.stance_force_n],
                torque_nm: [0.0; 3],
            };
        }
        frame.estop = faults.estop();
    }
}

impl Robot for MockRobot {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn read(&mut self, now: Timestamp, frame: &mut SensorFrame) -> Result<(), HalError> {
        self.advance_to(now);
        if self.faults.link_down() {
            self.health.connected = false;
            self.health.timeouts += 1;
            return Err(HalError::LinkDown);
        }
        HalError::check_joint_count(self.joints.len(), frame.joints.len())?;
        self.health.connected = true;
        self.health.frames_ok += 1;
        self.health.last_rx = now;
        if !self.faults.frozen() {
            self.seq += 1;
            self.fill(now, frame);
        }
        Ok(())
    }

    fn write(&mut self, _now: Timestamp, frame: &CommandFrame) -> Result<(), HalError> {
        if self.faults.link_down() {
            return Err(HalError::LinkDown);
        }
        HalError::check_joint_count(self.commands.len(), frame.joints.len())?;
        self.commands.copy_from_slice(&frame.joints);
        Ok(())
    }

    fn link_health(&self) -> LinkHealth {
        self.health
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::FaultBits;
    use embody_model::robots;

    fn run(robot: &mut MockRobot, commands: &CommandFrame, seconds: f64) -> SensorFrame {
        let mut frame = SensorFrame::for_robot(robot.capabilities());
        let ticks = (seconds * 1000.0) as u64;
        for tick in 0..=ticks {
            let now = Timestamp::from_nanos(tick * 1_000_000);
            robot.read(now, &mut frame).expect("reads");
            robot.write(now, commands).expect("writes");
        }
        frame
    }

    #[test]
    fn an_unpowered_arm_falls_under_gravity_and_stops_at_its_limits() {
        let model = robots::load("arm7", None).expect("arm7");
        let mut robot = MockRobot::new(&model);
        // Tilt the shoulder so gravity has a lever arm.
        robot.set_joint_positions(&[0.0, 0.3]);
        let off = CommandFrame::new(robot.joints.len());
        let frame = run(&mut robot, &off, 2.0);
        let shoulder = model.joints[robot.joints[1].0].limits;
        assert!(
            (frame.joints[1].q - shoulder.upper).abs() < 1e-9,
            "shoulder at {} should rest on its upper stop {}",
            frame.joints[1].q,
            shoulder.upper
        );
    }

    #[test]
    fn impedance_with_gravity_feed_forward_holds_exactly() {
        let model = robots::load("arm7", None).expect("arm7");
        let mut robot = MockRobot::new(&model);
        let target = [0.2, 0.5, -0.3, -1.0, 0.4, 0.6, 0.1, 0.02];
        robot.set_joint_positions(&target);
        let mut data = Data::new(&model);
        let g = embody_model::gravity_torques(&model, &mut data, &target).clone();
        let mut commands = CommandFrame::new(robot.joints.len());
        for (k, c) in commands.joints.iter_mut().enumerate() {
            *c = JointCommand::Impedance {
                q: target[k],
                dq: 0.0,
                kp: 0.0,
                kd: 1.0,
                tau_ff: g[k],
            };
        }
        let frame = run(&mut robot, &commands, 1.0);
        for (k, state) in frame.joints.iter().enumerate() {
            assert!(
                (state.q - target[k]).abs() < 1e-6,
                "joint {k} drifted to {}",
                state.q
            );
        }
    }

    #[test]
    fn injected_faults_show_in_the_frames() {
        let model = robots::load("humanoid", Some(false)).expect("humanoid");
        let mut robot = MockRobot::new(&model)
            .with_imu("imu_link")
            .with_stance_sensors(&["left_sole", "right_sole"], 490.0);
        let faults = robot.faults();
        let mut frame = SensorFrame::for_robot(robot.capabilities());
        robot
            .read(Timestamp::from_nanos(0), &mut frame)
            .expect("reads");
        assert_eq!(frame.force_torque[1].force_n[2], 245.0);
        assert_eq!(frame.imu.map(|s| s.linear_acceleration_mps2[2]), Some(9.81));
        faults.set_joint_faults(3, FaultBits::OVER_CURRENT);
        faults.set_estop(true);
        robot
            .read(Timestamp::from_nanos(1_000_000), &mut frame)
            .expect("reads");
        assert_eq!(frame.joints[3].faults, FaultBits::OVER_CURRENT);
        assert!(frame.estop);
        faults.set_frozen(true);
        let seq = frame.seq;
        robot
            .read(Timestamp::from_nanos(2_000_000), &mut frame)
            .expect("reads");
        assert_eq!(frame.seq, seq);
        faults.set_link_down(true);
        assert_eq!(
            robot.read(Timestamp::from_nanos(3_000_000), &mut frame),
            Err(HalError::LinkDown)
        );
        assert!(!robot.link_health().connected);
        let wrong = CommandFrame::new(3);
        faults.set_link_down(false);
        assert!(matches!(
            robot.write(Timestamp::from_nanos(3_000_000), &wrong),
            Err(HalError::JointCount { got: 3, .. })
        ));
    }
}
