//! Joint kinds and their kinematics: the joint transform for a configuration and the
//! motion subspace. Specialised for axis-aligned joints, the common case, so that the
//! algorithms spend no time on general rotations. Allocation-free.

use crate::spatial::{Force, Mat3, Motion, Transform, Vec3, skew};

/// Direction of a one-degree-of-freedom joint, in the joint frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// +x.
    X,
    /// +y.
    Y,
    /// +z.
    Z,
    /// Any other unit direction.
    Unaligned(Vec3),
}

impl Axis {
    /// Classifies a unit vector.
    pub fn from_unit(u: Vec3) -> Axis {
        if u == Vec3::x() {
            Axis::X
        } else if u == Vec3::y() {
            Axis::Y
        } else if u == Vec3::z() {
            Axis::Z
        } else {
            Axis::Unaligned(u)
        }
    }

    /// The unit vector.
    #[inline]
    pub fn vector(&self) -> Vec3 {
        match *self {
            Axis::X => Vec3::x(),
            Axis::Y => Vec3::y(),
            Axis::Z => Vec3::z(),
            Axis::Unaligned(u) => u,
        }
    }

    /// Component of `v` along the axis.
    #[inline]
    pub fn component(&self, v: &Vec3) -> f64 {
        match *self {
            Axis::X => v.x,
            Axis::Y => v.y,
            Axis::Z => v.z,
            Axis::Unaligned(u) => u.dot(v),
        }
    }
}

/// The kinds of joint a model holds. Fixed joints are merged into their parent body.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JointKind {
    /// Rotation about an axis, within limits. nq = nv = 1.
    Revolute(Axis),
    /// Rotation about an axis, unbounded. nq = nv = 1 (an angle, not Pinocchio's cos/sin pair).
    Continuous(Axis),
    /// Translation along an axis. nq = nv = 1.
    Prismatic(Axis),
    /// Free-flyer: `q = [x y z qx qy qz qw]`, `v = [v_local; ω_local]`. nq = 7, nv = 6.
    FreeFlyer,
    /// Welded to the parent: only the universe is of this kind, since URDF fixed joints
    /// are merged into their parent body. nq = nv = 0.
    Fixed,
}

impl JointKind {
    /// Number of configuration variables.
    pub fn nq(&self) -> usize {
        match self {
            JointKind::FreeFlyer => 7,
            JointKind::Fixed => 0,
            _ => 1,
        }
    }

    /// Number of velocity variables (degrees of freedom).
    pub fn nv(&self) -> usize {
        match self {
            JointKind::FreeFlyer => 6,
            JointKind::Fixed => 0,
            _ => 1,
        }
    }

    /// Name as in URDF (`freeflyer` for the floating base).
    pub fn name(&self) -> &'static str {
        match self {
            JointKind::Revolute(_) => "revolute",
            JointKind::Continuous(_) => "continuous",
            JointKind::Prismatic(_) => "prismatic",
            JointKind::FreeFlyer => "freeflyer",
            JointKind::Fixed => "fixed",
        }
    }

    /// Parent-from-child transform of the joint: `placement * J(q)`, where `placement` is
    /// the joint origin in the parent body frame. `q` holds this joint's `nq` values.
    #[inline]
    pub fn parent_from_child(&self, placement: &Transform, q: &[f64]) -> Transform {
        match *self {
            JointKind::Revolute(axis) | JointKind::Continuous(axis) => {
                let (s, c) = q[0].sin_cos();
                Transform::new(
                    rotate_about(&placement.rotation, axis, s, c),
                    placement.translation,
                )
            }
            JointKind::Prismatic(axis) => Transform::new(
                placement.rotation,
                placement.translation + placement.rotation * (axis.vector() * q[0]),
            ),
            JointKind::FreeFlyer => {
                let motion = Transform::from_translation_quaternion(
                    Vec3::new(q[0], q[1], q[2]),
                    [q[3], q[4], q[5], q[6]],
                );
                placement.mul(&motion)
            }
            JointKind::Fixed => *placement,
        }
    }

    /// Motion-subspace column `k` in the joint's child frame.
    #[inline]
    pub fn subspace_local(&self, k: usize) -> Motion {
        match *self {
            JointKind::Revolute(axis) | JointKind::Continuous(axis) => {
                Motion::new(Vec3::zeros(), axis.vector())
            }
            JointKind::Prismatic(axis) => Motion::new(axis.vector(), Vec3::zeros()),
            JointKind::Fixed => Motion::ZERO,
            JointKind::FreeFlyer => {
                let mut m = Motion::ZERO;
                if k < 3 {
                    m.linear[k] = 1.0;
                } else {
                    m.angular[k - 3] = 1.0;
                }
                m
            }
        }
    }

    /// `Sᵀ f` for a one-dof joint, with `f` in the child frame.
    #[inline]
    pub fn project_force_1dof(&self, f: &Force) -> f64 {
        match *self {
            JointKind::Revolute(axis) | JointKind::Continuous(axis) => axis.component(&f.angular),
            JointKind::Prismatic(axis) => axis.component(&f.linear),
            JointKind::FreeFlyer => f.linear.x,
            JointKind::Fixed => 0.0,
        }
    }

    /// `S · qd` for a one-dof joint, in the child frame.
    #[inline]
    pub fn motion_1dof(&self, qd: f64) -> Motion {
        match *self {
            JointKind::Revolute(axis) | JointKind::Continuous(axis) => {
                Motion::new(Vec3::zeros(), axis.vector() * qd)
            }
            JointKind::Prismatic(axis) => Motion::new(axis.vector() * qd, Vec3::zeros()),
            JointKind::FreeFlyer => Motion::new(Vec3::new(qd, 0.0, 0.0), Vec3::zeros()),
            JointKind::Fixed => Motion::ZERO,
        }
    }

    /// Motion-subspace column of a one-dof joint expressed in the world, from the world
    /// placement of the joint's child frame.
    #[inline]
    pub fn subspace_world_1dof(&self, world_from_joint: &Transform) -> Motion {
        match *self {
            JointKind::Revolute(axis) | JointKind::Continuous(axis) => {
                let w = rotation_column(&world_from_joint.rotation, axis);
                Motion::new(world_from_joint.translation.cross(&w), w)
            }
            JointKind::Prismatic(axis) => Motion::new(
                rotation_column(&world_from_joint.rotation, axis),
                Vec3::zeros(),
            ),
            JointKind::FreeFlyer | JointKind::Fixed => {
                world_from_joint.act_motion(&self.subspace_local(0))
            }
        }
    }
}

