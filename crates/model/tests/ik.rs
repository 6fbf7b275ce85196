//! Inverse kinematics reaches poses known to be reachable (forward kinematics of a random
//! configuration), keeps within joint limits, and gives up with a report on unreachable
//! targets instead of looping.

mod common;

use embody_model::{Data, IkOptions, IkSolver, frame_placements, random_configuration, robots};
use nalgebra::DVector;

#[test]
fn reaches_poses_of_random_configurations() {
    let mut rng = common::rng(7);
    for (robot, frame_name) in [
        ("arm7", "tcp"),
        ("humanoid", "left_palm"),
        ("humanoid", "right_sole"),
    ] {
        let model = robots::load(robot, None).expect("robot");
        let frame = model.frame_id(frame_name).expect("frame");
        let mut data = Data::new(&model);
        let mut solver = IkSolver::new(&model, IkOptions::default());
        let mut converged = 0;
        for _ in 0..20 {
            let goal_q = random_configuration(&model, &mut rng);
            frame_placements(&model, &mut data, goal_q.as_slice());
            let target = data.world_from_frame[frame.0];
            // Start from the goal perturbed; keep the floating base where the goal has it.
            let mut q = goal_q.clone();
            let start = random_configuration(&model, &mut rng);
            for j in model.joints.iter().skip(1).filter(|j| j.nq() == 1) {
                q[j.idx_q] = 0.6 * goal_q[j.idx_q] + 0.4 * start[j.idx_q];
            }
            let report = solver.solve(&model, &mut data, frame, &target, &mut q);
            for k in 0..model.nq {
                assert!(
                    q[k] >= model.lower_position_limit[k] && q[k] <= model.upper_position_limit[k]
                );
            }
            if report.converged {
                converged += 1;
                frame_placements(&model, &mut data, q.as_slice());
                let reached = data.world_from_frame[frame.0];
                assert!((reached.translation - target.translation).norm() <= 1e-5);
                assert!(report.iterations <= IkOptions::default().max_iterations);
            }
        }
        assert!(
            converged >= 17,
            "{robot}/{frame_name}: only {converged}/20 converged"
        );
    }
}

#[test]
fn unreachable_target_stops_with_a_report() {
    let model = robots::load("arm7", None).expect("arm7");
    let frame = model.frame_id("tcp").expect("tcp");
    let mut data = Data::new(&model);
    let options = IkOptions {
        max_iterations: 50,
        ..Default::default()
    };
    let mut solver = IkSolver::new(&model, options);
    let far = embody_model::spatial::Transform::from_xyz_rpy([5.0, 0.0, 0.5], [0.0, 0.0, 0.0]);
    let mut q = DVector::from_element(model.nq, 0.1);
    let report = solver.solve(&model, &mut data, frame, &far, &mut q);
    assert!(!report.converged);
    assert_eq!(report.iterations, 50);
    assert!(
        report.position_error_m > 3.0,
        "the arm reaches about 1 m: {report:?}"
    );
}
