//! `embody bench flash`: flashes many virtual units at once from this host, each on its
//! own serial link paced at a baud rate (default 921,600, 10 bits a byte), and reports
//! the total time and each unit's transfer throughput as a share of its link's rate —
//! the ceiling no flasher on that link can pass.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use embody_bridge::flasher::{Action, CheckedImage, FlashOptions};
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_fwimage::{Header, Version, image_len, sign};
use embody_vmcu::{Control, VmcuConfig};
use serde_json::json;

use crate::flash::{Target, flash_all};

/// Arguments of `embody bench flash`.
#[derive(Args, Debug)]
pub struct FlashBenchArgs {
    /// Virtual units to flash at once.
    #[arg(long, default_value_t = 64)]
    units: usize,
    /// Baud rate of every unit's serial link.
    #[arg(long, default_value_t = 921_600)]
    baud: u32,
    /// Firmware payload size (KiB).
    #[arg(long, default_value_t = 128)]
    kib: usize,
    /// Units flashed at a time (default: all).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

struct Units {
    controls: Vec<Arc<Control>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    dir: PathBuf,
}

impl Drop for Units {
    fn drop(&mut self) {
        for c in &self.controls {
            c.stop();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_units(args: &FlashBenchArgs, key: &SigningKey) -> Result<(Units, Vec<Target>), String> {
    let dir = std::env::temp_dir().join(format!("embody-bench-flash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut units = Units {
        controls: Vec::new(),
        threads: Vec::new(),
        dir: dir.clone(),
    };
    let mut targets = Vec::new();
    for k in 0..args.units {
        let link = dir.join(format!("unit{k:03}"));
        let config = VmcuConfig {
            baud: Some(args.baud),
            flash: Some((dir.join(format!("unit{k:03}.flash")), key.verifying_key())),
            ..VmcuConfig::new("arm7", link.clone())
        };
        let control = Arc::new(Control::default());
        let thread = {
            let control = control.clone();
            std::thread::spawn(move || {
                if let Err(e) = embody_vmcu::run(&config, control) {
                    eprintln!("virtual unit {k}: {e}");
                }
            })
        };
        units.controls.push(control);
        units.threads.push(thread);
        targets.push(Target {
            name: format!("unit{k:03}"),
            port: link,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !targets.iter().all(|t| t.port.exists()) {
        if Instant::now() > deadline {
            return Err("the virtual units did not come up within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((units, targets))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `embody bench flash`.
pub fn run(args: &FlashBenchArgs) -> Result<(), String> {
    if args.units == 0 || args.baud == 0 || args.kib == 0 {
        return Err("--units, --baud and --kib must be positive".into());
    }
    let key = SigningKey::from_bytes(&[0x42; 32]);
    let payload: Vec<u8> = (0..args.kib * 1024).map(|i| (i * 131 + 7) as u8).collect();
    let header = Header {
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        payload_len: payload.len() as u32,
        build_id: [0xB5; 16],
    };
    let mut bytes = vec![0u8; image_len(payload.len())];
    sign(&payload, &header, 1, &key, &mut bytes).map_err(|e| e.to_string())?;
    let image = CheckedImage::check(&bytes, &key.verifying_key()).map_err(|e| e.to_string())?;
    let link_rate = args.baud as f64 / 10.0;
    eprintln!(
        "starting {} virtual units on links paced at {} baud ({:.0} B/s each)",
        args.units, args.baud, link_rate
    );
    let (units, targets) = start_units(args, &key)?;
    let jobs = args.jobs.unwrap_or(args.units).max(1);
    eprintln!("flashing {} bytes onto each, {jobs} at a time", bytes.len());
    let start = Instant::now();
    let reports = flash_all(&targets, &image, &FlashOptions::default(), jobs);
    let total = start.elapsed();
    drop(units);
    let failures: Vec<String> = reports
        .iter()
        .filter_map(|r| r.result.as_ref().err().map(|e| format!("{}: {e}", r.name)))
        .collect();
    let outcomes: Vec<_> = reports
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .filter(|o| o.action == Action::Flashed)
        .collect();
    let mut rates: Vec<f64> = outcomes
        .iter()
        .map(|o| bytes.len() as f64 / o.transfer.as_secs_f64().max(1e-9))
        .collect();
    let mut totals: Vec<f64> = outcomes.iter().map(|o| o.total.as_secs_f64()).collect();
    let min_rate = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let median_rate = median(&mut rates);
    let median_total = median(&mut totals);
    let resumes: u32 = outcomes.iter().map(|o| o.resumes).sum();
    if args.json {
        println!(
            "{}",
            json!({
                "units": args.units,
                "jobs": jobs,
                "baud": args.baud,
                "image_bytes": bytes.len(),
                "link_bytes_per_s": link_rate,
                "total_s": total.as_secs_f64(),
                "flashed": outcomes.len(),
                "failed": failures,
                "per_unit_bytes_per_s": {"median": median_rate, "min": min_rate},
                "per_unit_share_of_link": {"median": median_rate / link_rate, "min": min_rate / link_rate},
                "per_unit_total_s_median": median_total,
                "resumes": resumes,
            })
        );
    } else {
        println!(
            "{} units, {} B image, {} baud ({:.0} B/s link): all done in {:.2} s",
            args.units,
            bytes.len(),
            args.baud,
            link_rate,
            total.as_secs_f64()
        );
        println!(
            "  flashed {} of {}; {} resumption(s); per unit start to confirmed: median {:.2} s",
            outcomes.len(),
            args.units,
            resumes,
            median_total
        );
        println!(
            "  per-unit transfer throughput: median {:.0} B/s ({:.1} % of link), slowest {:.0} B/s ({:.1} %); target ≥ 80 %",
            median_rate,
            100.0 * median_rate / link_rate,
            min_rate,
            100.0 * min_rate / link_rate
        );
        for f in &failures {
            println!("  FAILED {f}");
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} of {} units failed", failures.len(), args.units))
    }
}
