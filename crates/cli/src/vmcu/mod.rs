//! `embody vmcu`: the virtual MCU on the command line. It creates a pseudo-terminal,
//! makes `--link` a symlink to it, and serves the bridge protocol (or SLCAN with
//! `--slcan`, CiA 402 drives behind SLCAN with `--drives cia402`, or a bus of Dynamixel
//! or Feetech servos with `--servos`) with simulated motors until SIGINT or SIGTERM,
//! then removes the link. A
//! link or flash file another `embody vmcu` holds is refused (a crashed one's is not).
//! Its motors are wired as `--unit SERIAL`'s configuration says (buses, CAN ids,
//! variants, ranges), or on the robot's generated default map. With `--flash FILE
//! --pubkey PUB` it is a whole unit: it boots from the flash file, takes signed
//! firmware updates and keeps its unit record there.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use embody_bridge::DriveScale;
use embody_fleet::defaults::DefaultMap;
use embody_fleet::setup::UnitLink;
use embody_vmcu::{Control, Drives, ScheduledFault, ServoFamily, VmcuConfig};

use crate::error::{CliError, Result};
use crate::numbers::{count, float};
use crate::unit_args::{DriveKind, UnitArgs};

/// Arguments of `embody vmcu`.
#[derive(Args, Debug)]
pub struct VmcuArgs {
    /// Built-in robot (arm7, humanoid, so101) or URDF path; a floating base is pinned.
    #[arg(long, default_value = "arm7", conflicts_with = "unit")]
    robot: String,
    #[command(flatten)]
    unit: UnitArgs,
    /// Present a plain SLCAN USB-CAN adapter instead of the bridge: its one bus carries
    /// the unit's motors, or without `--unit` motors at CAN ids 1..n in joint order.
    #[arg(long, conflicts_with = "servos")]
    slcan: bool,
    /// Present a half-duplex serial bus of servos instead of the bridge, one on each
    /// actuated joint, ids 1, 2, … in joint order: `dynamixel` (X-series, protocol 2.0)
    /// or `feetech` (STS3215).
    #[arg(long, conflicts_with_all = ["unit", "flash", "drives"])]
    servos: Option<ServoFamily>,
    /// Present a plain SLCAN adapter whose bus carries CANopen drives instead of MIT
    /// motors, one on each actuated joint, node ids 1, 2, … in joint order: `cia402`
    /// (CiA 402 servo drives; 17-bit encoders on the joints).
    #[arg(long, value_enum, conflicts_with_all = ["unit", "flash"])]
    drives: Option<DriveKind>,
    /// Give a simulated drive or servo a fault at a time after the link is up:
    /// `KIND:JOINT@SECONDS`, KIND one of overheat, overload, lost or clear (the fault
    /// taken away), JOINT the actuated joint's index from 0. Repeatable.
    #[arg(long = "fault", value_name = "KIND:JOINT@SECONDS")]
    faults: Vec<ScheduledFault>,
    /// Put the robot in this task's scene (its `[environment]`: the ground and the
    /// objects to handle); where each object ended up is said when the MCU stops.
    #[arg(long, value_name = "TASK")]
    scene: Option<PathBuf>,
    /// Write the EDS file describing the `--drives` (what a CANopen master such as
    /// python's `canopen` loads) to this path before serving.
    #[arg(long, requires = "drives")]
    eds: Option<PathBuf>,
    /// Pace the serial output at this baud rate; unpaced (a USB link) if absent.
    #[arg(long, value_parser = count::<u32>(1200..=10_000_000))]
    baud: Option<u32>,
    /// Control rate the default map lays the motors out on the buses for (Hz).
    #[arg(long, default_value_t = 1000.0, conflicts_with = "unit",
          value_parser = float(100.0..=10_000.0, " Hz"))]
    rate: f64,
    /// Path of the symlink to the pseudo-terminal (what `--port` takes); locked with
    /// `PATH.lock` while this runs, and refused while another virtual MCU holds it.
    #[arg(long)]
    link: PathBuf,
    /// The unit's flash, a file (created erased; 1 MiB and a bit, and an existing file
    /// must be that size): firmware slots, boot state and the config area. One virtual
    /// MCU at a time. Needs `--pubkey`.
    #[arg(long, requires = "pubkey")]
    flash: Option<PathBuf>,
    /// The public key (PEM) the unit's bootloader trusts.
    #[arg(long, requires = "flash")]
    pubkey: Option<PathBuf>,
    /// Run the MCU under SCHED_FIFO at this priority (1–99), if allowed.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    priority: Option<i32>,
    /// Mount the motors as a real unit's are, with encoder zeros off and some motors
    /// turned round, drawn from this seed (what `embody calibrate` finds).
    #[arg(long)]
    as_built: Option<u64>,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// The virtual MCU `args` describe: the unit's motors, or the default map's.
