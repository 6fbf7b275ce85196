//! The recurrent probe (an ONNX GRU on the arm): its hidden state is zero at the first
//! step, carried from `h_out` to `h_in` at every later one, and zero again after a reset.

use std::path::Path;

use embody_hal::JointCommand;
use embody_model::robots;
use embody_policy::observe::{Command, StepInput};
use embody_policy::{Package, Policy};

#[test]
fn the_hidden_state_is_carried_between_steps_and_reset_to_zero() {
    let model = robots::load("arm7", None).expect("arm7");
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/arm7_gru_probe"
    ));
    let package = Package::load(dir, &model).expect("package");
    let engine = package.tract().expect("tract");
    let mut policy = Policy::new(package, Box::new(engine), &model).expect("policy");
    let (inputs, outputs) = policy.io_names();
    let h_in = inputs.iter().position(|n| n == "h_in").expect("h_in");
    let h_out = outputs.iter().position(|n| n == "h_out").expect("h_out");
    let n = model.actuated_joints().count();
    let (q, zero) = (vec![0.2; n], vec![0.0; n]);
    let command = Command::default();
    let state = StepInput {
        t_s: 0.0,
        q: &q,
        dq: &zero,
        tau: &zero,
        base_pose: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        base_velocity: [0.0; 6],
        command: &command,
        objects: &[],
        images: &[],
    };
    let mut targets = vec![JointCommand::Off; n];
    let mut step = |policy: &mut Policy| {
        policy.step(&model, &state, &mut targets).expect("step");
        (
            policy.feeds()[h_in].clone(),
            policy.outputs()[h_out].clone(),
        )
    };
    let (first_in, first_out) = step(&mut policy);
    assert!(first_in.iter().all(|x| *x == 0.0));
    assert!(first_out.iter().any(|x| *x != 0.0));
    let (second_in, second_out) = step(&mut policy);
    assert_eq!(second_in, first_out, "carried");
    assert_ne!(
        second_out, first_out,
        "the same input with another state gives another"
    );
    policy.reset();
    let (after_reset, again) = step(&mut policy);
    assert!(after_reset.iter().all(|x| *x == 0.0));
    assert_eq!(again, first_out, "a reset run repeats the first");
}
