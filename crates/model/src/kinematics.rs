//! Forward kinematics, frame placements and Jacobians (world, local and
//! local-world-aligned, as Pinocchio defines them). Real-time safe: no allocation.
//!
//! Vectors passed in must have the model's sizes (`q`: nq, `v`/`a`/`tau`: nv); a wrong
//! length is a programming error and panics like any out-of-bounds index.

use nalgebra::DMatrix;

use crate::data::Data;
use crate::joint::JointKind;
use crate::model::{FrameId, Joint, Model};
use crate::rnea::joint_motion;
use crate::spatial::{Motion, Transform, Vec3};

/// How a Jacobian's rows are expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceFrame {
    /// Spatial twist at the world origin, in world axes (Pinocchio `WORLD`).
    World,
    /// Twist of the frame in the frame's own axes (Pinocchio `LOCAL`).
    Local,
    /// Velocity of the frame origin and angular velocity, in world axes
    /// (Pinocchio `LOCAL_WORLD_ALIGNED`): what controllers and IK usually want.
    LocalWorldAligned,
}

/// Parent-from-joint placement of `joint` at configuration `q`.
#[inline]
pub(crate) fn joint_transform(joint: &Joint, q: &[f64]) -> Transform {
    match joint.kind {
        JointKind::FreeFlyer => joint
            .kind
            .parent_from_child(&joint.placement, &q[joint.idx_q..joint.idx_q + 7]),
        JointKind::Fixed => joint.placement,
        kind => kind.parent_from_child(&joint.placement, &[joint.position_1dof(q)]),
    }
}

/// Writes the world motion-subspace columns of joint `i` into `data.dof_world`.
#[inline]
pub(crate) fn update_dof_world(model: &Model, data: &mut Data, i: usize) {
    let joint = &model.joints[i];
    let x = &data.world_from_joint[i];
    match joint.kind {
        JointKind::FreeFlyer => {
            // Local unit twists moved to the world: rotation columns, and p × them.
            for k in 0..3 {
                let axis = x.rotation.column(k).into_owned();
                data.dof_world[joint.idx_dof + k] = Motion::new(axis, Vec3::zeros());
                data.dof_world[joint.idx_dof + 3 + k] =
                    Motion::new(x.translation.cross(&axis), axis);
            }
        }
        JointKind::Fixed => {}
        kind => data.dof_world[joint.idx_dof] = kind.subspace_world_1dof(x),
    }
}

/// Places joint `i` at configuration `q`: its parent-from-joint and world placements.
/// Its parent must have been placed already.
#[inline]
pub(crate) fn place_joint(model: &Model, data: &mut Data, i: usize, q: &[f64]) {
    let joint = &model.joints[i];
    let local = joint_transform(joint, q);
    data.parent_from_joint[i] = local;
    data.world_from_joint[i] = if joint.parent.0 == 0 {
        local
    } else {
        data.world_from_joint[joint.parent.0].mul(&local)
    };
}

/// Forward kinematics: placements of every joint frame at configuration `q`.
pub fn forward_kinematics(model: &Model, data: &mut Data, q: &[f64]) {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    for i in 1..model.njoints() {
        place_joint(model, data, i, q);
    }
}

/// Forward kinematics with velocities: the placements of every joint frame at `q` and
/// each body's spatial velocity for joint velocities `v`, in its own joint frame
/// (`data.v`). A point `p` fixed in body `i` (joint-frame coordinates) moves at
/// `R·(v.linear + v.angular × p)` in the world, `R` the rotation of `world_from_joint[i]`.
pub fn forward_kinematics_velocity(model: &Model, data: &mut Data, q: &[f64], v: &[f64]) {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    assert_eq!(v.len(), model.nv, "v has the wrong size");
    data.v[0] = Motion::ZERO;
    for i in 1..model.njoints() {
        place_joint(model, data, i, q);
        let parent = model.joints[i].parent.0;
        let carried = data.parent_from_joint[i].act_inv_motion(&data.v[parent]);
        data.v[i] = carried.add(&joint_motion(model, i, v));
    }
}

/// World placements of all frames from the joint placements of the last forward kinematics.
pub fn update_frame_placements(model: &Model, data: &mut Data) {
    for (f, frame) in model.frames.iter().enumerate() {
        data.world_from_frame[f] = data.world_from_joint[frame.joint.0].mul(&frame.placement);
    }
}

/// Forward kinematics and the world placements of all frames.
pub fn frame_placements(model: &Model, data: &mut Data, q: &[f64]) {
    forward_kinematics(model, data, q);
    update_frame_placements(model, data);
}

/// Forward kinematics and the world Jacobian of every joint (`data.jacobian`).
pub fn compute_joint_jacobians(model: &Model, data: &mut Data, q: &[f64]) {
    forward_kinematics(model, data, q);
    for i in 1..model.njoints() {
        update_dof_world(model, data, i);
    }
    let coupled = model.has_coupled_mimic();
    if coupled {
        data.jacobian.fill(0.0);
    }
    for joint in model.joints.iter().skip(1) {
        for k in 0..joint.kind.nv() {
            let col = data.dof_world[joint.idx_dof + k].to_vector() * joint.scale();
            let mut dst = data.jacobian.column_mut(joint.idx_v + k);
            if coupled {
                dst += col;
            } else {
                dst.copy_from(&col);
            }
        }
    }
}

/// The Jacobian of `frame` (6 × nv) from the quantities of the last
/// [`compute_joint_jacobians`]. `out` must be 6 × nv.
pub fn frame_jacobian(
    model: &Model,
    data: &Data,
    frame: FrameId,
    reference: ReferenceFrame,
    out: &mut DMatrix<f64>,
) {
    assert_eq!(
        out.shape(),
        (6, model.nv),
        "Jacobian output has the wrong shape"
    );
    let f = &model.frames[frame.0];
    let world_from_frame = data.world_from_joint[f.joint.0].mul(&f.placement);
    out.fill(0.0);
    for &i in model.support(f.joint) {
        let joint = &model.joints[i];
        for k in 0..joint.kind.nv() {
            let col: Motion = data.dof_world[joint.idx_dof + k];
            let expressed = match reference {
                ReferenceFrame::World => col,
                ReferenceFrame::Local => world_from_frame.act_inv_motion(&col),
                ReferenceFrame::LocalWorldAligned => Motion::new(
                    col.linear + col.angular.cross(&world_from_frame.translation),
                    col.angular,
                ),
            };
            let mut dst = out.column_mut(joint.idx_v + k);
            dst += expressed.to_vector() * joint.scale();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robots;

    #[test]
    fn frames_of_fixed_joints_coincide_with_their_child_links() {
        let model = robots::load("arm7", None).expect("built-in model");
        let mut data = Data::new(&model);
        let q = model.neutral_configuration();
        frame_placements(&model, &mut data, q.as_slice());
        for (f, frame) in model.frames.iter().enumerate() {
            if frame.kind == crate::FrameKind::FixedJoint {
                let child = model
                    .frames
                    .iter()
                    .position(|g| {
                        g.kind == crate::FrameKind::Link
                            && g.joint == frame.joint
                            && g.placement == frame.placement
                    })
                    .expect("a link frame at the fixed joint");
                assert_eq!(data.world_from_frame[f], data.world_from_frame[child]);
            }
        }
    }
}
