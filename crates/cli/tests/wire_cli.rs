//! `embody vmcu`, `embody bench loop --port` and `embody bench wire` end to end, as the
//! README shows them: a virtual MCU serving a pseudo-terminal until SIGINT, the loop
//! running over it (bridge, SLCAN adapter, CiA 402 drives, Dynamixel and Feetech servo
//! buses), a device fault given on the command line, and the wire's figures.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Real-time runs: one at a time on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn embody() -> Command {
    Command::new(env!("CARGO_BIN_EXE_embody"))
}

struct Vmcu {
    child: Child,
    link: PathBuf,
}

impl Vmcu {
    fn start(name: &str, extra: &[&str]) -> Vmcu {
        let link = std::env::temp_dir().join(format!("embody-cli-{}-{name}", std::process::id()));
        let child = embody()
            .args(["vmcu", "--link", link.to_str().expect("utf-8")])
            // Under SCHED_FIFO where allowed, as the loop below: other tests share the
            // cores, and a loop that hears nothing new for 5 ms faults on stale sensors.
            .args(["--priority", "70"])
            .args(extra)
            .stderr(Stdio::null())
            .spawn()
            .expect("vmcu starts");
        let start = Instant::now();
        while !link.exists() {
            assert!(start.elapsed() < Duration::from_secs(5), "no link");
            std::thread::sleep(Duration::from_millis(10));
        }
        Vmcu { child, link }
    }

    /// SIGINT, as Ctrl-C: a clean exit that removes the link.
    fn interrupt(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("vmcu exits");
        assert!(exit.success(), "vmcu exit status {exit:?}");
        assert!(!self.link.exists(), "link left behind");
    }
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The JSON of a real-time run over the wire, given three tries. This machine is a
/// virtual one: its host now and then stops it for longer than a robot's 5 ms sensor
/// timeout (the runs wait 40 ms), and the loop rightly faults — on stale sensors, or,
/// after stalls that long and frequent, on a joint's speed. Those are the only faults
/// allowed, and one of three runs must have none.
fn real_time_json(mut run: impl FnMut() -> std::process::Output) -> Value {
    let mut stalls = Vec::new();
    for _ in 0..3 {
        let out = run();
        if out.status.success() {
            return json_of(&out);
        }
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("no JSON: {}", String::from_utf8_lossy(&out.stderr)));
        let faults = report["faults"].as_array().expect("faults");
        assert!(
            !faults.is_empty()
                && (faults.iter()).all(|f| ["stale_sensors", "velocity_limit"]
                    .contains(&f["kind"].as_str().unwrap_or(""))),
            "a failure other than a stall: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stalls.push(report["faults"].clone());
    }
    panic!("three runs in a row stalled: {stalls:?}");
}

#[test]
fn the_loop_runs_over_the_virtual_mcu_for_every_link_kind() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (name, extra) in [
        ("bridge", &[][..]),
        ("slcan", &["--slcan"][..]),
        ("dynamixel", &["--servos", "dynamixel"][..]),
        ("feetech", &["--servos", "feetech"][..]),
        ("cia402", &["--drives", "cia402"][..]),
    ] {
        let report = real_time_json(|| {
            let vmcu = Vmcu::start(name, extra);
            let mut args = vec![
                "bench",
                "loop",
                "--robot",
                "arm7",
                "--seconds",
                "1",
                "--json",
                "--priority",
                "80",
                "--sensor-timeout",
                "40",
                "--port",
            ];
            args.push(vmcu.link.to_str().expect("utf-8"));
            args.extend_from_slice(extra);
            let out = embody().args(&args).output().expect("runs");
            vmcu.interrupt();
            out
        });
        assert_eq!(report["lifecycle"], "running", "{name}: {report}");
        assert_eq!(report["faults"], serde_json::json!([]), "{name}: {report}");
    }
}

