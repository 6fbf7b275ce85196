//! `embody run` end to end on the example tasks, their end states asserted against the
//! postures they name; a failing task exits non-zero; a bad task file is located.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn embody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("embody runs")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/tasks")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn q(report: &Value) -> Vec<f64> {
    report["final_q"]
        .as_array()
        .expect("final_q")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

/// Object `name`'s final position in a run's JSON report.
fn object_at(report: &serde_json::Value, name: &str) -> [f64; 3] {
    let objects = report["objects"].as_array().expect("objects");
    let object = (objects.iter())
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no object {name} in {report}"));
    let p = &object["position_m"];
    [0, 1, 2].map(|i| p[i].as_f64().expect("number"))
}

/// `at` within `tolerance` (m) of `expected`.
fn assert_near(at: [f64; 3], expected: [f64; 3], tolerance: f64, what: &str) {
    let d = (0..3)
        .map(|i| (at[i] - expected[i]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        d < tolerance,
        "{what} at {at:?}, {d:.4} m from {expected:?}"
    );
}

/// A 5 cm box resting on the 0.2 m table is centred 0.225 m up.
const ON_TABLE_Z: f64 = 0.2 + 0.025;

#[test]
fn pick_and_place_ends_home_with_the_gripper_open() {
    let report = json_of(&embody(&["run", &example("pick_and_place.toml"), "--json"]));
    assert_eq!(report["result"], "succeeded");
    assert_eq!(report["steps"].as_array().expect("steps").len(), 12);
    // The box was put down under where the fingers released it.
    let placed = object_at(&report, "box");
    assert_near(placed, [-0.30, 0.30, ON_TABLE_Z], 0.005, "the box");
    let q = q(&report);
    let home = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0];
    for (j, h) in home.iter().enumerate() {
        assert!(
            (q[j] - h).abs() < 0.01,
            "joint {} at {} not home {h}",
            j + 1,
            q[j]
        );
    }
    // Open: a tenth of the 40 mm travel inside the stop.
    assert!((q[7] - 0.036).abs() < 0.001, "gripper at {}", q[7]);
    assert!(report["final_tracking_error"].as_f64().expect("error") < 0.01);
    // Lockstep is much faster than real time.
    assert!(report["realtime_factor"].as_f64().expect("factor") > 5.0);
}

#[test]
fn the_so101_arm_picks_the_cube_and_puts_it_down_where_it_was_told() {
    let report = json_of(&embody(&[
        "run",
        &example("so101_pick_and_place.toml"),
        "--json",
    ]));
    assert_eq!(report["result"], "succeeded", "{report}");
    assert_eq!(report["robot"], "so101");
    // Carried 18 cm and set down on the floor, a quarter turn round from where it stood.
    let placed = object_at(&report, "cube");
    assert_near(placed, [-0.13, 0.13, 0.015], 0.01, "the cube");
    assert!(report["final_tracking_error"].as_f64().expect("error") < 0.01);
}

#[test]
fn the_arm_lifts_a_box_and_holds_it() {
    let report = json_of(&embody(&["run", &example("lift.toml"), "--json"]));
    assert_eq!(report["result"], "succeeded", "{report}");
    // The fingers hold it 17 cm up, a few millimetres below the tool point at 0.40 m.
    let held = object_at(&report, "box");
    assert_near(held, [-0.45, 0.0, ON_TABLE_Z + 0.165], 0.005, "the box");
}

#[test]
fn the_arm_pushes_a_box_and_stacks_one_box_on_another() {
    let report = json_of(&embody(&["run", &example("push.toml"), "--json"]));
    assert_eq!(report["result"], "succeeded", "{report}");
    // The fingers' centre stopped 7.5 cm along; the box is ahead of it by half its
    // width, give or take the fingers' half thickness (1 cm) and what the arm yields
    // to the box's friction on the table.
    let pushed = object_at(&report, "box");
    assert_near(pushed, [-0.45, 0.075 + 0.025, ON_TABLE_Z], 0.01, "the box");
    let report = json_of(&embody(&["run", &example("stack.toml"), "--json"]));
    assert_eq!(report["result"], "succeeded", "{report}");
    let base = object_at(&report, "base");
    assert_near(base, [-0.45, 0.2, ON_TABLE_Z], 0.003, "the base box");
    let top = object_at(&report, "loose");
    assert_near(
        top,
        [-0.45, 0.2, ON_TABLE_Z + 0.05],
        0.005,
        "the stacked box",
    );
}

#[test]
fn the_humanoid_waves_squats_and_rises_on_its_feet() {
    let report = json_of(&embody(&["run", &example("humanoid_moves.toml"), "--json"]));
    assert_eq!(report["result"], "succeeded", "{report}");
    assert_eq!(report["lifecycle"], "running");
    assert_eq!(report["faults"], serde_json::json!([]));
    let base: Vec<f64> = report["base_pose"]
        .as_array()
        .expect("floating base")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    assert!(
        base[2] > 0.95,
        "the base is at {} m: it fell or stayed down",
        base[2]
    );
    // Upright: the quaternion's x and y parts small.
    assert!(
        base[3].abs() < 0.05 && base[4].abs() < 0.05,
        "tilted: {base:?}"
    );
    let steps = report["steps"].as_array().expect("steps");
    let squat = steps
        .iter()
        .find(|s| s["name"] == "squat")
        .expect("a squat step");
    assert_eq!(squat["result"], "done");
}

