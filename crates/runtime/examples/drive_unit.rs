//! Drives a unit over the wire with its own configuration: unit ARM-0001 of the example
//! fleet, its bridge a virtual MCU (the bridge firmware on a pseudo-terminal, its
//! simulated CAN motors wired as the unit's configuration says). The configuration is
//! stored on the unit first (as `embody config apply` does); the session then compares
//! it with what the unit holds before enabling any motor, configures the bridge with
//! the unit's buses, CAN ids and variants, and runs pick-and-place in real time.
//!
//! `cargo run -p embody-runtime --example drive_unit`

use embody_control::RtConfig;
use embody_fleet::Unit;
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_runtime::{Backend, Drive, Pacing, Quiet, Session, Task, Wire};
use embody_vmcu::{VmcuConfig, VmcuThread};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let unit = Unit::load(format!("{root}/examples/fleet").as_ref(), "ARM-0001")?;
    for line in unit.setup().describe() {
        println!("ARM-0001 {line}");
    }

    // The unit: a virtual MCU with a flash (to keep its record), its motors wired as
    // configured and mounted as ARM-0001's were built (the mounting its calibration file
    // was measured on: `embody vmcu --as-built 0`).
    let dir = std::env::temp_dir().join(format!("embody-drive-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let link = dir.join("ARM-0001");
    let key = SigningKey::from_bytes(&[7; 32]);
    let mcu = VmcuThread::start(VmcuConfig {
        flash: Some((dir.join("flash"), key.verifying_key())),
        mounting: embody_vmcu::as_built(&unit.model, 0),
        ..VmcuConfig::with_motors(unit.model.clone(), link.clone(), unit.setup())
    })?;

    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let changes = unit.apply(&link)?;
        println!(
            "stored ARM-0001's configuration on its bridge ({} keys)",
            changes.len()
        );
        let task = Task::load(format!("{root}/examples/tasks/pick_and_place.toml").as_ref())?;
        let session = Session {
            pacing: Pacing::Realtime(RtConfig::default()),
            ..Session::new(
                Backend::Wire(Wire {
                    port: Some(link.clone()),
                    unit: Some(unit.clone()),
                    slcan: false,
                    servos: None,
                    cia402: false,
                    // Without real-time priority, on a shared machine: wait 40 ms for a
                    // new joint state rather than a robot's 5.
                    sensor_timeout_ms: Some(40.0),
                }),
                Drive::Task(task),
            )
        };
        let report = session.run(&mut Quiet)?;
        let task = report.units[0].task.as_ref().ok_or("no task ran")?;
        println!(
            "{} on ARM-0001 over the wire: {:?} in {:.1} s",
            task.name, task.status, report.wall_s
        );
        match task.status {
            embody_planner::Status::Succeeded => Ok(()),
            _ => Err("the task failed".into()),
        }
    })();
    mcu.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
