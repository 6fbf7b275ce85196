//! Motions the planner streams: a synchronised joint-space move (every joint on one
//! straight line in joint space, shaped by a double-S so each joint's velocity,
//! acceleration and jerk stay within its own bounds, all starting and ending together),
//! a Cartesian path (a frame along a straight line with slerped orientation, sampled
//! through IK at a fixed resolution and checked for continuity, then time-scaled by a
//! double-S within the Cartesian and the joints' bounds; it drives the joints that move
//! the frame), and one motion after another ([`Chain`]: an approach, then a path).

use embody_control::JointPoint;
use embody_model::{
    Data, FrameId, IkOptions, IkSolver, Model, frame_placements, spatial::Transform,
};
use nalgebra::{DVector, Rotation3, UnitQuaternion};

use crate::scurve::{Limits, SCurve};

/// Why a motion cannot be planned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MotionError {
    /// IK found no configuration for a point of the path.
    #[error(
        "unreachable: no joint configuration puts the frame at {at:.0} % of the path (residual {error_m:.4} m)"
    )]
    Unreachable {
        /// Where along the path (percent).
        at: f64,
        /// The position error left (m).
        error_m: f64,
    },
    /// IK found no configuration for the target pose.
    #[error("unreachable (IK residual {error_m:.4} m)")]
    NoSolution {
        /// The position error left (m).
        error_m: f64,
    },
    /// Two neighbouring IK solutions are far apart (a singularity or a branch switch).
    #[error(
        "the joint path jumps {jump_rad:.3} rad at {at:.0} % of the line (singularity or IK branch switch)"
    )]
    Discontinuous {
        /// Where along the path (percent).
        at: f64,
        /// The largest joint jump (rad).
        jump_rad: f64,
    },
}

/// A motion: joint targets over time for some of the joints.
pub trait Motion: Send {
    /// Duration (s).
    fn duration(&self) -> f64;
    /// Writes the joints this motion drives at time `t` into `point`.
    fn sample(&self, t: f64, point: &mut JointPoint);
    /// Whether the motion drives joint `k`.
    fn drives(&self, k: usize) -> bool;
}

/// A synchronised rest-to-rest joint move.
#[derive(Clone, Debug)]
pub struct JointMove {
    joints: Vec<usize>,
    start: Vec<f64>,
    end: Vec<f64>,
    delta: Vec<f64>,
    limits: Vec<Limits>,
    curve: SCurve,
}

impl JointMove {
    /// From `start` to `end` on `joints` (indices into the loop's joint order), each
    /// within its `limits`.
    pub fn new(joints: Vec<usize>, start: Vec<f64>, end: &[f64], limits: &[Limits]) -> JointMove {
        let delta: Vec<f64> = end.iter().zip(&start).map(|(e, s)| e - s).collect();
        // The path parameter runs 0 → 1; each joint scales it by its distance, so the
        // parameter's bounds are the tightest of every joint's bounds over its distance.
        let mut normalized = Limits {
            velocity: f64::INFINITY,
            acceleration: f64::INFINITY,
            jerk: f64::INFINITY,
        };
        for (d, l) in delta.iter().zip(limits) {
            let d = d.abs();
            if d > 0.0 {
                normalized.velocity = normalized.velocity.min(l.velocity / d);
                normalized.acceleration = normalized.acceleration.min(l.acceleration / d);
                normalized.jerk = normalized.jerk.min(l.jerk / d);
            }
        }
        let distance = if normalized.velocity.is_finite() {
            1.0
        } else {
            0.0
        };
        let curve = SCurve::new(
            distance,
            if distance > 0.0 {
                normalized
            } else {
                Limits {
                    velocity: 1.0,
                    acceleration: 1.0,
                    jerk: 1.0,
                }
            },
        );
        JointMove {
            joints,
            start,
            end: end.to_vec(),
            delta,
            limits: limits.to_vec(),
            curve,
        }
    }

    /// The joints it drives (indices into the loop's joint order).
    pub fn joints(&self) -> &[usize] {
        &self.joints
    }

    /// Where each of its joints starts.
    pub fn start(&self) -> &[f64] {
        &self.start
    }

    /// Where each of its joints ends.
    pub fn end(&self) -> &[f64] {
        &self.end
    }

