//! `embody bench loop` end to end: it runs the loop thread, reports its figures as JSON,
//! and refuses bad arguments with a message and a non-zero exit; `embody bench flash`
//! interrupted removes its scratch files; `embody bench camera` renders and saves a frame.

use std::process::Command;

use serde_json::Value;

/// Runs embody with `args`; its JSON on stdout, once it has succeeded.
fn json_of(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("embody runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn reports_tick_timing_of_a_running_loop_as_json() {
    let report = json_of(&[
        "bench",
        "loop",
        "--robot",
        "arm7",
        "--seconds",
        "0.5",
        "--json",
    ]);
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
        (&["--rate", "50"][..], "from 100 to 10000 Hz"),
        (&["--robot", "nope"][..], "unknown robot"),
        (&["--seconds=-1"][..], "'-1' for '--seconds <SECONDS>'"),
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

#[test]
fn bench_flash_interrupted_leaves_no_scratch_files() {
    // Slow links, so the benchmark is still flashing when it is interrupted.
    let child = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args([
            "bench", "flash", "--units", "4", "--kib", "64", "--baud", "9600",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("embody runs");
    let scratch = std::env::temp_dir().join(format!("embody-bench-flash-{}", child.id()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !scratch.join("unit003.flash").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no scratch files appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("exits");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!scratch.exists(), "{} left behind", scratch.display());
}

#[test]
fn bench_flash_refuses_more_units_than_it_can_hold() {
    let out = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(["bench", "flash", "--units", "100000"])
        .output()
        .expect("embody runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'100000' for '--units <UNITS>'") && stderr.contains("1..=256"),
        "{stderr}"
    );
}

#[test]
fn bench_loop_refuses_an_endless_measurement() {
    for seconds in ["inf", "1e300", "nan", "-1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_embody"))
            .args(["bench", "loop", "--seconds", seconds])
            .output()
            .expect("embody runs");
        assert_eq!(out.status.code(), Some(2), "{seconds}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("must be a finite number from 0.001 to 3600 s"),
            "{stderr}"
        );
    }
}

#[test]
fn the_camera_benchmark_renders_the_arm_and_table_and_saves_the_frame() {
    let ppm = std::env::temp_dir().join(format!("embody-camera-{}.ppm", std::process::id()));
    let saved = ppm.to_str().expect("utf-8");
    let report = json_of(&[
        "bench",
        "camera",
        "--width",
        "320",
        "--height",
        "240",
        "--frames",
        "2",
        "--batches",
        "1",
        "--json",
        "--save",
        saved,
    ]);
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(report["fps"].as_f64().is_some_and(|f| f > 0.0), "{report}");
    assert!(
        report["triangles_drawn"].as_u64().is_some_and(|n| n > 100),
        "{report}"
    );
    // The floor, the table and the arm fill most of the view.
    assert!(
        report["coverage"].as_f64().is_some_and(|c| c > 0.5),
        "{report}"
    );
    let bytes = std::fs::read(&ppm).expect("the saved frame");
    let _ = std::fs::remove_file(&ppm);
    let header = b"P6\n320 240\n255\n";
    assert_eq!(&bytes[..header.len()], header);
    assert_eq!(bytes.len(), header.len() + 320 * 240 * 3);
    let out = Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(["bench", "camera", "--width", "4"])
        .output()
        .expect("embody runs");
    assert_eq!(out.status.code(), Some(2), "a 4 px wide image is refused");
}
