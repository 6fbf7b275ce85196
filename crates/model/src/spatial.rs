//! Spatial algebra: rigid transforms, motion and force vectors, rigid-body inertias.
//!
//! Conventions follow Pinocchio so results compare directly: a spatial vector is
//! `[linear; angular]`; a [`Transform`] `parent_from_child` maps child coordinates to
//! parent coordinates (`x_parent = R x_child + p`). Everything here is `Copy`, fixed-size
//! and allocation-free: it is called from the real-time loop.

use nalgebra::{Matrix3, Matrix6, Rotation3, UnitQuaternion, Vector3, Vector6};

/// A 3-vector of f64.
pub type Vec3 = Vector3<f64>;
/// A 3×3 matrix of f64.
pub type Mat3 = Matrix3<f64>;

/// Skew-symmetric matrix of `v`: `skew(v) * x == v × x`.
#[inline]
pub fn skew(v: &Vec3) -> Mat3 {
    Mat3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

/// A rigid transform (element of SE(3)): rotation then translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    /// Rotation matrix (orthonormal, det +1).
    pub rotation: Mat3,
    /// Translation (m).
    pub translation: Vec3,
}

impl Default for Transform {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Transform {
    /// The identity transform.
    pub const IDENTITY: Self = Self {
        rotation: Mat3::new(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        translation: Vec3::new(0.0, 0.0, 0.0),
    };

    /// A transform from a rotation and a translation.
    #[inline]
    pub fn new(rotation: Mat3, translation: Vec3) -> Self {
        Self {
            rotation,
            translation,
        }
    }

    /// A transform from URDF `xyz` (m) and `rpy` (rad, fixed-axis roll-pitch-yaw).
    pub fn from_xyz_rpy(xyz: [f64; 3], rpy: [f64; 3]) -> Self {
        let rotation = Rotation3::from_euler_angles(rpy[0], rpy[1], rpy[2]).into_inner();
        Self::new(rotation, Vec3::from(xyz))
    }

    /// A transform from a translation and a unit quaternion given as `[x, y, z, w]`.
    /// The quaternion is normalised first.
    pub fn from_translation_quaternion(translation: Vec3, xyzw: [f64; 4]) -> Self {
        let q = nalgebra::Quaternion::new(xyzw[3], xyzw[0], xyzw[1], xyzw[2]);
        let rotation = UnitQuaternion::from_quaternion(q)
            .to_rotation_matrix()
            .into_inner();
        Self::new(rotation, translation)
    }

    /// This transform as `[x, y, z, qx, qy, qz, qw]`: its translation and its rotation as
    /// a unit quaternion (the pose form records, images and object views carry).
    pub fn to_pose(&self) -> [f64; 7] {
        let q = UnitQuaternion::from_rotation_matrix(&nalgebra::Rotation3::from_matrix_unchecked(
            self.rotation,
        ));
        let p = self.translation;
        [p.x, p.y, p.z, q.i, q.j, q.k, q.w]
    }

    /// The transform of a pose `[x, y, z, qx, qy, qz, qw]` ([`Transform::to_pose`]); the
    /// quaternion is normalised first.
    pub fn from_pose(pose: &[f64; 7]) -> Self {
        Self::from_translation_quaternion(
            Vec3::new(pose[0], pose[1], pose[2]),
            [pose[3], pose[4], pose[5], pose[6]],
        )
    }

    /// Composition `self * other` (apply `other` first).
    #[inline]
    pub fn mul(&self, other: &Transform) -> Transform {
        let (a, b) = (&self.rotation, &other.rotation);
        // Written out: nalgebra's generic 3×3 product is slower on this hot path (FK).
        let entry = |i: usize, j: usize| {
            a[(i, 0)] * b[(0, j)] + a[(i, 1)] * b[(1, j)] + a[(i, 2)] * b[(2, j)]
        };
        let t = &other.translation;
        let moved = |i: usize| a[(i, 0)] * t.x + a[(i, 1)] * t.y + a[(i, 2)] * t.z;
        Transform {
            rotation: Mat3::new(
                entry(0, 0),
                entry(0, 1),
                entry(0, 2),
                entry(1, 0),
                entry(1, 1),
                entry(1, 2),
                entry(2, 0),
                entry(2, 1),
                entry(2, 2),
            ),
            translation: Vec3::new(
                moved(0) + self.translation.x,
                moved(1) + self.translation.y,
                moved(2) + self.translation.z,
            ),
        }
    }

    /// The inverse transform.
    #[inline]
    pub fn inverse(&self) -> Transform {
        let rt = self.rotation.transpose();
        Transform {
            rotation: rt,
            translation: -(rt * self.translation),
        }
    }

    /// `self⁻¹ * other`, without forming the inverse.
    #[inline]
    pub fn inv_mul(&self, other: &Transform) -> Transform {
        let rt = self.rotation.transpose();
        Transform {
            rotation: rt * other.rotation,
            translation: rt * (other.translation - self.translation),
        }
    }

    /// Maps a point from child to parent coordinates.
    #[inline]
    pub fn transform_point(&self, p: &Vec3) -> Vec3 {
        self.rotation * p + self.translation
    }

    /// Expresses a motion given in child coordinates in parent coordinates.
    #[inline]
    pub fn act_motion(&self, m: &Motion) -> Motion {
        let angular = self.rotation * m.angular;
        let linear = self.rotation * m.linear + self.translation.cross(&angular);
        Motion { linear, angular }
    }

    /// Expresses a motion given in parent coordinates in child coordinates.
    #[inline]
    pub fn act_inv_motion(&self, m: &Motion) -> Motion {
        let rt = self.rotation.transpose();
        Motion {
            linear: rt * (m.linear - self.translation.cross(&m.angular)),
            angular: rt * m.angular,
        }
    }

    /// Expresses a force given in child coordinates in parent coordinates.
    #[inline]
    pub fn act_force(&self, f: &Force) -> Force {
        let linear = self.rotation * f.linear;
        let angular = self.rotation * f.angular + self.translation.cross(&linear);
        Force { linear, angular }
    }

    /// Expresses a force given in parent coordinates in child coordinates.
    #[inline]
    pub fn act_inv_force(&self, f: &Force) -> Force {
        let rt = self.rotation.transpose();
        Force {
            linear: rt * f.linear,
            angular: rt * (f.angular - self.translation.cross(&f.linear)),
        }
    }

    /// The 6×6 matrix acting on motions (`[linear; angular]`).
    pub fn action_matrix(&self) -> Matrix6<f64> {
        let mut x = Matrix6::zeros();
        x.fixed_view_mut::<3, 3>(0, 0).copy_from(&self.rotation);
        x.fixed_view_mut::<3, 3>(3, 3).copy_from(&self.rotation);
        x.fixed_view_mut::<3, 3>(0, 3)
            .copy_from(&(skew(&self.translation) * self.rotation));
        x
    }
}

/// `[linear; angular]` as one 6-vector.
#[inline]
fn pack6(linear: &Vec3, angular: &Vec3) -> Vector6<f64> {
    Vector6::new(
        linear.x, linear.y, linear.z, angular.x, angular.y, angular.z,
    )
}

/// The `(linear, angular)` halves of a 6-vector.
#[inline]
fn unpack6(v: &Vector6<f64>) -> (Vec3, Vec3) {
    (Vec3::new(v[0], v[1], v[2]), Vec3::new(v[3], v[4], v[5]))
}

/// A spatial motion (twist or spatial acceleration): `[linear; angular]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Motion {
    /// Linear part (m/s or m/s²).
    pub linear: Vec3,
    /// Angular part (rad/s or rad/s²).
    pub angular: Vec3,
}

impl Motion {
    /// The zero motion.
    pub const ZERO: Self = Self {
        linear: Vec3::new(0.0, 0.0, 0.0),
        angular: Vec3::new(0.0, 0.0, 0.0),
    };

