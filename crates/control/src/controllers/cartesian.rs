//! Cartesian impedance of one frame, with a posture in the null space:
//! `τ = Jᵀ·(K·e + D·J·(q̇ᵣ − q̇)) + RNEA(q, q̇ᵣ, q̈ᵣ) + (I − Jᵀ·J⁺ᵀ)·(Kn·(qᵣ − q) − Dn·q̇)`.
//! The pose error `e` is `[p* − p; log(R*·Rᵀ)]` in world-aligned axes and `J` the frame's
//! Jacobian in the same axes (joint columns only). The target pose is the frame's pose at
//! the joint reference (so the trajectory stream drives this controller as it drives the
//! others) unless one is set explicitly. `J⁺ = Jᵀ(JJᵀ + λ²I)⁻¹` is the damped
//! pseudo-inverse; only 6×6 solves on the stack, no allocation.

use nalgebra::{DMatrix, DVector, Matrix3, Matrix6, Vector3, Vector6};
use serde::{Deserialize, Serialize};

use embody_hal::JointCommand;
use embody_model::spatial::{Transform, log3};
use embody_model::{
    Data, FrameId, Model, ReferenceFrame, compute_joint_jacobians, frame_jacobian,
    frame_placements, rnea, update_frame_placements,
};

use super::ControlInput;
use crate::ControlError;

/// Gains of [`CartesianImpedance`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CartesianConfig {
    /// The controlled frame. Default: `tcp` if the model has it, else its last frame.
    pub frame: Option<String>,
    /// Translational stiffness (N/m). Default 400.
    pub stiffness_translation: f64,
    /// Rotational stiffness (N·m/rad). Default 10.
    pub stiffness_rotation: f64,
    /// Translational damping (N·s/m). Default 20.
    pub damping_translation: f64,
    /// Rotational damping (N·m·s/rad). Default 1. Damping computed on the host is
    /// bounded by the loop rate: `d / I · dt < 2` for the lightest link it moves.
    pub damping_rotation: f64,
    /// Null-space posture stiffness (N·m/rad). Default 10.
    pub nullspace_stiffness: f64,
    /// Null-space posture damping (N·m·s/rad). Default 3.
    pub nullspace_damping: f64,
    /// Damping of the pseudo-inverse near singularities. Default 1e-3.
    pub pseudo_inverse_damping: f64,
}