    /// The same move to the same end from `q` (a full joint vector), within the same
    /// bounds: its approach re-planned.
    pub fn from_start(&self, q: &[f64]) -> JointMove {
        let start = self.joints.iter().map(|&j| q[j]).collect();
        JointMove::new(self.joints.clone(), start, &self.end, &self.limits)
    }

    /// How far `q` (a full joint vector) is from where the move starts, on its joints.
    pub fn distance_from_start(&self, q: &[f64]) -> f64 {
        self.joints
            .iter()
            .zip(&self.start)
            .map(|(&j, s)| (q[j] - s).abs())
            .fold(0.0, f64::max)
    }
}

impl Motion for JointMove {
    fn duration(&self) -> f64 {
        self.curve.duration()
    }

    fn sample(&self, t: f64, point: &mut JointPoint) {
        let [s, ds, dds] = self.curve.sample(t);
        let done = t >= self.curve.duration();
        for (k, &j) in self.joints.iter().enumerate() {
            let d = self.delta[k];
            // Exactly the end point at the end.
            point.q[j] = if done {
                self.end[k]
            } else {
                self.start[k] + d * s
            };
            point.dq[j] = d * ds;
            point.ddq[j] = d * dds;
        }
    }

    fn drives(&self, k: usize) -> bool {
        self.joints.contains(&k)
    }
}

/// A Cartesian straight-line path of a frame, sampled through IK.
#[derive(Clone, Debug)]
pub struct LinePath {
    /// The joints that move the frame (loop order).
    driven: Vec<usize>,
    samples: Vec<DVector<f64>>,
    curve: SCurve,
}

/// Settings of a Cartesian line.
#[derive(Clone, Copy, Debug)]
pub struct LineOptions {
    /// Distance between IK samples (m). Default 1 mm.
    pub resolution_m: f64,
    /// Bounds on the frame's speed along the line (m/s, m/s², m/s³).
    pub cartesian: Limits,
    /// Largest joint change between neighbouring samples (rad) before the path counts
    /// as discontinuous.
    pub max_joint_step_rad: f64,
}

impl Default for LineOptions {
    fn default() -> Self {
        LineOptions {
            resolution_m: 0.001,
            cartesian: Limits {
                velocity: 0.25,
                acceleration: 1.0,
                jerk: 10.0,
            },
            max_joint_step_rad: 0.05,
        }
    }
}

