//! Composite rigid-body algorithm: the joint-space mass matrix `M(q)`. Works in the world
//! frame, where composite inertias add directly and each entry is one dot product.
//! Real-time safe: no allocation.

use nalgebra::DMatrix;

use crate::data::Data;
use crate::joint::JointKind;
use crate::kinematics::{place_joint, update_dof_world};
use crate::model::Model;

/// The joint-space mass matrix, full and symmetric, in `data.mass_matrix`.
///
/// Entries of joints that share no path to the root are structurally zero; they are
/// written once when `data` is created (zeros) and never touched again.
pub fn crba<'d>(model: &Model, data: &'d mut Data, q: &[f64]) -> &'d DMatrix<f64> {
    assert_eq!(q.len(), model.nq, "q has the wrong size");
    for i in 1..model.njoints() {
        place_joint(model, data, i, q);
        update_dof_world(model, data, i);
        data.world_inertia[i] = model.joints[i].inertia.to_world(&data.world_from_joint[i]);
    }
    if model.has_coupled_mimic() {
        coupled_backward_pass(model, data);
    } else {
        tree_backward_pass(model, data);
    }
    &data.mass_matrix
}

/// Backward pass with coupled mimic joints: several joints share a velocity column, so
/// contributions accumulate (a cross term between a mimic and its master lands twice on the
/// diagonal, as it must).
fn coupled_backward_pass(model: &Model, data: &mut Data) {
    let m = &mut data.mass_matrix;
    m.fill(0.0);
    for i in (1..model.njoints()).rev() {
        let joint = &model.joints[i];
        let composite = data.world_inertia[i];
        for k in 0..joint.kind.nv() {
            let force = composite.mul_motion(&data.dof_world[joint.idx_dof + k]);
            let col = joint.idx_v + k;
            for &j in model.support(crate::JointId(i)) {
                let ancestor = &model.joints[j];
                let scale = joint.scale() * ancestor.scale();
                for l in 0..ancestor.kind.nv() {
                    let value = scale * data.dof_world[ancestor.idx_dof + l].dot(&force);
                    let row = ancestor.idx_v + l;
                    m[(row, col)] += value;
                    if j != i {
                        m[(col, row)] += value;
                    }
                }
            }
        }
        let parent = joint.parent.0;
        if parent != 0 {
            data.world_inertia[parent].add_assign(&composite);
        }
    }
    // Sums reached each triangle in a different order: make M exactly symmetric.
    for c in 0..model.nv {
        for r in 0..c {
            let mean = 0.5 * (m[(r, c)] + m[(c, r)]);
            m[(r, c)] = mean;
            m[(c, r)] = mean;
        }
    }
}

/// Backward pass of a tree without coupled joints: dof columns equal velocity indices, so
/// each entry is one dot product written straight into the column-major storage. The six
/// free-flyer rows of a column are the column's force seen in the base frame (power is
/// frame-invariant: `(X eₖ)·F = eₖ·(Xᵀ F)`), one inverse transform instead of six products.
fn tree_backward_pass(model: &Model, data: &mut Data) {
    let nv = model.nv;
    let base = model
        .free_flyer()
        .map(|ff| (model.joints[ff.0].idx_v, data.world_from_joint[ff.0]));
    let m = data.mass_matrix.as_mut_slice();
    for i in (1..model.njoints()).rev() {
        let joint = &model.joints[i];
        let composite = data.world_inertia[i];
        if let (JointKind::FreeFlyer, Some((first, world_from_base))) = (joint.kind, &base) {
            // The free-flyer block is the whole robot's inertia seen in the base frame.
            let block = composite.expressed_in(world_from_base).matrix();
            for c in 0..6 {
                for r in 0..=c {
                    m[(first + c) * nv + first + r] = block[(r, c)];
                    m[(first + r) * nv + first + c] = block[(r, c)];
                }
            }
            continue; // the root has no parent to pass its inertia to
        }
        let support = &model.support_dofs[i];
        for col in joint.idx_dof..joint.idx_dof + joint.kind.nv() {
            let force = composite.mul_motion(&data.dof_world[col]);
            for &row in support {
                let value = data.dof_world[row].dot(&force);
                m[col * nv + row] = value;
                m[row * nv + col] = value;
            }
            if let Some((first, world_from_base)) = &base {
                let local = world_from_base.act_inv_force(&force);
                let values = local.linear.iter().chain(local.angular.iter());
                for (row, &value) in (*first..first + 6).zip(values) {
                    m[col * nv + row] = value;
                    m[row * nv + col] = value;
                }
            }
        }
        let parent = joint.parent.0;
        if parent != 0 {
            data.world_inertia[parent].add_assign(&composite);
        }
    }
}
