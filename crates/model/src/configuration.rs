//! Configuration-space operations: integrating a velocity onto a configuration (on the
//! free-flyer's SE(3) as Pinocchio does), normalising quaternions, and sampling random
//! valid configurations for tests and benchmarks.

use nalgebra::{DVector, Quaternion, UnitQuaternion};
use rand::Rng;

use crate::joint::JointKind;
use crate::model::Model;
use crate::spatial::{Motion, Transform, Vec3, exp6};

/// `q ⊕ v`: the configuration reached from `q` moving with velocity `v` for unit time.
/// Writes into `out` (nq); no allocation.
pub fn integrate(model: &Model, q: &[f64], v: &[f64], out: &mut [f64]) {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    assert_eq!(v.len(), model.nv, "v has the wrong size");
    assert_eq!(out.len(), model.nq, "output has the wrong size");
    for joint in model.joints.iter().skip(1).filter(|j| j.mimic.is_none()) {
        let (iq, iv) = (joint.idx_q, joint.idx_v);
        match joint.kind {
            JointKind::FreeFlyer => {
                let start = Transform::from_translation_quaternion(
                    Vec3::new(q[iq], q[iq + 1], q[iq + 2]),
                    [q[iq + 3], q[iq + 4], q[iq + 5], q[iq + 6]],
                );
                let twist = Motion::new(
                    Vec3::new(v[iv], v[iv + 1], v[iv + 2]),
                    Vec3::new(v[iv + 3], v[iv + 4], v[iv + 5]),
                );
                let end = start.mul(&exp6(&twist));
                let rot = nalgebra::Rotation3::from_matrix_unchecked(end.rotation);
                let quat = UnitQuaternion::from_rotation_matrix(&rot);
                out[iq..iq + 3].copy_from_slice(end.translation.as_slice());
                out[iq + 3..iq + 7].copy_from_slice(&[quat.i, quat.j, quat.k, quat.w]);
            }
            JointKind::Fixed => {}
            _ => out[iq] = q[iq] + v[iv],
        }
    }
}

/// Normalises the quaternions of free-flyer joints in place.
pub fn normalize(model: &Model, q: &mut [f64]) {
    for joint in model
        .joints
        .iter()
        .filter(|j| j.kind == JointKind::FreeFlyer)
    {
        let s = &mut q[joint.idx_q + 3..joint.idx_q + 7];
        let n = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2] + s[3] * s[3]).sqrt();
        if n > 0.0 && n.is_finite() {
            s.iter_mut().for_each(|x| *x /= n);
        } else {
            s.copy_from_slice(&[0.0, 0.0, 0.0, 1.0]);
        }
    }
}

/// A random configuration: each joint uniform within its limits (±π where a revolute
/// joint is unbounded, ±1 m for prismatic), free-flyer position in [-1, 1]³ with a
/// uniformly random orientation.
pub fn random_configuration<R: Rng>(model: &Model, rng: &mut R) -> DVector<f64> {
    let mut q = DVector::zeros(model.nq);
    for joint in model.joints.iter().skip(1).filter(|j| j.mimic.is_none()) {
        let i = joint.idx_q;
        match joint.kind {
            JointKind::FreeFlyer => {
                for k in 0..3 {
                    q[i + k] = rng.random_range(-1.0..=1.0);
                }
                let mut g = || rng.random_range(-1.0..=1.0);
                let quat = loop {
                    let c = Quaternion::new(g(), g(), g(), g());
                    let n = c.norm();
                    if n > 1e-3 && n <= 1.0 {
                        break c / n;
                    }
                };
                q[i + 3] = quat.i;
                q[i + 4] = quat.j;
                q[i + 5] = quat.k;
                q[i + 6] = quat.w;
            }
            JointKind::Fixed => {}
            kind => {
                let fallback = if matches!(kind, JointKind::Prismatic(_)) {
                    1.0
                } else {
                    std::f64::consts::PI
                };
                let lo = if joint.limits.lower.is_finite() {
                    joint.limits.lower
                } else {
                    -fallback
                };
                let hi = if joint.limits.upper.is_finite() {
                    joint.limits.upper
                } else {
                    fallback
                };
                q[i] = if hi > lo {
                    rng.random_range(lo..=hi)
                } else {
                    lo
                };
            }
        }
    }
    q
}
