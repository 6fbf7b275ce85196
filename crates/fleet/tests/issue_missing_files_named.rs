//! Issue 22, defect 8 (the fleet's share): a missing `fleet.toml` was blamed on the unit
//! file (`units/X.toml: .: missing field control`). Every file a unit's configuration is
//! read from is now named when it is missing, with why it was looked for; a key that is
//! missing altogether is blamed on the file it belongs in; a calibration that cannot be
//! written names the file.

mod common;

use common::Fleet;
use embody_fleet::calibrate::write_calibration;
use embody_fleet::config::{Calibration, load};

#[test]
fn missing_fleet_toml_is_named() {
    let fleet = Fleet::new("no-fleet-toml");
    std::fs::remove_file(fleet.file("fleet.toml")).expect("remove");
    fleet.expect_one("fleet.toml", "", "no such file");
    let text = fleet.problems()[0].to_string();
    assert!(text.contains("fleet directory"), "{text}");
    assert!(!text.contains("units/"), "{text}");

    // A directory that is no fleet at all says the same, before any unit is looked for.
    let nowhere = fleet.file("nowhere");
    let problems = load(&nowhere, "ARM-0001").expect_err("no fleet");
    assert_eq!(problems[0].file, nowhere.join("fleet.toml"));
}

#[test]
fn missing_unit_and_robot_files_are_named_with_why() {
    let fleet = Fleet::new("no-files");
    let problems = load(&fleet.dir, "ARM-0099").expect_err("no unit");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].file, fleet.file("units/ARM-0099.toml"));
    assert!(
        problems[0].reason.contains("no such unit"),
        "{}",
        problems[0]
    );
    assert!(problems[0].reason.contains("'ARM-0099'"), "{}", problems[0]);

    // The robot's file is looked for because the unit names the robot: located at that
    // key, naming the missing file.
    std::fs::remove_file(fleet.file("robots/arm7.toml")).expect("remove");
    let missing = fleet.file("robots/arm7.toml").display().to_string();
    fleet.expect_one("units/ARM-0001.toml", "robot", &missing);
    fleet.expect_one("units/ARM-0001.toml", "robot", "no such file");

    // A URDF the unit names is looked for in the fleet, wherever the command runs.
    let fleet = Fleet::new("no-urdf");
    fleet.replace(
        "units/ARM-0001.toml",
        "robot = \"arm7\"",
        "robot = \"urdf/arm7.urdf\"",
    );
    let urdf = fleet.file("urdf/arm7.urdf").display().to_string();
    fleet.expect_one("units/ARM-0001.toml", "robot", &urdf);
}

#[test]
fn a_missing_calibration_is_an_uncalibrated_unit() {
    let fleet = Fleet::new("no-cal");
    std::fs::remove_file(fleet.file("calibration/ARM-0001.toml")).expect("remove");
    assert_eq!(fleet.problems(), vec![]);
    let (_, config) = load(&fleet.dir, "ARM-0001").expect("loads");
    assert!(config.calibration.joints.is_empty());
}

#[test]
fn a_missing_table_is_blamed_on_the_file_it_belongs_in() {
    let fleet = Fleet::new("no-bus");
    fleet.replace("fleet.toml", "[bus]\nbitrate = 1_000_000", "");
    fleet.expect_one("fleet.toml", "bus", "missing field `bus`");
    let fleet = Fleet::new("no-rate");
    fleet.replace("fleet.toml", "rate_hz = 1000.0", "");
    fleet.expect_one("fleet.toml", "control.rate_hz", "missing field `rate_hz`");
    let fleet = Fleet::new("no-variant");
    fleet.replace("robots/arm7.toml", "variant = \"classic\"", "");
    let problems = fleet.problems();
    assert_eq!(problems[0].file, fleet.file("robots/arm7.toml"));
    assert!(problems[0].key.ends_with(".variant"), "{}", problems[0]);
}

#[test]
fn a_calibration_that_cannot_be_written_names_its_file() {
    let fleet = Fleet::new("cal-unwritable");
    let path = fleet.file("calibration/ARM-0002.toml");
    std::fs::create_dir_all(&path).expect("a directory where the file goes");
    let e = write_calibration(&fleet.dir, "ARM-0002", &Calibration::default())
        .expect_err("cannot replace a directory");
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
}
