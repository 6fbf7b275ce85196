//! The `embody model` commands as a user runs them: `eval` reproduces Pinocchio's values on
//! a real robot through the JSON interface, `info` reports the layout, and bad input ends
//! with a clear message and a non-zero exit code instead of a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn embody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("runs embody")
}

fn model_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/data")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn eval_reproduces_pinocchio_on_solo12() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(model_data().join("reference/solo12.json")).expect("reference"),
    )
    .expect("json");
    let states: Vec<Value> = reference["states"]
        .as_array()
        .expect("states")
        .iter()
        .map(|s| serde_json::json!({"q": s["q"], "v": s["v"], "a": s["a"], "tau": s["tau"]}))
        .collect();
    let input = std::env::temp_dir().join(format!("embody-eval-{}.json", std::process::id()));
    std::fs::write(&input, serde_json::json!({ "states": states }).to_string())
        .expect("write input");
    let urdf = model_data().join("urdf/solo12.urdf");
    let out = embody(&[
        "model",
        "eval",
        urdf.to_str().expect("path"),
        "--floating-base",
        "--input",
        input.to_str().expect("path"),
    ]);
    let _ = std::fs::remove_file(&input);
    let got = stdout_json(&out);
    for (result, expected) in got["results"]
        .as_array()
        .expect("results")
        .iter()
        .zip(reference["states"].as_array().expect("states"))
    {
        for key in ["rnea", "aba"] {
            for (a, b) in result[key]
                .as_array()
                .expect(key)
                .iter()
                .zip(expected[key].as_array().expect(key))
            {
                let (a, b) = (a.as_f64().expect("num"), b.as_f64().expect("num"));
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{key}: {a} vs {b}"
                );
            }
        }
        let foot = &result["frames"]["FL_FOOT"]["translation"];
        let expected_foot = &expected["frames"]["FL_FOOT"]["translation"];
        for k in 0..3 {
            let (a, b) = (
                foot[k].as_f64().expect("num"),
                expected_foot[k].as_f64().expect("num"),
            );
            assert!((a - b).abs() <= 1e-9, "FL_FOOT[{k}]");
        }
        assert_eq!(result["crba"].as_array().expect("crba").len(), 18);
    }
}

#[test]
fn info_reports_the_layout_of_the_builtin_robots() {
    let arm = stdout_json(&embody(&["model", "info", "arm7", "--json"]));
    assert_eq!(arm["nq"], 8);
    assert_eq!(arm["joints"][0]["name"], "joint1");
    assert_eq!(arm["joints"][8]["mimic"]["joint"], "finger_left_joint");
    let humanoid = stdout_json(&embody(&["model", "info", "humanoid", "--json"]));
    assert_eq!(humanoid["nq"], 36);
    assert_eq!(humanoid["joints"][0]["type"], "freeflyer");
    assert_eq!(humanoid["joints"][0]["lower"], Value::Null);
    let independent = stdout_json(&embody(&[
        "model",
        "info",
        "arm7",
        "--mimic",
        "independent",
        "--json",
    ]));
    assert_eq!(independent["nv"], 9);
    let text = embody(&["model", "info"]);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("robot arm7: nq 8, nv 8"));
}

#[test]
fn bad_input_is_reported_not_panicked() {
    let input = std::env::temp_dir().join(format!("embody-bad-{}.json", std::process::id()));
    std::fs::write(&input, r#"{"states":[{"q":[0.0, 1.0]}]}"#).expect("write");
    let out = embody(&[
        "model",
        "eval",
        "arm7",
        "--input",
        input.to_str().expect("path"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("states[0].q: has 2 values, the model needs 8"),
        "{err}"
    );
    std::fs::write(
        &input,
        r#"{"states":[{"q":[0,0,0,0,0,0,0,0], "speed": 3}]}"#,
    )
    .expect("write");
    let err = String::from_utf8_lossy(
        &embody(&[
            "model",
            "eval",
            "arm7",
            "--input",
            input.to_str().expect("path"),
        ])
        .stderr,
    )
    .to_string();
    assert!(err.contains("unknown field `speed`"), "{err}");
    let _ = std::fs::remove_file(&input);
    let out = embody(&["model", "info", "/no/such/robot.urdf"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown robot '/no/such/robot.urdf'"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
