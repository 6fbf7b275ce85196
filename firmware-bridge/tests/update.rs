//! A/B updates on a simulated NOR flash (writes only clear bits, erases set whole
//! sectors): the whole cycle, every refusal, and power cut at every flash operation of an
//! update — after each, the unit boots a valid image, its configuration area is intact,
//! and it can be flashed again.

mod common;

use common::{ERASE, Flash};
use embody_firmware_bridge::update::{
    Boot, BootState, Layout, UpdateError, Updater, boot, read_state, verify_slot,
};
use embody_fwimage::ed25519_dalek::{SigningKey, VerifyingKey};
use embody_fwimage::{Header, ImageError, image_len, sign};
use embody_protocol::crc32 as crc32_of;

const LAYOUT: Layout = Layout::new(8 * 1024, ERASE, 512);
const CHUNK: usize = 512;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn public() -> VerifyingKey {
    key().verifying_key()
}

fn image(fill: u8, len: usize, counter: u32, key: &SigningKey) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| fill ^ (i as u8)).collect();
    let header = Header {
        version: embody_fwimage::Version {
            major: 1,
            minor: fill,
            patch: 0,
        },
        payload_len: len as u32,
        build_id: [fill; 16],
    };
    let mut out = vec![0u8; image_len(len)];
    sign(&payload, &header, counter, key, &mut out).expect("signs");
    out
}

/// A unit with image `fill` installed in slot 0, confirmed, and a configuration.
fn factory_unit(fill: u8) -> Flash {
    let mut f = Flash::new(LAYOUT.capacity());
    let img = image(fill, 3000, 1, &key());
    f.bytes[..img.len()].copy_from_slice(&img);
    let (at, len) = LAYOUT.config;
    for (k, b) in f.bytes[at as usize..(at + len) as usize]
        .iter_mut()
        .enumerate()
    {
        *b = (k * 31 % 251) as u8;
    }
    f
}

fn config(f: &Flash) -> Vec<u8> {
    let (at, len) = LAYOUT.config;
    f.bytes[at as usize..(at + len) as usize].to_vec()
}

fn send(u: &mut Updater, f: &mut Flash, img: &[u8]) -> Result<(), UpdateError> {
    u.begin(f, img.len() as u32)?;
    let mut offset = u.status().received as usize;
    while offset < img.len() {
        let chunk = &img[offset..(offset + CHUNK).min(img.len())];
        offset = u.chunk(f, offset as u32, chunk, crc32_of(chunk))? as usize;
    }
    u.finish(f).map(|_| ())
}

/// The whole update of `img` from a running unit to a confirmed new image.
fn update(f: &mut Flash, img: &[u8]) -> Result<Boot, UpdateError> {
    let mut u = Updater::open(f, LAYOUT, public())?;
    send(&mut u, f, img)?;
    let trial = boot(f, &LAYOUT, &public())?;
    let mut u = Updater::open(f, LAYOUT, public())?;
    u.confirm(f)?;
    Ok(trial)
}

#[test]
fn an_update_boots_on_trial_confirms_and_raises_the_floor() {
    let mut f = factory_unit(1);
    let first = boot(&mut f, &LAYOUT, &public()).expect("boots");
    assert_eq!((first.slot, first.trial), (0, false));
    let new = image(2, 5000, 4, &key());
    let trial = update(&mut f, &new).expect("updates");
    assert_eq!((trial.slot, trial.trial, trial.image.counter), (1, true, 4));
    let after = boot(&mut f, &LAYOUT, &public()).expect("boots");
    assert_eq!((after.slot, after.trial, after.reverted), (1, false, false));
    let state = read_state(&mut f, &LAYOUT).expect("state");
    assert_eq!(
        (state.active, state.pending, state.min_counter),
        (1, None, 4)
    );
    // And back the other way: the next update goes to slot 0.
    update(&mut f, &image(3, 100, 4, &key())).expect("updates again");
    assert_eq!(boot(&mut f, &LAYOUT, &public()).expect("boots").slot, 0);
}

