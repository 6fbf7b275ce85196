//! Many virtual units flashed at once from this host, each on its own serial link paced
//! at a baud rate (10 bits a byte): the total time, and each unit's transfer throughput
//! as a share of its link's rate — the ceiling no flasher on that link can pass.

use std::time::Instant;

use embody_bridge::flasher::{Action, CheckedImage, FlashOptions};
use embody_fleet::flash::{Target, flash_all};
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, Version, image_len, sign};
use embody_vmcu::{VmcuConfig, VmcuThread};
use serde::Serialize;

use super::{Scratch, median};
use crate::error::RuntimeError;

/// Most virtual units one benchmark starts (each keeps a 1 MiB flash file).
pub const MAX_UNITS: usize = 256;

/// What to flash.
#[derive(Clone, Copy, Debug)]
pub struct FlashBench {
    /// Virtual units, 1–256.
    pub units: usize,
    /// Baud rate of every unit's link.
    pub baud: u32,
    /// Firmware payload size (KiB), 1–448.
    pub kib: usize,
    /// Units flashed at a time.
    pub jobs: usize,
}

/// Median and slowest of a per-unit figure.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Slowest.
    pub min: f64,
}

/// What flashing them took.
#[derive(Clone, Debug, Serialize)]
pub struct FlashFigures {
    /// Units.
    pub units: usize,
    /// At a time.
    pub jobs: usize,
    /// Link rate (baud).
    pub baud: u32,
    /// The image's size (bytes).
    pub image_bytes: usize,
    /// What a link carries (bytes/s).
    pub link_bytes_per_s: f64,
    /// Start to all done (s).
    pub total_s: f64,
    /// Units flashed.
    pub flashed: usize,
    /// Units that failed, with why.
    pub failed: Vec<String>,
    /// Each unit's transfer throughput (bytes/s).
    pub per_unit_bytes_per_s: Spread,
    /// The same as a share of its link.
    pub per_unit_share_of_link: Spread,
    /// Each unit's time from connecting to confirmed, median (s).
    pub per_unit_total_s_median: f64,
    /// Transfers resumed, all units.
    pub resumes: u32,
}

fn start_units(
    bench: &FlashBench,
    key: &SigningKey,
    dir: &std::path::Path,
) -> Result<(Vec<VmcuThread>, Vec<Target>), RuntimeError> {
    let mut units = Vec::new();
    let mut targets = Vec::new();
    for k in 0..bench.units {
        let name = format!("unit{k:03}");
        let link = dir.join(&name);
        let unit = VmcuConfig::new("arm7", link.clone())
            .map(|config| VmcuConfig {
                baud: Some(bench.baud),
                flash: Some((dir.join(format!("{name}.flash")), key.verifying_key())),
                ..config
            })
            .and_then(VmcuThread::start)
            .map_err(|e| RuntimeError::Invalid(format!("virtual unit {k}: {e}")))?;
        units.push(unit);
        targets.push(Target { name, port: link });
    }
    Ok((units, targets))
}

/// Starts the units, flashes them, and stops them.
pub fn run(bench: &FlashBench) -> Result<FlashFigures, RuntimeError> {
    if !(1..=MAX_UNITS).contains(&bench.units) || bench.baud == 0 || !(1..=448).contains(&bench.kib)
    {
        return Err(RuntimeError::Invalid(format!(
            "units must be 1–{MAX_UNITS}, the baud rate positive and the payload 1–448 KiB"
        )));
    }
    let key = SigningKey::from_bytes(&[0x42; 32]);
    let payload: Vec<u8> = (0..bench.kib * 1024).map(|i| (i * 131 + 7) as u8).collect();
    let header = Header {
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        payload_len: payload.len() as u32,
        build_id: [0xB5; 16],
    };
    let invalid = |e: &dyn std::fmt::Display| RuntimeError::Invalid(e.to_string());
    let mut bytes = vec![0u8; image_len(payload.len())];
    sign(&payload, &header, 1, &key, &mut bytes).map_err(|e| invalid(&e))?;
    let image = CheckedImage::check(&bytes, &key.verifying_key()).map_err(|e| invalid(&e))?;
    let link_rate = bench.baud as f64 / 10.0;
    let dir = Scratch::new("flash").map_err(|source| RuntimeError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let (units, targets) = start_units(bench, &key, &dir.0)?;
    let jobs = bench.jobs.clamp(1, bench.units);
    let start = Instant::now();
    let reports = flash_all(&targets, &image, &FlashOptions::default(), jobs, &|_, _| {});
    let total = start.elapsed();
    drop(units);
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| r.result.as_ref().err().map(|e| format!("{}: {e}", r.name)))
        .collect();
    let outcomes: Vec<_> = reports
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .filter(|o| o.action == Action::Flashed)
        .collect();
    let rates: Vec<f64> = outcomes
        .iter()
        .map(|o| bytes.len() as f64 / o.transfer.as_secs_f64().max(1e-9))
        .collect();
    let min_rate = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let median_rate = median(rates);
    Ok(FlashFigures {
        units: bench.units,
        jobs,
        baud: bench.baud,
        image_bytes: bytes.len(),
        link_bytes_per_s: link_rate,
        total_s: total.as_secs_f64(),
        flashed: outcomes.len(),
        failed,
        per_unit_bytes_per_s: Spread {
            median: median_rate,
            min: min_rate,
        },
        per_unit_share_of_link: Spread {
            median: median_rate / link_rate,
            min: min_rate / link_rate,
        },
        per_unit_total_s_median: median(outcomes.iter().map(|o| o.total.as_secs_f64()).collect()),
        resumes: outcomes.iter().map(|o| o.resumes).sum(),
    })
}
