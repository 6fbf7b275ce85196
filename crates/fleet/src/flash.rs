//! Flashing a fleet: which units (by serial number from the fleet directory, `all`, or
//! bare ports) and where their bridges are, then a signed image onto each, several at a
//! time, every unit's progress reported to the caller as it happens.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use embody_bridge::flasher::{CheckedImage, FlashError, FlashOptions, Outcome, Step, flash_unit};

use crate::config::{Family, load};
use crate::error::FleetError;
use crate::setup::family_of;
use crate::unit::port_of;

/// One unit to flash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// What to call it (its serial, or its port).
    pub name: String,
    /// Its bridge's port.
    pub port: PathBuf,
}

/// What happened to one unit.
#[derive(Debug)]
pub struct Report {
    /// The unit.
    pub name: String,
    /// The outcome, or why it failed.
    pub result: Result<Outcome, FlashError>,
}

/// What a flashing run tells its caller, per unit (the index into the targets).
#[derive(Debug)]
pub enum Event<'a> {
    /// A step of the unit's flashing.
    Step(Step),
    /// The unit is done.
    Done(&'a Result<Outcome, FlashError>),
}

/// Targets for bare ports, named by their paths.
pub fn port_targets(ports: &[PathBuf]) -> Vec<Target> {
    ports
        .iter()
        .map(|p| Target {
            name: p.display().to_string(),
            port: p.clone(),
        })
        .collect()
}

/// Targets for units of the fleet in `dir`: `all` of them, or a comma-separated list of
/// serial numbers; each unit's port comes from its configuration (`port`). Units of
/// CiA 402 drives the host masters or of serial servos have no bridge to flash: `all`
/// passes them by, and says which (the second list); one named is refused.
pub fn unit_targets(dir: &Path, units: &str) -> Result<(Vec<Target>, Vec<String>), FleetError> {
    let all = units == "all";
    let serials: Vec<String> = if all {
        let folder = dir.join("units");
        let entries = std::fs::read_dir(&folder).map_err(|source| FleetError::Io {
            path: folder.clone(),
            source,
        })?;
        let mut serials: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".toml").map(str::to_owned)
            })
            .collect();
        serials.sort();
        serials
    } else {
        units
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if serials.is_empty() {
        return Err(FleetError::Io {
            path: dir.join("units"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no units"),
        });
    }
    let (mut targets, mut without_bridge) = (Vec::new(), Vec::new());
    for serial in serials {
        // Flashing needs only the port: the configuration need not pass its checks.
        let (layers, config) = load(dir, &serial).map_err(FleetError::Problems)?;
        let family = match family_of(&config) {
            family if config.bus.has_bridge(family) => None,
            Family::Mit => None,
            Family::Cia402 => Some("CiA 402 drives"),
            Family::Servo(embody_bridge::ServoFamily::Dynamixel) => Some("Dynamixel servos"),
            Family::Servo(embody_bridge::ServoFamily::Feetech) => Some("Feetech servos"),
        };
        match family {
            Some(_) if all => without_bridge.push(serial),
            Some(family) => return Err(FleetError::NoBridge { serial, family }),
            None => {
                let port = port_of(dir, &layers, &config)?;
                targets.push(Target { name: serial, port });
            }
        }
    }
    Ok((targets, without_bridge))
}

/// Flashes `image` onto every target, `jobs` at a time; `observe` hears each unit's
/// steps and its end. The reports come back in the targets' order.
pub fn flash_all(
    targets: &[Target],
    image: &CheckedImage<'_>,
    options: &FlashOptions,
    jobs: usize,
    observe: &(dyn Fn(usize, Event<'_>) + Sync),
) -> Vec<Report> {
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Option<Report>>> =
        Mutex::new((0..targets.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, targets.len().max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::AcqRel);
                    let Some(target) = targets.get(k) else { break };
                    let result = flash_unit(&target.port, image, options, &mut |step| {
                        observe(k, Event::Step(step))
                    });
                    observe(k, Event::Done(&result));
                    if let Ok(mut r) = reports.lock() {
                        r[k] = Some(Report {
                            name: target.name.clone(),
                            result,
                        });
                    }
                }
            });
        }
    });
    reports
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}
