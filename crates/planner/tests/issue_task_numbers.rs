//! Issue 22, defect 8 (tasks): `seconds = inf` was reported as "must be ≥ 0", and a
//! `wait` of 1e300 s was accepted, so the run ended as "task failed: Running". Every
//! number a task file gives — durations, speeds, positions, angles, tolerances, forces,
//! attempts — is now checked when the task is loaded: NaN, ±inf, negative where that
//! means nothing, and absurd magnitudes (a step longer than a day) are refused as what
//! they are, at the key's line, and nothing panics on any number.

use std::sync::OnceLock;

use embody_model::robots;
use embody_planner::numbers::MAX_STEP_S;
use embody_planner::{Action, Motion, Plan, PoseMotion, RobotInfo, Source, Step, check};
use proptest::prelude::*;

const START: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

fn arm() -> &'static RobotInfo {
    static ARM: OnceLock<RobotInfo> = OnceLock::new();
    ARM.get_or_init(|| RobotInfo::new(robots::load("arm7", None).expect("arm7"), Vec::new()))
}

fn load_on(robot: &RobotInfo, text: &str) -> Result<Plan, String> {
    let source = Source::new("tasks/bad.toml", text);
    let raw = source.parse().map_err(|e| e.to_string())?;
    check(&source, &raw, robot, &START).map_err(|e| e.to_string())
}

fn load(text: &str) -> Result<Plan, String> {
    load_on(arm(), text)
}

#[test]
fn a_wait_of_inf_seconds_is_refused_as_not_finite() {
    let error = load("[[steps]]\nskill = \"wait\"\nseconds = inf\n").expect_err("refused");
    assert_eq!(
        error,
        "tasks/bad.toml:3: seconds must be a finite number of seconds, not inf"
    );
}

#[test]
fn a_wait_longer_than_a_day_is_refused_at_load() {
    let error = load("[[steps]]\nskill = \"wait\"\nseconds = 1e300\n").expect_err("refused");
    assert_eq!(
        error,
        "tasks/bad.toml:3: seconds = 1e300 is more than a day (86400 s), the longest a step may last"
    );
    load("[[steps]]\nskill = \"wait\"\nseconds = 86400\n").expect("a day is allowed");
}

#[test]
fn bad_numbers_are_refused_with_their_key_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[steps]]\nskill = \"hold\"\nseconds = -1\n",
            ":3:",
            "seconds must be ≥ 0, not -1",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nseconds = nan\n",
            ":3:",
            "seconds must be a finite number of seconds, not nan",
        ),
        (
            "[[steps]]\nskill = \"timeout\"\nseconds = -inf\n[steps.step]\nskill = \"wait\"\nseconds = 1\n",
            ":3:",
            "seconds must be a finite number of seconds, not -inf",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { contact = \"x\" }\ntimeout_s = 0\n",
            ":4:",
            "timeout_s must be > 0, not 0",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { contact = \"x\" }\ntimeout_s = 1e9\n",
            ":4:",
            "timeout_s = 1e9 is more than a day",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\nposture = \"home\"\nspeed = nan\n",
            ":4:",
            "speed must be a finite number, not nan",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\nposture = \"home\"\nspeed = 1e-300\n",
            ":4:",
            "speed is a fraction of the joint bounds, in [0.01, 1], not 1e-300",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\nposture = \"home\"\nspeed = -0.5\n",
            ":4:",
            "in [0.01, 1], not -0.5",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = inf }\n",
            ":3:",
            "joint1 must be a finite number, not inf",
        ),
        (
            "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = 1e300 }\n",
            ":3:",
            "joint1 = 1e300 is outside its limits",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nposition = [nan, 0.0, 0.4]\n",
            ":3:",
            "position must be three finite numbers (m), not [nan, 0, 0.4]",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nposition = [1e300, 0.0, 0.4]\npath = \"line\"\n",
            ":1:",
            "move_pose to [1e300, 0, 0.4]: unreachable",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nposition = [-0.45, 0.0, 0.4]\nrpy = [0.0, -inf, 0.0]\n",
            ":4:",
            "rpy must be three angles within ±6.2832 rad (one turn), not [0, -inf, 0]",
        ),
        (
            "[[steps]]\nskill = \"move_pose\"\nposition = [-0.45, 0.0, 0.4]\nrpy = [1e300, 0.0, 0.0]\n",
            ":4:",
            "not [1e300, 0, 0]",
        ),
        (
            "[[steps]]\nskill = \"gripper\"\naction = \"close\"\nforce_n = nan\n",
            ":4:",
            "force_n must be a finite number of newtons, not nan",
        ),
        (
            "[[steps]]\nskill = \"gripper\"\naction = \"close\"\nforce_n = -20\n",
            ":4:",
            "force_n must be > 0, not -20",
        ),
        (
            "[[steps]]\nskill = \"gripper\"\naction = \"close\"\nforce_n = 1e300\n",
            ":4:",
            "force_n = 1e300 N is more than 1e6 N",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = nan }\n",
            ":3:",
            "near must be a finite number, not nan",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 1e300 }\n",
            ":3:",
            "joint1 near 1e300 (± 0.01) can never hold: its limits are",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 0.1, tolerance = -1 }\n",
            ":3:",
            "tolerance must be > 0, not -1",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 0.1, tolerance = inf }\n",
            ":3:",
            "tolerance must be a finite number, not inf",
        ),
        (
            "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", force_above_n = -inf }\n",
            ":3:",
            "force_above_n must be a finite number of newtons, not -inf",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nseconds = 1\nif = { joint = \"joint1\", force_above_n = 0 }\n",
            ":4:",
            "force_above_n must be > 0, not 0",
        ),
        (
            "[[steps]]\nskill = \"retry\"\nlimit = 4294967295\n[steps.step]\nskill = \"wait\"\nseconds = 1\n",
            ":3:",
            "limit = 4294967295 attempts is more than 1000, the most a retry may make",
        ),
        (
            "[[steps]]\nskill = \"retry\"\nlimit = -1\n[steps.step]\nskill = \"wait\"\nseconds = 1\n",
            ":3:",
            "invalid value",
        ),
        (
            "[postures]\nok = { joint1 = 0.0 }\nbad = { joint2 = nan }\n[[steps]]\nskill = \"wait\"\nseconds = 1\n",
            ":3:",
            "posture 'bad': joint2 must be a finite number, not nan",
        ),
        (
            "[[steps]]\nskill = \"wait\"\nseconds = 1\n[postures.far]\njoint1 = 1e300\n",
            ":4:",
            "posture 'far': joint1 = 1e300 is outside its limits",
        ),
        (
            "[postures.typo]\njiont1 = 0.5\n\n[[steps]]\nskill = \"wait\"\nseconds = 1\n",
            ":1:",
            "posture 'typo': no joint named 'jiont1'",
        ),
    ];
    for (text, at, reason) in cases {
        let error = load(text).expect_err(&format!("should be refused:\n{text}"));
        let at = format!("tasks/bad.toml{at} ");
        assert!(error.starts_with(&at), "expected {at} in: {error}");
        assert!(error.contains(reason), "expected '{reason}' in: {error}");
    }
}

