//! Articulated-body algorithm: forward dynamics `a = M(q)⁻¹ (τ − C(q, v)·v − g(q))` in
//! O(n). The recursion runs in the world frame, where articulated inertias of children add
//! to their parent's without a change of frame. Models with coupled mimic joints (closed
//! kinematic coupling) fall back to `M⁻¹` by Cholesky on preallocated storage.
//! Real-time safe: no allocation.

use nalgebra::{DVector, Matrix6, Vector6};

use crate::crba::crba;
use crate::data::Data;
use crate::joint::JointKind;
use crate::kinematics::{place_joint, update_dof_world};
use crate::linalg::cholesky_solve_in_place;
use crate::model::Model;
use crate::rnea::{joint_motion, nonlinear_effects};
use crate::spatial::{Force, Motion, Vec3};

/// Joint accelerations for torques `tau`, in `data.ddq` (NaN if the mass matrix is
/// singular, e.g. a movable joint that carries no mass).
pub fn aba<'d>(
    model: &Model,
    data: &'d mut Data,
    q: &[f64],
    v: &[f64],
    tau: &[f64],
) -> &'d DVector<f64> {
    aba_external(model, data, q, v, tau, None)
}

/// What acts on the robot besides its joint torques: the inputs a simulator adds to
/// forward dynamics.
#[derive(Clone, Copy, Debug)]
pub struct External<'a> {
    /// Added to the diagonal of the mass matrix, per velocity entry (length nv): the
    /// reflected rotor inertia of a geared actuator, or `dt·kd` to make a joint damper
    /// implicit in a semi-implicit Euler step.
    pub armature: &'a [f64],
    /// Force on each joint's body (length njoints, entry 0 ignored) in the world frame,
    /// torque taken about the world origin (`torque = p × f` for a force `f` at `p`).
    pub forces: &'a [Force],
}

/// Forward dynamics with external inputs: `ddq = (M + diag(armature))⁻¹ (τ + Σ Jᵢᵀ fᵢ −
/// C(q, v)·v − g(q))`, in `data.ddq`. Same cost as [`aba`].
pub fn aba_external<'d>(
    model: &Model,
    data: &'d mut Data,
    q: &[f64],
    v: &[f64],
    tau: &[f64],
    external: Option<&External<'_>>,
) -> &'d DVector<f64> {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    assert_eq!(v.len(), model.nv, "v has the wrong size");
    assert_eq!(tau.len(), model.nv, "tau has the wrong size");
    if let Some(ext) = external {
        assert_eq!(ext.armature.len(), model.nv, "armature has the wrong size");
        assert_eq!(
            ext.forces.len(),
            model.njoints(),
            "forces has the wrong size"
        );
    }
    if model.has_coupled_mimic() {
        dense_forward_dynamics(model, data, q, v, tau, external);
    } else {
        articulated_body(model, data, q, v, tau, external);
    }
    &data.ddq
}

