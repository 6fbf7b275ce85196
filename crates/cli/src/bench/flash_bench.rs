//! `embody bench flash`: many virtual units flashed at once on paced links
//! (`embody_runtime::bench::flash`): total time, and each unit's throughput as a share
//! of its link.

use clap::Args;
use embody_runtime::bench::flash::{self, FlashBench, MAX_UNITS};

use crate::error::{CliError, Result};
use crate::numbers::count;

/// Arguments of `embody bench flash`.
#[derive(Args, Debug)]
pub struct FlashBenchArgs {
    /// Virtual units to flash at once (1–256).
    #[arg(long, default_value_t = 64, value_parser = count::<usize>(1..=MAX_UNITS as u64))]
    units: usize,
    /// Baud rate of every unit's serial link.
    #[arg(long, default_value_t = 921_600, value_parser = count::<u32>(1200..=10_000_000))]
    baud: u32,
    /// Firmware payload size (KiB).
    #[arg(long, default_value_t = 128, value_parser = count::<usize>(1..=448))]
    kib: usize,
    /// Units flashed at a time (default: all).
    #[arg(long, value_parser = count::<usize>(1..=MAX_UNITS as u64))]
    jobs: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench flash`.
pub fn run(args: &FlashBenchArgs) -> Result {
    let bench = FlashBench {
        units: args.units,
        baud: args.baud,
        kib: args.kib,
        jobs: args.jobs.unwrap_or(args.units),
    };
    if !args.json {
        eprintln!(
            "flashing {} virtual units on links paced at {} baud, {} at a time...",
            args.units, args.baud, bench.jobs
        );
    }
    let f = flash::run(&bench)?;
    if args.json {
        println!("{}", serde_json::json!(f));
    } else {
        println!(
            "{} units, {} B image, {} baud ({:.0} B/s link): all done in {:.2} s",
            f.units, f.image_bytes, f.baud, f.link_bytes_per_s, f.total_s
        );
        println!(
            "  flashed {} of {}; {} resumption(s); per unit start to confirmed: median {:.2} s",
            f.flashed, f.units, f.resumes, f.per_unit_total_s_median
        );
        let (rate, share) = (&f.per_unit_bytes_per_s, &f.per_unit_share_of_link);
        println!(
            "  per-unit transfer throughput: median {:.0} B/s ({:.1} % of link), slowest {:.0} B/s ({:.1} %); target ≥ 80 %",
            rate.median,
            100.0 * share.median,
            rate.min,
            100.0 * share.min
        );
        for failure in &f.failed {
            println!("  FAILED {failure}");
        }
    }
    if f.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {} units failed",
            f.failed.len(),
            f.units
        )))
    }
}
