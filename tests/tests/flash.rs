//! A unit on a paced serial link (921,600 baud) loses its link in the middle of an update
//! and gets it back: the transfer resumes where the unit says it stands, not from the
//! start. And the calibration in the unit record is applied by the bridge: the loop's
//! view of a calibrated joint is the raw view through the stored zero and direction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use embody_bridge::BridgeRobot;
use embody_bridge::flasher::{CheckedImage, FlashError, FlashOptions, Step, flash_unit};
use embody_bridge::service::Service;
use embody_fleet::defaults::{self, DefaultMap};
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_hal::{Clock, Robot, SensorFrame, SystemClock};
use embody_model::robots;
use embody_protocol::messages::{JointCalibration, UnitRecord};
use embody_testkit::images::signed as image;
use embody_vmcu::{Control, VmcuConfig, VmcuThread};

struct Vmcu {
    mcu: Option<VmcuThread>,
    control: Arc<Control>,
    link: PathBuf,
    dir: PathBuf,
}

impl Vmcu {
    fn start(name: &str, key: &SigningKey, baud: Option<u32>) -> Vmcu {
        let dir =
            std::env::temp_dir().join(format!("embody-e2e-flash-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let link = dir.join("bridge");
        let mcu = VmcuThread::start(VmcuConfig {
            baud,
            flash: Some((dir.join("flash"), key.verifying_key())),
            ..VmcuConfig::new("arm7", link.clone()).expect("arm7 maps")
        })
        .expect("vmcu runs");
        Vmcu {
            control: mcu.control().clone(),
            mcu: Some(mcu),
            link,
            dir,
        }
    }
}

impl Drop for Vmcu {
    fn drop(&mut self) {
        // Stopped (its link removed) before its directory goes.
        drop(self.mcu.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn an_update_that_loses_its_link_resumes_where_the_unit_stands() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let unit = Vmcu::start("resume", &key, Some(921_600));
    let bytes = image(&key, 1, 1, 60_000);
    let checked = CheckedImage::check(&bytes, &key.verifying_key()).expect("good");
    let mut unplugged_at = None;
    let mut resumed_at = None;
    let control = unit.control.clone();
    let outcome = flash_unit(
        &unit.link,
        &checked,
        &FlashOptions::default(),
        &mut |step| match step {
            Step::Transfer { sent, total } if unplugged_at.is_none() && sent * 3 >= total => {
                unplugged_at = Some(sent);
                control.set_unplugged(true);
                let control = control.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    control.set_unplugged(false);
                });
            }
            Step::Resumed(at) => resumed_at = Some(at),
            _ => {}
        },
    )
    .expect("the update completes after the link returns");
    let unplugged_at = unplugged_at.expect("unplugged mid-transfer");
    let resumed_at = resumed_at.expect("resumed");
    assert!(outcome.resumes >= 1);
    assert!(
        resumed_at >= unplugged_at,
        "resumed at {resumed_at}, the unit had {unplugged_at}"
    );
    // Only what was in flight is sent twice.
    assert!(
        outcome.bytes_sent < bytes.len() as u64 + 4 * 1024,
        "sent {} for {}",
        outcome.bytes_sent,
        bytes.len()
    );
    assert_eq!(outcome.after, Some(checked.identity));
}

/// arm7 on its bridge at `link`, with the generated default map the virtual unit has.
fn connect(link: &std::path::Path) -> BridgeRobot {
    let model = robots::load("arm7", None).expect("arm7");
    let setup = defaults::setup(&model, "arm7", &DefaultMap::default()).expect("arm7 maps");
    BridgeRobot::connect(link, &model, &setup).expect("bridge answers")
}

fn joint_positions(link: &std::path::Path) -> Vec<f64> {
    let mut robot = connect(link);
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    std::thread::sleep(Duration::from_millis(20));
    robot.read(SystemClock.now(), &mut frame).expect("sensors");
    frame.joints.iter().map(|j| j.q).collect()
}

/// Joint positions once the arm (motors off, on its stand) has come to rest.
fn at_rest(link: &std::path::Path, count: f64) -> Vec<f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = joint_positions(link);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = joint_positions(link);
        let still = now.iter().zip(&last).all(|(a, b)| (a - b).abs() <= count);
        if still {
            return now;
        }
        assert!(Instant::now() < deadline, "the arm never came to rest");
        last = now;
    }
}

#[test]
fn the_bridge_applies_the_stored_calibration() {
    let key = SigningKey::from_bytes(&[10; 32]);
    let unit = Vmcu::start("calibration", &key, None);
    // One encoder count of a 16-bit position over ±12.5 rad.
    let count = 25.0 / 65535.0;
    let raw = at_rest(&unit.link, count);
    let mut record = UnitRecord {
        serial: "ARM-0007".try_into().expect("fits"),
        robot: "arm7".try_into().expect("fits"),
        ..UnitRecord::default()
    };
    let _ = record.calibration.push(JointCalibration {
        joint: 3,
        zero_offset_rad: 0.25,
        direction: -1,
    });
    let _ = record.calibration.push(JointCalibration {
        joint: 5,
        zero_offset_rad: -0.1,
        direction: 1,
    });
    Service::open(&unit.link)
        .expect("service")
        .store_unit(&record)
        .expect("stored");
    let calibrated = joint_positions(&unit.link);
    for (j, (r, c)) in raw.iter().zip(&calibrated).enumerate() {
        let expected = match j {
            3 => -(r - 0.25),
            5 => r + 0.1,
            _ => *r,
        };
        assert!(
            (c - expected).abs() <= 2.0 * count,
            "joint {j}: raw {r}, calibrated {c}, expected {expected}"
        );
    }
}

#[test]
fn a_unit_driving_its_motors_is_not_flashed_and_a_held_port_is_named() {
    let key = SigningKey::from_bytes(&[12; 32]);
    let unit = Vmcu::start("running", &key, None);
    let bytes = image(&key, 1, 1, 5_000);
    let checked = CheckedImage::check(&bytes, &key.verifying_key()).expect("good");
    let mut robot = connect(&unit.link);
    let commands = embody_hal::CommandFrame::new(robot.capabilities().joints.len());
    for _ in 0..20 {
        robot.write(SystemClock.now(), &commands).expect("commands");
        std::thread::sleep(Duration::from_millis(1));
    }
    // While the loop holds the port, nobody else gets it.
    let options = FlashOptions {
        reconnect_wait: Duration::from_millis(200),
        ..FlashOptions::default()
    };
    let held = flash_unit(&unit.link, &checked, &options, &mut |_| {});
    assert!(
        held.as_ref()
            .is_err_and(|e| e.to_string().contains("in use by another program")),
        "{held:?}"
    );
    // Just let go: the bridge still drives (then damps) the motors.
    drop(robot);
    let busy = flash_unit(&unit.link, &checked, &options, &mut |_| {});
    assert!(matches!(busy, Err(FlashError::Running { .. })), "{busy:?}");
    // Once the watchdog has turned the motors off, the update goes through.
    std::thread::sleep(Duration::from_millis(1500));
    let done = flash_unit(&unit.link, &checked, &options, &mut |_| {}).expect("flashed");
    assert_eq!(done.after, Some(checked.identity));
}
