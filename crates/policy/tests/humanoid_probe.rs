//! The locomotion-style probe package on the built-in humanoid: its synthetic network
//! hands back exactly what it was fed and pulls each joint to the default posture, so
//! each observation term's place, frame, sign, scale and history order is checked here
//! against the manifest's definition, computed independently (rotation matrices from
//! roll, pitch and yaw by hand; joints found by name), and the targets against
//! `default + 0.25·a` with `a = −(q − default)`.

use std::path::Path;

use embody_hal::JointCommand;
use embody_model::robots;
use embody_policy::observe::{Command, StepInput};
use embody_policy::{Package, Policy};

fn package_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/humanoid_probe"
    ))
}

/// World from base for roll, pitch, yaw (Z·Y·X), by hand.
fn rotation(roll: f64, pitch: f64, yaw: f64) -> [[f64; 3]; 3] {
    let (sr, cr, sp, cp, sy, cy) = (
        roll.sin(),
        roll.cos(),
        pitch.sin(),
        pitch.cos(),
        yaw.sin(),
        yaw.cos(),
    );
    [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
}

/// `x y z qx qy qz qw` for a position and roll, pitch, yaw (half-angle formulas).
fn pose(p: [f64; 3], roll: f64, pitch: f64, yaw: f64) -> [f64; 7] {
    let (sr, cr) = ((roll / 2.0).sin(), (roll / 2.0).cos());
    let (sp, cp) = ((pitch / 2.0).sin(), (pitch / 2.0).cos());
    let (sy, cy) = ((yaw / 2.0).sin(), (yaw / 2.0).cos());
    [
        p[0],
        p[1],
        p[2],
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    ]
}

#[test]
fn every_term_lands_where_the_manifest_says_and_targets_follow_the_action() {
    let model = robots::load("humanoid", None).expect("humanoid");
    let package = Package::load(package_dir(), &model).expect("package");
    let engine = package.tract().expect("tract");
    let manifest = package.manifest.clone();
    let mut policy = Policy::new(package, Box::new(engine), &model).expect("policy");
    let actuated: Vec<String> = model
        .actuated_joints()
        .map(|j| model.joints[j.0].name.clone())
        .collect();
    let robot_index = |name: &str| actuated.iter().position(|n| n == name).expect("joint");
    let default = |name: &str| manifest.default_posture.get(name).copied().unwrap_or(0.0);
    let n = actuated.len();
    let (roll, pitch, yaw) = (0.1, -0.2, 0.3);
    let r = rotation(roll, pitch, yaw);
    let velocity = [0.4, -0.1, 0.05, 0.2, -0.3, 0.5];
    let command = Command::from_values(&manifest.command).expect("command");
    let mut previous_jp: Option<Vec<f64>> = None;
    let mut previous_action = vec![0.0; 12];
    for step in 0..3 {
        let q: Vec<f64> = (0..n)
            .map(|k| 0.01 * (k + 1) as f64 + 0.05 * step as f64)
            .collect();
        let dq: Vec<f64> = (0..n).map(|k| -0.02 * (k + 1) as f64).collect();
        let tau = vec![0.0; n];
        let t_s = 0.3 + 0.02 * step as f64;
        let state = StepInput {
            t_s,
            q: &q,
            dq: &dq,
            tau: &tau,
            base_pose: pose([0.1, -0.2, 0.75], roll, pitch, yaw),
            base_velocity: velocity,
            command: &command,
            objects: &[],
            images: &[],
        };
        let mut targets = vec![JointCommand::Off; n];
        let report = policy.step(&model, &state, &mut targets).expect("step");
        assert!(report.inferred);

        let jp: Vec<f64> = manifest
            .joints
            .iter()
            .map(|j| q[robot_index(j)] - default(j))
            .collect();
        let mut expected: Vec<f64> = Vec::new();
        expected.extend(velocity[..3].iter().map(|v| 2.0 * v));
        expected.extend(velocity[3..].iter().map(|w| 0.25 * w));
        // Gravity in the base frame: Rᵀ·[0, 0, −1] is minus R's third row.
        expected.extend([-r[2][0], -r[2][1], -r[2][2]]);
        expected.extend([2.0 * 0.5, 2.0 * 0.0, 0.25 * 0.2]);
        // History oldest first; the first step fills both slots.
        expected.extend(previous_jp.as_ref().unwrap_or(&jp));
        expected.extend(&jp);
        expected.extend(manifest.joints.iter().map(|j| 0.05 * dq[robot_index(j)]));
        expected.extend(&previous_action);
        let angle = std::f64::consts::TAU * t_s / 0.8;
        expected.extend([angle.sin(), angle.cos()]);

        let fed = &policy.feeds()[0];
        assert_eq!(fed.len(), expected.len());
        for (k, (got, want)) in fed.iter().zip(&expected).enumerate() {
            assert!(
                (f64::from(*got) - want).abs() < 1e-6,
                "step {step}, observation {k}: {got} != {want}"
            );
        }
        let action: Vec<f64> = jp.iter().map(|x| -x).collect();
        for (k, joint) in manifest.joints.iter().enumerate() {
            assert!((report.action[k] - action[k]).abs() < 1e-6);
            let JointCommand::Impedance {
                q,
                dq,
                kp,
                kd,
                tau_ff,
            } = targets[robot_index(joint)]
            else {
                panic!("{joint}: {:?}", targets[robot_index(joint)]);
            };
            assert!(
                (q - (default(joint) + 0.25 * action[k])).abs() < 1e-6,
                "{joint}"
            );
            assert_eq!((dq, kp, kd, tau_ff), (0.0, 150.0, 4.0, 0.0));
        }
        // Joints the policy does not drive are left as they were.
        assert_eq!(targets[robot_index("waist_yaw_joint")], JointCommand::Off);
        previous_jp = Some(jp);
        previous_action = report.action.clone();
    }
}

#[test]
fn a_manifest_that_does_not_fit_the_robot_or_the_graph_is_refused_with_the_key() {
    let model = robots::load("humanoid", None).expect("humanoid");
    let dir = std::env::temp_dir().join(format!("embody-policy-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(package_dir().join("model.onnx"), dir.join("model.onnx")).expect("onnx");
    let good = std::fs::read_to_string(package_dir().join("policy.toml")).expect("manifest");
    for (change, key, reason) in [
        (
            (
                "\"right_knee_joint\", \"right_ankle",
                "\"right_kneee_joint\", \"right_ankle",
            ),
            "joints[3]",
            "humanoid has no actuated joint named 'right_kneee_joint'",
        ),
        (
            ("name = \"obs\"", "name = \"observation\""),
            "inputs[0].name",
            "the graph has no input 'observation'",
        ),
        (
            ("history = 2", "history = 3"),
            "inputs[0]",
            "its terms make [1, 74], and the graph's input is obs [1, 62] F32",
        ),
        (
            ("output = \"actions\"", "output = \"act\""),
            "action.output",
            "the graph has no output 'act'",
        ),
        (
            ("period_s = 0.8", "period_s = inf"),
            "inputs[0].terms[7].period_s",
            "a phase term needs a period",
        ),
        (
            ("kp = 150.0", "kp = [1.0, 2.0]"),
            "action.kp",
            "has 2 values for 12 joints",
        ),
        (
            ("rate_hz = 50.0", "rate_hz = nan"),
            "rate_hz",
            "must be from 1 to 1000 Hz",
        ),
    ] {
        std::fs::write(dir.join("policy.toml"), good.replace(change.0, change.1)).expect("write");
        let refused = Package::load(&dir, &model).and_then(|p| p.tract().map(|_| p));
        let message = match refused {
            Ok(_) => panic!("accepted with {change:?}"),
            Err(e) => e.to_string(),
        };
        let located = format!("{}: {key}: {reason}", dir.join("policy.toml").display());
        assert!(
            message.contains(&located),
            "{change:?}:\n{message}\nwanted {located}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