    /// A motion from its parts.
    #[inline]
    pub fn new(linear: Vec3, angular: Vec3) -> Self {
        Self { linear, angular }
    }

    /// Spatial cross product with a motion: `self × m`.
    #[inline]
    pub fn cross_motion(&self, m: &Motion) -> Motion {
        Motion {
            linear: self.angular.cross(&m.linear) + self.linear.cross(&m.angular),
            angular: self.angular.cross(&m.angular),
        }
    }

    /// Spatial cross product with a force: `self ×* f`.
    #[inline]
    pub fn cross_force(&self, f: &Force) -> Force {
        Force {
            linear: self.angular.cross(&f.linear),
            angular: self.angular.cross(&f.angular) + self.linear.cross(&f.linear),
        }
    }

    /// Power pairing `self · f`.
    #[inline]
    pub fn dot(&self, f: &Force) -> f64 {
        self.linear.dot(&f.linear) + self.angular.dot(&f.angular)
    }

    /// `self * s`.
    #[inline]
    pub fn scaled(&self, s: f64) -> Motion {
        Motion {
            linear: self.linear * s,
            angular: self.angular * s,
        }
    }

    /// `self + other`.
    #[inline]
    pub fn add(&self, other: &Motion) -> Motion {
        Motion {
            linear: self.linear + other.linear,
            angular: self.angular + other.angular,
        }
    }