#[test]
fn a_move_longer_than_a_day_is_refused_at_load() {
    // A joint without position limits (continuous) takes any finite target; the move
    // to one a trillion radians away would take longer than a day.
    let mut robot = arm().clone();
    robot.ranges[0] = (f64::NEG_INFINITY, f64::INFINITY);
    let error = load_on(
        &robot,
        "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = 1e12 }\n",
    )
    .expect_err("refused");
    assert!(
        error.starts_with("tasks/bad.toml:1: move_joints would take ")
            && error.ends_with(" s, more than a day (86400 s), the longest a step may last"),
        "{error}"
    );
    load_on(
        &robot,
        "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = 100.0 }\n",
    )
    .expect("a hundred radians takes minutes");
}

/// The longest any step of `step` lasts or waits (s), as checked.
fn longest_s(step: &Step) -> f64 {
    match &step.action {
        Action::MoveJoints { motion, .. } | Action::Gripper { motion, .. } => motion.duration(),
        Action::MovePose {
            motion: PoseMotion::Joints(m),
            ..
        } => m.duration(),
        Action::MovePose {
            motion: PoseMotion::Line(path),
            ..
        } => path.duration(),
        // Planned when it starts.
        Action::MovePose {
            motion: PoseMotion::AtStart { .. },
            ..
        } => 0.0,
        Action::Hold { seconds } | Action::Wait { seconds } => *seconds,
        Action::WaitUntil { timeout_s, .. } => *timeout_s,
        Action::Policy(p) => p.seconds.unwrap_or(0.0),
        Action::Sequence(steps) | Action::Parallel(steps) => {
            steps.iter().map(longest_s).fold(0.0, f64::max)
        }
        Action::Retry { step, .. } => longest_s(step),
        Action::Timeout { seconds, step } => seconds.max(longest_s(step)),
    }
}

/// A number as TOML writes it.
fn toml_number(x: f64) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{x:e}")
    }
}

/// Every numeric key of a task file, `{}` where the number goes.
const TEMPLATES: &[&str] = &[
    "[[steps]]\nskill = \"wait\"\nseconds = {}\n",
    "[[steps]]\nskill = \"hold\"\nseconds = {}\n",
    "[[steps]]\nskill = \"timeout\"\nseconds = {}\n[steps.step]\nskill = \"wait\"\nseconds = 0.1\n",
    "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 0.0 }\ntimeout_s = {}\n",
    "[[steps]]\nskill = \"move_joints\"\nposture = \"ready\"\nspeed = {}\n",
    "[[steps]]\nskill = \"move_joints\"\njoints = { joint2 = {} }\n",
    "[[steps]]\nskill = \"move_pose\"\nposition = [-0.45, {}, 0.4]\n",
    "[[steps]]\nskill = \"move_pose\"\nposition = [-0.45, 0.0, 0.4]\nrpy = [{}, 0.0, 0.0]\n",
    "[[steps]]\nskill = \"gripper\"\naction = \"close\"\nforce_n = {}\n",
    "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = {} }\n",
    "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 0.0, tolerance = {} }\n",
    "[[steps]]\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", force_above_n = {} }\n",
    "[postures]\np = { joint4 = {} }\n[[steps]]\nskill = \"move_joints\"\nposture = \"p\"\n",
];

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::ANY,
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            1e-300,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            86_400.0,
            86_400.5,
        ]),
        -10.0f64..10.0,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever number a key is given, the task checks with every step lasting at most
    /// a day, or is refused with its line; it never panics.
    #[test]
    fn any_number_in_any_key_checks_within_bounds_or_is_refused_with_its_line(
        template in prop::sample::select(TEMPLATES),
        x in number(),
    ) {
        let text = template.replace("{}", &toml_number(x));
        match load(&text) {
            Ok(plan) => {
                let longest = longest_s(&plan.root);
                prop_assert!((0.0..=MAX_STEP_S).contains(&longest), "{longest} s in\n{text}");
            }
            Err(error) => {
                prop_assert!(error.starts_with("tasks/bad.toml:"), "{error}");
                prop_assert!(!error.starts_with("tasks/bad.toml:0:"), "not located: {error}");
            }
        }
    }
}