#[test]
fn a_trial_that_resets_without_confirming_reverts() {
    let mut f = factory_unit(1);
    let mut u = Updater::open(&mut f, LAYOUT, public()).expect("open");
    send(&mut u, &mut f, &image(2, 4000, 2, &key())).expect("sent");
    assert!(boot(&mut f, &LAYOUT, &public()).expect("boots").trial);
    // The new firmware hangs in its self-test; the watchdog resets the unit.
    let back = boot(&mut f, &LAYOUT, &public()).expect("boots");
    assert_eq!((back.slot, back.trial, back.reverted), (0, false, true));
    assert_eq!(back.image.version.minor, 1);
}

#[test]
fn tampered_wrong_key_downgrade_and_bad_chunks_are_refused() {
    let mut f = factory_unit(1);
    update(&mut f, &image(2, 2000, 5, &key())).expect("to counter 5");
    let mut u = Updater::open(&mut f, LAYOUT, public()).expect("open");
    // Signed by someone else.
    let other = SigningKey::from_bytes(&[9; 32]);
    assert!(matches!(
        send(&mut u, &mut f, &image(3, 2000, 6, &other)),
        Err(UpdateError::Image(ImageError::WrongKey { .. }))
    ));
    // Altered after signing (its chunk CRCs match the altered bytes).
    let mut tampered = image(3, 2000, 6, &key());
    tampered[1000] ^= 0x20;
    assert_eq!(
        send(&mut u, &mut f, &tampered),
        Err(UpdateError::Image(ImageError::DigestMismatch))
    );
    // Validly signed, but older than the floor.
    assert_eq!(
        send(&mut u, &mut f, &image(3, 2000, 4, &key())),
        Err(UpdateError::Downgrade { counter: 4, min: 5 })
    );
    // Chunk-level damage and order.
    let img = image(3, 2000, 6, &key());
    u.begin(&mut f, img.len() as u32).expect("begin");
    assert_eq!(
        u.chunk(&mut f, 0, &img[..512], 0),
        Err(UpdateError::ChunkCrc)
    );
    assert_eq!(
        u.chunk(&mut f, 512, &img[512..1024], crc32_of(&img[512..1024])),
        Err(UpdateError::OutOfOrder {
            expected: 0,
            got: 512
        })
    );
    assert!(matches!(
        u.finish(&mut f),
        Err(UpdateError::Incomplete { .. })
    ));
    assert!(matches!(
        u.begin(&mut f, LAYOUT.slot_len + 1),
        Err(UpdateError::TooLarge { .. })
    ));
    // None of it disturbed the running image.
    let b = boot(&mut f, &LAYOUT, &public()).expect("boots");
    assert_eq!((b.slot, b.image.counter), (1, 5));
}

#[test]
fn an_interrupted_transfer_resumes_where_it_stopped() {
    let mut f = factory_unit(1);
    let img = image(2, 6000, 2, &key());
    let mut u = Updater::open(&mut f, LAYOUT, public()).expect("open");
    u.begin(&mut f, img.len() as u32).expect("begin");
    for offset in (0..2048).step_by(CHUNK) {
        let chunk = &img[offset..offset + CHUNK];
        u.chunk(&mut f, offset as u32, chunk, crc32_of(chunk))
            .expect("chunk");
    }
    // The link drops; the host comes back and asks where to go on from.
    let from = u.status().received as usize;
    assert_eq!(from, 2048);
    for offset in (from..img.len()).step_by(CHUNK) {
        let chunk = &img[offset..(offset + CHUNK).min(img.len())];
        u.chunk(&mut f, offset as u32, chunk, crc32_of(chunk))
            .expect("chunk");
    }
    assert_eq!(u.finish(&mut f).expect("verifies").counter, 2);
}

