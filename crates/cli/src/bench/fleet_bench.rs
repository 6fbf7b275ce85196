//! `embody bench fleet`: a router, N simulated units and an operator's live view in
//! this process, over loopback (`embody_net::bench`): state loss and lag, an e-stop to
//! all, and the router killed and restarted.

use clap::Args;
use embody_net::bench::{self, FleetBench, UnitHost};

use crate::error::{CliError, Result};
use crate::numbers::{count, float};

/// Arguments of `embody bench fleet`.
#[derive(Args, Debug)]
pub struct FleetBenchArgs {
    /// Simulated units, each with its own zenoh session.
    #[arg(long, default_value_t = 1000, value_parser = count::<usize>(1..=10_000))]
    units: usize,
    /// State messages a second, per unit.
    #[arg(long, default_value_t = 50.0, value_parser = float(0.1..=1000.0, " Hz"))]
    rate: f64,
    /// How long state is measured (s).
    #[arg(long, default_value_t = 60.0, value_parser = float(1.0..=3600.0, " s"))]
    seconds: f64,
    /// How long the router is away (s).
    #[arg(long, default_value_t = 5.0, value_parser = float(0.5..=600.0, " s"))]
    outage: f64,
    /// Run the units in this many child processes (`embody fleet simulate`, each a
    /// share) and the router in another, as on a site [default: all in this process].
    #[arg(long, value_parser = count::<usize>(1..=1000))]
    processes: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench fleet`.
pub fn run(args: &FleetBenchArgs) -> Result {
    let config = FleetBench {
        units: args.units,
        rate_hz: args.rate,
        seconds: args.seconds,
        outage_s: args.outage,
        host: match args.processes {
            None => UnitHost::Here,
            Some(processes) => UnitHost::Processes {
                program: std::env::current_exe()
                    .map_err(|e| CliError::Failed(format!("where is this program? {e}")))?,
                processes,
            },
        },
    };
    let report = bench::run(&config, &mut |what| eprintln!("{what}"))?;
    if args.json {
        let json = serde_json::to_string(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{json}");
    } else {
        println!("{}", report.summary());
    }
    Ok(())
}
