//! Proves that the algorithms allocate nothing per call: a counting global allocator
//! records every allocation while each algorithm runs on a preallocated workspace.

mod common;

use embody_model::{
    Data, IkOptions, IkSolver, ReferenceFrame, aba, center_of_mass, compute_joint_jacobians, crba,
    frame_jacobian, frame_placements, gravity_torques, integrate, jacobian_center_of_mass,
    nonlinear_effects, rnea,
};
use embody_testkit::{Counting, allocations_during};
use nalgebra::{DMatrix, DVector};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn algorithms_do_not_allocate() {
    let mut rng = common::rng(5);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        let (q, v, a) = common::random_state(&model, &mut rng);
        let (q, v, a) = (q.as_slice(), v.as_slice(), a.as_slice());
        let mut jac = DMatrix::zeros(6, model.nv);
        let mut q_out = DVector::zeros(model.nq);
        let mut ik = IkSolver::new(
            &model,
            IkOptions {
                max_iterations: 5,
                ..Default::default()
            },
        );
        let mut q_ik = DVector::from_column_slice(q);
        let target =
            embody_model::spatial::Transform::from_xyz_rpy([0.3, 0.1, 0.5], [0.0, 1.0, 0.0]);
        let frame = embody_model::FrameId(model.frames.len() - 1);
        let count = allocations_during(|| {
            frame_placements(&model, &mut data, q);
            compute_joint_jacobians(&model, &mut data, q);
            frame_jacobian(&model, &data, frame, ReferenceFrame::Local, &mut jac);
            rnea(&model, &mut data, q, v, a);
            nonlinear_effects(&model, &mut data, q, v);
            gravity_torques(&model, &mut data, q);
            crba(&model, &mut data, q);
            aba(&model, &mut data, q, v, a);
            center_of_mass(&model, &mut data, q);
            jacobian_center_of_mass(&model, &mut data, q);
            integrate(&model, q, v, q_out.as_mut_slice());
            ik.solve(&model, &mut data, frame, &target, &mut q_ik);
        });
        assert_eq!(count, 0, "{name}: {count} allocations");
    }
}
