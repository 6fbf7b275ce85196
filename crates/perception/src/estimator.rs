//! The loop's state estimator: one call per tick turns a [`SensorFrame`] into a
//! [`StateEstimate`] in the model's own coordinates (`q`, `v` as Pinocchio lays them out,
//! the free-flyer first for a floating-base robot), so controllers can run the model's
//! algorithms on it directly. Stages: sensor health (staleness, outlier rejection) →
//! joint velocity observer → IMU attitude → contacts → leg odometry. Real-time safe:
//! `update` never allocates.

use nalgebra::{DVector, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use embody_hal::{Capabilities, FaultBits, SensorFrame, Timestamp};
use embody_model::Model;

use crate::EstimatorError;
use crate::attitude::{AttitudeConfig, AttitudeFilter};
use crate::base::{BaseConfig, BaseEstimator, BaseInputs};
use crate::contact::{ContactConfig, ContactDetector};
use crate::health::{HealthConfig, HealthReport, SensorHealth};
use crate::joint_velocity::{JointVelocityConfig, JointVelocityObserver};

/// Settings of every estimation stage; each section has its own defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EstimatorConfig {
    /// IMU attitude filter.
    pub attitude: AttitudeConfig,
    /// Joint velocity observer.
    pub joint_velocity: JointVelocityConfig,
    /// Foot contact detection.
    pub contact: ContactConfig,
    /// Staleness and outlier thresholds.
    pub health: HealthConfig,
    /// Floating-base estimation (ignored for fixed-base robots).
    pub base: BaseConfig,
}

/// The estimated state, in the model's coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct StateEstimate {
    /// Time of the tick that produced it.
    pub stamp: Timestamp,
    /// Configuration (nq): free-flyer `[x y z qx qy qz qw]` first when floating.
    pub q: DVector<f64>,
    /// Velocity (nv): base linear and angular velocity in the base frame first.
    pub v: DVector<f64>,
    /// Measured joint torques (N·m), in joint order.
    pub joint_tau: Vec<f64>,
    /// The union of every joint's fault bits.
    pub joint_faults: FaultBits,
    /// Per-foot contact, in [`BaseConfig::feet`] order (empty for a fixed base).
    pub contacts: Vec<bool>,
    /// Sensor health.
    pub health: HealthReport,
    /// Base orientation in the world (identity for a fixed base).
    pub world_from_base: UnitQuaternion<f64>,
}

struct Floating {
    attitude: AttitudeFilter,
    base_from_imu: UnitQuaternion<f64>,
    base: BaseEstimator,
    contacts: Vec<ContactDetector>,
    /// Index into the frame's force-torque samples of each foot's sensor, if it has one.
    foot_sensor: Vec<Option<usize>>,
}

/// Runs every estimation stage. See the module docs.
pub struct StateEstimator {
    config: EstimatorConfig,
    health: SensorHealth,
    velocity: JointVelocityObserver,
    floating: Option<Floating>,
    offset_q: usize,
    offset_v: usize,
    last_tick: Option<Timestamp>,
    /// The sequence number and measurement time of the last frame the velocity
    /// observer took: a frame read again is no new measurement.
    last_sample: Option<(u64, Timestamp)>,
    estimate: StateEstimate,
}

