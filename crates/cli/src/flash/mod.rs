//! `embody flash <image>`: installs a signed image on units over their links, several
//! at a time (`embody_fleet::flash`). The image is checked against the public key before
//! any unit is touched; each unit gets a progress bar (plain lines when stderr is not a
//! terminal); units already running the image are skipped; `--dry-run` only connects
//! and prints the plan. Exits non-zero if any unit failed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use embody_bridge::flasher::{Action, CheckedImage, FirmwareImage, FlashOptions, describe_image};
use embody_fleet::flash::{Report, Target, flash_all, port_targets, unit_targets};
use embody_fleet::hex;
use serde_json::json;

use crate::error::{CliError, Result};

mod progress;

use crate::numbers::{count, float};
use progress::Bars;

/// Arguments of `embody flash`.
#[derive(Args, Debug)]
pub struct FlashArgs {
    /// The signed image (`embody fw sign`).
    image: PathBuf,
    /// The public key the image must be signed with (PEM).
    #[arg(long)]
    pubkey: PathBuf,
    /// A unit's serial port (repeat for several).
    #[arg(long, required_unless_present = "units", conflicts_with = "units")]
    port: Vec<PathBuf>,
    /// Units by serial number, comma-separated, or `all`: their ports come from the
    /// fleet configuration (`port` in `units/<serial>.toml`).
    #[arg(long)]
    units: Option<String>,
    /// The fleet directory (with `--units`).
    #[arg(long, default_value = "examples/fleet")]
    dir: PathBuf,
    /// Connect and print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Units flashed at a time.
    #[arg(long, default_value_t = 8, value_parser = count::<usize>(1..=256))]
    jobs: usize,
    /// How long a unit may take to come back after a restart (s).
    #[arg(long, default_value_t = 5.0, value_parser = float(0.1..=600.0, " s"))]
    reconnect_s: f64,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

fn targets(args: &FlashArgs) -> Result<Vec<Target>> {
    Ok(match &args.units {
        Some(units) => {
            let (targets, without_bridge) = unit_targets(&args.dir, units)?;
            if !without_bridge.is_empty() {
                eprintln!(
                    "passed by: {} (CiA 402 drives or servos the host drives: no bridge firmware)",
                    without_bridge.join(", ")
                );
            }
            if targets.is_empty() {
                return Err(CliError::Failed(format!(
                    "no unit with a bridge among {units}"
                )));
            }
            targets
        }
        None => port_targets(&args.port),
    })
}

/// Runs `embody flash`.
pub fn run(args: &FlashArgs) -> Result {
    let bytes =
        embody_fleet::image_file::read_bounded(&args.image, embody_fleet::image_file::IMAGE_LIMIT)?;
    let key = embody_fleet::keys::read_verifying_key(&args.pubkey)?;
    let image = CheckedImage::check(&bytes, &key)
        .map_err(|e| CliError::file(&args.image, format!("refused before sending: {e}")))?;
    let targets = targets(args)?;
    let options = FlashOptions {
        dry_run: args.dry_run,
        reconnect_wait: Duration::from_secs_f64(args.reconnect_s),
        ..FlashOptions::default()
    };
    eprintln!(
        "{} {} on {} unit{}, {} at a time",
        if args.dry_run { "planning" } else { "flashing" },
        describe_image(Some(&image.identity)),
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        args.jobs.min(targets.len()),
    );
    let bars = Bars::new(&targets, image.bytes.len() as u64);
    let reports = flash_all(&targets, &image, &options, args.jobs, &|k, event| {
        bars.show(k, event)
    });
    let failed = reports.iter().filter(|r| r.result.is_err()).count();
    for r in &reports {
        eprintln!("{}", summary_line(r, &image));
    }
    if args.json {
        println!("{}", json_summary(&reports, &image, args.dry_run));
    }
    match failed {
        0 => Ok(()),
        n => Err(CliError::Failed(format!(
            "{n} of {} units failed",
            reports.len()
        ))),
    }
}

fn summary_line(r: &Report, image: &CheckedImage<'_>) -> String {
    match &r.result {
        Ok(o) => match o.action {
            Action::Skipped => format!(
                "{}: already runs {}, skipped",
                r.name,
                describe_image(o.after.as_ref())
            ),
            Action::WouldFlash => format!(
                "{}: runs {}{}; would flash {} ({} bytes)",
                r.name,
                describe_image(o.before.running.as_ref()),
                if o.before.trial { " on trial" } else { "" },
                describe_image(Some(&image.identity)),
                image.bytes.len()
            ),
            Action::Flashed => format!(
                "{}: {} → {} in {:.1} s (transfer {:.1} s, {:.0} B/s{})",
                r.name,
                describe_image(o.before.running.as_ref()),
                describe_image(o.after.as_ref()),
                o.total.as_secs_f64(),
                o.transfer.as_secs_f64(),
                image.bytes.len() as f64 / o.transfer.as_secs_f64().max(1e-9),
                match o.resumes {
                    0 => String::new(),
                    n => format!(", resumed {n}×"),
                }
            ),
        },
        Err(e) => format!("{}: FAILED: {e}", r.name),
    }
}

fn json_summary(reports: &[Report], image: &CheckedImage<'_>, dry_run: bool) -> String {
    let identity = |i: Option<&FirmwareImage>| {
        i.map(|i| {
            json!({
                "version": format!("{}.{}.{}", i.version.0, i.version.1, i.version.2),
                "counter": i.counter,
                "digest": hex(&i.digest),
            })
        })
    };
    let units: Vec<_> = reports
        .iter()
        .map(|r| match &r.result {
            Ok(o) => json!({
                "unit": r.name,
                "ok": true,
                "action": match o.action {
                    Action::Skipped => "skipped",
                    Action::WouldFlash => "would_flash",
                    Action::Flashed => "flashed",
                },
                "before": identity(o.before.running.as_ref()),
                "after": identity(o.after.as_ref()),
                "transfer_s": o.transfer.as_secs_f64(),
                "total_s": o.total.as_secs_f64(),
                "bytes_sent": o.bytes_sent,
                "resumes": o.resumes,
            }),
            Err(e) => json!({"unit": r.name, "ok": false, "error": e.to_string()}),
        })
        .collect();
    let failed = reports.iter().filter(|r| r.result.is_err()).count();
    json!({
        "image": identity(Some(&image.identity)),
        "image_bytes": image.bytes.len(),
        "dry_run": dry_run,
        "units": units,
        "failed": failed,
    })
    .to_string()
}
