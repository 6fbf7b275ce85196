//! Flashing virtual units end to end: `embody vmcu --flash` processes on pseudo-
//! terminals, flashed by `embody flash` and by the flasher it runs. Units are killed
//! (SIGKILL) at every chunk boundary and at each step of the swap; every time the unit
//! restarts into a valid image with its record intact and can be flashed again. Bad
//! images are refused by the unit itself, with the reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use embody_bridge::flasher::{CheckedImage, FlashOptions, Step, flash_unit};
use embody_bridge::service::{Service, ServiceError};
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_protocol::messages::{FlashRefusal, JointCalibration, UnitRecord};
use embody_testkit::images::signed as image;

const CHUNK: usize = embody_protocol::messages::FLASH_CHUNK;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("embody-flash-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A signing key, its public key written where `embody` reads it.
fn key_pair(dir: &Path, seed: u8) -> (SigningKey, PathBuf) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let public = embody_fleet::keys::write_pair(&dir.join(format!("key{seed}.pem")), &key)
        .expect("key pair");
    (key, public)
}

/// A virtual unit in its own process.
struct Unit {
    link: PathBuf,
    flash: PathBuf,
    pubkey: PathBuf,
    child: Option<Child>,
}

impl Unit {
    fn new(dir: &Path, name: &str, pubkey: &Path) -> Unit {
        Unit {
            link: dir.join(name),
            flash: dir.join(format!("{name}.flash")),
            pubkey: pubkey.to_owned(),
            child: None,
        }
    }

    fn start(&mut self) {
        let _ = std::fs::remove_file(&self.link);
        let child = Command::new(env!("CARGO_BIN_EXE_embody"))
            .args(["vmcu", "--robot", "arm7", "--link"])
            .arg(&self.link)
            .arg("--flash")
            .arg(&self.flash)
            .arg("--pubkey")
            .arg(&self.pubkey)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.link.with_extension("log")).expect("log"))
            .spawn()
            .expect("embody vmcu starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.link.exists() {
            assert!(Instant::now() < deadline, "the unit's link never appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn service(&self) -> Service {
        Service::open_within(&self.link, Duration::from_secs(5)).expect("the unit answers")
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        self.kill();
    }
}

fn embody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embody"))
        .args(args)
        .output()
        .expect("embody runs")
}

fn record() -> UnitRecord {
    let mut record = UnitRecord {
        serial: "ARM-0042".try_into().expect("fits"),
        robot: "arm7".try_into().expect("fits"),
        config_digest: [0x5A; 32],
        tool: "embody test".try_into().expect("fits"),
        ..UnitRecord::default()
    };
    let _ = record.calibration.push(JointCalibration {
        joint: 3,
        zero_offset_rad: -0.25,
        direction: -1,
    });
    record
}