    /// As a 6-vector `[linear; angular]`.
    #[inline]
    pub fn to_vector(&self) -> Vector6<f64> {
        pack6(&self.linear, &self.angular)
    }

    /// From a 6-vector `[linear; angular]`.
    #[inline]
    pub fn from_vector(v: &Vector6<f64>) -> Motion {
        let (linear, angular) = unpack6(v);
        Motion { linear, angular }
    }
}

/// A spatial force (wrench): `[linear; angular]` = `[force; torque]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Force {
    /// Force (N).
    pub linear: Vec3,
    /// Torque (N·m).
    pub angular: Vec3,
}

impl Force {
    /// The zero force.
    pub const ZERO: Self = Self {
        linear: Vec3::new(0.0, 0.0, 0.0),
        angular: Vec3::new(0.0, 0.0, 0.0),
    };

    /// `self + other`.
    #[inline]
    pub fn add(&self, other: &Force) -> Force {
        Force {
            linear: self.linear + other.linear,
            angular: self.angular + other.angular,
        }
    }

    /// As a 6-vector `[linear; angular]`.
    #[inline]
    pub fn to_vector(&self) -> Vector6<f64> {
        pack6(&self.linear, &self.angular)
    }

    /// `s · self`.
    #[inline]
    pub fn scaled(&self, s: f64) -> Force {
        Force {
            linear: self.linear * s,
            angular: self.angular * s,
        }
    }

    /// The force `f` applied at world point `p`, as a spatial force about the world
    /// origin.
    #[inline]
    pub fn at_point(f: Vec3, p: &Vec3) -> Force {
        Force {
            linear: f,
            angular: p.cross(&f),
        }
    }

    /// From a 6-vector `[linear; angular]`.
    #[inline]
    pub fn from_vector(v: &Vector6<f64>) -> Force {
        let (linear, angular) = unpack6(v);
        Force { linear, angular }
    }
}

/// Rigid-body inertia in a body frame: mass, centre of mass, rotational inertia about
/// the centre of mass (expressed in the body frame's axes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inertia {
    /// Mass (kg).
    pub mass: f64,
    /// Centre of mass in the body frame (m).
    pub com: Vec3,
    /// Rotational inertia about the centre of mass (kg·m²), symmetric.
    pub inertia_com: Mat3,
}

impl Default for Inertia {
    fn default() -> Self {
        Self::ZERO
    }
}

impl Inertia {
    /// The inertia of nothing.
    pub const ZERO: Self = Self {
        mass: 0.0,
        com: Vec3::new(0.0, 0.0, 0.0),
        inertia_com: Mat3::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    };

    /// Momentum `I * v` of a body moving with twist `v` (both in the body frame).
    #[inline]
    pub fn mul_motion(&self, v: &Motion) -> Force {
        let linear = (v.linear - self.com.cross(&v.angular)) * self.mass;
        let angular = self.inertia_com * v.angular + self.com.cross(&linear);
        Force { linear, angular }
    }

    /// The same inertia expressed in the parent frame of `parent_from_body`.
    pub fn transformed(&self, parent_from_body: &Transform) -> Inertia {
        let r = &parent_from_body.rotation;
        Inertia {
            mass: self.mass,
            com: parent_from_body.transform_point(&self.com),
            inertia_com: r * self.inertia_com * r.transpose(),
        }
    }

