//! The `embody policy` commands as a user runs them: a malformed manifest or a network
//! that does not match it is refused with the file and the key, never a panic; `run
//! --json` gives the documented fields; `eval` scores episodes; `demonstrate` records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn embody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("runs embody")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(name)
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A copy of `arm7_reach` in a scratch directory with its manifest edited by `edit`.
fn edited(case: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("embody-policy-cli-{}-{case}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    let source = example("arm7_reach");
    std::fs::copy(source.join("model.onnx"), dir.join("model.onnx")).expect("network");
    let manifest = std::fs::read_to_string(source.join("policy.toml")).expect("manifest");
    std::fs::write(dir.join("policy.toml"), edit(&manifest)).expect("manifest");
    dir
}

/// A change to a manifest's text.
type Edit = fn(&str) -> String;

#[test]
fn a_malformed_manifest_or_a_mismatched_network_is_refused_with_file_and_key() {
    let cases: [(&str, Edit, &str); 6] = [
        (
            "syntax",
            |m| m.replace("rate_hz = 20.0", "rate_hz = = 20"),
            "policy.toml: line 9: extra `=`",
        ),
        (
            "unknown",
            |m| m.replace("rate_hz = 20.0", "rate_hz = 20.0\nrobots = 1"),
            "unknown field `robots`",
        ),
        (
            "rate",
            |m| m.replace("rate_hz = 20.0", "rate_hz = -3.0"),
            "policy.toml: rate_hz: must be from 1 to 1000 Hz",
        ),
        (
            "output",
            |m| m.replace("output = \"actions\"", "output = \"act\""),
            "policy.toml: action.output: the graph has no output 'act'",
        ),
        (
            "size",
            |m| m.replace("  { kind = \"goal_position\" },\n", ""),
            "policy.toml: inputs",
        ),
        (
            "frame",
            |m| m.replace("frame = \"tcp\", within_m", "frame = \"hand\", within_m"),
            "policy.toml: episode.success.frame: arm7 has no frame named 'hand'",
        ),
    ];
    for (case, edit, want) in cases {
        let dir = edited(case, edit);
        let out = embody(&["policy", "check", dir.to_str().expect("path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(stderr.contains(want), "{case}: {stderr}");
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn run_json_gives_steps_rate_latency_reach_and_faults() {
    let dir = example("arm7_reach");
    let out = embody(&[
        "policy",
        "run",
        dir.to_str().expect("path"),
        "--seconds",
        "3",
        "--command",
        "x=-0.3,y=0.1,z=0.3",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(v["steps"], 60);
    assert!((v["policy_hz"].as_f64().expect("rate") - 20.0).abs() < 0.1);
    assert!(v["latency_us"]["p50"].as_f64().expect("p50") > 0.0);
    assert!(
        v["latency_us"]["p99"].as_f64().expect("p99")
            >= v["latency_us"]["p50"].as_f64().expect("p50")
    );
    assert_eq!(v["fell"], false);
    assert!(v["base"].is_null(), "a fixed base has no base position");
    assert_eq!(v["faults"].as_array().map(Vec::len), Some(0));
    assert_eq!(v["reach"]["goal"], serde_json::json!([-0.3, 0.1, 0.3]));
    assert_eq!(v["reach"]["succeeded"], true);
}

#[test]
fn eval_scores_seeded_episodes_and_repeats_for_a_seed() {
    let dir = example("arm7_reach");
    let args = [
        "policy",
        "eval",
        dir.to_str().expect("path"),
        "--episodes",
        "4",
        "--seed",
        "9",
        "--json",
    ];
    let (a, b) = (json(&embody(&args)), json(&embody(&args)));
    assert_eq!(a["runs"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        a["runs"], b["runs"],
        "a seed draws the same goals and the same results"
    );
    let rate = a["success_rate"].as_f64().expect("rate");
    assert_eq!(rate, a["succeeded"].as_f64().expect("count") / 4.0);
    // A package without an episode says so.
    let out = embody(&[
        "policy",
        "eval",
        example("humanoid_probe").to_str().expect("path"),
        "--episodes",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("defines no [episode]"));
}

#[test]
fn demonstrate_refuses_a_missing_task_and_a_bad_command() {
    let dir = example("arm7_reach");
    let out = embody(&[
        "policy",
        "demonstrate",
        dir.to_str().expect("path"),
        "/nonexistent/task.toml",
        "--out",
        "/tmp/embody-never.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/task.toml"));
    let out = embody(&[
        "policy",
        "run",
        dir.to_str().expect("path"),
        "--command",
        "x=nan",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--command x=nan: nan is not a finite number"),
        "{stderr}"
    );
}