#[test]
fn a_failing_task_exits_non_zero_and_says_why() {
    let dir = std::env::temp_dir().join(format!("embody-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("never.toml");
    std::fs::write(
        &path,
        "[[steps]]\nname = \"never\"\nskill = \"wait_until\"\ncondition = { joint = \"joint1\", near = 2.0 }\ntimeout_s = 0.5\n",
    )
    .expect("write");
    let out = embody(&["run", path.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("condition not met within 0.5 s"),
        "{stdout}"
    );

    std::fs::write(
        &path,
        "[[steps]]\nskill = \"move_joints\"\njoints = { knee = 1.0 }\n",
    )
    .expect("write");
    let out = embody(&["run", path.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("never.toml:3: no joint named 'knee'"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn realtime_runs_the_executor_on_tokio_at_wall_clock_pace() {
    let dir = std::env::temp_dir().join(format!("embody-run-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("short.toml");
    std::fs::write(
        &path,
        "[[steps]]\nskill = \"move_joints\"\njoints = { joint1 = 0.2 }\nspeed = 1.0\n[[steps]]\nskill = \"wait\"\nseconds = 0.3\n",
    )
    .expect("write");
    let report = json_of(&embody(&[
        "run",
        path.to_str().expect("utf-8"),
        "--realtime",
        "--priority",
        "10", // granted or refused with a warning: the run is the same
        "--json",
    ]));
    assert_eq!(report["result"], "succeeded");
    let q = q(&report);
    assert!((q[0] - 0.2).abs() < 0.01, "joint1 at {}", q[0]);
    let wall = report["wall_s"].as_f64().expect("wall");
    let steps = report["steps"].as_array().expect("steps");
    let last = &steps[steps.len() - 1];
    let task_s = last["started_s"].as_f64().expect("t") + last["duration_s"].as_f64().expect("d");
    assert!(wall >= task_s, "real time: {task_s} s of task in {wall} s");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn priority_is_refused_for_a_lockstep_run() {
    let out = embody(&["run", &example("pick_and_place.toml"), "--priority", "80"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--priority and --cpu apply to a real-time run"),
        "{stderr}"
    );
    let out = embody(&[
        "run",
        &example("pick_and_place.toml"),
        "--realtime",
        "--priority",
        "0",
    ]);
    assert!(!out.status.success(), "priority 0 is out of range");
}

#[test]
fn a_run_can_be_saved_as_a_rerun_recording() {
    let path = std::env::temp_dir().join(format!("embody-run-{}.rrd", std::process::id()));
    let sink = format!("save={}", path.display());
    let report = json_of(&embody(&[
        "run",
        &example("pick_and_place.toml"),
        "--rerun",
        &sink,
        "--json",
    ]));
    assert_eq!(report["result"], "succeeded");
    let bytes = std::fs::read(&path).expect("a recording");
    // An .rrd stream starts with Rerun's magic and holds the whole run (MBs of data).
    assert_eq!(&bytes[..4], b"RRF2", "not an .rrd file");
    assert!(bytes.len() > 1_000_000, "only {} bytes", bytes.len());
    std::fs::remove_file(&path).ok();
    let out = embody(&["run", &example("pick_and_place.toml"), "--rerun", "show"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rerun"));
}

#[test]
fn a_scenario_sets_the_simulator_a_task_runs_in() {
    let dir = std::env::temp_dir().join(format!("embody-run-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The box of pick_and_place made slippery (μ 0.15): a pair of bodies has the larger
    // of their frictions, so the fingers' default friction still lifts it...
    let text = std::fs::read_to_string(example("pick_and_place.toml")).expect("example");
    assert!(text.contains("friction = 0.9"));
    let task = dir.join("pick_slippery_box.toml");
    std::fs::write(&task, text.replace("friction = 0.9", "friction = 0.15")).expect("write");
    let task = task.to_str().expect("utf-8");
    let report = json_of(&embody(&["run", task, "--json"]));
    assert_eq!(report["result"], "succeeded", "{report}");
    // ...but in a scenario whose contacts have μ 0.15 too, two fingers pressing about
    // 8 N each hold 2.4 N, less than the box weighs: the pick comes up empty and the last
    // step, waiting for the box at its place, fails.
    let slippery = dir.join("slippery.toml");
    std::fs::write(
        &slippery,
        "robot = \"arm7\"\nduration_s = 1.0\n[sim.contact]\nfriction = 0.15\n",
    )
    .expect("write");
    let out = embody(&["run", task, "--scenario", slippery.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let last = (stdout.lines())
        .find(|l| l.contains("box placed"))
        .expect("the last step");
    assert!(last.contains("failed"), "{last}");
    // A scene in both the scenario and the task is refused, naming the task file.
    let scene = dir.join("scene.toml");
    std::fs::write(
        &scene,
        "robot = \"arm7\"\nduration_s = 1.0\n[environment]\nground = true\nboxes = [{ center = [1.0, 0.0, 0.1], size = [0.2, 0.2, 0.2] }]\n",
    )
    .expect("write");
    let out = embody(&["run", task, "--scenario", scene.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("pick_slippery_box.toml") && stderr.contains("give it in one of them"),
        "{stderr}"
    );
    // The scenario picks the robot: --robot beside it is a usage error.
    let out = embody(&[
        "run",
        task,
        "--scenario",
        scene.to_str().expect("utf-8"),
        "--robot",
        "arm7",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
