//! Issue 22, defect 5: checking a task took time quadratic in its size — the line of
//! each step was found by counting newlines from the start of the file (10k steps
//! 1.1 s, 100k steps about 110 s). Lines are now found by binary search in a table of
//! line starts built once, so loading (parsing and checking) grows linearly with the
//! number of steps, and line numbers stay exact however long the file.

use std::time::{Duration, Instant};

use embody_model::robots;
use embody_planner::{RobotInfo, Source, check};

const START: [f64; 8] = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0, 0.02];

/// A task of `n` steps: waits and joint moves, by posture and by joint.
fn task(n: usize) -> String {
    let mut text = String::from("name = \"long\"\n");
    for k in 0..n {
        text.push_str(match k % 3 {
            0 => "[[steps]]\nskill = \"wait\"\nseconds = 0.01\n",
            1 => "[[steps]]\nskill = \"move_joints\"\nposture = \"home\"\n",
            _ => "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = 0.1, joint2 = 0.4 }\n",
        });
    }
    text
}

/// The median time of 5 loads of `text`.
fn load_time(robot: &RobotInfo, text: &str) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let source = Source::new("long.toml", text);
            let raw = source.parse().expect("parses");
            check(&source, &raw, robot, &START).expect("checks");
            started.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

#[test]
fn task_checking_is_linear_in_steps() {
    let robot = RobotInfo::new(robots::load("arm7", None).expect("arm7"), Vec::new());
    let (small, large) = (task(2_000), task(20_000));
    let ratio = load_time(&robot, &large).as_secs_f64() / load_time(&robot, &small).as_secs_f64();
    // Ten times the steps: about 10× when linear, 100× when quadratic (it was 107×).
    assert!(ratio < 40.0, "10× the steps took {ratio:.1}× the time");
}

#[test]
fn the_last_step_of_a_long_task_is_located_exactly() {
    let robot = RobotInfo::new(robots::load("arm7", None).expect("arm7"), Vec::new());
    let mut text = task(30_000);
    let lines = text.lines().count();
    text.push_str("[[steps]]\nskill = \"move_joints\"\njoints = { elbow = 1.0 }\n");
    let source = Source::new("long.toml", text);
    let raw = source.parse().expect("parses");
    let error = check(&source, &raw, &robot, &START).expect_err("no elbow on arm7");
    assert_eq!(error.line, lines + 3, "{error}");
    assert!(
        error.reason.starts_with("no joint named 'elbow'"),
        "{error}"
    );
}
