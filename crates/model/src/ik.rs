//! Damped-least-squares inverse kinematics for the pose of one frame, within joint limits.
//! Each iteration solves `Δq = Jᵀ (J Jᵀ + λ² I)⁻¹ e` for the pose error `e` (position and
//! rotation vector, world axes), steps, and clamps into the limits. The iteration count is
//! bounded, and the result says whether it converged. No allocation per call: the solver
//! owns its workspace.

use nalgebra::{DMatrix, DVector, Matrix6, Vector6};

use crate::configuration::integrate;
use crate::data::Data;
use crate::joint::JointKind;
use crate::kinematics::{ReferenceFrame, compute_joint_jacobians, frame_jacobian};
use crate::model::{FrameId, Model};
use crate::spatial::{Transform, log3};

/// Settings of the IK solver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IkOptions {
    /// Maximum iterations before giving up. Default 200.
    pub max_iterations: usize,
    /// Position tolerance (m). Default 1e-5.
    pub position_tolerance_m: f64,
    /// Orientation tolerance (rad). Default 1e-4.
    pub orientation_tolerance_rad: f64,
    /// Damping λ of the least-squares step. Default 1e-3.
    pub damping: f64,
    /// Largest joint step per iteration (rad or m, infinity norm). Default 0.5.
    pub max_step: f64,
    /// Let the free-flyer (floating base) move; otherwise only actuated joints. Default false.
    pub move_floating_base: bool,
}

impl Default for IkOptions {
    fn default() -> Self {
        Self {
            max_iterations: 200,
            position_tolerance_m: 1e-5,
            orientation_tolerance_rad: 1e-4,
            damping: 1e-3,
            max_step: 0.5,
            move_floating_base: false,
        }
    }
}

/// Outcome of an IK solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IkReport {
    /// Whether both tolerances were met.
    pub converged: bool,
    /// Iterations used.
    pub iterations: usize,
    /// Final position error (m).
    pub position_error_m: f64,
    /// Final orientation error (rad).
    pub orientation_error_rad: f64,
}

/// An IK solver with its workspace, sized for one model.
#[derive(Clone, Debug)]
pub struct IkSolver {
    /// Settings.
    pub options: IkOptions,
    jacobian: DMatrix<f64>,
    step: DVector<f64>,
    next: DVector<f64>,
}

impl IkSolver {
    /// A solver for `model`.
    pub fn new(model: &Model, options: IkOptions) -> Self {
        Self {
            options,
            jacobian: DMatrix::zeros(6, model.nv),
            step: DVector::zeros(model.nv),
            next: DVector::zeros(model.nq),
        }
    }

    /// Moves `q` (the initial guess) towards a configuration where `frame` is at
    /// `world_from_target`. `q` always ends within the joint limits.
    pub fn solve(
        &mut self,
        model: &Model,
        data: &mut Data,
        frame: FrameId,
        world_from_target: &Transform,
        q: &mut DVector<f64>,
    ) -> IkReport {
        let o = self.options;
        let mut report = IkReport {
            converged: false,
            iterations: 0,
            position_error_m: f64::INFINITY,
            orientation_error_rad: f64::INFINITY,
        };
        clamp_to_limits(model, q);
        loop {
            compute_joint_jacobians(model, data, q.as_slice());
            let f = &model.frames[frame.0];
            let current = data.world_from_joint[f.joint.0].mul(&f.placement);
            let dp = world_from_target.translation - current.translation;
            let dr = log3(&(world_from_target.rotation * current.rotation.transpose()));
            report.position_error_m = dp.norm();
            report.orientation_error_rad = dr.norm();
            if report.position_error_m <= o.position_tolerance_m
                && report.orientation_error_rad <= o.orientation_tolerance_rad
            {
                report.converged = true;
                return report;
            }
            if report.iterations >= o.max_iterations || !report.position_error_m.is_finite() {
                return report;
            }
            report.iterations += 1;
            frame_jacobian(
                model,
                data,
                frame,
                ReferenceFrame::LocalWorldAligned,
                &mut self.jacobian,
            );
            if !o.move_floating_base {
                for j in model
                    .joints
                    .iter()
                    .filter(|j| j.kind == JointKind::FreeFlyer)
                {
                    self.jacobian.columns_mut(j.idx_v, 6).fill(0.0);
                }
            }
            let error = Vector6::new(dp.x, dp.y, dp.z, dr.x, dr.y, dr.z);
            let mut jjt = Matrix6::identity() * (o.damping * o.damping);
            for c in 0..model.nv {
                let col = self.jacobian.fixed_view::<6, 1>(0, c);
                jjt += col * col.transpose();
            }
            let Some(chol) = jjt.cholesky() else {
                return report;
            };
            let y = chol.solve(&error);
            self.step.gemv_tr(1.0, &self.jacobian, &y, 0.0);
            let largest = self.step.amax();
            if largest > o.max_step {
                self.step *= o.max_step / largest;
            }
            integrate(
                model,
                q.as_slice(),
                self.step.as_slice(),
                self.next.as_mut_slice(),
            );
            q.copy_from(&self.next);
            clamp_to_limits(model, q);
        }
    }
}

/// Clamps every bounded coordinate of `q` into its limits.
pub fn clamp_to_limits(model: &Model, q: &mut DVector<f64>) {
    for k in 0..model.nq {
        q[k] = q[k].clamp(model.lower_position_limit[k], model.upper_position_limit[k]);
    }
}