#[test]
fn power_cut_at_any_flash_operation_leaves_a_bootable_unit_and_its_config() {
    let new = image(2, 5000, 3, &key());
    // Count the operations of a whole update.
    let mut probe = factory_unit(1);
    update(&mut probe, &new).expect("updates");
    let total = probe.ops;
    assert!(total > 10, "{total} operations");
    eprintln!("an update is {total} flash operations; cutting power after each");
    for budget in 0..total {
        let mut f = factory_unit(1);
        let cfg = config(&f);
        f.budget = Some(budget);
        assert!(update(&mut f, &new).is_err(), "cut after {budget} ops");
        // Power returns: the bootloader must find a valid image.
        let mut f = f.rebooted();
        let b = boot(&mut f, &LAYOUT, &public())
            .unwrap_or_else(|e| panic!("cut after {budget} ops: no boot: {e:?}"));
        verify_slot(&mut f, &LAYOUT, b.slot, &public(), 0).expect("a valid image");
        assert_eq!(config(&f), cfg, "cut after {budget} ops: config changed");
        // The unit can be flashed again from wherever it stands.
        let mut u = Updater::open(&mut f, LAYOUT, public()).expect("open");
        if u.status().state.trial {
            u.confirm(&mut f).expect("confirm the trial");
        }
        update(&mut f, &new).unwrap_or_else(|e| panic!("cut after {budget}: reflash: {e:?}"));
        let done = boot(&mut f, &LAYOUT, &public()).expect("boots");
        assert_eq!((done.image.version.minor, done.trial), (2, false));
        assert_eq!(config(&f), cfg);
    }
}

#[test]
fn a_torn_or_blank_state_record_falls_back_to_the_other() {
    let mut f = factory_unit(1);
    assert_eq!(
        read_state(&mut f, &LAYOUT).expect("state"),
        BootState::FACTORY
    );
    update(&mut f, &image(2, 1000, 2, &key())).expect("updates");
    let good = read_state(&mut f, &LAYOUT).expect("state");
    // Corrupt the newer record: the older one (a valid earlier state) stands.
    let newer = LAYOUT.state[(good.seq % 2) as usize] as usize;
    f.bytes[newer + 5] ^= 0x10;
    let older = read_state(&mut f, &LAYOUT).expect("state");
    assert_eq!(older.seq, good.seq - 1);
    assert!(boot(&mut f, &LAYOUT, &public()).is_ok());
}

/// A unit record stored with the power cut at its erase or (torn) write: the unit keeps
/// the record it had, never none, and the next store succeeds.
#[test]
fn a_record_cut_while_stored_leaves_the_previous_one() {
    use embody_firmware_bridge::unit::Unit;
    use embody_protocol::messages::{BridgeMessage, HostMessage, JointCalibration, UnitRecord};

    // A config area of two halves big enough for a record each.
    const WIDE: Layout = Layout::new(8 * 1024, ERASE, 16 * ERASE);
    let record = |serial: &str, offset: f32| {
        let mut r = UnitRecord {
            serial: serial.try_into().expect("fits"),
            ..UnitRecord::default()
        };
        let _ = r.calibration.push(JointCalibration {
            joint: 2,
            zero_offset_rad: offset,
            direction: -1,
        });
        r
    };
    let fresh = Flash::new(WIDE.capacity());
    let Ok(mut unit) = Unit::start(fresh, WIDE, public()) else {
        panic!("a blank unit starts")
    };
    let stored = unit.handle(&HostMessage::SetUnit(record("A", 0.5)));
    assert_eq!(stored, Some(BridgeMessage::UnitStored));
    let base = unit.into_flash();
    for budget in 0..2 {
        let mut f = base.rebooted();
        f.budget = Some(budget);
        let Ok(mut unit) = Unit::start(f, WIDE, public()) else {
            panic!("starts")
        };
        let cut = unit.handle(&HostMessage::SetUnit(record("B", -0.5)));
        assert!(
            matches!(cut, Some(BridgeMessage::UnitRefused(_))),
            "cut after {budget}: {cut:?}"
        );
        let Ok(mut unit) = Unit::start(unit.into_flash().rebooted(), WIDE, public()) else {
            panic!("restarts")
        };
        assert_eq!(unit.record(), Some(&record("A", 0.5)), "cut after {budget}");
        let again = unit.handle(&HostMessage::SetUnit(record("B", -0.5)));
        assert_eq!(again, Some(BridgeMessage::UnitStored));
        let Ok(unit) = Unit::start(unit.into_flash().rebooted(), WIDE, public()) else {
            panic!("restarts")
        };
        assert_eq!(unit.record(), Some(&record("B", -0.5)));
    }
    // An out-of-range calibration is refused, the stored record stays.
    let Ok(mut unit) = Unit::start(base.rebooted(), WIDE, public()) else {
        panic!("starts")
    };
    let bad = unit.handle(&HostMessage::SetUnit(record("C", f32::NAN)));
    assert!(matches!(bad, Some(BridgeMessage::UnitRefused(_))));
    assert_eq!(unit.record(), Some(&record("A", 0.5)));
}

