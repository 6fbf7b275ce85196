//! The per-call workspace of the algorithms. Sized once from a [`Model`]; the algorithms
//! write into it and never allocate, so they can run on the real-time loop.

use nalgebra::{DMatrix, DVector, Matrix6, Vector6};

use crate::model::Model;
use crate::spatial::{Force, Motion, Transform, Vec3, WorldInertia};

/// Results and scratch space of the rigid-body algorithms for one model.
#[derive(Clone, Debug)]
pub struct Data {
    /// Parent-from-joint placement of each joint at the current configuration.
    pub parent_from_joint: Vec<Transform>,
    /// World placement of each joint frame (forward kinematics).
    pub world_from_joint: Vec<Transform>,
    /// World placement of each frame (after [`crate::frame_placements`]).
    pub world_from_frame: Vec<Transform>,
    /// Spatial velocity of each body, in its joint frame.
    pub v: Vec<Motion>,
    /// Spatial acceleration of each body (gravity included by RNEA), in its joint frame.
    pub a: Vec<Motion>,
    /// Spatial force transmitted by each joint, in its joint frame.
    pub f: Vec<Force>,
    /// Joint torques (output of RNEA and friends).
    pub tau: DVector<f64>,
    /// Joint accelerations (output of ABA).
    pub ddq: DVector<f64>,
    /// Joint-space mass matrix (output of CRBA), full and symmetric.
    pub mass_matrix: DMatrix<f64>,
    /// Joint Jacobian in the world frame: column k is the world twist (at the world
    /// origin) of motion-subspace column k (after [`crate::compute_joint_jacobians`]).
    pub jacobian: DMatrix<f64>,
    /// Centre of mass in the world (m).
    pub com: Vec3,
    /// Jacobian of the centre of mass (3 × nv).
    pub com_jacobian: DMatrix<f64>,
    /// Motion-subspace columns of every joint dof, in the world.
    pub(crate) dof_world: Vec<Motion>,
    /// Body and composite inertias in the world.
    pub(crate) world_inertia: Vec<WorldInertia>,
    /// World-frame quantities of ABA.
    pub(crate) ov: Vec<Motion>,
    pub(crate) oa: Vec<Motion>,
    pub(crate) oc: Vec<Motion>,
    pub(crate) of: Vec<Force>,
    pub(crate) articulated: Vec<Matrix6<f64>>,
    pub(crate) aba_u: Vec<Vector6<f64>>,
    pub(crate) aba_dinv: Vec<Matrix6<f64>>,
    pub(crate) aba_bias: Vec<Vector6<f64>>,
    /// Scratch for the dense fallback of ABA (coupled mimic joints).
    pub(crate) dense: DMatrix<f64>,
    pub(crate) dense_rhs: DVector<f64>,
}

impl Data {
    /// A workspace sized for `model`.
    pub fn new(model: &Model) -> Data {
        let n = model.njoints();
        let (nv, ndof) = (model.nv, model.ndof);
        Data {
            parent_from_joint: vec![Transform::IDENTITY; n],
            world_from_joint: vec![Transform::IDENTITY; n],
            world_from_frame: vec![Transform::IDENTITY; model.frames.len()],
            v: vec![Motion::ZERO; n],
            a: vec![Motion::ZERO; n],
            f: vec![Force::ZERO; n],
            tau: DVector::zeros(nv),
            ddq: DVector::zeros(nv),
            mass_matrix: DMatrix::zeros(nv, nv),
            jacobian: DMatrix::zeros(6, nv),
            com: Vec3::zeros(),
            com_jacobian: DMatrix::zeros(3, nv),
            dof_world: vec![Motion::ZERO; ndof],
            world_inertia: vec![WorldInertia::ZERO; n],
            ov: vec![Motion::ZERO; n],
            oa: vec![Motion::ZERO; n],
            oc: vec![Motion::ZERO; n],
            of: vec![Force::ZERO; n],
            articulated: vec![Matrix6::zeros(); n],
            aba_u: vec![Vector6::zeros(); ndof],
            aba_dinv: vec![Matrix6::zeros(); n],
            aba_bias: vec![Vector6::zeros(); n],
            dense: DMatrix::zeros(nv, nv),
            dense_rhs: DVector::zeros(nv),
        }
    }
}
