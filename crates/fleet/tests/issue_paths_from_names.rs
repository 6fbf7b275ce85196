//! Issue 22, defect 7: names become paths. A unit's serial names `units/<serial>.toml`
//! and `calibration/<serial>.toml`, a robot's name `robots/<robot>.toml`; a serial such
//! as `../robots/arm7` made calibration write outside the fleet directory. Every name is
//! now checked by `embody_fleet::name::check` where it enters — the serial asked for, the
//! `serial` and `robot` keys of the layers, the calibration file written — and refused
//! with a located sentence.

mod common;

use common::Fleet;
use embody_fleet::calibrate::write_calibration;
use embody_fleet::config::{Calibration, load};
use embody_fleet::name::{self, RULE, Why};
use embody_fleet::{FleetError, Unit};

#[test]
fn serial_with_a_path_is_refused() {
    let fleet = Fleet::new("serial-path");
    for serial in [
        "../robots/arm7",
        "ARM-0001/../../x",
        "..",
        ".ARM-0001",
        "",
        "a\0b",
        "a\\b",
        "ARM 0001",
    ] {
        let problems = load(&fleet.dir, serial).expect_err(serial);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        let p = &problems[0];
        assert_eq!(p.file, fleet.file("units"), "{p}");
        assert!(p.reason.contains("cannot be a unit serial"), "{p}");
        assert!(p.reason.contains(RULE), "{p}");
        // The same through the unit's operations.
        let e = Unit::load(&fleet.dir, serial).expect_err(serial);
        assert!(e.to_string().contains("cannot be a unit serial"), "{e}");
    }
    // Bounded: a serial longer than a unit's record holds.
    let long = "A".repeat(name::MAX_LEN + 1);
    let e = load(&fleet.dir, &long).expect_err("too long");
    assert!(e[0].reason.contains("33 bytes long"), "{}", e[0]);
}

#[test]
fn calibration_never_writes_outside_the_fleet() {
    let fleet = Fleet::new("cal-outside");
    let robot_file = fleet.file("robots/arm7.toml");
    let before = std::fs::read_to_string(&robot_file).expect("read");
    let calibration = Calibration::default();
    for serial in ["../robots/arm7", "../../outside", "/tmp/x", "a/b", ""] {
        let e = write_calibration(&fleet.dir, serial, &calibration).expect_err(serial);
        assert!(matches!(e, FleetError::Name(_)), "{e}");
        assert!(e.to_string().contains("cannot be a unit serial"), "{e}");
    }
    assert_eq!(std::fs::read_to_string(&robot_file).expect("read"), before);
    assert!(!fleet.file("robots/arm7.toml.partial").exists());
    assert!(!fleet.dir.join("../outside.toml").exists());
    // A plain serial still writes its layer where it belongs.
    let path = write_calibration(&fleet.dir, "ARM-0002", &calibration).expect("writes");
    assert_eq!(path, fleet.file("calibration/ARM-0002.toml"));
}

#[test]
fn a_serial_key_must_be_the_units_own() {
    let fleet = Fleet::new("serial-key");
    // The same serial as the file's name: fine.
    let unit = std::fs::read_to_string(fleet.file("units/ARM-0001.toml")).expect("read");
    std::fs::write(
        fleet.file("units/ARM-0001.toml"),
        format!("serial = \"ARM-0001\"\n{unit}"),
    )
    .expect("write");
    assert_eq!(fleet.problems(), vec![]);
    // A path.
    fleet.replace(
        "units/ARM-0001.toml",
        "serial = \"ARM-0001\"",
        "serial = \"../../evil\"",
    );
    fleet.expect_one("units/ARM-0001.toml", "serial", "cannot be a unit serial");
    // Another unit's: its calibration would be written where it is never read.
    fleet.replace(
        "units/ARM-0001.toml",
        "serial = \"../../evil\"",
        "serial = \"ARM-0002\"",
    );
    fleet.expect_one(
        "units/ARM-0001.toml",
        "serial",
        "'ARM-0002' is not this unit's serial",
    );
    // Set for every unit in fleet.toml: named there.
    fleet.replace("units/ARM-0001.toml", "serial = \"ARM-0002\"\n", "");
    let text = std::fs::read_to_string(fleet.file("fleet.toml")).expect("read");
    std::fs::write(
        fleet.file("fleet.toml"),
        format!("serial = \"ARM-0002\"\n{text}"),
    )
    .expect("write");
    fleet.expect_one("fleet.toml", "serial", "not this unit's serial");
}

#[test]
fn robot_name_that_is_not_a_file_name_is_refused() {
    let fleet = Fleet::new("robot-name");
    for (robot, why) in [
        ("..", Why::Empty),
        ("urdf/.hidden.urdf", Why::LeadingDot),
        ("my arm.urdf", Why::Character(' ')),
    ] {
        let text = format!("robot = \"{robot}\"\n");
        std::fs::write(fleet.file("units/ARM-0001.toml"), text).expect("write");
        let stem = std::path::Path::new(robot)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let expected = name::check("a robot name", &stem).expect_err(robot);
        assert_eq!(expected.why, why);
        fleet.expect_one("units/ARM-0001.toml", "robot", &expected.to_string());
    }
}
