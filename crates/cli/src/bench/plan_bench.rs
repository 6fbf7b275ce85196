//! `embody bench plan`: how long planning takes — a 7-joint jerk-limited point-to-point
//! move, and a 0.5 m Cartesian line of arm7's tool sampled through IK at 1 mm.

use std::hint::black_box;
use std::time::Instant;

use clap::Args;
use embody_model::{Data, frame_placements, robots, spatial::Transform};
use embody_planner::{JointMove, Limits, LineOptions, LinePath};
use nalgebra::{DVector, Vector3};
use serde_json::json;

/// Arguments of `embody bench plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub fn run(args: &PlanArgs) -> Result<(), String> {
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
    let p2p_us = median(
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

    let model = robots::load("arm7", None).map_err(|e| e.to_string())?;
    let tcp = model.frame_id("tcp").ok_or("arm7 has no tcp")?;
    let q0 = DVector::from_vec(vec![0.0, 0.5, 0.0, -2.0, 0.0, -1.64, 0.0, 0.02]);
    let mut data = Data::new(&model);
    frame_placements(&model, &mut data, q0.as_slice());
    let from = data.world_from_frame[tcp.0];
    let target = Transform::new(
        from.rotation,
        from.translation + Vector3::new(-0.3, 0.4, 0.0),
    );
    let length = (target.translation - from.translation).norm();
    let joint_limits: Vec<Limits> = model
        .actuated_joints()
        .map(|j| Limits {
            velocity: model.joints[j.0].limits.velocity,
            acceleration: 5.0,
            jerk: 50.0,
        })
        .collect();
    let mut samples = 0;
    let line_ms = median(
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
                samples = path.map_or(0, |p| p.samples().len());
                ms
            })
            .collect(),
    );
    if samples == 0 {
        return Err("the benchmark line is unreachable".into());
    }
    if args.json {
        println!(
            "{}",
            json!({
                "joint_move_7_us": p2p_us,
                "cartesian_line": {"length_m": length, "ik_samples": samples, "ms": line_ms},
            })
        );
    } else {
        println!("7-joint jerk-limited point-to-point move: {p2p_us:.2} µs (median)");
        println!(
            "{length:.2} m Cartesian line of arm7's tool, IK every 1 mm ({samples} samples): {line_ms:.2} ms (median)"
        );
    }
    Ok(())
}
