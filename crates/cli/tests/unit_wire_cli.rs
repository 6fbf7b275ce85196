//! A unit whose configuration spreads arm7's joints over three CAN buses of three MIT
//! variants — classic motors at CAN ids 1–3, DaMiao at 0x11–0x13, Robstride at
//! 0x21–0x22 — runs pick-and-place end to end: `embody vmcu --unit` wires its simulated
//! motors from the unit file, `embody config apply` stores the configuration on it, and
//! `embody run --unit` drives it with that configuration. With one CAN id changed in the
//! host's copy of the file, `embody run --unit` refuses before any motor is enabled and
//! names the key. The example fleet's units of the other families pick and place a real
//! object the same way: CiA 402 drives through an SLCAN adapter (ARM-0002) and mastered
//! by the bridge on two buses (ARM-0003), Feetech and Dynamixel servos on the host's
//! port (SO-0001/2), and Feetech servos mastered by the bridge (SO-0003).

mod common;

use common::{Killed, Scratch, embody, wait_for};

use std::path::Path;
use std::process::{Command, Stdio};

use embody_fwimage::ed25519_dalek::SigningKey;
use serde_json::Value;

/// The tests here each run an arm in real time on a virtual unit: one at a time, or the
/// two loops and their virtual units share two cores and stall each other.
static ONE_ARM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// arm7's joints on three buses: (joint, bus, CAN id, variant).
const WIRING: [(&str, u8, u8, &str); 8] = [
    ("joint1", 0, 1, "classic"),
    ("joint2", 0, 2, "classic"),
    ("joint3", 0, 3, "classic"),
    ("joint4", 1, 0x11, "damiao"),
    ("joint5", 1, 0x12, "damiao"),
    ("joint6", 1, 0x13, "damiao"),
    ("joint7", 2, 0x21, "robstride"),
    ("finger_left_joint", 2, 0x22, "robstride"),
];

/// The unit file: the robot's actuators (from the example fleet) moved onto `wiring`.
fn unit_file(wiring: &[(&str, u8, u8, &str)]) -> String {
    let mut text = String::from("# A unit with three buses of three variants.\nrobot = \"arm7\"\n");
    // A unit computer without real-time scheduling, as CI's virtual machines are: its
    // loop waits 40 ms for a joint state before faulting, not 5.
    text.push_str("\n[control]\nsensor_timeout_ms = 40.0\n");
    for (joint, bus, id, variant) in wiring {
        text.push_str(&format!(
            "\n[actuators.{joint}]\nbus = {bus}\ncan_id = 0x{id:02x}\nvariant = \"{variant}\"\n"
        ));
    }
    text
}

fn task() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/tasks/pick_and_place.toml")
        .display()
        .to_string()
}