/// `r * axis` without a matrix product for aligned axes.
#[inline]
fn rotation_column(r: &Mat3, axis: Axis) -> Vec3 {
    match axis {
        Axis::X => r.column(0).into_owned(),
        Axis::Y => r.column(1).into_owned(),
        Axis::Z => r.column(2).into_owned(),
        Axis::Unaligned(u) => r * u,
    }
}

/// `p * R_axis(θ)` given `sin θ`, `cos θ`, with column updates for aligned axes.
#[inline]
fn rotate_about(p: &Mat3, axis: Axis, s: f64, c: f64) -> Mat3 {
    let (c0, c1, c2) = (p.column(0), p.column(1), p.column(2));
    match axis {
        Axis::X => Mat3::from_columns(&[c0.into_owned(), c1 * c + c2 * s, c2 * c - c1 * s]),
        Axis::Y => Mat3::from_columns(&[c0 * c - c2 * s, c1.into_owned(), c0 * s + c2 * c]),
        Axis::Z => Mat3::from_columns(&[c0 * c + c1 * s, c1 * c - c0 * s, c2.into_owned()]),
        Axis::Unaligned(u) => {
            let k = skew(&u);
            p * (Mat3::identity() + k * s + k * k * (1.0 - c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::exp3;

    #[test]
    fn aligned_rotations_match_the_general_formula() {
        let p = Transform::from_xyz_rpy([0.1, 0.2, 0.3], [0.3, 0.2, -0.7]);
        for (axis, u) in [
            (Axis::X, Vec3::x()),
            (Axis::Y, Vec3::y()),
            (Axis::Z, Vec3::z()),
        ] {
            let fast = JointKind::Revolute(axis).parent_from_child(&p, &[0.83]);
            let general = JointKind::Revolute(Axis::Unaligned(u)).parent_from_child(&p, &[0.83]);
            assert!(
                (fast.rotation - general.rotation).norm() < 1e-14,
                "{axis:?}"
            );
            let expected = p.rotation * exp3(&(u * 0.83));
            assert!((fast.rotation - expected).norm() < 1e-14, "{axis:?}");
        }
    }

    #[test]
    fn world_subspace_is_the_local_one_moved_to_the_world() {
        let x = Transform::from_xyz_rpy([0.5, -0.2, 1.0], [0.1, 0.9, -0.3]);
        let u = Vec3::new(1.0, 2.0, -0.5).normalize();
        for kind in [
            JointKind::Revolute(Axis::Y),
            JointKind::Prismatic(Axis::Unaligned(u)),
            JointKind::Continuous(Axis::Unaligned(u)),
        ] {
            let expected = x.act_motion(&kind.subspace_local(0));
            let got = kind.subspace_world_1dof(&x);
            assert!((expected.to_vector() - got.to_vector()).norm() < 1e-14);
        }
    }
}