impl Default for CartesianConfig {
    fn default() -> Self {
        CartesianConfig {
            frame: None,
            stiffness_translation: 400.0,
            stiffness_rotation: 10.0,
            damping_translation: 20.0,
            damping_rotation: 1.0,
            nullspace_stiffness: 10.0,
            nullspace_damping: 3.0,
            pseudo_inverse_damping: 1e-3,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct CartesianImpedance {
    config: CartesianConfig,
    frame: FrameId,
    target: Option<Transform>,
    data: Data,
    reference_data: Data,
    q_ref: DVector<f64>,
    jacobian: DMatrix<f64>,
    torque: DVector<f64>,
    velocity: DVector<f64>,
    acceleration: DVector<f64>,
}

impl CartesianImpedance {
    /// A controller for `model`; fails if the configured frame is not in it.
    pub fn new(model: &Model, config: CartesianConfig) -> Result<CartesianImpedance, ControlError> {
        let frame = match &config.frame {
            Some(name) => model
                .frame_id(name)
                .ok_or_else(|| ControlError::UnknownFrame(name.clone()))?,
            None => model
                .frame_id("tcp")
                .unwrap_or(FrameId(model.frames.len().saturating_sub(1))),
        };
        Ok(CartesianImpedance {
            config,
            frame,
            target: None,
            data: Data::new(model),
            reference_data: Data::new(model),
            q_ref: model.neutral_configuration(),
            jacobian: DMatrix::zeros(6, model.nv),
            torque: DVector::zeros(model.nv),
            velocity: DVector::zeros(model.nv),
            acceleration: DVector::zeros(model.nv),
        })
    }

    /// The controlled frame.
    pub fn frame(&self) -> FrameId {
        self.frame
    }

    /// Tracks `world_from_frame` instead of the pose at the joint reference; `None`
    /// returns to the reference.
    pub fn set_target(&mut self, world_from_frame: Option<Transform>) {
        self.target = world_from_frame;
    }

    /// One tick: one torque command per joint.
    pub fn update(&mut self, input: &ControlInput<'_>, out: &mut [JointCommand]) {
        let model = input.model;
        let (oq, ov) = input.offsets();
        let est = input.estimate;
        let q = est.q.as_slice();
        // Target: explicit, or the frame at the reference configuration.
        let target = match self.target {
            Some(t) => t,
            None => {
                self.q_ref.copy_from(&est.q);
                for k in 0..input.n {
                    self.q_ref[oq + k] = input.reference.q[k];
                }
                frame_placements(model, &mut self.reference_data, self.q_ref.as_slice());
                self.reference_data.world_from_frame[self.frame.0]
            }
        };
        compute_joint_jacobians(model, &mut self.data, q);
        update_frame_placements(model, &mut self.data);
        let pose = self.data.world_from_frame[self.frame.0];
        frame_jacobian(
            model,
            &self.data,
            self.frame,
            ReferenceFrame::LocalWorldAligned,
            &mut self.jacobian,
        );
        let j = &self.jacobian;
        let col = |c: usize| -> Vector6<f64> { j.fixed_view::<6, 1>(0, ov + c).into_owned() };
        // Frame twist error from the joints: J·(q̇ᵣ − q̇) (the reference's own motion is not
        // damped; with an explicit target it is at rest).
        let mut twist = Vector6::zeros();
        for k in 0..input.n {
            let reference_dq = if self.target.is_some() {
                0.0
            } else {
                input.reference.dq[k]
            };
            twist += col(k) * (est.v[ov + k] - reference_dq);
        }
        let (position_error, rotation_error) = pose_error(&target, &pose);
        let c = &self.config;
        let force = Vector6::new(
            c.stiffness_translation * position_error.x - c.damping_translation * twist[0],
            c.stiffness_translation * position_error.y - c.damping_translation * twist[1],
            c.stiffness_translation * position_error.z - c.damping_translation * twist[2],
            c.stiffness_rotation * rotation_error.x - c.damping_rotation * twist[3],
            c.stiffness_rotation * rotation_error.y - c.damping_rotation * twist[4],
            c.stiffness_rotation * rotation_error.z - c.damping_rotation * twist[5],
        );
        // Null-space posture torque τ0 and its projection τ0 − Jᵀ(JJᵀ + λ²I)⁻¹J·τ0.
        let mut jjt = Matrix6::identity() * c.pseudo_inverse_damping.powi(2);
        let mut j_tau0 = Vector6::zeros();
        for k in 0..input.n {
            let ck = col(k);
            jjt += ck * ck.transpose();
            let tau0 = c.nullspace_stiffness * (input.reference.q[k] - est.q[oq + k])
                - c.nullspace_damping * est.v[ov + k];
            self.torque[k] = tau0;
            j_tau0 += ck * tau0;
        }
        let projected = jjt
            .cholesky()
            .map_or(Vector6::zeros(), |ch| ch.solve(&j_tau0));
        // Feed-forward: the inverse dynamics of the reference's motion (gravity alone with
        // an explicit target).
        input.reference_motion(&mut self.velocity, &mut self.acceleration);
        if self.target.is_some() {
            self.velocity.rows_mut(ov, input.n).fill(0.0);
            self.acceleration.fill(0.0);
        }
        let feed_forward = rnea(
            model,
            &mut self.data,
            q,
            self.velocity.as_slice(),
            self.acceleration.as_slice(),
        );
        for (k, cmd) in out.iter_mut().enumerate().take(input.n) {
            let ck = col(k);
            let tau = ck.dot(&force) + feed_forward[ov + k] + self.torque[k] - ck.dot(&projected);
            *cmd = JointCommand::Torque { tau };
        }
    }
}

/// The pose error `[p* − p; log(R*·Rᵀ)]` between two placements.
pub fn pose_error(target: &Transform, pose: &Transform) -> (Vector3<f64>, Vector3<f64>) {
    let r: Matrix3<f64> = target.rotation * pose.rotation.transpose();
    (target.translation - pose.translation, log3(&r))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::simulate;
    use super::*;
    use crate::trajectory::JointPoint;
    use embody_model::robots;

    #[test]
    fn the_frame_settles_on_an_explicit_target_and_the_posture_does_not_disturb_it() {
        let model = robots::load("arm7", None).expect("arm7");
        let mut controller =
            CartesianImpedance::new(&model, CartesianConfig::default()).expect("tcp");
        // A reachable target: the tcp pose at a known configuration.
        let goal_q = [0.2, 0.6, -0.3, -1.4, 0.4, 0.8, 0.1, 0.0];
        let mut data = Data::new(&model);
        frame_placements(&model, &mut data, &goal_q);
        let target = data.world_from_frame[controller.frame().0];
        controller.set_target(Some(target));
        // Posture reference elsewhere: it must act only in the null space.
        let posture = JointPoint::at_rest(&[0.0, 0.5, 0.0, -1.2, 0.0, 0.7, 0.0, 0.0]);
        let start = [0.1, 0.5, -0.2, -1.3, 0.3, 0.7, 0.0, 0.0];
        let (q, _) = simulate(&model, &start, 4.0, |est, _, out| {
            let input = ControlInput {
                model: &model,
                estimate: est,
                reference: &posture,
                n: model.nv,
            };
            controller.update(&input, out);
        });
        frame_placements(&model, &mut data, q.as_slice());
        let (dp, dr) = pose_error(&target, &data.world_from_frame[controller.frame().0]);
        assert!(dp.norm() < 2e-3, "position error {:.2e} m", dp.norm());
        assert!(dr.norm() < 5e-3, "orientation error {:.2e} rad", dr.norm());
    }

    #[test]
    fn an_unknown_frame_is_an_error() {
        let model = robots::load("arm7", None).expect("arm7");
        let config = CartesianConfig {
            frame: Some("nose".into()),
            ..CartesianConfig::default()
        };
        let err = CartesianImpedance::new(&model, config).expect_err("unknown frame");
        assert!(err.to_string().contains("nose"));
    }
}
