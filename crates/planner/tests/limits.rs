//! Every sample of every planned motion stays within its bounds, and every motion ends
//! exactly where it was asked to: property tests over random distances and bounds, and
//! a Cartesian line on arm7 checked against forward kinematics.

#![allow(clippy::needless_range_loop)] // parallel per-joint arrays, indexed by joint

use embody_control::JointPoint;
use embody_model::{Data, frame_placements, robots, spatial::Transform};
use embody_planner::{JointMove, Limits, LineOptions, LinePath, Motion, SCurve};
use nalgebra::{DVector, Vector3};
use proptest::prelude::*;

fn limits() -> impl Strategy<Value = Limits> {
    (0.1f64..5.0, 0.1f64..20.0, 1.0f64..500.0).prop_map(|(velocity, acceleration, jerk)| Limits {
        velocity,
        acceleration,
        jerk,
    })
}

const SLACK: f64 = 1.0 + 1e-9;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn s_curves_respect_every_bound_and_end_exactly(h in 0.0f64..20.0, l in limits()) {
        let s = SCurve::new(h, l);
        let t_end = s.duration();
        let n = 4000;
        let mut previous = s.sample(0.0);
        for k in 1..=n {
            let t = t_end * k as f64 / n as f64;
            let [p, v, a] = s.sample(t);
            prop_assert!(v.abs() <= l.velocity * SLACK + 1e-12, "v {v} > {}", l.velocity);
            prop_assert!(a.abs() <= l.acceleration * SLACK + 1e-12, "a {a} > {}", l.acceleration);
            let dt = t_end / n as f64;
            if dt > 0.0 {
                prop_assert!((a - previous[2]).abs() / dt <= l.jerk * SLACK + 1e-6, "jerk");
            }
            prop_assert!(p >= previous[0] - 1e-12, "position goes back");
            previous = [p, v, a];
        }
        prop_assert_eq!(s.sample(t_end), [h, 0.0, 0.0]);
        prop_assert_eq!(s.sample(0.0), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn joint_moves_keep_each_joint_within_its_own_bounds(
        start in prop::collection::vec(-2.0f64..2.0, 7),
        end in prop::collection::vec(-2.0f64..2.0, 7),
        bounds in prop::collection::vec(limits(), 7),
    ) {
        let m = JointMove::new((0..7).collect(), start.clone(), &end, &bounds);
        let mut point = JointPoint::ZERO;
        let n = 2000;
        for k in 0..=n {
            m.sample(m.duration() * k as f64 / n as f64, &mut point);
            for j in 0..7 {
                prop_assert!(point.dq[j].abs() <= bounds[j].velocity * SLACK + 1e-12, "joint {j} velocity");
                prop_assert!(point.ddq[j].abs() <= bounds[j].acceleration * SLACK + 1e-12, "joint {j} acceleration");
            }
        }
        m.sample(m.duration(), &mut point);
        for j in 0..7 {
            prop_assert_eq!(point.q[j], end[j]);
            prop_assert_eq!(point.dq[j], 0.0);
        }
        m.sample(0.0, &mut point);
        for j in 0..7 {
            prop_assert_eq!(point.q[j], start[j]);
        }
    }
}

#[test]
fn a_cartesian_line_keeps_the_tool_on_the_line() {
    let model = robots::load("arm7", None).expect("arm7");
    let tcp = model.frame_id("tcp").expect("tcp");
    let start = DVector::from_vec(vec![0.0, 0.4, 0.0, -1.2, 0.0, 0.9, 0.0, 0.02]);
    let mut data = Data::new(&model);
    frame_placements(&model, &mut data, start.as_slice());
    let from = data.world_from_frame[tcp.0];
    let target = Transform::new(
        from.rotation,
        from.translation + Vector3::new(0.0, 0.15, -0.1),
    );
    let bounds: Vec<Limits> = model
        .actuated_joints()
        .map(|j| Limits {
            velocity: model.joints[j.0].limits.velocity,
            acceleration: 5.0,
            jerk: 50.0,
        })
        .collect();
    let path = LinePath::new(
        &model,
        tcp,
        &start,
        &target,
        &bounds,
        &LineOptions::default(),
    )
    .expect("reachable");
    let mut point = JointPoint::ZERO;
    let direction = (target.translation - from.translation).normalize();
    let n = 400;
    for k in 0..=n {
        let t = path.duration() * k as f64 / n as f64;
        path.sample(t, &mut point);
        frame_placements(&model, &mut data, &point.q[..8]);
        let p = data.world_from_frame[tcp.0].translation - from.translation;
        let off_line = (p - direction * p.dot(&direction)).norm();
        // Linear interpolation between 1 mm IK samples: well under a millimetre off.
        assert!(off_line < 2e-4, "{off_line} m off the line at t = {t}");
        let r = data.world_from_frame[tcp.0].rotation;
        assert!((r - from.rotation).amax() < 1e-3, "orientation drifted");
        for (j, b) in bounds.iter().enumerate() {
            assert!(
                point.dq[j].abs() <= b.velocity * SLACK,
                "joint {j} too fast"
            );
        }
    }
    path.sample(path.duration(), &mut point);
    frame_placements(&model, &mut data, &point.q[..8]);
    let end = data.world_from_frame[tcp.0].translation;
    assert!((end - target.translation).norm() < 1e-4);
}

#[test]
fn an_unreachable_line_is_refused_before_anything_moves() {
    let model = robots::load("arm7", None).expect("arm7");
    let tcp = model.frame_id("tcp").expect("tcp");
    let start = DVector::from_vec(vec![0.0, 0.4, 0.0, -1.2, 0.0, 0.9, 0.0, 0.02]);
    let mut data = Data::new(&model);
    frame_placements(&model, &mut data, start.as_slice());
    let from = data.world_from_frame[tcp.0];
    let far = Transform::new(from.rotation, Vector3::new(3.0, 0.0, 0.5));
    let bounds = vec![
        Limits {
            velocity: 1.0,
            acceleration: 5.0,
            jerk: 50.0
        };
        8
    ];
    let err = LinePath::new(&model, tcp, &start, &far, &bounds, &LineOptions::default())
        .expect_err("3 m away is out of reach");
    assert!(err.to_string().contains("unreachable"), "{err}");
}
