//! Bad task files are refused before anything moves, each with its file, line and
//! reason; a good one checks.

use embody_model::robots;
use embody_planner::{RobotInfo, Source, check};

fn arm() -> (RobotInfo, Vec<f64>) {
    let model = robots::load("arm7", None).expect("arm7");
    let start = vec![0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];
    (RobotInfo::new(model, Vec::new()), start)
}

fn load(text: &str) -> Result<(), String> {
    let source = Source::new("tasks/bad.toml", text);
    let raw = source.parse().map_err(|e| e.to_string())?;
    let (robot, start) = arm();
    check(&source, &raw, &robot, &start)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn the_examples_check() {
    // The arm's examples, in the scenes they give (the simulator's objects).
    for (good, objects) in [
        (
            include_str!("../../../examples/tasks/pick_and_place.toml"),
            &["box"][..],
        ),
        (include_str!("../../../examples/tasks/push.toml"), &["box"]),
        (
            include_str!("../../../examples/tasks/stack.toml"),
            &["loose", "base"],
        ),
    ] {
        let source = Source::new("example.toml", good);
        let raw = source.parse().expect("parses");
        let (robot, start) = arm();
        let robot = robot.with_objects(objects.iter().map(|o| o.to_string()).collect());
        check(&source, &raw, &robot, &start).expect("the example checks");
    }
    let humanoid = include_str!("../../../examples/tasks/humanoid_moves.toml");
    let source = Source::new("humanoid_moves.toml", humanoid);
    let raw = source.parse().expect("parses");
    let sensors = vec!["left_sole".to_owned(), "right_sole".to_owned()];
    let robot = RobotInfo::new(robots::load("humanoid", None).expect("humanoid"), sensors);
    let start = vec![0.0; robot.joints.len()];
    check(&source, &raw, &robot, &start).expect("the humanoid example checks");
}

#[test]
fn bad_tasks_are_located() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[steps]]\nskill = \"dance\"\n",
            "tasks/bad.toml:2:",
            "unknown skill 'dance'",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nsecond = 1\n",
            "tasks/bad.toml:3:",
            "unknown field `second`",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nseconds = 1\n\n[[steps]]\nskill = \"move_joints\"\njoints = { elbow = 1.0 }\n",
            "tasks/bad.toml:7:",
            "no joint named 'elbow'",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\njoints = { joint4 = 1.0 }\n",
            "tasks/bad.toml:3:",
            "joint4 = 1 is outside its limits",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\nposture = \"sit\"\n",
            "tasks/bad.toml:3:",
            "no posture named 'sit'",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nposition = [2.0, 0.0, 0.5]\npath = \"line\"\n",
            "tasks/bad.toml:1:",
            "unreachable",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nframe = \"nose\"\nposition = [0.0, 0.0, 0.5]\n",
            "tasks/bad.toml:1:",
            "no frame named 'nose'",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nposition = [0.0, 0.0, 0.5]\nseconds = 1\n",
            "tasks/bad.toml:1:",
            "`position` is not a key of wait",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\nposture = \"home\"\nspeed = 3.0\n",
            "tasks/bad.toml:4:",
            "speed is a fraction",
        ),
        (
            "[[steps]]\nskill = \"retry\"\nlimit = 0\n[steps.step]\nskill = \"wait\"\nseconds = 1\n",
            "tasks/bad.toml:3:",
            "limit must be at least 1",
        ),
        (
            "[[steps]]\nskill = \"sequence\"\n[[steps.steps]]\nskill = \"gripper\"\naction = \"squeeze\"\n",
            "tasks/bad.toml:5:",
            "gripper action 'squeeze'",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\" }\n",
            "tasks/bad.toml:3:",
            "exactly one of",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { object = \"box\", position = [0.0, 0.0, 0.1] }\n",
            "tasks/bad.toml:3:",
            "no object named 'box': the scene has no objects",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { position = [0.0, 0.0, 0.1] }\n",
            "tasks/bad.toml:3:",
            "a `position` condition needs an `object`",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { contact = \"left_sole\" }\n",
            "tasks/bad.toml:3:",
            "no force-torque sensor named 'left_sole'",
        ),
        ("[[steps]\nskill = \"wait\"\n", "tasks/bad.toml:1:", ""),
        (
            "name = 3\nsteps = []\n",
            "tasks/bad.toml:1:",
            "invalid type",
        ),
        ("steps = 4\n", "tasks/bad.toml:1:", "invalid type"),
        (
            "name = \"no steps\"\n",
            "tasks/bad.toml:",
            "missing field `steps`",
        ),
    ];
    for (text, at, reason) in cases {
        let error = load(text).expect_err(&format!("should be refused:\n{text}"));
        assert!(error.starts_with(at), "expected {at} in: {error}");
        assert!(error.contains(reason), "expected '{reason}' in: {error}");
    }
}