fn config(args: &VmcuArgs) -> Result<VmcuConfig> {
    if args.slcan && args.flash.is_some() {
        return Err(CliError::Usage(
            "--flash: an SLCAN adapter has no bridge firmware to update".into(),
        ));
    }
    let flash = match (&args.flash, &args.pubkey) {
        (Some(flash), Some(pubkey)) => Some((
            flash.clone(),
            embody_fleet::keys::read_verifying_key(pubkey)?,
        )),
        _ => None,
    };
    let unit = args.unit.load()?;
    let link = unit.as_ref().map(|u| u.link());
    if link
        .as_ref()
        .is_some_and(|l| !matches!(l, UnitLink::Bridge(_)))
        && args.flash.is_some()
    {
        return Err(CliError::Usage(
            "--flash: this unit's drives or servos are driven by the host, with no bridge firmware to update".into(),
        ));
    }
    if let Some(unit) = &unit
        && args.flash.is_none()
        && !args.slcan
        && matches!(link, Some(UnitLink::Bridge(_)))
    {
        eprintln!(
            "without --flash this virtual unit keeps no configuration record: `embody config apply {0}` cannot store one and `embody run --unit {0}` will refuse it",
            unit.serial()
        );
    }
    let config = match unit {
        Some(unit) => {
            let config = VmcuConfig::for_unit(&unit, args.link.clone());
            VmcuConfig {
                slcan: config.slcan || args.slcan,
                ..config
            }
        }
        None => {
            let map = DefaultMap {
                rate_hz: args.rate,
                one_bus: args.slcan || args.drives.is_some(),
                ..DefaultMap::default()
            };
            VmcuConfig {
                slcan: args.slcan || args.drives.is_some(),
                servos: args.servos,
                drives: args.drives.map(|_| vec![DriveScale::default()]),
                ..VmcuConfig::with_map(&args.robot, args.link.clone(), &map)?
            }
        }
    };
    let environment = match &args.scene {
        Some(path) => (embody_runtime::Task::load(path))
            .map_err(|e| CliError::Usage(format!("--scene: {e}")))?
            .environment
            .unwrap_or_default(),
        None => Default::default(),
    };
    let mounting = match args.as_built {
        Some(seed) => embody_vmcu::as_built(&config.model, seed),
        None => Vec::new(),
    };
    Ok(VmcuConfig {
        mounting,
        environment,
        faults: args.faults.clone(),
        baud: args.baud,
        flash,
        ..config
    })
}

/// Runs `embody vmcu`.
pub fn run(args: &VmcuArgs) -> Result {
    let config = config(args)?;
    if let (Some(path), Some(scale)) = (&args.eds, config.drives.as_ref().and_then(|d| d.first())) {
        std::fs::write(path, Drives::eds(*scale))
            .map_err(|e| CliError::file(path, format!("writing the drives' EDS: {e}")))?;
    }
    crate::signals::on_termination(&STOP);
    let control = Arc::new(Control::default());
    // Said once the link is up: a virtual MCU refused its link or flash says only why.
    let (kind, devices) = config.describe();
    let mut banner = vec![format!(
        "virtual MCU ({kind}) for {} on {}; Ctrl-C to stop",
        config.model.name,
        args.link.display()
    )];
    banner.extend(devices.into_iter().map(|line| format!("  {line}")));
    if let (Some(path), Some(_)) = (&args.eds, &config.drives) {
        banner.push(format!("  their EDS in {}", path.display()));
    }
    let watcher = {
        let control = control.clone();
        std::thread::spawn(move || {
            while !STOP.load(Ordering::Acquire) {
                if !banner.is_empty() && control.linked() {
                    for line in banner.drain(..) {
                        eprintln!("{line}");
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            control.stop();
        })
    };
    // The MCU runs on this thread (the watcher above keeps the default scheduler).
    if let Some(priority) = args.priority
        && let Err(e) = embody_control::set_fifo_priority(priority)
    {
        tracing::warn!("virtual MCU: SCHED_FIFO {priority} refused: {e}");
    }
    let result = embody_vmcu::run(&config, control.clone());
    STOP.store(true, Ordering::Release);
    let _ = watcher.join();
    // On an error main says why, and nothing more: the link may never have been made.
    result?;
    // A link someone put in its place meanwhile is left (the runner warned).
    let removed = std::fs::symlink_metadata(&args.link).is_err();
    eprintln!(
        "virtual MCU stopped after {} cycles{}",
        control.cycles(),
        if removed {
            format!("; link {} removed", args.link.display())
        } else {
            String::new()
        }
    );
    for (name, [x, y, z]) in control.objects() {
        eprintln!("  {name} at [{x:.3}, {y:.3}, {z:.3}] m");
    }
    Ok(())
}
