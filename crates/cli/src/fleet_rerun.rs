//! `embody fleet rerun`: every unit of the fleet in one Rerun recording (the library's
//! `embody_runtime::fleet_rerun`), until Ctrl-C or `--seconds`.

use std::io::IsTerminal;

use clap::Args;
use embody_runtime::fleet_rerun::{FleetRerun, FleetRerunStats, record_fleet};
use embody_viz::Sink;

use crate::error::Result;
use crate::fleet_net::{NetArgs, stop_after};
use crate::numbers::float;

/// Arguments of `embody fleet rerun`.
#[derive(Args, Debug)]
pub struct FleetRerunArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Where the recording goes: spawn, connect[=URL], save=PATH or serve.
    #[arg(long, default_value = "spawn")]
    rerun: Sink,
    /// States recorded a second per unit, at most.
    #[arg(long, default_value_t = 10.0, value_parser = float(0.1..=1000.0, " Hz"))]
    hz: f64,
    /// Stop after this long (s); else on Ctrl-C.
    #[arg(long, value_parser = float(0.1..=1e6, " s"))]
    seconds: Option<f64>,
}

/// Runs `embody fleet rerun`.
pub fn run(args: &FleetRerunArgs) -> Result {
    let fleet = args.net.join()?;
    let config = FleetRerun {
        hz: args.hz,
        ..FleetRerun::new(args.rerun.clone())
    };
    let stop = stop_after(args.seconds);
    eprintln!(
        "recording fleet {} into Rerun ({} states a second per unit at most); Ctrl-C to stop",
        args.net.fleet, args.hz
    );
    let terminal = std::io::stderr().is_terminal();
    let stats = record_fleet(&fleet, &config, &mut || stop(), &mut |s| {
        if terminal {
            eprint!("\r{}   ", describe(s));
        }
    })?;
    eprintln!("{}{}", if terminal { "\r" } else { "" }, describe(&stats));
    for (unit, robot) in &stats.unknown {
        eprintln!("{unit} not drawn: its robot '{robot}' is not built in, nor a URDF file here");
    }
    Ok(())
}

fn describe(stats: &FleetRerunStats) -> String {
    format!(
        "{} units, {} states, {} events recorded",
        stats.units, stats.states, stats.events
    )
}
