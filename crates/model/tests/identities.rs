//! Identities the dynamics must satisfy whatever the reference: ABA inverts RNEA, the mass
//! matrix is symmetric positive definite and links ABA to the nonlinear effects, Jacobians
//! are the derivatives of forward kinematics, and the CoM Jacobian is the derivative of the
//! CoM. Run on the built-in robots (with coupled and independent mimic fingers) and on real
//! robots from example-robot-data.

mod common;

use embody_model::{
    Data, ReferenceFrame, aba, center_of_mass, compute_joint_jacobians, crba, frame_jacobian,
    frame_placements, integrate, jacobian_center_of_mass, nonlinear_effects, rnea,
};
use nalgebra::{DMatrix, DVector};

fn rel_err(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a - b).amax() / b.amax().max(1.0)
}

#[test]
fn aba_inverts_rnea() {
    let mut rng = common::rng(1);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        for _ in 0..5 {
            let (q, v, tau) = common::random_state(&model, &mut rng);
            let tau = tau * 10.0;
            let ddq = aba(
                &model,
                &mut data,
                q.as_slice(),
                v.as_slice(),
                tau.as_slice(),
            )
            .clone();
            let back = rnea(
                &model,
                &mut data,
                q.as_slice(),
                v.as_slice(),
                ddq.as_slice(),
            )
            .clone();
            assert!(
                rel_err(&back, &tau) < 1e-9,
                "{name}: RNEA(ABA(τ)) ≠ τ, error {}",
                rel_err(&back, &tau)
            );
        }
    }
}

#[test]
fn mass_matrix_is_symmetric_positive_definite_and_consistent_with_aba() {
    let mut rng = common::rng(2);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        for _ in 0..5 {
            let (q, v, tau) = common::random_state(&model, &mut rng);
            let m = crba(&model, &mut data, q.as_slice()).clone();
            assert!(
                (&m - m.transpose()).amax() == 0.0,
                "{name}: M not symmetric"
            );
            assert!(
                m.clone().cholesky().is_some(),
                "{name}: M not positive definite"
            );
            let nle = nonlinear_effects(&model, &mut data, q.as_slice(), v.as_slice()).clone();
            let ddq = aba(
                &model,
                &mut data,
                q.as_slice(),
                v.as_slice(),
                tau.as_slice(),
            )
            .clone();
            let lhs = &m * ddq;
            let rhs = &tau - nle;
            assert!(
                rel_err(&lhs, &rhs) < 1e-9,
                "{name}: M·ABA ≠ τ − nle ({})",
                rel_err(&lhs, &rhs)
            );
            // RNEA is linear in a with slope M.
            let zero = DVector::zeros(model.nv);
            let mut e = DVector::zeros(model.nv);
            e[model.nv / 2] = 1.0;
            let g = rnea(
                &model,
                &mut data,
                q.as_slice(),
                zero.as_slice(),
                zero.as_slice(),
            )
            .clone();
            let col = rnea(
                &model,
                &mut data,
                q.as_slice(),
                zero.as_slice(),
                e.as_slice(),
            )
            .clone()
                - g;
            let expected = m.column(model.nv / 2).into_owned();
            assert!(
                rel_err(&col, &expected) < 1e-9,
                "{name}: RNEA slope ≠ M column"
            );
        }
    }
}

/// The frame pose change along a small velocity step, as a world-aligned twist.
fn finite_difference_jacobian(
    model: &embody_model::Model,
    q: &DVector<f64>,
    frame: usize,
) -> DMatrix<f64> {
    let h = 1e-7;
    let mut data = Data::new(model);
    let mut jac = DMatrix::zeros(6, model.nv);
    frame_placements(model, &mut data, q.as_slice());
    let base = data.world_from_frame[frame];
    let mut q_plus = q.clone();
    for k in 0..model.nv {
        let mut dv = DVector::zeros(model.nv);
        dv[k] = h;
        integrate(model, q.as_slice(), dv.as_slice(), q_plus.as_mut_slice());
        frame_placements(model, &mut data, q_plus.as_slice());
        let moved = data.world_from_frame[frame];
        let dp = (moved.translation - base.translation) / h;
        let dr = embody_model::spatial::log3(&(moved.rotation * base.rotation.transpose())) / h;
        jac.fixed_view_mut::<3, 1>(0, k).copy_from(&dp);
        jac.fixed_view_mut::<3, 1>(3, k).copy_from(&dr);
    }
    jac
}

#[test]
fn jacobians_are_derivatives_of_forward_kinematics() {
    let mut rng = common::rng(3);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        let mut jac = DMatrix::zeros(6, model.nv);
        let (q, _, _) = common::random_state(&model, &mut rng);
        compute_joint_jacobians(&model, &mut data, q.as_slice());
        for frame in [model.frames.len() - 1, model.frames.len() / 2] {
            frame_jacobian(
                &model,
                &data,
                embody_model::FrameId(frame),
                ReferenceFrame::LocalWorldAligned,
                &mut jac,
            );
            let fd = finite_difference_jacobian(&model, &q, frame);
            let err = (&jac - &fd).amax();
            assert!(
                err < 1e-5,
                "{name}: frame {} Jacobian differs from FK difference by {err}",
                model.frames[frame].name
            );
        }
    }
}

#[test]
fn com_jacobian_is_the_derivative_of_the_com() {
    let mut rng = common::rng(4);
    for (name, model) in common::all_models() {
        let mut data = Data::new(&model);
        let (q, v, _) = common::random_state(&model, &mut rng);
        let jcom = jacobian_center_of_mass(&model, &mut data, q.as_slice()).clone();
        let h = 1e-7;
        let c0 = center_of_mass(&model, &mut data, q.as_slice());
        let mut q1 = q.clone();
        integrate(&model, q.as_slice(), (&v * h).as_slice(), q1.as_mut_slice());
        let c1 = center_of_mass(&model, &mut data, q1.as_slice());
        let fd = (c1 - c0) / h;
        let err = (jcom * &v - fd).amax();
        assert!(err < 1e-5, "{name}: CoM velocity differs by {err}");
    }
}
