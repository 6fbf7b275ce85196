//! Centre of mass of the whole robot and its Jacobian. The Jacobian column of a joint is
//! the motion of its subtree's centre of mass weighted by the subtree's share of the mass,
//! so one backward pass gives every column. Real-time safe: no allocation.

use nalgebra::DMatrix;

use crate::data::Data;
use crate::kinematics::{compute_joint_jacobians, forward_kinematics};
use crate::model::Model;
use crate::spatial::{Vec3, WorldInertia};

/// Centre of mass in the world at configuration `q` (also stored in `data.com`).
pub fn center_of_mass(model: &Model, data: &mut Data, q: &[f64]) -> Vec3 {
    forward_kinematics(model, data, q);
    let (mut mass, mut moment) = (0.0, Vec3::zeros());
    for (i, joint) in model.joints.iter().enumerate().skip(1) {
        let m = joint.inertia.mass;
        mass += m;
        moment += data.world_from_joint[i].transform_point(&joint.inertia.com) * m;
    }
    data.com = if mass > 0.0 {
        moment / mass
    } else {
        Vec3::zeros()
    };
    data.com
}

/// Jacobian of the centre of mass (3 × nv, world axes) in `data.com_jacobian`; also
/// updates `data.com` and `data.jacobian`.
pub fn jacobian_center_of_mass<'d>(
    model: &Model,
    data: &'d mut Data,
    q: &[f64],
) -> &'d DMatrix<f64> {
    compute_joint_jacobians(model, data, q);
    for (i, joint) in model.joints.iter().enumerate().skip(1) {
        let m = joint.inertia.mass;
        data.world_inertia[i] = WorldInertia {
            mass: m,
            first_moment: data.world_from_joint[i].transform_point(&joint.inertia.com) * m,
            inertia_origin: Default::default(),
        };
    }
    for i in (1..model.njoints()).rev() {
        let parent = model.joints[i].parent.0;
        if parent != 0 {
            let child = data.world_inertia[i];
            data.world_inertia[parent].mass += child.mass;
            data.world_inertia[parent].first_moment += child.first_moment;
        }
    }
    let total = model.total_mass();
    data.com_jacobian.fill(0.0);
    let mut moment = Vec3::zeros();
    for (i, joint) in model.joints.iter().enumerate().skip(1) {
        if joint.parent.0 == 0 {
            moment += data.world_inertia[i].first_moment;
        }
        if total <= 0.0 {
            continue;
        }
        let sub = data.world_inertia[i];
        for k in 0..joint.kind.nv() {
            let s = data.dof_world[joint.idx_dof + k];
            let col = (s.linear * sub.mass + s.angular.cross(&sub.first_moment))
                * (joint.scale() / total);
            let mut dst = data.com_jacobian.column_mut(joint.idx_v + k);
            dst += col;
        }
    }
    data.com = if total > 0.0 {
        moment / total
    } else {
        Vec3::zeros()
    };
    &data.com_jacobian
}
