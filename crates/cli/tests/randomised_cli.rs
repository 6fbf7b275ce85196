//! A task's randomised keys, drawn per seed: `[start] jitter_rad` (where the robot
//! starts, read from the simulator's own record) and `[environment.light] random` (what
//! the cameras see, read from the rendered frames). The same seed draws the same, other
//! seeds differently, within the ranges; a bad range is refused with its line, and so is
//! a bad or unknown place (`[places]`; where a drawn goal lands is checked by
//! `scripts/test_dataset.sh`, with pyarrow reading the recorded goal and box).

mod common;

use std::path::Path;

use common::{Scratch, embody};

const TASK: &str = r#"name = "varied"
robot = "arm7"
[start]
jitter_rad = 0.2
[environment.light]
random = { yaw_rad = [-1.0, 1.0], ambient = [0.1, 0.9] }
[[cameras]]
name = "overhead"
width = 64
height = 48
rate_hz = 10.0
fov_deg = 60.0
xyz = [-0.75, 0.0, 0.85]
look_at = [-0.45, 0.0, 0.22]
[[steps]]
name = "stay"
skill = "hold"
seconds = 0.2
"#;

/// The first recorded posture and the first rendered frame's mean value of a run.
fn run(dir: &Path, task: &Path, seed: u64) -> (Vec<f64>, f64) {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("{seed}-{run}");
    let record = dir.join(format!("{tag}.jsonl"));
    let frames = dir.join(format!("frames-{tag}"));
    let out = embody(&[
        "run",
        task.to_str().expect("path"),
        "--seed",
        &seed.to_string(),
        "--record",
        record.to_str().expect("path"),
        "--dataset",
        dir.join(format!("dataset-{tag}")).to_str().expect("path"),
        "--reference-frames",
        frames.to_str().expect("path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&record).expect("record");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().nth(1).expect("a state")).expect("JSON");
    let q: Vec<f64> = (first["q"].as_array().expect("q").iter())
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let png = frames.join("overhead-000000.png");
    let image = image::open(&png).expect("the first frame").to_rgb8();
    let mean =
        image.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / image.as_raw().len() as f64;
    (q, mean)
}

#[test]
fn a_seed_draws_the_start_and_the_light_and_the_same_seed_draws_them_again() {
    let scratch = Scratch::new("randomised-draws");
    let dir = scratch.0.clone();
    let task = dir.join("varied.toml");
    std::fs::write(&task, TASK).expect("task");
    let (q3, light3) = run(&dir, &task, 3);
    assert_eq!(run(&dir, &task, 3), (q3.clone(), light3), "seed 3 again");
    let (q4, light4) = run(&dir, &task, 4);
    assert_ne!(q3, q4, "another seed, another start");
    assert!(
        (light3 - light4).abs() > 1.0,
        "another seed, another light: {light3} vs {light4}"
    );
    for q in [&q3, &q4] {
        // arm7 starts at zero: each revolute joint within 0.2 rad of it, the finger
        // within 0.02 m, all within the limits (joint4's upper is 0.1).
        assert!(q[..7].iter().all(|v| v.abs() <= 0.2 + 1e-12), "{q:?}");
        assert!(
            q[3] <= 0.1 + 1e-12 && (0.0..=0.02 + 1e-12).contains(&q[7]),
            "{q:?}"
        );
    }
}

#[test]
fn a_bad_range_is_refused_with_its_line() {
    let scratch = Scratch::new("randomised-bad");
    let dir = scratch.0.clone();
    for (bad, says) in [
        ("jitter_rad = 0.2", "jitter_rad = 3.0"),
        ("ambient = [0.1, 0.9]", "ambient = [0.9, 0.1]"),
    ] {
        let task = dir.join("bad.toml");
        std::fs::write(&task, TASK.replace(bad, says)).expect("task");
        let out = embody(&["run", task.to_str().expect("path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{says}: {stderr}");
        assert!(stderr.contains("bad.toml:"), "{says}: {stderr}");
    }
}

#[test]
fn a_bad_place_or_an_unknown_one_is_refused_with_its_line() {
    let scratch = Scratch::new("randomised-places");
    let dir = scratch.0.clone();
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tasks/pick_to_goal.toml"),
    )
    .expect("the example");
    for (bad, says, why) in [
        (
            "x_m = [-0.08, 0.0]",
            "x_m = [0.0, -0.08]",
            "places.drop.random.x_m",
        ),
        (
            "position = [-0.30, 0.30, 0.225]",
            "position = [-0.30, 0.30]",
            "places:",
        ),
        (
            "place = \"drop\"",
            "place = \"dropp\"",
            "no place named 'dropp' (the task's places: drop)",
        ),
        (
            "relative_to = \"place:drop\"",
            "relative_to = \"place:table\"",
            "no place named 'table'",
        ),
    ] {
        let task = dir.join("bad.toml");
        assert!(good.contains(bad), "{bad}");
        std::fs::write(&task, good.replacen(bad, says, 1)).expect("task");
        let out = embody(&["run", task.to_str().expect("path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{says}: {stderr}");
        assert!(
            stderr.contains("bad.toml:") && stderr.contains(why),
            "{says}: {stderr}"
        );
    }
}