/// The largest record a unit can hold — the longest names, every one of 64 joints
/// calibrated and placed — is stored, read back after a restart, and fits one frame of
/// the link both ways.
#[test]
fn the_largest_record_is_stored_read_back_and_fits_the_link() {
    use embody_firmware_bridge::unit::Unit;
    use embody_protocol::messages::{
        ActuatorRecord, ActuatorVariant, BridgeMessage, ControlRecord, HostMessage,
        JointCalibration, MAX_JOINTS, UnitRecord,
    };
    use embody_protocol::{FrameEncoder, MAX_FRAME, MitVariant};

    // Config halves of 2 KiB, as the virtual unit's 4 KiB sectors are more than enough.
    const VMCU_LIKE: Layout = Layout::new(8 * 1024, ERASE, 16 * ERASE);
    let long = "X".repeat(32);
    let mut record = UnitRecord {
        serial: long.as_str().try_into().expect("fits"),
        robot: long.as_str().try_into().expect("fits"),
        config_digest: [0xFF; 32],
        tool: long.as_str().try_into().expect("fits"),
        control: ControlRecord {
            rate_hz: 10_000.0,
            watchdog_ms: u32::MAX,
            damping_ms: u32::MAX,
            bitrate: u32::MAX,
        },
        ..UnitRecord::default()
    };
    for j in 0..MAX_JOINTS as u8 {
        let _ = record.calibration.push(JointCalibration {
            joint: j,
            zero_offset_rad: -3.1,
            direction: -1,
        });
        let _ = record.actuators.push(ActuatorRecord {
            joint: j,
            bus: 7,
            can_id: 127,
            master_id: 255,
            variant: ActuatorVariant::Mit(MitVariant::Robstride),
            rest_digest: u32::MAX,
        });
    }
    let mut out = [0u8; MAX_FRAME];
    let mut encoder = FrameEncoder::default();
    let set = HostMessage::SetUnit(record.clone());
    assert!(encoder.encode(&set, &mut out).is_ok(), "a host frame");
    let answer = BridgeMessage::Unit(Some(record.clone()));
    assert!(encoder.encode(&answer, &mut out).is_ok(), "a bridge frame");
    let Ok(mut unit) = Unit::start(Flash::new(VMCU_LIKE.capacity()), VMCU_LIKE, public()) else {
        panic!("a blank unit starts")
    };
    assert_eq!(
        unit.handle(&HostMessage::SetUnit(record.clone())),
        Some(BridgeMessage::UnitStored)
    );
    let Ok(unit) = Unit::start(unit.into_flash().rebooted(), VMCU_LIKE, public()) else {
        panic!("restarts")
    };
    assert_eq!(unit.record(), Some(&record));
}
