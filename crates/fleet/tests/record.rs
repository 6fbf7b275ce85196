//! The record a configuration becomes on a unit, and what differs between two: every
//! difference is named by the configuration's own key — a CAN id as
//! `actuators.<joint>.can_id`, a rating or range as the actuator's table, a loop setting
//! as `control.*` — so a host that refuses to drive a unit can say why. A difference the
//! record does not itemise still shows as the configuration's digest.

use std::path::Path;

use embody_fleet::Unit;
use embody_fleet::record::{Change, diff};
use embody_protocol::messages::UnitRecord;

fn example() -> Unit {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet");
    Unit::load(&dir, "ARM-0001").expect("the example unit loads")
}

/// The example unit's record after `change` to its configuration.
fn record_with(change: impl FnOnce(&mut Unit)) -> UnitRecord {
    let mut unit = example();
    change(&mut unit);
    unit.record().expect("record")
}

fn keys(changes: &[Change]) -> Vec<&str> {
    changes.iter().map(|c| c.key.as_str()).collect()
}

#[test]
fn a_changed_key_is_named_by_its_key() {
    let unit = example();
    let names = unit.joint_names();
    let on_unit = unit.record().expect("record");
    assert_eq!(diff(Some(&on_unit), &on_unit, &names), vec![]);

    let moved =
        record_with(|u| u.config.actuators.get_mut("joint3").expect("joint3").can_id = Some(9));
    let changes = diff(Some(&on_unit), &moved, &names);
    assert_eq!(keys(&changes), ["actuators.joint3.can_id"]);
    assert_eq!(
        (changes[0].on_unit.as_str(), changes[0].applied.as_str()),
        ("3 (0x03)", "9 (0x09)")
    );

    let variant = record_with(|u| {
        let a = u.config.actuators.get_mut("joint7").expect("joint7");
        a.variant = embody_fleet::config::Variant::Robstride;
        a.bus = 2;
    });
    assert_eq!(
        keys(&diff(Some(&on_unit), &variant, &names)),
        ["actuators.joint7.bus", "actuators.joint7.variant"]
    );

    let ranges = record_with(|u| {
        u.config
            .actuators
            .get_mut("joint2")
            .expect("joint2")
            .ranges
            .as_mut()
            .expect("ranges")
            .kp_max = 600.0;
    });
    assert_eq!(
        keys(&diff(Some(&on_unit), &ranges, &names)),
        ["actuators.joint2"]
    );

    let loop_rate = record_with(|u| {
        u.config.control.rate_hz = 500.0;
        u.config.control.damping_ms = 500;
    });
    assert_eq!(
        keys(&diff(Some(&on_unit), &loop_rate, &names)),
        ["control.rate_hz", "control.damping_ms"]
    );

    let calibrated = record_with(|u| {
        let j = u
            .config
            .calibration
            .joints
            .get_mut("joint4")
            .expect("joint4");
        j.zero_offset_rad += 0.01;
    });
    assert_eq!(
        keys(&diff(Some(&on_unit), &calibrated, &names)),
        ["calibration.joints.joint4"]
    );

    // Not itemised on the unit: only the digest says so.
    let retooled = record_with(|u| u.config.calibration.tool = "another tool".into());
    assert_eq!(
        keys(&diff(Some(&on_unit), &retooled, &names)),
        ["config_digest"]
    );

    // A unit that holds nothing: every key, from nothing.
    let fresh = diff(None, &on_unit, &names);
    assert!(fresh.iter().all(|c| c.on_unit == "-"), "{fresh:?}");
    assert!(keys(&fresh).contains(&"actuators.finger_left_joint"));
}

#[test]
fn the_record_round_trips_through_the_link_encoding() {
    let record = example().record().expect("record");
    let mut out = [0u8; embody_protocol::MAX_FRAME];
    let message = embody_protocol::messages::BridgeMessage::Unit(Some(record.clone()));
    let n = embody_protocol::FrameEncoder::default()
        .encode(&message, &mut out)
        .expect("fits a frame");
    let mut decoder = embody_protocol::FrameDecoder::default();
    let (_, frame) = decoder.feed(&out[..n]);
    assert!(matches!(frame, Some(Ok(_))));
    let back: embody_protocol::messages::BridgeMessage = decoder.message().expect("decodes");
    assert_eq!(back, message);
    assert_eq!(record.actuators.len(), 8);
    assert_eq!(record.control.watchdog_ms, 50);
}

#[test]
fn a_host_driving_the_motors_itself_applies_the_calibration_as_defined() {
    // ARM-0001's calibration: joint4's motor turned round, its encoder zero at -0.2933.
    let unit = example();
    let cal = &unit.config.calibration.joints["joint4"];
    assert_eq!(cal.direction, -1);
    let setup = unit.calibrated_setup().expect("setup");
    let joint4 = setup.actuators[3];
    for q in [-2.0_f32, -1.0, 0.0, 0.05] {
        // The calibration's definition: the raw motor position p = direction·q + zero.
        let p = cal.direction as f32 * q + cal.zero_offset_rad as f32;
        let command = joint4.motor_command(&embody_protocol::messages::WireCommand::Position { q });
        assert!(
            (command.p - p).abs() < 1e-5,
            "q {q}: sent p {} not {p}",
            command.p
        );
        let feedback = embody_protocol::MitFeedback {
            p,
            ..embody_protocol::MitFeedback::default()
        };
        let read = joint4.joint_state(&feedback).q;
        assert!((read - q).abs() < 1e-5, "p {p} reads q {read}, not {q}");
    }
    // Uncalibrated joints pass through.
    assert_eq!(setup.actuators[0].direction, 1);
}
