//! `embody bench loop` end to end: it runs the loop thread, reports its figures as JSON,
//! and refuses bad arguments with a message and a non-zero exit.

use std::process::Command;

use serde_json::Value;

#[test]
fn reports_tick_timing_of_a_running_loop_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args([
            "bench",
            "loop",
            "--robot",
            "arm7",
            "--seconds",
            "0.5",
            "--json",
        ])
        .output()
        .expect("embody runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["lifecycle"], "running");
    assert_eq!(report["faults"], serde_json::json!([]));
    assert_eq!(report["joints"], 8);
    let timing = &report["timing"];
    assert!(timing["ticks"].as_u64().expect("ticks") > 300);
    for series in ["stages", "compute", "jitter"] {
        let p = &timing[series];
        let (p50, p999, max) = (
            p["p50_ns"].as_u64(),
            p["p999_ns"].as_u64(),
            p["max_ns"].as_u64(),
        );
        assert!(p50 <= p999 && p999 <= max, "{series}: {p}");
    }
    assert!(timing["stages"]["p50_ns"].as_u64() > Some(0));
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    for (args, reason) in [
        (&["--rate", "50"][..], "outside 100–10000 Hz"),
        (&["--robot", "nope"][..], "unknown robot"),
        (&["--seconds=-1"][..], "--seconds must be positive"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_embody"))
            .args(["bench", "loop"])
            .args(args)
            .output()
            .expect("embody runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}