fn options() -> FlashOptions {
    FlashOptions {
        reconnect_wait: Duration::from_secs(5),
        ..FlashOptions::default()
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The JSON summary of a run that must have succeeded.
fn succeeded(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(out)
}

#[test]
fn embody_flash_installs_skips_plans_and_keeps_the_record() {
    let dir = Scratch::new("cli");
    let (key, public) = key_pair(&dir.0, 1);
    let v1 = image(&key, 1, 1, 20_000);
    let v2 = image(&key, 2, 2, 24_000);
    for (name, bytes) in [("v1.img", &v1), ("v2.img", &v2)] {
        std::fs::write(dir.0.join(name), bytes).expect("image");
    }
    let mut unit = Unit::new(&dir.0, "unit", &public);
    unit.start();
    let link = unit.link.display().to_string();
    let img = |n: &str| dir.0.join(n).display().to_string();
    let pubkey = public.display().to_string();
    let flash = |image: &str, extra: &[&str]| {
        let mut args = vec![
            "flash", image, "--pubkey", &pubkey, "--port", &link, "--json",
        ];
        args.extend_from_slice(extra);
        embody(&args)
    };

    // A blank unit takes its first image.
    let out = flash(&img("v1.img"), &[]);
    let j = succeeded(&out);
    assert_eq!(j["units"][0]["action"], "flashed");
    assert_eq!(j["units"][0]["before"], serde_json::Value::Null);
    assert_eq!(j["units"][0]["after"]["version"], "1.1.0");

    unit.service().store_unit(&record()).expect("record stored");

    // Dry run: the plan, nothing changed.
    let out = flash(&img("v2.img"), &["--dry-run"]);
    assert_eq!(succeeded(&out)["units"][0]["action"], "would_flash");
    let running = unit.service().firmware().expect("firmware").running;
    assert_eq!(running.map(|r| r.version), Some((1, 1, 0)));

    // The update, then the same image again: skipped.
    let out = flash(&img("v2.img"), &[]);
    let j = succeeded(&out);
    assert_eq!(j["units"][0]["action"], "flashed");
    assert_eq!(j["units"][0]["before"]["version"], "1.1.0");
    assert_eq!(j["units"][0]["after"]["version"], "1.2.0");
    assert_eq!(j["units"][0]["bytes_sent"], v2.len());
    let out = flash(&img("v2.img"), &[]);
    assert_eq!(json(&out)["units"][0]["action"], "skipped");

    // The record survived the update, and the unit runs the new image confirmed.
    let mut s = unit.service();
    assert_eq!(s.unit().expect("record"), Some(record()));
    let fw = s.firmware().expect("firmware");
    assert!(!fw.trial && !fw.pending);
    assert_eq!(fw.running.map(|r| r.counter), Some(2));
    drop(s); // the port is ours alone while open

    // A downgrade is refused before anything is sent; exit status says so.
    let out = flash(&img("v1.img"), &[]);
    assert!(!out.status.success());
    let j = json(&out);
    assert_eq!(j["failed"], 1);
    assert!(
        j["units"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("downgrade")),
        "{j}"
    );
}

#[test]
fn the_unit_itself_refuses_tampered_truncated_foreign_and_downgraded_images() {
    let dir = Scratch::new("refuse");
    let (key, public) = key_pair(&dir.0, 2);
    let (other, _) = key_pair(&dir.0, 3);
    let mut unit = Unit::new(&dir.0, "unit", &public);
    unit.start();
    let v2 = image(&key, 2, 2, 9_000);
    let v2k = CheckedImage::check(&v2, &key.verifying_key()).expect("good image");
    flash_unit(&unit.link, &v2k, &options(), &mut |_| {}).expect("flashed");

    let mut tampered = image(&key, 3, 3, 9_000);
    tampered[100] ^= 1;
    let good3 = image(&key, 3, 3, 9_000);
    let truncated = good3[..good3.len() - 200].to_vec();
    let foreign = image(&other, 3, 3, 9_000);
    let downgrade = image(&key, 1, 1, 9_000);
    let cases: [(&str, &[u8], FlashRefusal); 4] = [
        ("tampered", &tampered, FlashRefusal::BadImage),
        ("truncated", &truncated, FlashRefusal::BadImage),
        ("foreign", &foreign, FlashRefusal::WrongKey),
        (
            "downgrade",
            &downgrade,
            FlashRefusal::Downgrade { counter: 1, min: 2 },
        ),
    ];
    for (what, bytes, expected) in cases {
        // Past the host's own checks: the unit must refuse it after the transfer.
        let mut s = unit.service();
        s.begin(bytes.len() as u32).expect("transfer opens");
        for (k, chunk) in bytes.chunks(CHUNK).enumerate() {
            s.send_chunk((k * CHUNK) as u32, chunk).expect("sent");
            assert_eq!(
                s.chunk_answer().expect("answer"),
                Ok(((k * CHUNK) + chunk.len()) as u32)
            );
        }
        match s.finish() {
            Err(ServiceError::Flash { reason, .. }) => assert_eq!(reason, expected, "{what}"),
            other => panic!("{what}: the unit took it: {other:?}"),
        }
        drop(s);
        let fw = unit.service().firmware().expect("firmware");
        assert_eq!(fw.running, Some(v2k.identity), "{what}");
        assert!(!fw.pending, "{what}: nothing may wait for a reboot");
    }

    // A chunk with a bad CRC, or out of order, is refused with the offset to resume at.
    let mut s = unit.service();
    s.begin(v2.len() as u32).expect("transfer opens");
    s.send_chunk(0, &v2[..CHUNK]).expect("sent");
    assert_eq!(s.chunk_answer().expect("answer"), Ok(CHUNK as u32));
    s.send_chunk(3 * CHUNK as u32, &v2[3 * CHUNK..4 * CHUNK])
        .expect("sent");
    assert_eq!(
        s.chunk_answer().expect("answer"),
        Err(FlashRefusal::OutOfOrder {
            expected: CHUNK as u32
        })
    );

    // The CLI refuses a tampered image before touching any unit.
    std::fs::write(dir.0.join("bad.img"), &tampered).expect("image");
    let out = embody(&[
        "flash",
        &dir.0.join("bad.img").display().to_string(),
        "--pubkey",
        &public.display().to_string(),
        "--port",
        &unit.link.display().to_string(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused before sending"), "{err}");
}

/// What a unit runs after a restart, and its record.
fn after_restart(unit: &mut Unit) -> (embody_bridge::service::FirmwareState, Option<UnitRecord>) {
    unit.kill();
    unit.start();
    let mut s = unit.service();
    (s.firmware().expect("firmware"), s.unit().expect("record"))
}

#[test]
fn a_unit_killed_at_any_chunk_boundary_or_during_the_swap_boots_and_takes_the_update_again() {
    let dir = Scratch::new("kill");
    let (key, public) = key_pair(&dir.0, 4);
    let v1 = image(&key, 1, 1, 7_000);
    let v2 = image(&key, 2, 2, 7_000);
    let k1 = CheckedImage::check(&v1, &key.verifying_key()).expect("good");
    let k2 = CheckedImage::check(&v2, &key.verifying_key()).expect("good");
    // The unit as it left the factory: v1 confirmed, its record stored.
    let template = {
        let mut unit = Unit::new(&dir.0, "factory", &public);
        unit.start();
        flash_unit(&unit.link, &k1, &options(), &mut |_| {}).expect("v1");
        unit.service().store_unit(&record()).expect("record");
        unit.kill();
        unit.flash.clone()
    };
    let chunks = v2.len().div_ceil(CHUNK);
    // Kill points: after chunk 1 … n is acknowledged, then at the swap's steps.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum At {
        Chunk(u64),
        Verifying,
        Restarting,
        SelfTest,
    }
    let mut points: Vec<At> = (1..=chunks as u64)
        .map(|k| At::Chunk(k * CHUNK as u64))
        .collect();
    points.extend([At::Verifying, At::Restarting, At::SelfTest]);
    for at in points {
        let mut unit = Unit::new(&dir.0, "unit", &public);
        std::fs::copy(&template, &unit.flash).expect("factory flash");
        unit.start();
        let options = FlashOptions {
            reconnect_wait: Duration::from_millis(300),
            max_resumes: 0,
            ..FlashOptions::default()
        };
        let mut killed = false;
        let result = {
            let unit = &mut unit;
            flash_unit(&unit.link.clone(), &k2, &options, &mut |step| {
                let now = match step {
                    Step::Transfer { sent, total } => At::Chunk(if sent == total {
                        chunks as u64 * CHUNK as u64
                    } else {
                        sent
                    }),
                    Step::Verifying => At::Verifying,
                    Step::Restarting => At::Restarting,
                    Step::SelfTest => At::SelfTest,
                    _ => return,
                };
                if now == at && !killed {
                    killed = true;
                    unit.kill();
                }
            })
        };
        assert!(killed, "{at:?}: never reached: {result:?}");
        assert!(result.is_err(), "{at:?}: a dead unit cannot finish");
        let (fw, kept) = after_restart(&mut unit);
        let running = fw.running.expect("a valid image boots");
        assert!(
            running == k1.identity || running == k2.identity,
            "{at:?}: runs {running:?}"
        );
        if at == At::Restarting {
            // The image was verified and pending: the restart tries it.
            assert!(fw.trial && running == k2.identity, "{at:?}: {fw:?}");
        } else {
            assert_eq!(
                running, k1.identity,
                "{at:?}: an unconfirmed image must not stay"
            );
            assert!(!fw.trial, "{at:?}");
        }
        assert_eq!(kept, Some(record()), "{at:?}: the record must survive");
        // And the update goes through now.
        let outcome = flash_unit(&unit.link, &k2, &FlashOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{at:?}: re-flash failed: {e}"));
        assert_eq!(outcome.after, Some(k2.identity), "{at:?}");
        let (fw, kept) = after_restart(&mut unit);
        assert_eq!((fw.running, fw.trial), (Some(k2.identity), false), "{at:?}");
        assert_eq!(kept, Some(record()), "{at:?}");
    }
}

#[test]
fn flashing_a_unit_that_is_not_there_fails_with_the_port() {
    let dir = Scratch::new("absent");
    let (key, public) = key_pair(&dir.0, 5);
    std::fs::write(dir.0.join("v1.img"), image(&key, 1, 1, 1000)).expect("image");
    let out = embody(&[
        "flash",
        &dir.0.join("v1.img").display().to_string(),
        "--pubkey",
        &public.display().to_string(),
        "--port",
        &dir.0.join("nothing").display().to_string(),
        "--reconnect-s",
        "0.2",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing") && err.contains("1 of 1 units failed"),
        "{err}"
    );
}

#[test]
fn units_are_found_by_serial_number_in_the_fleet() {
    let dir = Scratch::new("units");
    let (key, public) = key_pair(&dir.0, 6);
    std::fs::write(dir.0.join("v1.img"), image(&key, 1, 1, 4000)).expect("image");
    let mut unit = Unit::new(&dir.0, "arm1", &public);
    unit.start();
    let fleet = dir.0.join("fleet");
    common::copy_example_fleet(&fleet);
    let unit_file = fleet.join("units/ARM-0001.toml");
    let text = std::fs::read_to_string(&unit_file).expect("unit file");
    std::fs::write(&unit_file, format!("port = \"../arm1\"\n{text}")).expect("port");
    // A second unit without a port.
    std::fs::write(fleet.join("units/ARM-0002.toml"), "robot = \"arm7\"\n").expect("unit");
    let (img, pubkey, d) = (
        dir.0.join("v1.img").display().to_string(),
        public.display().to_string(),
        fleet.display().to_string(),
    );
    let out = embody(&[
        "flash", &img, "--pubkey", &pubkey, "--units", "ARM-0001", "--dir", &d, "--json",
    ]);
    let j = succeeded(&out);
    assert_eq!(j["units"][0]["unit"], "ARM-0001");
    assert_eq!(j["units"][0]["action"], "flashed");
    let out = embody(&[
        "flash", &img, "--pubkey", &pubkey, "--units", "all", "--dir", &d,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ARM-0002") && err.contains("no `port`"),
        "{err}"
    );
    // ARM-0003's drives and SO-0003's servos are their bridges': each is flashed as
    // ARM-0001 is, and is refused here only for want of a port.
    for serial in ["ARM-0003", "SO-0003"] {
        let out = embody(&[
            "flash", &img, "--pubkey", &pubkey, "--units", serial, "--dir", &d,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(serial) && err.contains("no `port`"),
            "{err}"
        );
    }
    // Units of servos (the example fleet's SO-0001) have no bridge: `all` passes them
    // by, saying so, and one named is refused.
    std::fs::remove_file(fleet.join("units/ARM-0002.toml")).expect("unit");
    std::fs::remove_file(fleet.join("units/ARM-0003.toml")).expect("unit");
    std::fs::remove_file(fleet.join("units/SO-0003.toml")).expect("unit");
    let out = embody(&[
        "flash",
        &img,
        "--pubkey",
        &pubkey,
        "--units",
        "all",
        "--dir",
        &d,
        "--dry-run",
        "--json",
    ]);
    let j = succeeded(&out);
    assert_eq!(j["units"].as_array().map(Vec::len), Some(1), "{j}");
    assert_eq!(j["units"][0]["unit"], "ARM-0001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passed by: SO-0001"), "{err}");
    let out = embody(&[
        "flash", &img, "--pubkey", &pubkey, "--units", "SO-0001", "--dir", &d,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unit SO-0001: its actuators are Feetech servos"),
        "{err}"
    );
}