impl LinePath {
    /// The path of `frame` from where it is at `start` (a full configuration) to
    /// `target`, for a robot whose configuration entries are its joints in loop order
    /// (fixed base), each within `limits`. It drives the joints that move the frame.
    pub fn new(
        model: &Model,
        frame: FrameId,
        start: &DVector<f64>,
        target: &Transform,
        limits: &[Limits],
        options: &LineOptions,
    ) -> Result<LinePath, MotionError> {
        let mut data = Data::new(model);
        frame_placements(model, &mut data, start.as_slice());
        let from = data.world_from_frame[frame.0];
        let length = (target.translation - from.translation).norm();
        let r0 =
            UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(from.rotation));
        let r1 = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(
            target.rotation,
        ));
        let angle = r0.angle_to(&r1);
        // 1 mm, or 1 mrad of orientation per 1 mm, whichever needs more samples.
        let count = ((length / options.resolution_m).ceil() as usize)
            .max((angle / options.resolution_m).ceil() as usize)
            .max(1);
        let ik_options = IkOptions {
            position_tolerance_m: 1e-5,
            orientation_tolerance_rad: 1e-4,
            max_iterations: 100,
            ..IkOptions::default()
        };
        let mut solver = IkSolver::new(model, ik_options);
        // The end first: an unreachable target is refused before sampling the line.
        let mut end = start.clone();
        let report = solver.solve(model, &mut data, frame, target, &mut end);
        if !report.converged {
            return Err(MotionError::Unreachable {
                at: 100.0,
                error_m: report.position_error_m,
            });
        }
        let mut samples = Vec::with_capacity(count + 1);
        samples.push(start.clone());
        let mut q = start.clone();
        for i in 1..=count {
            let s = i as f64 / count as f64;
            let pose = Transform::new(
                *r0.slerp(&r1, s).to_rotation_matrix().matrix(),
                from.translation + (target.translation - from.translation) * s,
            );
            let report = solver.solve(model, &mut data, frame, &pose, &mut q);
            if !report.converged {
                return Err(MotionError::Unreachable {
                    at: 100.0 * s,
                    error_m: report.position_error_m,
                });
            }
            let jump = (&q - &samples[i - 1]).amax();
            if jump > options.max_joint_step_rad {
                return Err(MotionError::Discontinuous {
                    at: 100.0 * s,
                    jump_rad: jump,
                });
            }
            samples.push(q.clone());
        }
        // Time-scale the path parameter: the frame's bounds over the line's length, and
        // each joint's bounds over its steepest rate along the path.
        let mut bound = Limits {
            velocity: options.cartesian.velocity / length.max(1e-9),
            acceleration: options.cartesian.acceleration / length.max(1e-9),
            jerk: options.cartesian.jerk / length.max(1e-9),
        };
        let joints = limits.len();
        for k in 0..joints {
            let steepest = samples
                .windows(2)
                .map(|w| (w[1][k] - w[0][k]).abs() * count as f64)
                .fold(0.0, f64::max);
            if steepest > 0.0 {
                bound.velocity = bound.velocity.min(limits[k].velocity / steepest);
                bound.acceleration = bound.acceleration.min(limits[k].acceleration / steepest);
                bound.jerk = bound.jerk.min(limits[k].jerk / steepest);
            }
        }
        Ok(LinePath {
            driven: chain_joints(model, frame),
            samples,
            curve: SCurve::new(1.0, bound),
        })
    }

    /// The IK samples along the path (configurations).
    pub fn samples(&self) -> &[DVector<f64>] {
        &self.samples
    }

    /// The joints it drives (loop order).
    pub fn driven(&self) -> &[usize] {
        &self.driven
    }

    /// How far `q` (a full joint vector) is from where the path starts, on the joints
    /// it drives.
    pub fn distance_from_start(&self, q: &[f64]) -> f64 {
        self.driven
            .iter()
            .map(|&j| (q[j] - self.samples[0][j]).abs())
            .fold(0.0, f64::max)
    }
}

/// The actuated joints (loop order) on `frame`'s chain from the root: the joints that
/// move it.
pub fn chain_joints(model: &Model, frame: FrameId) -> Vec<usize> {
    let support = model.support(model.frames[frame.0].joint);
    model
        .actuated_joints()
        .enumerate()
        .filter(|(_, j)| support.contains(&j.0))
        .map(|(k, _)| k)
        .collect()
}

/// One motion, then another: an approach to where a checked motion starts, then it.
pub struct Chain {
    first: Box<dyn Motion>,
    then: Box<dyn Motion>,
}

impl Chain {
    /// `first`, then `then`.
    pub fn new(first: Box<dyn Motion>, then: Box<dyn Motion>) -> Chain {
        Chain { first, then }
    }
}

impl Motion for Chain {
    fn duration(&self) -> f64 {
        self.first.duration() + self.then.duration()
    }

    fn sample(&self, t: f64, point: &mut JointPoint) {
        let a = self.first.duration();
        if t < a {
            self.first.sample(t, point);
        } else {
            self.then.sample(t - a, point);
        }
    }

    fn drives(&self, k: usize) -> bool {
        self.first.drives(k) || self.then.drives(k)
    }
}

impl Motion for LinePath {
    fn duration(&self) -> f64 {
        self.curve.duration()
    }

    fn sample(&self, t: f64, point: &mut JointPoint) {
        let [s, ds, dds] = self.curve.sample(t);
        let count = self.samples.len() - 1;
        let x = (s * count as f64).clamp(0.0, count as f64);
        let i = (x.floor() as usize).min(count.saturating_sub(1));
        let frac = x - i as f64;
        let (a, b) = (&self.samples[i], &self.samples[(i + 1).min(count)]);
        for &k in &self.driven {
            let slope = (b[k] - a[k]) * count as f64;
            point.q[k] = a[k] + (b[k] - a[k]) * frac;
            point.dq[k] = slope * ds;
            point.ddq[k] = slope * dds;
        }
        if t >= self.curve.duration() {
            for &k in &self.driven {
                point.q[k] = self.samples[count][k];
                point.dq[k] = 0.0;
                point.ddq[k] = 0.0;
            }
        }
    }

    fn drives(&self, k: usize) -> bool {
        self.driven.contains(&k)
    }
}
