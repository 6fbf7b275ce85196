//! Grasping by friction, end to end: a task (`examples/tasks/lift.toml`) closes the arm7
//! gripper on a 0.5 kg box on a table, lifts it and holds it still for 5 s, and the
//! simulator's state record says what the box did. Coulomb's law is the reference: two fingers pressing with `F`
//! each hold the box when `2·μ·F > m·g` and let it slip when `2·μ·F < m·g`, `F` being
//! half the finger joint's measured effort (the right finger mimics the left, so the
//! joint feels both). A pair of bodies has the larger of their frictions, so the
//! fingers', the table's and the box's are all `μ` here.

use embody_planner::Source;
use embody_runtime::{Backend, Drive, Quiet, Session, Simulator, Task};

const MASS_KG: f64 = 0.5;
const G: f64 = 9.81;
/// The box's height on the table, and the lift.
const REST_Z: f64 = 0.225;
const LIFT_M: f64 = 0.17;

/// The task: `examples/tasks/lift.toml` (grip the box, lift it, hold 5 s) with the box's
/// friction `mu`.
fn grasp_task(mu: f64) -> Task {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tasks/lift.toml");
    let text = std::fs::read_to_string(&path).expect("the example");
    assert!(text.contains("friction = 0.9") && text.contains("position = [-0.45, 0.0, 0.40]"));
    let text = text.replace("friction = 0.9", &format!("friction = {mu}"));
    Task::parse(Source::new(path, text)).expect("the task parses")
}

/// One record line: time, the finger joint's effort, the box's height.
struct Sample {
    t: f64,
    finger_tau: f64,
    box_z: f64,
}

/// Runs the grasp with friction `mu`; the record's samples and the lift's end (s).
fn run(mu: f64) -> (Vec<Sample>, Option<f64>) {
    let record =
        std::env::temp_dir().join(format!("embody-grasp-{}-{mu}.jsonl", std::process::id()));
    let mut simulator = Simulator::default();
    simulator.config.contact.friction = mu;
    let session = Session {
        record: Some(record.clone()),
        ..Session::new(Backend::Simulator(simulator), Drive::Task(grasp_task(mu)))
    };
    let report = session.run(&mut Quiet).expect("the session runs");
    let lifted_at = (report.units[0].task.as_ref())
        .and_then(|t| t.steps.iter().find(|s| s.name == "lift"))
        .map(|s| s.started_s + s.duration_s);
    let text = std::fs::read_to_string(&record).expect("the record");
    let _ = std::fs::remove_file(&record);
    let samples = (text.lines().skip(1))
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
            Sample {
                t: v["t"].as_f64().expect("t"),
                finger_tau: v["tau"][7].as_f64().expect("finger effort"),
                box_z: v["objects"][0][2].as_f64().expect("box z"),
            }
        })
        .collect();
    (samples, lifted_at)
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn the_gripper_lifts_a_box_by_friction_and_holds_it_without_slipping() {
    let mu = 0.9;
    let (samples, lifted_at) = run(mu);
    let lifted_at = lifted_at.expect("the lift ran");
    let hold: Vec<&Sample> = samples.iter().filter(|s| s.t > lifted_at + 0.2).collect();
    assert!(hold.len() > 4000, "the hold was recorded");
    let grip_n = median(hold.iter().map(|s| s.finger_tau.abs() / 2.0).collect());
    let capacity = 2.0 * mu * grip_n;
    assert!(
        capacity > 1.3 * MASS_KG * G,
        "Coulomb: 2·μ·F = {capacity:.2} N must exceed the weight {:.2} N",
        MASS_KG * G
    );
    let first = hold[0].box_z;
    assert!(
        (first - (REST_Z + LIFT_M)).abs() < 0.01,
        "the box rose with the fingers: at {first:.4} m"
    );
    let slip = (hold.iter())
        .map(|s| (s.box_z - first).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "μ {mu}: grip {grip_n:.2} N a finger, 2·μ·F {capacity:.2} N vs weight {:.2} N; slip over the hold {:.3} mm",
        MASS_KG * G,
        slip * 1e3
    );
    assert!(
        slip < 1e-3,
        "the box slipped {:.2} mm over the 5 s hold",
        slip * 1e3
    );
}

#[test]
fn with_friction_too_low_for_the_grip_the_box_slips_as_coulomb_says() {
    let mu = 0.15;
    let (samples, _) = run(mu);
    // The grip force reached while the fingers squeeze the box on the table.
    let squeezing: Vec<f64> = (samples.iter())
        .filter(|s| s.finger_tau.abs() > 5.0)
        .map(|s| s.finger_tau.abs() / 2.0)
        .collect();
    assert!(!squeezing.is_empty(), "the fingers closed on the box");
    let grip_n = median(squeezing);
    let capacity = 2.0 * mu * grip_n;
    assert!(
        capacity < 0.8 * MASS_KG * G,
        "Coulomb: 2·μ·F = {capacity:.2} N is below the weight {:.2} N",
        MASS_KG * G
    );
    let highest = samples.iter().map(|s| s.box_z).fold(f64::MIN, f64::max);
    eprintln!(
        "μ {mu}: grip {grip_n:.2} N a finger, 2·μ·F {capacity:.2} N vs weight {:.2} N; the box rose {:.1} mm of the {:.0} mm lift",
        MASS_KG * G,
        (highest - REST_Z) * 1e3,
        LIFT_M * 1e3
    );
    assert!(
        highest < REST_Z + 0.25 * LIFT_M,
        "the box stayed down while the fingers rose {LIFT_M} m: it reached {highest:.4} m"
    );
}