#[test]
fn a_unit_on_three_buses_of_three_variants_runs_pick_and_place_and_a_changed_id_is_refused() {
    let _one_at_a_time = ONE_ARM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("mixed");
    let fleet = dir.0.join("fleet");
    common::copy_example_fleet(&fleet);
    std::fs::write(fleet.join("units/MIX-0001.toml"), unit_file(&WIRING)).expect("unit file");
    let public =
        embody_fleet::keys::write_pair(&dir.0.join("fw.key"), &SigningKey::from_bytes(&[21; 32]))
            .expect("keys");
    let link = dir.0.join("unit");
    let (d, l) = (fleet.display().to_string(), link.display().to_string());

    // The unit, its motors wired as its configuration says; under SCHED_FIFO where
    // allowed, as the loop below (a loop that hears nothing for 40 ms faults).
    let _vmcu = Killed(
        Command::new(env!("CARGO_BIN_EXE_embody"))
            .args(["vmcu", "--unit", "MIX-0001", "--dir", &d, "--link", &l])
            .arg("--flash")
            .arg(dir.0.join("unit.flash"))
            .arg("--pubkey")
            .arg(&public)
            .args(["--priority", "70"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vmcu starts"),
    );
    wait_for(&link);
    let out = embody(&["config", "apply", "MIX-0001", "--dir", &d, "--port", &l]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let task_path = task();
    let run = |json: bool| {
        let mut args = vec![
            "run",
            &*task_path,
            "--unit",
            "MIX-0001",
            "--dir",
            &d,
            "--port",
            &l,
        ];
        args.extend(["--priority", "80"]);
        if json {
            args.push("--json");
        }
        embody(&args)
    };
    // This machine is a virtual one whose host now and then stops it, at times for
    // longer than even the unit's 40 ms sensor timeout: a run that faults on stale
    // sensors, or after such stalls on a joint's speed, and only that, is
    // tried again, twice at most — once the arm has come to rest: after the fault the
    // bridge damps, then turns the torque off, and the arm falls against friction (a loop
    // armed on a falling arm faults at once, on its speed).
    let stalled = |out: &std::process::Output| {
        let said = [&out.stdout, &out.stderr].map(|b| String::from_utf8_lossy(b).into_owned());
        let said = said.concat();
        !out.status.success()
            && (said.contains("sensor data stopped arriving")
                || said.contains("the joint moved faster than its limit"))
    };
    let mut out = run(true);
    let mut earlier = Vec::new();
    for _ in 0..2 {
        if !stalled(&out) {
            break;
        }
        earlier.push(String::from_utf8_lossy(&out.stdout).into_owned());
        std::thread::sleep(std::time::Duration::from_secs(3));
        out = run(true);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stderr}\n{stdout}\nearlier tries: {earlier:#?}"
    );
    // The bridge was set up from the unit file: three buses, each with its variant.
    for bus in [
        "bus 0 at 1000 kbit/s: classic 0x01, classic 0x02, classic 0x03",
        "bus 1 at 1000 kbit/s: damiao 0x11, damiao 0x12, damiao 0x13",
        "bus 2 at 1000 kbit/s: robstride 0x21, robstride 0x22",
    ] {
        assert!(stderr.contains(bus), "no '{bus}' in:\n{stderr}");
    }
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["result"], "succeeded", "{report}");
    assert_eq!(report["steps"].as_array().map(Vec::len), Some(12));
    // The robot on the wire does not see the task's box: the check on it is skipped.
    assert_eq!(report["steps"][11]["name"], "box placed");
    assert_eq!(report["steps"][11]["result"], "skipped", "{report}");
    let q: Vec<f64> = (report["final_q"].as_array().expect("final_q").iter())
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let home = [0.0, 0.3, 0.0, -1.0, 0.0, 0.8, 0.0];
    for (j, h) in home.iter().enumerate() {
        assert!(
            (q[j] - h).abs() < 0.02,
            "joint {} at {} not home {h}",
            j + 1,
            q[j]
        );
    }

    // Without --unit, the generated default map is not for a configured unit.
    let out = embody(&["run", &task_path, "--port", &l]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("holds the configuration of unit MIX-0001: drive it with --unit MIX-0001"),
        "{stderr}"
    );

    // The host's copy now says joint5's motor is at 0x15: refused, named, nothing moved.
    let mut changed = WIRING;
    changed[4].2 = 0x15;
    std::fs::write(fleet.join("units/MIX-0001.toml"), unit_file(&changed)).expect("edit");
    let out = run(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refusing to enable its motors"), "{stderr}");
    assert!(
        stderr.contains("actuators.joint5.can_id: 18 (0x12) on the unit, 21 (0x15) here"),
        "{stderr}"
    );
    assert!(!stderr.contains("started"), "a step started: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Where `task`'s check says `object` must end up (its `wait_until` step's position and
/// tolerance), and where the task puts it at the start.
fn target_of(task: &Path, object: &str) -> ([f64; 3], f64, [f64; 3]) {
    let text = std::fs::read_to_string(task).expect("task");
    let task: toml::Table = text.parse().expect("TOML");
    let xyz = |v: &toml::Value| -> [f64; 3] {
        let a = v.as_array().expect("array");
        [0, 1, 2].map(|i| a[i].as_float().expect("number"))
    };
    let start = (task["environment"]["objects"]
        .as_array()
        .expect("objects")
        .iter())
    .find(|o| o["name"].as_str() == Some(object))
    .map(|o| xyz(&o["position_m"]))
    .expect("the object in the scene");
    let check = (task["steps"].as_array().expect("steps").iter())
        .filter_map(|s| s.get("condition"))
        .find(|c| c.get("object").and_then(|o| o.as_str()) == Some(object))
        .expect("a check on the object");
    let tolerance = check["tolerance"].as_float().expect("tolerance");
    (xyz(&check["position"]), tolerance, start)
}

/// `embody vmcu`'s report of where `object` ended: `  NAME at [x, y, z] m`.
fn reported_at(said: &str, object: &str) -> Option<[f64; 3]> {
    let line = said
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{object} at [")))?;
    let numbers: Vec<f64> = (line.trim_end_matches("] m").split(", "))
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.try_into().ok()
}

/// How a loop on the wire faults when this machine stops it for long.
const STALLED: [&str; 2] = [
    "sensor data stopped arriving",
    "the actuator reported communication lost",
];

#[test]
fn units_of_cia402_drives_and_of_feetech_and_dynamixel_servos_pick_and_place_a_real_object_over_the_wire()
 {
    let _one_at_a_time = ONE_ARM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Scratch::new("families");
    let fleet = dir.0.join("fleet");
    common::copy_example_fleet(&fleet);
    let public =
        embody_fleet::keys::write_pair(&dir.0.join("fw.key"), &SigningKey::from_bytes(&[22; 32]))
            .expect("keys");
    for (unit, task, object, link_kind, flash) in [
        (
            "ARM-0002",
            "pick_and_place.toml",
            "box",
            "SLCAN adapter, CiA 402 drives",
            None,
        ),
        // Its bridge masters its drives, on two buses at 1 kHz: it holds a record.
        (
            "ARM-0003",
            "pick_and_place.toml",
            "box",
            "bridge, CiA 402 drives",
            Some(public.as_path()),
        ),
        (
            "SO-0001",
            "so101_pick_and_place.toml",
            "cube",
            "Feetech servo bus",
            None,
        ),
        (
            "SO-0002",
            "so101_pick_and_place.toml",
            "cube",
            "Dynamixel servo bus",
            None,
        ),
        // Its bridge masters its servos, on its servo UART: it holds a record.
        (
            "SO-0003",
            "so101_pick_and_place.toml",
            "cube",
            "bridge, servo bus",
            Some(public.as_path()),
        ),
    ] {
        let unit = UnitRun {
            scratch: &dir.0,
            fleet: &fleet,
            unit,
            link_kind,
            flash,
        };
        unit.picks_and_places(task, object);
    }
}

/// A unit of the example fleet, run on its virtual devices.
struct UnitRun<'a> {
    scratch: &'a Path,
    fleet: &'a Path,
    unit: &'a str,
    /// What `embody vmcu` says it presents.
    link_kind: &'a str,
    /// For a unit with a bridge: the key its bootloader trusts (its record is stored
    /// with `embody config apply` before the run).
    flash: Option<&'a Path>,
}

impl UnitRun<'_> {
    /// Runs the example task `task` on the unit, on its devices in the task's scene, and
    /// checks that `object` ends where the task's check says. A run that faults on a
    /// stall of this virtual machine — stale sensors, or, past 150 ms, the drives'
    /// heartbeat watchdogs — is tried again, twice at most, on a fresh scene.
    fn picks_and_places(&self, task: &str, object: &str) {
        let unit = self.unit;
        let task = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/tasks")
            .join(task);
        let (target, tolerance, start) = target_of(&task, object);
        let (d, t) = (self.fleet.display().to_string(), task.display().to_string());
        let link = self.scratch.join(unit);
        let l = link.display().to_string();
        let said = self.scratch.join(format!("{unit}.vmcu"));
        let mut tries = Vec::new();
        for _ in 0..3 {
            // The unit's devices as its file wires them, in the task's scene.
            let mut vmcu = Command::new(env!("CARGO_BIN_EXE_embody"));
            vmcu.args([
                "vmcu", "--unit", unit, "--dir", &d, "--scene", &t, "--link", &l,
            ]);
            if let Some(public) = self.flash {
                vmcu.arg("--flash")
                    .arg(self.scratch.join(format!("{unit}.flash")))
                    .arg("--pubkey")
                    .arg(public);
            }
            let vmcu = vmcu
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&said).expect("log"))
                .spawn()
                .expect("vmcu starts");
            let vmcu = Killed(vmcu);
            wait_for(&link);
            if self.flash.is_some() {
                let out = embody(&["config", "apply", unit, "--dir", &d, "--port", &l]);
                assert!(
                    out.status.success(),
                    "{unit}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let run = embody(&["run", &t, "--unit", unit, "--dir", &d, "--port", &l]);
            // SIGINT: it stops, removes its link and says where the objects are.
            let pid = vmcu.0.id().to_string();
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let mut vmcu = vmcu;
            let _ = vmcu.0.wait();
            let vmcu_said = std::fs::read_to_string(&said).expect("vmcu log");
            let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
            let stalled = STALLED.iter().any(|s| stderr.contains(s));
            tries.push(format!("{stderr}\n--- vmcu ---\n{vmcu_said}"));
            if stalled {
                continue;
            }
            assert!(run.status.success(), "{unit}: {tries:#?}");
            assert!(vmcu_said.contains(self.link_kind), "{vmcu_said}");
            let at = reported_at(&vmcu_said, object).expect("where the object ended");
            let off = (0..3)
                .map(|i| (at[i] - target[i]).powi(2))
                .sum::<f64>()
                .sqrt();
            let moved = (0..3)
                .map(|i| (at[i] - start[i]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                off < tolerance,
                "{unit}: {object} at {at:?}, {off:.3} m from {target:?}"
            );
            assert!(moved > 0.1, "{unit}: {object} stayed at {start:?}");
            break;
        }
        let last = tries.last().map_or("", String::as_str);
        assert!(
            !STALLED.iter().any(|s| last.contains(s)),
            "{unit}: {tries:#?}"
        );
    }
}