    /// The inertia of two bodies rigidly joined (both in the same frame).
    pub fn combined(&self, other: &Inertia) -> Inertia {
        let mass = self.mass + other.mass;
        if mass <= 0.0 {
            return Inertia {
                mass: 0.0,
                com: Vec3::zeros(),
                inertia_com: self.inertia_com + other.inertia_com,
            };
        }
        let com = (self.com * self.mass + other.com * other.mass) / mass;
        let shift = |i: &Inertia| {
            let d = i.com - com;
            (Mat3::identity() * d.norm_squared() - d * d.transpose()) * i.mass
        };
        Inertia {
            mass,
            com,
            inertia_com: self.inertia_com + other.inertia_com + shift(self) + shift(other),
        }
    }

    /// This inertia expressed about the origin of the world, from the world pose of the body.
    #[inline]
    pub fn to_world(&self, world_from_body: &Transform) -> WorldInertia {
        let r = &world_from_body.rotation;
        let com = world_from_body.transform_point(&self.com);
        WorldInertia {
            mass: self.mass,
            first_moment: com * self.mass,
            // Rotated to world axes, then shifted to the origin (parallel axes).
            inertia_origin: r * self.inertia_com * r.transpose()
                + (Mat3::from_diagonal_element(com.norm_squared()) - com * com.transpose())
                    * self.mass,
        }
    }
}

/// Rigid-body inertia about the world origin, in world axes: `(m, m·c, I_O)`.
/// In this form inertias of several bodies add by plain addition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldInertia {
    /// Mass (kg).
    pub mass: f64,
    /// First moment of mass `m·c` (kg·m).
    pub first_moment: Vec3,
    /// Rotational inertia about the world origin (kg·m²).
    pub inertia_origin: Mat3,
}

impl WorldInertia {
    /// Zero inertia.
    pub const ZERO: Self = Self {
        mass: 0.0,
        first_moment: Vec3::new(0.0, 0.0, 0.0),
        inertia_origin: Mat3::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    };

    /// Momentum of the body moving with world twist `v`.
    #[inline]
    pub fn mul_motion(&self, v: &Motion) -> Force {
        Force {
            linear: v.linear * self.mass - self.first_moment.cross(&v.angular),
            angular: self.inertia_origin * v.angular + self.first_moment.cross(&v.linear),
        }
    }

    /// Adds `other` to `self`.
    #[inline]
    pub fn add_assign(&mut self, other: &WorldInertia) {
        self.mass += other.mass;
        self.first_moment += other.first_moment;
        self.inertia_origin += other.inertia_origin;
    }

    /// The same inertia about the origin of `world_from_frame`, in that frame's axes.
    pub fn expressed_in(&self, world_from_frame: &Transform) -> WorldInertia {
        let (r, p, m) = (
            &world_from_frame.rotation,
            &world_from_frame.translation,
            self.mass,
        );
        let h = self.first_moment - p * m;
        // Move the reference point from the world origin to p:
        // I_p = I_O − [2(h·p) I − h pᵀ − p hᵀ + m(|p|² I − p pᵀ)], with h about p.
        let shift = Mat3::from_diagonal_element(2.0 * h.dot(p) + m * p.dot(p))
            - h * p.transpose()
            - p * h.transpose()
            - p * p.transpose() * m;
        WorldInertia {
            mass: m,
            first_moment: r.transpose() * h,
            inertia_origin: r.transpose() * (self.inertia_origin - shift) * r,
        }
    }

    /// The 6×6 spatial inertia matrix acting on `[linear; angular]` motions.
    #[inline]
    pub fn matrix(&self) -> Matrix6<f64> {
        let mut m = Matrix6::zeros();
        let h = skew(&self.first_moment);
        m.fixed_view_mut::<3, 3>(0, 0)
            .copy_from(&(Mat3::identity() * self.mass));
        m.fixed_view_mut::<3, 3>(0, 3).copy_from(&(-h));
        m.fixed_view_mut::<3, 3>(3, 0).copy_from(&h);
        m.fixed_view_mut::<3, 3>(3, 3)
            .copy_from(&self.inertia_origin);
        m
    }
}

/// Exponential map of SO(3): rotation by the rotation vector `w` (rad).
pub fn exp3(w: &Vec3) -> Mat3 {
    Rotation3::new(*w).into_inner()
}