impl StateEstimator {
    /// An estimator for `model` driven through a robot with `caps`. The robot's joints
    /// must be the model's actuated joints in model order; a floating-base model needs an
    /// IMU mounted on the base.
    pub fn new(
        model: &Model,
        caps: &Capabilities,
        config: EstimatorConfig,
    ) -> Result<StateEstimator, EstimatorError> {
        let actuated: Vec<_> = model.actuated_joints().collect();
        if actuated.len() != caps.joints.len() {
            return Err(EstimatorError::JointCount {
                model: actuated.len(),
                robot: caps.joints.len(),
            });
        }
        for (id, info) in actuated.iter().zip(&caps.joints) {
            if model.joints[id.0].name != info.name {
                return Err(EstimatorError::JointMismatch {
                    model: model.joints[id.0].name.clone(),
                    robot: info.name.clone(),
                });
            }
        }
        let velocity_limit: Vec<f64> = actuated
            .iter()
            .map(|j| model.joints[j.0].limits.velocity)
            .collect();
        let floating = match model.free_flyer() {
            None => None,
            Some(root) => Some(Self::floating(model, caps, &config, root)?),
        };
        let (offset_q, offset_v) = if floating.is_some() { (7, 6) } else { (0, 0) };
        let n = caps.joints.len();
        let contacts = floating.as_ref().map_or(0, |f| f.contacts.len());
        Ok(StateEstimator {
            health: SensorHealth::new(&velocity_limit, config.health),
            velocity: JointVelocityObserver::new(n, config.joint_velocity),
            floating,
            offset_q,
            offset_v,
            last_tick: None,
            last_sample: None,
            estimate: StateEstimate {
                stamp: Timestamp::ZERO,
                q: model.neutral_configuration(),
                v: DVector::zeros(model.nv),
                joint_tau: vec![0.0; n],
                joint_faults: FaultBits::NONE,
                contacts: vec![false; contacts],
                health: HealthReport::default(),
                world_from_base: UnitQuaternion::identity(),
            },
            config,
        })
    }

    fn floating(
        model: &Model,
        caps: &Capabilities,
        config: &EstimatorConfig,
        root: embody_model::JointId,
    ) -> Result<Floating, EstimatorError> {
        let imu_name = caps.imu_frame.as_ref().ok_or(EstimatorError::NoImu)?;
        let imu = model
            .frame_id(imu_name)
            .ok_or_else(|| EstimatorError::UnknownFrame {
                role: "IMU",
                name: imu_name.clone(),
            })?;
        let frame = &model.frames[imu.0];
        if frame.joint != root {
            return Err(EstimatorError::ImuNotOnBase(imu_name.clone()));
        }
        let base_from_imu = UnitQuaternion::from_matrix(&frame.placement.rotation);
        let base = BaseEstimator::new(model, config.base.clone())?;
        let foot_sensor = config
            .base
            .feet
            .iter()
            .map(|foot| caps.force_torque.iter().position(|ft| &ft.frame == foot))
            .collect::<Vec<_>>();
        Ok(Floating {
            attitude: AttitudeFilter::new(config.attitude),
            base_from_imu,
            base,
            contacts: vec![ContactDetector::default(); foot_sensor.len()],
            foot_sensor,
        })
    }

    /// The latest estimate.
    pub fn estimate(&self) -> &StateEstimate {
        &self.estimate
    }

    /// Restarts every filter from the next frame (after a fault or a long gap).
    pub fn reset(&mut self) {
        self.last_tick = None;
        self.last_sample = None;
        self.velocity.reset();
        if let Some(f) = self.floating.as_mut() {
            f.attitude.reset();
        }
    }

    /// Takes the frame read at tick time `now`.
    pub fn update(&mut self, model: &Model, frame: &SensorFrame, now: Timestamp) -> &StateEstimate {
        let dt = self
            .last_tick
            .map_or(0.0, |t| now.nanos_since(t).max(0) as f64 * 1e-9);
        self.last_tick = Some(now);
        let est = &mut self.estimate;
        est.stamp = now;
        est.health = *self.health.check(frame, now, dt);
        let accepted = self.health.accepted_positions();
        // The observer corrects on new samples only, over the time between their
        // measurements: a frame read again (nothing came this tick) is not the joint
        // standing still, and a sample that waited while the loop was held up (its
        // measurement older than the tick) is not a jump in velocity when the next,
        // fresh one follows.
        if self.last_sample.is_none_or(|(seq, _)| seq != frame.seq) {
            let since = self
                .last_sample
                .map_or(0.0, |(_, t)| frame.stamp.nanos_since(t) as f64 * 1e-9);
            self.last_sample = Some((frame.seq, frame.stamp));
            self.velocity.update(accepted.iter().copied(), since);
        }
        let n = accepted.len();
        est.q.rows_mut(self.offset_q, n).copy_from_slice(accepted);
        est.v
            .rows_mut(self.offset_v, n)
            .copy_from_slice(self.velocity.velocities());
        est.joint_faults = FaultBits::NONE;
        for (tau, state) in est.joint_tau.iter_mut().zip(&frame.joints) {
            *tau = state.tau;
            est.joint_faults = est.joint_faults.union(state.faults);
        }
        if let Some(f) = self.floating.as_mut() {
            Self::update_base(
                f,
                &self.config,
                model,
                frame,
                est,
                dt,
                self.offset_q,
                self.offset_v,
            );
        }
        &self.estimate
    }

