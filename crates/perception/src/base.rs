//! Floating-base state from leg kinematics and the IMU (leg odometry).
//!
//! A foot in contact does not move, so the base's linear velocity follows from the joint
//! motion of that leg: with `p` the foot's position and `J·dq` its velocity relative to
//! the base, both in the base frame, `v_base = −(ω × p + J·dq)`. Between contacts (and to
//! smooth the encoders' noise) the velocity is propagated with the accelerometer,
//! `v̇ = a − ω × v`, and pulled towards the kinematic value with a first-order
//! correction. Position follows from each stance foot's anchor on the ground. Orientation
//! and angular velocity come from the attitude filter, rotated from the IMU's mount into
//! the base frame (the lever arm of an IMU offset from the base origin is neglected).
//! Velocities are in the base frame, as Pinocchio's free-flyer expects. Allocation-free
//! after `new`.

use nalgebra::{DMatrix, DVector, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use embody_model::{
    Data, FrameId, Model, ReferenceFrame, compute_joint_jacobians, frame_jacobian,
    update_frame_placements,
};

use crate::EstimatorError;

/// Settings of the floating-base estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseConfig {
    /// Frames of the feet's contact points (soles). Default `["left_sole", "right_sole"]`.
    pub feet: Vec<String>,
    /// Bandwidth of the kinematic velocity correction (Hz). Default 15.
    pub velocity_correction_hz: f64,
    /// Bandwidth of the kinematic position correction (Hz). Default 5.
    pub position_correction_hz: f64,
}

impl Default for BaseConfig {
    fn default() -> Self {
        BaseConfig {
            feet: vec!["left_sole".into(), "right_sole".into()],
            velocity_correction_hz: 15.0,
            position_correction_hz: 5.0,
        }
    }
}

/// What one leg's kinematics say this tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FootKinematics {
    /// Foot position in the base frame (m).
    pub position_base_m: Vector3<f64>,
    /// Base linear velocity in the base frame if this foot is stationary (m/s).
    pub base_velocity_if_stance_mps: Vector3<f64>,
    /// Foot height above the ground in the current estimate (m).
    pub height_m: f64,
    /// Foot speed in the world under the current base velocity estimate (m/s).
    pub speed_mps: f64,
}

/// Inputs of one estimator step.
#[derive(Clone, Copy, Debug)]
pub struct BaseInputs<'a> {
    /// Actuated joint positions (rad), in joint order.
    pub joint_q: &'a [f64],
    /// Actuated joint velocities (rad/s).
    pub joint_dq: &'a [f64],
    /// Base orientation in the world.
    pub world_from_base: UnitQuaternion<f64>,
    /// Base angular velocity in the base frame (rad/s).
    pub angular_velocity_base_radps: Vector3<f64>,
    /// Accelerometer specific force in the base frame (m/s²).
    pub specific_force_base_mps2: Vector3<f64>,
    /// Contact state per foot, in [`BaseConfig::feet`] order.
    pub contacts: &'a [bool],
    /// Time since the previous step (s).
    pub dt_s: f64,
}

/// Leg-odometry estimator of the floating base. See the module docs.
#[derive(Clone, Debug)]
pub struct BaseEstimator {
    config: BaseConfig,
    feet: Vec<FrameId>,
    data: Data,
    /// Configuration with the base at the origin, for base-frame leg kinematics.
    q_base_frame: DVector<f64>,
    jacobian: DMatrix<f64>,
    kinematics: Vec<FootKinematics>,
    anchors: Vec<Option<Vector3<f64>>>,
    position_world_m: Vector3<f64>,
    velocity_base_mps: Vector3<f64>,
    initialised: bool,
}