/// Logarithm of SO(3): the rotation vector (rad) of a rotation matrix, accurate for small
/// angles (through `atan2` of the skew and symmetric parts, not `acos` of the trace) and
/// near a half turn.
pub fn log3(r: &Mat3) -> Vec3 {
    // sin θ · u from the skew-symmetric part, cos θ from the trace.
    let s = Vec3::new(
        r[(2, 1)] - r[(1, 2)],
        r[(0, 2)] - r[(2, 0)],
        r[(1, 0)] - r[(0, 1)],
    ) * 0.5;
    let c = ((r.trace() - 1.0) * 0.5).clamp(-1.0, 1.0);
    let sin = s.norm();
    let theta = sin.atan2(c);
    if sin > 1e-4 || c > 0.0 {
        // θ / sin θ, with its series where sin θ is tiny and θ small.
        let ratio = if sin < 1e-8 {
            1.0 + theta * theta / 6.0
        } else {
            theta / sin
        };
        return s * ratio;
    }
    // Near a half turn: (R + Rᵀ)/2 − cos θ·I = (1 − cos θ)·u uᵀ; take its largest column.
    let b = (r + r.transpose()) * 0.5 - Mat3::identity() * c;
    let k = (0..3).fold(
        0,
        |best, i| if b[(i, i)] > b[(best, best)] { i } else { best },
    );
    let mut u = b.column(k).into_owned();
    let norm = u.norm();
    if norm == 0.0 {
        return Vec3::zeros();
    }
    u /= norm;
    if u.dot(&s) < 0.0 {
        u = -u;
    }
    u * theta
}