    #[allow(clippy::too_many_arguments)]
    fn update_base(
        f: &mut Floating,
        config: &EstimatorConfig,
        model: &Model,
        frame: &SensorFrame,
        est: &mut StateEstimate,
        dt: f64,
        offset_q: usize,
        offset_v: usize,
    ) {
        let (mut gyro, mut accel) = (Vector3::zeros(), Vector3::new(0.0, 0.0, 9.81));
        if let Some(imu) = frame
            .imu
            .as_ref()
            .filter(|_| !est.health.imu_outlier_now && !est.health.imu_stale)
        {
            gyro = Vector3::from(imu.angular_velocity_radps);
            accel = Vector3::from(imu.linear_acceleration_mps2);
            f.attitude.update(gyro, accel, dt);
            gyro = f.attitude.angular_velocity_radps();
        }
        let world_from_base = f.attitude.world_from_imu() * f.base_from_imu.inverse();
        let omega_base = f.base_from_imu * gyro;
        let force_base = f.base_from_imu * accel;
        let joint_q = &est.q.as_slice()[offset_q..];
        let joint_dq = &est.v.as_slice()[offset_v..];
        let mut inputs = BaseInputs {
            joint_q,
            joint_dq,
            world_from_base,
            angular_velocity_base_radps: omega_base,
            specific_force_base_mps2: force_base,
            contacts: &[],
            dt_s: dt,
        };
        f.base.leg_kinematics(model, &inputs);
        for (k, detector) in f.contacts.iter_mut().enumerate() {
            est.contacts[k] = match f.foot_sensor[k].and_then(|s| frame.force_torque.get(s)) {
                Some(ft) => detector.update_force(&config.contact, ft.force_n[2]),
                None => {
                    let foot = &f.base.feet()[k];
                    detector.update_kinematic(&config.contact, foot.height_m, foot.speed_mps)
                }
            };
        }
        inputs.contacts = &est.contacts;
        f.base.update(&inputs);
        let p = f.base.position_world_m();
        let c = world_from_base.coords;
        est.world_from_base = world_from_base;
        est.q.as_mut_slice()[..7].copy_from_slice(&[p.x, p.y, p.z, c.x, c.y, c.z, c.w]);
        let v = f.base.velocity_base_mps();
        est.v.as_mut_slice()[..6].copy_from_slice(&[
            v.x,
            v.y,
            v.z,
            omega_base.x,
            omega_base.y,
            omega_base.z,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_hal::{CommandFrame, JointCommand, MockRobot, Robot};
    use embody_model::robots;

    #[test]
    fn a_standing_mock_humanoid_is_estimated_level_at_rest_on_both_feet() {
        let model = robots::load("humanoid", None).expect("humanoid");
        let fixed = robots::load("humanoid", Some(false)).expect("humanoid");
        let mut robot = MockRobot::new(&fixed)
            .with_imu("imu_link")
            .with_stance_sensors(&["left_sole", "right_sole"], 490.0);
        let mut estimator =
            StateEstimator::new(&model, robot.capabilities(), EstimatorConfig::default())
                .expect("estimator");
        let mut frame = SensorFrame::for_robot(robot.capabilities());
        let mut commands = CommandFrame::new(robot.capabilities().joints.len());
        commands.joints.fill(JointCommand::Position { q: 0.0 });
        for tick in 0..500u64 {
            let now = Timestamp::from_nanos(tick * 1_000_000);
            robot.read(now, &mut frame).expect("reads");
            estimator.update(&model, &frame, now);
            robot.write(now, &commands).expect("writes");
        }
        let est = estimator.estimate();
        assert_eq!(est.contacts, vec![true, true]);
        // The pinned base is at rest; the legs are still settling under their servos,
        // so the base velocity from leg odometry is small but not zero.
        assert!(est.v.rows(0, 6).norm() < 2e-3, "at rest, v = {}", est.v);
        for (k, state) in frame.joints.iter().enumerate() {
            assert!((est.v[6 + k] - state.dq).abs() < 1e-2, "joint {k}");
        }
        assert!(est.world_from_base.angle() < 1e-6);
        // Standing straight, the soles are a leg's length below the pelvis.
        let mut data = embody_model::Data::new(&model);
        embody_model::frame_placements(&model, &mut data, est.q.as_slice());
        let sole = model.frame_id("left_sole").expect("sole");
        let z = data.world_from_frame[sole.0].translation.z;
        assert!(z.abs() < 1e-3, "left sole at z = {z}");
    }

    /// arm7's joints all turn at 0.05 rad/s; the loop ticks every 1 ms and gets
    /// `sample(tick)`: the frame's sequence number and measurement time (ms), or `None`
    /// when nothing came (the last frame is read again). The velocity must stay 0.05.
    fn velocity_through(sample: impl Fn(u64) -> Option<(u64, u64)>) {
        let model = robots::load("arm7", None).expect("arm7");
        let caps = MockRobot::new(&model).capabilities().clone();
        let mut estimator =
            StateEstimator::new(&model, &caps, EstimatorConfig::default()).expect("estimator");
        let mut frame = SensorFrame::for_robot(&caps);
        for tick in 0..400u64 {
            if let Some((seq, measured_ms)) = sample(tick) {
                frame.seq = seq;
                frame.stamp = Timestamp::from_nanos(measured_ms * 1_000_000);
                for joint in &mut frame.joints {
                    joint.q = 0.05 * measured_ms as f64 * 1e-3;
                }
            }
            let est = estimator.update(&model, &frame, Timestamp::from_nanos(tick * 1_000_000));
            if tick > 100 {
                for v in est.v.iter() {
                    assert!((v - 0.05).abs() < 1e-6, "tick {tick}: v = {v}");
                }
            }
        }
    }

    #[test]
    fn frames_that_did_not_come_are_no_measurement_of_the_joints_velocity() {
        // For 30 ticks nothing comes over the link; then the next frame, 30 ms of motion
        // later. The held frame is not the joint standing still, the catch-up no jump.
        velocity_through(|tick| (!(200..230).contains(&tick)).then_some((tick, tick)));
    }

    #[test]
    fn a_sample_that_waited_out_a_stall_counts_from_when_it_was_measured() {
        // The loop is held up for 20 ms after tick 200: the sample it then reads was
        // measured before the stall (as a reply to the last poll is), the next one after.
        velocity_through(|tick| match tick {
            201..220 => None,
            220 => Some((tick, 200)),
            _ => Some((tick, tick.saturating_sub(1))),
        });
    }

    #[test]
    fn mismatched_robots_are_rejected_with_the_reason() {
        let model = robots::load("humanoid", None).expect("humanoid");
        let arm = robots::load("arm7", None).expect("arm7");
        let caps = MockRobot::new(&arm).capabilities().clone();
        let err = StateEstimator::new(&model, &caps, EstimatorConfig::default()).err();
        assert!(matches!(
            err,
            Some(EstimatorError::JointCount {
                model: 29,
                robot: 8
            })
        ));
        let fixed = robots::load("humanoid", Some(false)).expect("humanoid");
        let caps = MockRobot::new(&fixed).capabilities().clone();
        let err = StateEstimator::new(&model, &caps, EstimatorConfig::default()).err();
        assert!(matches!(err, Some(EstimatorError::NoImu)));
    }
}
