//! Forward dynamics with external inputs against the dense equations of motion built
//! from independent pieces: `(M + diag(armature)) ddq = τ + Σ Jᵢᵀ fᵢ − nle`, with `M`
//! from CRBA, `nle` from RNEA and `Jᵢ` the world Jacobian of a frame on each body.

mod common;

use embody_model::{
    Data, External, FrameId, ReferenceFrame, aba_external, compute_joint_jacobians, crba,
    forward_kinematics_velocity, frame_jacobian, nonlinear_effects, spatial::Force,
};
use nalgebra::{DMatrix, Vector3};
use rand::Rng;

#[test]
fn aba_with_armature_and_body_forces_solves_the_dense_equations() {
    let mut rng = common::rng(11);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        for _ in 0..3 {
            let (q, v, tau) = common::random_state(&model, &mut rng);
            let armature: Vec<f64> = (0..model.nv).map(|_| rng.random_range(0.0..0.5)).collect();
            let forces: Vec<Force> = (0..model.njoints())
                .map(|i| {
                    if i == 0 {
                        return Force::ZERO;
                    }
                    let f = Vector3::new(
                        rng.random_range(-50.0..50.0),
                        rng.random_range(-50.0..50.0),
                        rng.random_range(-50.0..50.0),
                    );
                    let p = Vector3::new(
                        rng.random_range(-1.0..1.0),
                        rng.random_range(-1.0..1.0),
                        rng.random_range(-1.0..1.0),
                    );
                    Force::at_point(f, &p)
                })
                .collect();
            let ddq = aba_external(
                &model,
                &mut data,
                q.as_slice(),
                v.as_slice(),
                tau.as_slice(),
                Some(&External {
                    armature: &armature,
                    forces: &forces,
                }),
            )
            .clone();

            let mut mass = crba(&model, &mut data, q.as_slice()).clone();
            for (k, a) in armature.iter().enumerate() {
                mass[(k, k)] += a;
            }
            let mut rhs = &tau - nonlinear_effects(&model, &mut data, q.as_slice(), v.as_slice());
            compute_joint_jacobians(&model, &mut data, q.as_slice());
            let mut jac = DMatrix::zeros(6, model.nv);
            for (i, f) in forces.iter().enumerate().skip(1) {
                // Any frame attached to body i has body i's Jacobian at the world origin.
                let frame = model
                    .frames
                    .iter()
                    .position(|fr| fr.joint.0 == i)
                    .expect("every body has a frame");
                frame_jacobian(
                    &model,
                    &data,
                    FrameId(frame),
                    ReferenceFrame::World,
                    &mut jac,
                );
                rhs += jac.transpose() * f.to_vector();
            }
            let expected = mass.cholesky().expect("M is positive definite").solve(&rhs);
            let err = (&ddq - &expected).amax() / expected.amax().max(1.0);
            assert!(err < 1e-9, "{name}: relative error {err:e}");
        }
    }
}

#[test]
fn body_velocities_move_frame_origins_as_the_jacobian_says() {
    let mut rng = common::rng(12);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        let mut jac = DMatrix::zeros(6, model.nv);
        for _ in 0..3 {
            let (q, v, _) = common::random_state(&model, &mut rng);
            compute_joint_jacobians(&model, &mut data, q.as_slice());
            let mut expected = Vec::new();
            for f in 0..model.frames.len() {
                frame_jacobian(
                    &model,
                    &data,
                    FrameId(f),
                    ReferenceFrame::LocalWorldAligned,
                    &mut jac,
                );
                expected.push(&jac * &v);
            }
            forward_kinematics_velocity(&model, &mut data, q.as_slice(), v.as_slice());
            for (f, frame) in model.frames.iter().enumerate() {
                let i = frame.joint.0;
                let twist = data.v[i];
                let rotation = data.world_from_joint[i].rotation;
                let p = frame.placement.translation;
                let linear = rotation * (twist.linear + twist.angular.cross(&p));
                let angular = rotation * twist.angular;
                let e = &expected[f];
                let err = (linear - Vector3::new(e[0], e[1], e[2]))
                    .amax()
                    .max((angular - Vector3::new(e[3], e[4], e[5])).amax());
                assert!(err < 1e-9, "{name} frame {}: error {err:e}", frame.name);
            }
        }
    }
}
