//! Recursive Newton–Euler inverse dynamics: joint torques for given `q`, `v`, `a`, and its
//! special cases (nonlinear effects, gravity torques). Local-frame recursion, as in
//! Featherstone's RBDA; gravity enters as an upward acceleration of the universe.
//! Real-time safe: no allocation.

use nalgebra::DVector;

use crate::data::Data;
use crate::joint::JointKind;
use crate::kinematics::joint_transform;
use crate::model::Model;
use crate::spatial::{Force, Motion};

/// Joint torques `τ = M(q)·a + C(q, v)·v + g(q)`, written to and returned from `data.tau`.
pub fn rnea<'d>(
    model: &Model,
    data: &'d mut Data,
    q: &[f64],
    v: &[f64],
    a: &[f64],
) -> &'d DVector<f64> {
    assert_eq!(v.len(), model.nv, "v has the wrong size");
    assert_eq!(a.len(), model.nv, "a has the wrong size");
    inverse_dynamics(model, data, q, Some(v), Some(a));
    &data.tau
}

/// Nonlinear effects `C(q, v)·v + g(q)` (RNEA with zero acceleration), in `data.tau`.
pub fn nonlinear_effects<'d>(
    model: &Model,
    data: &'d mut Data,
    q: &[f64],
    v: &[f64],
) -> &'d DVector<f64> {
    assert_eq!(v.len(), model.nv, "v has the wrong size");
    inverse_dynamics(model, data, q, Some(v), None);
    &data.tau
}

/// Gravity torques `g(q)` (RNEA with zero velocity and acceleration), in `data.tau`.
pub fn gravity_torques<'d>(model: &Model, data: &'d mut Data, q: &[f64]) -> &'d DVector<f64> {
    inverse_dynamics(model, data, q, None, None);
    &data.tau
}

/// The joint's own velocity-like quantity (velocity or acceleration) from a `v`-sized vector.
#[inline]
pub(crate) fn joint_motion(model: &Model, i: usize, x: &[f64]) -> Motion {
    let joint = &model.joints[i];
    match joint.kind {
        JointKind::FreeFlyer => {
            let s = &x[joint.idx_v..joint.idx_v + 6];
            Motion::new(
                crate::spatial::Vec3::new(s[0], s[1], s[2]),
                crate::spatial::Vec3::new(s[3], s[4], s[5]),
            )
        }
        JointKind::Fixed => Motion::ZERO,
        kind => kind.motion_1dof(joint.scale() * x[joint.idx_v]),
    }
}

/// Adds `Sᵀ f` of joint `i` into `tau` (scaled for coupled mimic joints).
#[inline]
pub(crate) fn add_joint_torque(model: &Model, i: usize, f: &Force, tau: &mut DVector<f64>) {
    let joint = &model.joints[i];
    match joint.kind {
        JointKind::FreeFlyer => {
            for k in 0..3 {
                tau[joint.idx_v + k] += f.linear[k];
                tau[joint.idx_v + 3 + k] += f.angular[k];
            }
        }
        JointKind::Fixed => {}
        kind => tau[joint.idx_v] += joint.scale() * kind.project_force_1dof(f),
    }
}

fn inverse_dynamics(
    model: &Model,
    data: &mut Data,
    q: &[f64],
    v: Option<&[f64]>,
    a: Option<&[f64]>,
) {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    data.v[0] = Motion::ZERO;
    data.a[0] = Motion::new(-model.gravity, crate::spatial::Vec3::zeros());
    for i in 1..model.njoints() {
        let joint = &model.joints[i];
        let parent = joint.parent.0;
        let x = joint_transform(joint, q);
        data.parent_from_joint[i] = x;
        let mut acc = x.act_inv_motion(&data.a[parent]);
        if let Some(a) = a {
            acc = acc.add(&joint_motion(model, i, a));
        }
        let inertia = &joint.inertia;
        let f = match v {
            Some(v) => {
                let v_joint = joint_motion(model, i, v);
                let vel = x.act_inv_motion(&data.v[parent]).add(&v_joint);
                acc = acc.add(&vel.cross_motion(&v_joint));
                data.v[i] = vel;
                inertia
                    .mul_motion(&acc)
                    .add(&vel.cross_force(&inertia.mul_motion(&vel)))
            }
            None => {
                data.v[i] = Motion::ZERO;
                inertia.mul_motion(&acc)
            }
        };
        data.a[i] = acc;
        data.f[i] = f;
    }
    data.tau.fill(0.0);
    for i in (1..model.njoints()).rev() {
        let f = data.f[i];
        add_joint_torque(model, i, &f, &mut data.tau);
        let parent = model.joints[i].parent.0;
        if parent != 0 {
            let moved = data.parent_from_joint[i].act_force(&f);
            data.f[parent] = data.f[parent].add(&moved);
        }
    }
}