fn articulated_body(
    model: &Model,
    data: &mut Data,
    q: &[f64],
    v: &[f64],
    tau: &[f64],
    external: Option<&External<'_>>,
) {
    let n = model.njoints();
    data.ov[0] = Motion::ZERO;
    for i in 1..n {
        let joint = &model.joints[i];
        let parent = joint.parent.0;
        place_joint(model, data, i, q);
        update_dof_world(model, data, i);
        let v_joint = world_joint_motion(model, data, i, v);
        let ov = data.ov[parent].add(&v_joint);
        data.ov[i] = ov;
        data.oc[i] = ov.cross_motion(&v_joint);
        let inertia = joint.inertia.to_world(&data.world_from_joint[i]);
        data.articulated[i] = inertia.matrix();
        let bias = ov.cross_force(&inertia.mul_motion(&ov));
        data.of[i] = match external {
            Some(ext) => bias.add(&ext.forces[i].scaled(-1.0)),
            None => bias,
        };
    }
    for i in (1..n).rev() {
        let joint = &model.joints[i];
        let parent = joint.parent.0;
        let ia = data.articulated[i];
        let bias = data.of[i].to_vector();
        // After this block: `reduced` is the articulated inertia seen through the joint and
        // `pa` the bias force it passes to the parent.
        let (reduced, pa) = if joint.kind == JointKind::FreeFlyer {
            let s = data.world_from_joint[i].action_matrix();
            let u = ia * s;
            let mut d = s.transpose() * u;
            if let Some(ext) = external {
                for k in 0..6 {
                    d[(k, k)] += ext.armature[joint.idx_v + k];
                }
            }
            let dinv = d
                .try_inverse()
                .unwrap_or_else(|| Matrix6::from_element(f64::NAN));
            let mut u_tau = Vector6::from_column_slice(&tau[joint.idx_v..joint.idx_v + 6]);
            u_tau -= s.transpose() * bias;
            data.aba_dinv[i] = dinv;
            data.aba_bias[i] = u_tau;
            for k in 0..6 {
                data.aba_u[joint.idx_dof + k] = u.column(k).into_owned();
            }
            if parent == 0 {
                continue;
            }
            let ud = u * dinv;
            (ia - ud * u.transpose(), ud * u_tau)
        } else {
            let s = data.dof_world[joint.idx_dof].to_vector();
            let u = ia * s;
            let armature = external.map_or(0.0, |ext| ext.armature[joint.idx_v]);
            let dinv = 1.0 / (s.dot(&u) + armature);
            let u_tau = tau[joint.idx_v] - s.dot(&bias);
            data.aba_u[joint.idx_dof] = u;
            data.aba_dinv[i][(0, 0)] = dinv;
            data.aba_bias[i][0] = u_tau;
            if parent == 0 {
                continue;
            }
            let mut reduced = ia;
            reduced.ger(-dinv, &u, &u, 1.0);
            (reduced, u * (dinv * u_tau))
        };
        let pa = bias + reduced * data.oc[i].to_vector() + pa;
        data.articulated[parent] += reduced;
        data.of[parent] = data.of[parent].add(&crate::spatial::Force::from_vector(&pa));
    }
    data.oa[0] = Motion::new(-model.gravity, Vec3::zeros());
    for i in 1..n {
        let joint = &model.joints[i];
        let a_in = data.oa[joint.parent.0].add(&data.oc[i]).to_vector();
        let a_out = if joint.kind == JointKind::FreeFlyer {
            let mut u = data.aba_bias[i];
            for k in 0..6 {
                u[k] -= data.aba_u[joint.idx_dof + k].dot(&a_in);
            }
            let qdd = data.aba_dinv[i] * u;
            for k in 0..6 {
                data.ddq[joint.idx_v + k] = qdd[k];
            }
            a_in + data.world_from_joint[i].action_matrix() * qdd
        } else {
            let qdd = data.aba_dinv[i][(0, 0)]
                * (data.aba_bias[i][0] - data.aba_u[joint.idx_dof].dot(&a_in));
            data.ddq[joint.idx_v] = qdd;
            a_in + data.dof_world[joint.idx_dof].to_vector() * qdd
        };
        data.oa[i] = Motion::from_vector(&a_out);
    }
}

/// The joint's velocity contribution `S·q̇` in the world.
#[inline]
fn world_joint_motion(model: &Model, data: &Data, i: usize, v: &[f64]) -> Motion {
    let joint = &model.joints[i];
    match joint.kind {
        JointKind::FreeFlyer => data.world_from_joint[i].act_motion(&joint_motion(model, i, v)),
        JointKind::Fixed => Motion::ZERO,
        _ => data.dof_world[joint.idx_dof].scaled(joint.scale() * v[joint.idx_v]),
    }
}

/// `ddq = (M + diag(armature))⁻¹ (τ + Σ Jᵀf − nle)` with `M` from CRBA and `nle` from
/// RNEA.
fn dense_forward_dynamics(
    model: &Model,
    data: &mut Data,
    q: &[f64],
    v: &[f64],
    tau: &[f64],
    external: Option<&External<'_>>,
) {
    crba(model, data, q);
    nonlinear_effects(model, data, q, v);
    data.dense.copy_from(&data.mass_matrix);
    for ((rhs, t), nle) in data.dense_rhs.iter_mut().zip(tau).zip(data.tau.iter()) {
        *rhs = t - nle;
    }
    if let Some(ext) = external {
        for (k, a) in ext.armature.iter().enumerate() {
            data.dense[(k, k)] += a;
        }
        add_generalized_forces(model, data, ext.forces);
    }
    if cholesky_solve_in_place(&mut data.dense, &mut data.dense_rhs) {
        data.ddq.copy_from(&data.dense_rhs);
    } else {
        data.ddq.fill(f64::NAN);
    }
}

/// Adds `Σ Jᵢᵀ fᵢ` (world forces on bodies, mapped through every joint that supports
/// them, mimic couplings included) to `data.dense_rhs`. Needs world placements and
/// `dof_world`, which CRBA leaves behind.
fn add_generalized_forces(model: &Model, data: &mut Data, forces: &[Force]) {
    for (i, f) in forces.iter().enumerate().skip(1) {
        if f.linear == Vec3::zeros() && f.angular == Vec3::zeros() {
            continue;
        }
        for &j in &model.supports[i] {
            let joint = &model.joints[j];
            match joint.kind {
                JointKind::Fixed => {}
                JointKind::FreeFlyer => {
                    for k in 0..6 {
                        data.dense_rhs[joint.idx_v + k] += data.dof_world[joint.idx_dof + k].dot(f);
                    }
                }
                _ => {
                    data.dense_rhs[joint.idx_v] +=
                        joint.scale() * data.dof_world[joint.idx_dof].dot(f);
                }
            }
        }
    }
}