/// Exponential map of SE(3) for a twist `[v; w]` applied for unit time (as Pinocchio's
/// `exp6`): the displacement of a body moving with constant local twist.
pub fn exp6(m: &Motion) -> Transform {
    let w = m.angular;
    let theta2 = w.norm_squared();
    let rotation = exp3(&w);
    let wx = skew(&w);
    // V = I + (1 - cos θ)/θ² [w] + (θ - sin θ)/θ³ [w]²
    let (a, b) = if theta2 < 1e-12 {
        (0.5 - theta2 / 24.0, 1.0 / 6.0 - theta2 / 120.0)
    } else {
        let theta = theta2.sqrt();
        (
            (1.0 - theta.cos()) / theta2,
            (theta - theta.sin()) / (theta2 * theta),
        )
    };
    let v = Mat3::identity() + wx * a + wx * wx * b;
    Transform::new(rotation, v * m.linear)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_transform() -> Transform {
        Transform::from_xyz_rpy([0.3, -0.2, 0.5], [0.4, -1.1, 2.0])
    }

    #[test]
    fn a_pose_round_trips() {
        let t = sample_transform();
        let back = Transform::from_pose(&t.to_pose());
        assert!((back.rotation - t.rotation).norm() < 1e-12);
        assert!((back.translation - t.translation).norm() < 1e-15);
        let q = t.to_pose();
        assert!(((q[3] * q[3] + q[4] * q[4] + q[5] * q[5] + q[6] * q[6]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn inverse_composes_to_identity() {
        let t = sample_transform();
        let i = t.mul(&t.inverse());
        assert!((i.rotation - Mat3::identity()).norm() < 1e-14);
        assert!(i.translation.norm() < 1e-14);
        let j = t.inv_mul(&t);
        assert!((j.rotation - Mat3::identity()).norm() < 1e-14);
    }

    #[test]
    fn motion_action_matches_matrix() {
        let t = sample_transform();
        let m = Motion::new(Vec3::new(1.0, 2.0, 3.0), Vec3::new(-0.5, 0.1, 0.7));
        let by_matrix = Motion::from_vector(&(t.action_matrix() * m.to_vector()));
        assert!((t.act_motion(&m).to_vector() - by_matrix.to_vector()).norm() < 1e-13);
        let back = t.act_inv_motion(&t.act_motion(&m));
        assert!((back.to_vector() - m.to_vector()).norm() < 1e-13);
    }

    #[test]
    fn power_is_invariant_under_change_of_frame() {
        let t = sample_transform();
        let m = Motion::new(Vec3::new(1.0, 2.0, 3.0), Vec3::new(-0.5, 0.1, 0.7));
        let f = Force {
            linear: Vec3::new(0.2, -3.0, 1.0),
            angular: Vec3::new(4.0, 0.5, -0.1),
        };
        let p_child = m.dot(&f);
        let p_parent = t.act_motion(&m).dot(&t.act_force(&f));
        assert!((p_child - p_parent).abs() < 1e-12);
        let back = t.act_inv_force(&t.act_force(&f));
        assert!((back.to_vector() - f.to_vector()).norm() < 1e-13);
    }

    #[test]
    fn world_inertia_matches_body_inertia() {
        let body = Inertia {
            mass: 2.5,
            com: Vec3::new(0.1, -0.05, 0.2),
            inertia_com: Mat3::new(0.3, 0.01, 0.02, 0.01, 0.2, -0.03, 0.02, -0.03, 0.25),
        };
        let x = sample_transform();
        let v_body = Motion::new(Vec3::new(0.5, -1.0, 0.3), Vec3::new(0.2, 0.9, -0.4));
        let f_body = body.mul_motion(&v_body);
        let f_world = body.to_world(&x).mul_motion(&x.act_motion(&v_body));
        let expected = x.act_force(&f_body);
        assert!((f_world.to_vector() - expected.to_vector()).norm() < 1e-12);
        let by_matrix = body.to_world(&x).matrix() * x.act_motion(&v_body).to_vector();
        assert!((by_matrix - expected.to_vector()).norm() < 1e-12);
    }

    #[test]
    fn combined_inertia_is_additive_in_world_form() {
        let a = Inertia {
            mass: 1.0,
            com: Vec3::new(0.1, 0.0, 0.0),
            inertia_com: Mat3::identity() * 0.01,
        };
        let b = Inertia {
            mass: 3.0,
            com: Vec3::new(-0.2, 0.3, 0.1),
            inertia_com: Mat3::new(0.05, 0.0, 0.01, 0.0, 0.04, 0.0, 0.01, 0.0, 0.03),
        };
        let x = Transform::IDENTITY;
        let mut sum = a.to_world(&x);
        sum.add_assign(&b.to_world(&x));
        let joined = a.combined(&b).to_world(&x);
        assert!((sum.matrix() - joined.matrix()).norm() < 1e-13);
    }

    #[test]
    fn exp6_of_pure_rotation_and_translation() {
        let t = exp6(&Motion::new(Vec3::new(1.0, 2.0, 3.0), Vec3::zeros()));
        assert!((t.translation - Vec3::new(1.0, 2.0, 3.0)).norm() < 1e-15);
        let w = Vec3::new(0.0, 0.0, std::f64::consts::PI);
        let r = exp6(&Motion::new(Vec3::new(1.0, 0.0, 0.0), w));
        // Half a turn about z while moving along x traces a semicircle: ends at (0, 2/π, 0).
        assert!((r.translation - Vec3::new(0.0, 2.0 / std::f64::consts::PI, 0.0)).norm() < 1e-12);
        assert!(
            (log3(&exp3(&Vec3::new(0.3, -0.2, 0.1))) - Vec3::new(0.3, -0.2, 0.1)).norm() < 1e-14
        );
    }

    #[test]
    fn log3_inverts_exp3_from_tiny_angles_to_a_half_turn() {
        let axis = Vec3::new(0.3, -0.5, 0.8).normalize();
        for angle in [
            1e-12,
            1e-7,
            1e-3,
            0.5,
            2.0,
            3.1,
            std::f64::consts::PI - 1e-6,
            std::f64::consts::PI,
        ] {
            let w = axis * angle;
            let back = log3(&exp3(&w));
            assert!(
                (back - w).norm() <= 1e-9 * angle.max(1e-3),
                "angle {angle}: {back:?}"
            );
        }
    }

    #[test]
    fn world_inertia_expressed_in_another_frame() {
        let body = Inertia {
            mass: 1.7,
            com: Vec3::new(0.2, -0.1, 0.05),
            inertia_com: Mat3::new(0.2, 0.01, 0.0, 0.01, 0.3, -0.02, 0.0, -0.02, 0.1),
        };
        let world_from_body = sample_transform();
        let world_from_frame = Transform::from_xyz_rpy([-0.4, 0.9, 0.1], [1.0, 0.2, -0.5]);
        let got = body
            .to_world(&world_from_body)
            .expressed_in(&world_from_frame);
        let expected = body.to_world(&world_from_frame.inv_mul(&world_from_body));
        assert!((got.matrix() - expected.matrix()).norm() < 1e-13);
    }
}
