//! How long planning takes: a 7-joint jerk-limited point-to-point move, and a 0.5 m
//! Cartesian line of arm7's tool sampled through IK at 1 mm.

use std::hint::black_box;
use std::time::Instant;

use embody_model::{Data, frame_placements, robots, spatial::Transform};
use embody_planner::{JointMove, Limits, LineOptions, LinePath};
use nalgebra::{DVector, Vector3};
use serde::Serialize;

use super::median;
use crate::error::RuntimeError;

/// The Cartesian line's figures.
#[derive(Clone, Debug, Serialize)]
pub struct LineFigures {
    /// Its length (m).
    pub length_m: f64,
    /// IK samples along it.
    pub ik_samples: usize,
    /// Planning time, median (ms).
    pub ms: f64,
}

/// What planning costs.
#[derive(Clone, Debug, Serialize)]
pub struct PlanFigures {
    /// A 7-joint jerk-limited move, median (µs).
    pub joint_move_7_us: f64,
    /// A Cartesian line through IK.
    pub cartesian_line: LineFigures,
}

/// Times both.
pub fn run() -> Result<PlanFigures, RuntimeError> {
    let limits: Vec<Limits> = (0..7)
        .map(|k| Limits {
            velocity: 1.5 + 0.1 * k as f64,
            acceleration: 6.0,
            jerk: 60.0,
        })
        .collect();
    let start: Vec<f64> = (0..7).map(|k| 0.1 * k as f64).collect();
    let end: Vec<f64> = (0..7).map(|k| -0.3 + 0.2 * k as f64).collect();
    let joints: Vec<usize> = (0..7).collect();
    let joint_move_7_us = median(
        (0..51)
            .map(|_| {
                let n = 2000;
                let t = Instant::now();
                for _ in 0..n {
                    black_box(JointMove::new(
                        joints.clone(),
                        start.clone(),
                        black_box(&end),
                        &limits,
                    ));
                }
                t.elapsed().as_secs_f64() * 1e6 / n as f64
            })
            .collect(),
    );

    let model = robots::load("arm7", None)?;
    let tcp = model
        .frame_id("tcp")
        .ok_or_else(|| RuntimeError::Invalid("arm7 has no tcp".into()))?;
    let q0 = DVector::from_vec(vec![0.0, 0.5, 0.0, -2.0, 0.0, -1.64, 0.0, 0.02]);
    let mut data = Data::new(&model);
    frame_placements(&model, &mut data, q0.as_slice());
    let from = data.world_from_frame[tcp.0];
    let target = Transform::new(
        from.rotation,
        from.translation + Vector3::new(-0.3, 0.4, 0.0),
    );
    let length_m = (target.translation - from.translation).norm();
    let joint_limits: Vec<Limits> = model
        .actuated_joints()
        .map(|j| Limits {
            velocity: model.joints[j.0].limits.velocity,
            acceleration: 5.0,
            jerk: 50.0,
        })
        .collect();
    let mut ik_samples = 0;
    let ms = median(
        (0..11)
            .map(|_| {
                let t = Instant::now();
                let path = LinePath::new(
                    &model,
                    tcp,
                    &q0,
                    &target,
                    &joint_limits,
                    &LineOptions::default(),
                );
                let ms = t.elapsed().as_secs_f64() * 1e3;
                ik_samples = path.map_or(0, |p| p.samples().len());
                ms
            })
            .collect(),
    );
    if ik_samples == 0 {
        return Err(RuntimeError::Invalid(
            "the benchmark line is unreachable".into(),
        ));
    }
    Ok(PlanFigures {
        joint_move_7_us,
        cartesian_line: LineFigures {
            length_m,
            ik_samples,
            ms,
        },
    })
}