impl BaseEstimator {
    /// An estimator for the floating-base `model`.
    pub fn new(model: &Model, config: BaseConfig) -> Result<BaseEstimator, EstimatorError> {
        if model.free_flyer().is_none() {
            return Err(EstimatorError::NotFloating);
        }
        let feet = config
            .feet
            .iter()
            .map(|name| {
                model
                    .frame_id(name)
                    .ok_or_else(|| EstimatorError::UnknownFrame {
                        role: "foot",
                        name: name.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = feet.len();
        Ok(BaseEstimator {
            feet,
            data: Data::new(model),
            q_base_frame: model.neutral_configuration(),
            jacobian: DMatrix::zeros(6, model.nv),
            kinematics: vec![FootKinematics::default(); n],
            anchors: vec![None; n],
            position_world_m: Vector3::zeros(),
            velocity_base_mps: Vector3::zeros(),
            initialised: false,
            config,
        })
    }

    /// Base position in the world (m).
    pub fn position_world_m(&self) -> Vector3<f64> {
        self.position_world_m
    }

    /// Base linear velocity in the base frame (m/s).
    pub fn velocity_base_mps(&self) -> Vector3<f64> {
        self.velocity_base_mps
    }

    /// Per-foot kinematics of the last step, in [`BaseConfig::feet`] order.
    pub fn feet(&self) -> &[FootKinematics] {
        &self.kinematics
    }

    /// Computes each foot's position and stance velocity without updating the estimate.
    pub fn leg_kinematics(&mut self, model: &Model, inputs: &BaseInputs<'_>) {
        let nq_base = 7;
        self.q_base_frame
            .rows_mut(nq_base, inputs.joint_q.len())
            .copy_from_slice(inputs.joint_q);
        compute_joint_jacobians(model, &mut self.data, self.q_base_frame.as_slice());
        update_frame_placements(model, &mut self.data);
        let omega = inputs.angular_velocity_base_radps;
        let rotation = inputs.world_from_base;
        for (k, &foot) in self.feet.iter().enumerate() {
            frame_jacobian(
                model,
                &self.data,
                foot,
                ReferenceFrame::LocalWorldAligned,
                &mut self.jacobian,
            );
            let p = self.data.world_from_frame[foot.0].translation;
            let mut relative = Vector3::zeros();
            for (j, &dq) in inputs.joint_dq.iter().enumerate() {
                let col = self.jacobian.column(6 + j);
                relative += Vector3::new(col[0], col[1], col[2]) * dq;
            }
            let stance = -(omega.cross(&p) + relative);
            let world_velocity = rotation * (self.velocity_base_mps - stance);
            self.kinematics[k] = FootKinematics {
                position_base_m: p,
                base_velocity_if_stance_mps: stance,
                height_m: self.position_world_m.z + (rotation * p).z,
                speed_mps: world_velocity.norm(),
            };
        }
    }

    /// One estimator step; call [`BaseEstimator::leg_kinematics`] first with the same
    /// inputs.
    pub fn update(&mut self, inputs: &BaseInputs<'_>) {
        let rotation = inputs.world_from_base;
        if !self.initialised {
            // Start at rest with the lowest foot on the ground at the origin.
            let lowest = self
                .kinematics
                .iter()
                .map(|f| (rotation * f.position_base_m).z)
                .fold(f64::INFINITY, f64::min);
            self.position_world_m =
                Vector3::new(0.0, 0.0, if lowest.is_finite() { -lowest } else { 0.0 });
            self.velocity_base_mps = Vector3::zeros();
            self.initialised = true;
        }
        let dt = inputs.dt_s.max(0.0);
        let omega = inputs.angular_velocity_base_radps;
        // Propagate with the accelerometer: a = f + Rᵀ g.
        let gravity_base = rotation.inverse_transform_vector(&Vector3::new(0.0, 0.0, -9.81));
        let accel = inputs.specific_force_base_mps2 + gravity_base;
        if accel.iter().all(|x| x.is_finite()) {
            self.velocity_base_mps += (accel - omega.cross(&self.velocity_base_mps)) * dt;
        }
        // Correct towards the stance legs' kinematics.
        let (mut v_sum, mut p_sum, mut stance) = (Vector3::zeros(), Vector3::zeros(), 0.0);
        for (k, foot) in self.kinematics.iter().enumerate() {
            let in_contact = inputs.contacts.get(k).copied().unwrap_or(false);
            if !in_contact {
                self.anchors[k] = None;
                continue;
            }
            let foot_world = self.position_world_m + rotation * foot.position_base_m;
            let anchor = *self.anchors[k].get_or_insert(foot_world);
            v_sum += foot.base_velocity_if_stance_mps;
            p_sum += anchor - rotation * foot.position_base_m;
            stance += 1.0;
        }
        let world_velocity_before = rotation * self.velocity_base_mps;
        if stance > 0.0 {
            let gain =
                (2.0 * std::f64::consts::PI * self.config.velocity_correction_hz * dt).min(1.0);
            self.velocity_base_mps += gain * (v_sum / stance - self.velocity_base_mps);
        }
        let world_velocity = 0.5 * (world_velocity_before + rotation * self.velocity_base_mps);
        self.position_world_m += world_velocity * dt;
        if stance > 0.0 {
            let gain =
                (2.0 * std::f64::consts::PI * self.config.position_correction_hz * dt).min(1.0);
            self.position_world_m += gain * (p_sum / stance - self.position_world_m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_model::{integrate, robots};
    use nalgebra::Vector6;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// A standing humanoid configuration: knees bent, feet flat.
    fn standing_joints(model: &Model) -> Vec<f64> {
        let mut q = vec![0.0; model.nv - 6];
        for (name, value) in [
            ("left_hip_pitch_joint", -0.4),
            ("left_knee_joint", 0.8),
            ("left_ankle_pitch_joint", -0.4),
            ("right_hip_pitch_joint", -0.4),
            ("right_knee_joint", 0.8),
            ("right_ankle_pitch_joint", -0.4),
        ] {
            let j = model.joint_id(name).expect("joint");
            q[model.joints[j.0].idx_v - 6] = value;
        }
        q
    }

    /// The base velocity that keeps `foot` still for the given orientation, angular
    /// velocity and joint velocities, from the full floating-base Jacobian: the rows of
    /// `J·v = 0` solved for the base's linear velocity.
    fn stance_base_velocity(
        model: &Model,
        q: &DVector<f64>,
        omega: Vector3<f64>,
        dq: &[f64],
        foot: FrameId,
    ) -> Vector3<f64> {
        let mut data = Data::new(model);
        compute_joint_jacobians(model, &mut data, q.as_slice());
        let mut j = DMatrix::zeros(6, model.nv);
        frame_jacobian(
            model,
            &data,
            foot,
            ReferenceFrame::LocalWorldAligned,
            &mut j,
        );
        let mut rhs = Vector3::zeros();
        for c in 3..6 {
            rhs -= j.fixed_view::<3, 1>(0, c) * omega[c - 3];
        }
        for (k, &v) in dq.iter().enumerate() {
            rhs -= j.fixed_view::<3, 1>(0, 6 + k) * v;
        }
        let a = j.fixed_view::<3, 3>(0, 0).into_owned();
        a.lu().solve(&rhs).expect("base block invertible")
    }

    #[test]
    fn stance_velocity_matches_the_floating_base_jacobian_for_random_motions() {
        let model = robots::load("humanoid", None).expect("humanoid");
        let mut estimator = BaseEstimator::new(&model, BaseConfig::default()).expect("feet exist");
        let mut rng = SmallRng::seed_from_u64(5);
        let joints = standing_joints(&model);
        for _ in 0..20 {
            let rotation = UnitQuaternion::from_euler_angles(
                rng.random_range(-0.3..0.3),
                rng.random_range(-0.3..0.3),
                rng.random_range(-3.0..3.0),
            );
            let omega = Vector3::from_fn(|_, _| rng.random_range(-1.0..1.0));
            let dq: Vec<f64> = joints.iter().map(|_| rng.random_range(-2.0..2.0)).collect();
            let mut q = model.neutral_configuration();
            q.fixed_rows_mut::<3>(0)
                .copy_from(&Vector3::new(0.3, -0.2, 0.8));
            let c = rotation.coords;
            q.fixed_rows_mut::<4>(3).copy_from(&c);
            q.rows_mut(7, joints.len()).copy_from_slice(&joints);
            let inputs = BaseInputs {
                joint_q: &joints,
                joint_dq: &dq,
                world_from_base: rotation,
                angular_velocity_base_radps: omega,
                specific_force_base_mps2: Vector3::zeros(),
                contacts: &[true, true],
                dt_s: 1e-3,
            };
            estimator.leg_kinematics(&model, &inputs);
            for (k, foot) in ["left_sole", "right_sole"].iter().enumerate() {
                let id = model.frame_id(foot).expect("foot");
                let truth = stance_base_velocity(&model, &q, omega, &dq, id);
                let ours = estimator.feet()[k].base_velocity_if_stance_mps;
                assert!((ours - truth).norm() < 1e-9, "{foot}: {ours} vs {truth}");
            }
        }
    }

    #[test]
    fn tracks_a_swaying_base_on_one_stance_foot_with_noisy_encoders() {
        // Truth: the base sways while the left foot stays planted; the joint velocities
        // are whatever keeps that foot still (solved through the full Jacobian).
        let model = robots::load("humanoid", None).expect("humanoid");
        let mut estimator = BaseEstimator::new(&model, BaseConfig::default()).expect("feet exist");
        let left = model.frame_id("left_sole").expect("foot");
        let mut data = Data::new(&model);
        let mut q = model.neutral_configuration();
        let joints0 = standing_joints(&model);
        q.rows_mut(7, joints0.len()).copy_from_slice(&joints0);
        let mut rng = SmallRng::seed_from_u64(9);
        let dt = 1e-3;
        let mut worst: f64 = 0.0;
        let mut jac = DMatrix::zeros(6, model.nv);
        let mut v = DVector::zeros(model.nv);
        let mut q_next = q.clone();
        for k in 0..3000 {
            let t = k as f64 * dt;
            // Desired base twist (local): a sway along y and a bob along z.
            let base_twist = Vector6::new(
                0.0,
                0.15 * (3.0 * t).cos(),
                0.05 * (5.0 * t).sin(),
                0.2 * (2.0 * t).sin(),
                0.0,
                0.0,
            );
            // Joint velocities of the left leg that keep its foot still: J_leg·dq = −J_base·v_base.
            compute_joint_jacobians(&model, &mut data, q.as_slice());
            frame_jacobian(
                &model,
                &data,
                left,
                ReferenceFrame::LocalWorldAligned,
                &mut jac,
            );
            let j_base = jac.columns(0, 6).into_owned();
            let j_leg = jac.columns(6, 6).into_owned();
            let rhs = -(&j_base * base_twist);
            let dq_leg = j_leg.lu().solve(&rhs).expect("leg Jacobian invertible");
            v.fill(0.0);
            v.rows_mut(0, 6).copy_from(&base_twist);
            v.rows_mut(6, 6).copy_from(&dq_leg);
            let rotation =
                UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(q[6], q[3], q[4], q[5]));
            let joint_q: Vec<f64> = (7..model.nq)
                .map(|i| q[i] + rng.random_range(-2e-4..2e-4))
                .collect();
            let joint_dq: Vec<f64> = (6..model.nv)
                .map(|i| v[i] + rng.random_range(-0.05..0.05))
                .collect();
            let inputs = BaseInputs {
                joint_q: &joint_q,
                joint_dq: &joint_dq,
                world_from_base: rotation,
                angular_velocity_base_radps: base_twist.fixed_rows::<3>(3).into_owned(),
                // An accelerometer that sees only gravity: the correction must do the rest.
                specific_force_base_mps2: rotation
                    .inverse_transform_vector(&Vector3::new(0.0, 0.0, 9.81)),
                contacts: &[true, false],
                dt_s: dt,
            };
            estimator.leg_kinematics(&model, &inputs);
            estimator.update(&inputs);
            if k > 500 {
                let truth = base_twist.fixed_rows::<3>(0).into_owned();
                worst = worst.max((estimator.velocity_base_mps() - truth).norm());
            }
            integrate(
                &model,
                q.as_slice(),
                (v.clone() * dt).as_slice(),
                q_next.as_mut_slice(),
            );
            q.copy_from(&q_next);
        }
        assert!(worst < 0.03, "worst base velocity error {worst:.4} m/s");
    }

    #[test]
    fn a_fixed_base_model_or_unknown_foot_is_an_error() {
        let arm = robots::load("arm7", None).expect("arm7");
        assert!(matches!(
            BaseEstimator::new(&arm, BaseConfig::default()),
            Err(EstimatorError::NotFloating)
        ));
        let humanoid = robots::load("humanoid", None).expect("humanoid");
        let config = BaseConfig {
            feet: vec!["left_hoof".into()],
            ..BaseConfig::default()
        };
        let err = BaseEstimator::new(&humanoid, config).expect_err("unknown foot");
        assert!(err.to_string().contains("left_hoof"), "{err}");
    }
}
