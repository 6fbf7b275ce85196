//! `embody calibrate` against a virtual unit wired as its configuration says (`embody
//! vmcu --unit`) whose motors are mounted as a real unit's are (`--as-built SEED`:
//! encoder zeros off by up to 0.3 rad, some motors turned round): the zeros and
//! directions it finds are the mounting the simulator was built with, the calibration
//! file it writes passes `config check` (and fails it once edited by hand), and the
//! unit then holds exactly that configuration.

mod common;

use common::{Killed, Scratch, embody, wait_for};

use std::process::{Command, Stdio};

use embody_fwimage::ed25519_dalek::SigningKey;

#[test]
fn calibration_finds_the_mounting_the_unit_was_built_with() {
    let dir = Scratch::new("calibrate");
    let fleet = dir.0.join("fleet");
    common::copy_example_fleet(&fleet);
    let public =
        embody_fleet::keys::write_pair(&dir.0.join("fw.key"), &SigningKey::from_bytes(&[11; 32]))
            .expect("keys");
    // The reference: how the simulator mounts the motors, for the first seed that turns
    // a motor round.
    let model = embody_model::robots::load("arm7", Some(false)).expect("arm7");
    let (seed, built) = (0..)
        .map(|seed| (seed, embody_vmcu::as_built(&model, seed)))
        .find(|(_, built)| built.iter().any(|m| m.direction < 0.0))
        .expect("some seed turns a motor round");
    let link = dir.0.join("unit");
    let _vmcu = Killed(
        Command::new(env!("CARGO_BIN_EXE_embody"))
            .args(["vmcu", "--unit", "ARM-0001", "--dir"])
            .arg(&fleet)
            .args(["--as-built", &seed.to_string(), "--link"])
            .arg(&link)
            .arg("--flash")
            .arg(dir.0.join("unit.flash"))
            .arg("--pubkey")
            .arg(&public)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vmcu starts"),
    );
    wait_for(&link);
    let (d, l) = (fleet.display().to_string(), link.display().to_string());
    let out = embody(&[
        "calibrate",
        "--unit",
        "ARM-0001",
        "--dir",
        &d,
        "--port",
        &l,
        "--speed",
        "0.8",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["within_limits"], true);

    let names: Vec<String> = model
        .actuated_joints()
        .map(|j| model.joints[j.0].name.clone())
        .collect();
    let joints = report["joints"].as_array().expect("joints");
    assert_eq!(joints.len(), names.len());
    for (k, (name, mounting)) in names.iter().zip(&built).enumerate() {
        let found = &joints[k];
        assert_eq!(found["joint"], name.as_str());
        let zero = found["zero_offset_rad"].as_f64().expect("zero");
        let tolerance = if name.starts_with("finger") {
            1e-3
        } else {
            3e-3
        };
        assert!(
            (zero - mounting.zero).abs() < tolerance,
            "{name}: zero {zero}, built {}",
            mounting.zero
        );
        assert_eq!(
            found["direction"].as_i64(),
            Some(mounting.direction as i64),
            "{name} ({})",
            found["direction_from"]
        );
    }

    // The file passes the checks, and the unit holds exactly that configuration.
    let out = embody(&["config", "check", "ARM-0001", "--dir", &d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = embody(&["config", "diff", "ARM-0001", "--dir", &d, "--port", &l]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds this configuration already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Edited by hand: the hash no longer matches.
    let file = fleet.join("calibration/ARM-0001.toml");
    let text = std::fs::read_to_string(&file).expect("calibration file");
    assert!(text.contains("tool = \"embody "), "{text}");
    let edited = text
        .replacen("direction = ", "direction = -", 1)
        .replace("= --", "= ");
    std::fs::write(&file, edited).expect("edit");
    let out = embody(&["config", "check", "ARM-0001", "--dir", &d]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("calibration.hash"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
