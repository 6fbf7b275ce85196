//! `embody bench viz`: what a live Rerun recording costs the loop
//! (`embody_runtime::bench::viz`): rounds with and without a recorder, alternating.

use clap::Args;
use embody_runtime::bench::viz;

use crate::error::Result;
use crate::numbers::{count, float};

/// Arguments of `embody bench viz`.
#[derive(Args, Debug)]
pub struct VizArgs {
    /// Built-in robot (arm7, humanoid, so101) or a fixed-base URDF.
    #[arg(long, default_value = "humanoid")]
    robot: String,
    /// Length of each round (s).
    #[arg(long, default_value_t = 10.0, value_parser = float(0.1..=3600.0, " s"))]
    seconds: f64,
    /// Rounds of each kind.
    #[arg(long, default_value_t = 3, value_parser = count::<usize>(1..=100))]
    rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench viz`.
pub fn run(args: &VizArgs) -> Result {
    let json = args.json;
    let f = viz::run(&args.robot, args.seconds, args.rounds, &mut |k| {
        if !json {
            eprintln!(
                "round {}/{}: without, then with the recorder",
                k + 1,
                args.rounds
            );
        }
    })?;
    if json {
        println!("{}", serde_json::json!(f));
        return Ok(());
    }
    println!(
        "loop on {} at 1 kHz, {} rounds of {} s each way (medians of the rounds' medians)",
        f.robot, f.rounds, f.seconds
    );
    println!(
        "{:<22} {:>12} {:>12} {:>14} {:>10}",
        "", "tick p50 µs", "tick p99 µs", "compute p50 µs", "overruns"
    );
    for (name, r) in [
        ("without a recorder", &f.without),
        ("with a live recorder", &f.with),
    ] {
        println!(
            "{name:<22} {:>12.2} {:>12.2} {:>14.2} {:>10}",
            r.tick_p50_us, r.tick_p99_us, r.compute_p50_us, r.overruns
        );
    }
    println!(
        "tick time with/without: {:.3} ({:+.1} %, target ≤ +2 %); recording {:.0} kB/s; {} snapshots recorded, {} skipped while behind",
        1.0 + f.tick_overhead,
        f.tick_overhead * 100.0,
        f.recording_bytes_per_s / 1e3,
        f.recorded,
        f.dropped
    );
    Ok(())
}