#[test]
fn bench_wire_reports_codec_scheduler_and_round_trip() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let report = json_of(
        &embody()
            .args(["bench", "wire", "--ticks", "300", "--json"])
            .output()
            .expect("runs"),
    );
    let rt = &report["round_trip"];
    // Every frame intact; "lost" is a reply later than two periods, which a busy
    // machine makes now and then (6 of 300 seen in a CI run); a broken echo loses all.
    assert_eq!(rt["bad_frames"], 0, "{report}");
    assert!(rt["lost"].as_u64().expect("lost") < 30, "{report}");
    assert!(rt["p50_us"].as_u64().expect("p50") > 0);
    let classic = &report["scheduler_1mbit_1khz"][0];
    assert_eq!(classic["actuators_per_bus"], 4);
    // CiA 402 in CSP with one SYNC: about four drives a bus with 6-byte PDOs each way.
    let cia402 = &report["cia402_1mbit_1khz"];
    assert_eq!(cia402[1]["layout"], "compact");
    assert_eq!(cia402[1]["drives_per_bus"], 4, "{report}");
    assert_eq!(cia402[0]["drives_per_bus"], 2, "{report}");
    assert!(
        report["codec"]["host_tick_30_joints"]["encode_decode_ns"]
            .as_f64()
            .expect("ns")
            > 0.0
    );
}

#[test]
fn a_drive_fault_given_on_the_command_line_stops_the_loop() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The wrist roll's drive (joint 6) overheats 2.5 s after the link is up, the loop
    // holding the arm: its emergency and fault state stop the loop, naming the joint and
    // the cause.
    let vmcu = Vmcu::start(
        "fault",
        &["--drives", "cia402", "--fault", "overheat:6@2.5"],
    );
    let out = embody()
        .args([
            "bench",
            "loop",
            "--robot",
            "arm7",
            "--seconds",
            "4",
            "--json",
        ])
        .args([
            "--priority",
            "80",
            "--sensor-timeout",
            "40",
            "--drives",
            "cia402",
        ])
        .args(["--port", vmcu.link.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    vmcu.interrupt();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(report["lifecycle"], "fault", "{report}");
    let fault = &report["faults"][0];
    assert_eq!(fault["joint"], "joint7", "{report}");
    assert_eq!(
        fault["cause"], "the actuator reported driver over-temperature",
        "{report}"
    );
}

#[test]
fn bad_wire_arguments_are_refused() {
    let out = embody()
        .args(["vmcu", "--link", "/tmp/x", "--rate", "5"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
    for (fault, words) in [
        ("hot:1@2", "\"hot\" is not a fault"),
        ("overheat:x@2", "not a joint index"),
        ("overheat:1@-3", "not a time in seconds"),
        ("overheat:1", "want KIND:JOINT@SECONDS"),
        (
            "overheat:8@1",
            "joint 8 of arm7, which has 8 actuated joints (0–7)",
        ),
    ] {
        let out = embody()
            .args([
                "vmcu", "--link", "/tmp/x", "--drives", "cia402", "--fault", fault,
            ])
            .output()
            .expect("runs");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "--fault {fault}: {err}");
    }
    let out = embody()
        .args([
            "bench",
            "loop",
            "--port",
            "/nonexistent/tty",
            "--seconds",
            "1",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tty"));
    // A sensor timeout is for the wire, and at least two periods of the loop.
    let refused = |args: &[&str], words: &str| {
        let out = embody()
            .args(["bench", "loop", "--seconds", "1"])
            .args(args)
            .output()
            .expect("runs");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{err}");
    };
    refused(
        &["--sensor-timeout", "40"],
        "--sensor-timeout need --port or --unit",
    );
    refused(
        &["--port", "/nonexistent/tty", "--sensor-timeout", "1.5"],
        "sensor timeout 1.5 ms: at least two control periods (2.0 ms)",
    );
}

#[test]
fn a_policy_runs_on_the_wire_from_where_the_arm_stands() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let package =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/arm7_reach");
    let v = real_time_json(|| {
        let vmcu = Vmcu::start("policy", &[]);
        let out = embody()
            .args(["policy", "run", package.to_str().expect("utf-8"), "--port"])
            .arg(&vmcu.link)
            .args([
                "--seconds",
                "3",
                "--command",
                "x=-0.35,y=0.05,z=0.32",
                "--json",
                "--priority",
                "80",
                "--sensor-timeout",
                "40",
            ])
            .output()
            .expect("policy run");
        vmcu.interrupt();
        out
    });
    // The arm glided from its neutral posture to the policy's start, then the policy
    // stepped at 20 Hz for 3 s over the wire and brought the tool to the goal.
    assert_eq!(v["faults"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(v["steps"].as_u64().expect("steps") >= 58, "{v}");
    assert!(
        v["simulated_s"].as_f64().expect("time") > 4.0,
        "no approach: {v}"
    );
    assert!(
        v["reach"]["closest_m"].as_f64().expect("reach") < 0.02,
        "{v}"
    );
}
