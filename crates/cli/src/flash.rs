//! `embody flash <image>`: installs a signed image on units over their links, several
//! at a time. The image is checked against the public key before any unit is touched;
//! each unit gets a progress bar (plain lines when stderr is not a terminal); units
//! already running the image are skipped; `--dry-run` only connects and prints the
//! plan. Exits non-zero if any unit failed.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Args;
use embody_bridge::flasher::{
    Action, CheckedImage, FlashOptions, Outcome, Step, describe_image, flash_unit,
};
use embody_fleet::hex;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::config::{port_of, report};

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
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// How long a unit may take to come back after a restart (s).
    #[arg(long, default_value_t = 5.0)]
    reconnect_s: f64,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// One unit to flash.
pub struct Target {
    /// What to call it.
    pub name: String,
    /// Its port.
    pub port: PathBuf,
}

/// What happened to one unit.
pub struct Report {
    /// The unit.
    pub name: String,
    /// The outcome, or why it failed.
    pub result: Result<Outcome, String>,
}

fn targets(args: &FlashArgs) -> Result<Vec<Target>, String> {
    let Some(units) = &args.units else {
        return Ok(args
            .port
            .iter()
            .map(|p| Target {
                name: p.display().to_string(),
                port: p.clone(),
            })
            .collect());
    };
    let serials: Vec<String> = if units == "all" {
        let dir = args.dir.join("units");
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
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
        units.split(',').map(|s| s.trim().to_owned()).collect()
    };
    if serials.is_empty() {
        return Err(format!("no units in {}", args.dir.join("units").display()));
    }
    serials
        .into_iter()
        .map(|serial| {
            let (layers, config) =
                embody_fleet::config::load(&args.dir, &serial).map_err(|p| report(&p))?;
            Ok(Target {
                port: port_of(&layers, &config, None, &args.dir)?,
                name: serial,
            })
        })
        .collect()
}

/// Runs `embody flash`.
pub fn run(args: &FlashArgs) -> Result<(), String> {
    if args.jobs == 0 {
        return Err("--jobs must be at least 1".into());
    }
    let bytes = std::fs::read(&args.image).map_err(|e| format!("{}: {e}", args.image.display()))?;
    let key = embody_fleet::keys::read_verifying_key(&args.pubkey).map_err(|e| e.to_string())?;
    let image = CheckedImage::check(&bytes, &key)
        .map_err(|e| format!("{}: refused before sending: {e}", args.image.display()))?;
    let targets = targets(args)?;
    let options = FlashOptions {
        dry_run: args.dry_run,
        reconnect_wait: Duration::from_secs_f64(args.reconnect_s.max(0.1)),
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
    let reports = flash_all(&targets, &image, &options, args.jobs);
    let failed = reports.iter().filter(|r| r.result.is_err()).count();
    for r in &reports {
        eprintln!("{}", summary_line(r, &image));
    }
    if args.json {
        println!("{}", json_summary(&reports, &image, args.dry_run));
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} units failed", reports.len())),
    }
}

/// Flashes every target, `jobs` at a time, each with its progress shown.
pub fn flash_all(
    targets: &[Target],
    image: &CheckedImage<'_>,
    options: &FlashOptions,
    jobs: usize,
) -> Vec<Report> {
    let bars = Bars::new();
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Option<Report>>> =
        Mutex::new((0..targets.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(targets.len()) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::AcqRel);
                    let Some(target) = targets.get(k) else { break };
                    let mut shown = bars.unit(&target.name, image.bytes.len() as u64);
                    let result =
                        flash_unit(&target.port, image, options, &mut |step| shown.step(step))
                            .map_err(|e| e.to_string());
                    shown.done(&result);
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
    let identity = |i: Option<&embody_protocol::messages::FirmwareImage>| {
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
            Err(e) => json!({"unit": r.name, "ok": false, "error": e}),
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

/// Progress display: bars on a terminal, plain lines otherwise.
struct Bars {
    multi: Option<MultiProgress>,
}

impl Bars {
    fn new() -> Bars {
        let target = ProgressDrawTarget::stderr();
        Bars {
            multi: (!target.is_hidden()).then(|| MultiProgress::with_draw_target(target)),
        }
    }

    fn unit(&self, name: &str, total: u64) -> UnitProgress {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12} [{bar:30}] {bytes:>9}/{total_bytes} {bytes_per_sec:>11} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar
        });
        UnitProgress {
            name: name.to_owned(),
            bar,
            quarter: 0,
        }
    }
}

struct UnitProgress {
    name: String,
    bar: Option<ProgressBar>,
    quarter: u64,
}

impl UnitProgress {
    fn say(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None => eprintln!("{}: {what}", self.name),
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Connected(state) => self.say(&format!(
                "connected; runs {}{}",
                describe_image(state.running.as_ref()),
                if state.trial { " on trial" } else { "" }
            )),
            Step::Transfer { sent, total } => match &self.bar {
                Some(bar) => bar.set_position(sent),
                None => {
                    let quarter = sent * 4 / total.max(1);
                    if quarter > self.quarter {
                        self.quarter = quarter;
                        eprintln!("{}: sent {sent} of {total} bytes", self.name);
                    }
                }
            },
            Step::Resumed(at) => self.say(&format!("link interrupted; resuming at byte {at}")),
            Step::Verifying => self.say("verifying on the unit"),
            Step::Restarting => self.say("restarting into the new image"),
            Step::SelfTest => self.say("self-test"),
        }
    }

    fn done(&self, result: &Result<Outcome, String>) {
        let what = match result {
            Ok(o) => match o.action {
                Action::Skipped => "skipped (already runs it)",
                Action::WouldFlash => "would flash",
                Action::Flashed => "flashed and confirmed",
            },
            Err(_) => "FAILED",
        };
        match &self.bar {
            Some(bar) => bar.finish_with_message(what),
            None => eprintln!("{}: {what}", self.name),
        }
    }
}
