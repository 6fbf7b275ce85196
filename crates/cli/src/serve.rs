//! `embody serve LIBRARY --join ENDPOINT`: a unit serving its library of tasks and
//! policies to the site's operators (`embody_runtime::serve`) until Ctrl-C: `embody fleet
//! send UNIT task <name>` starts one.

use std::path::PathBuf;

use clap::Args;
use embody_control::RtConfig;
use embody_runtime::serve::{Library, serve};
use embody_runtime::{Backend, Drive, Pacing, Session};

use crate::error::{CliError, Result};
use crate::run::{MAX_TASK_S, Printer};
use crate::unit_args::PacingArgs;

/// Arguments of `embody serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The library: tasks in `tasks/*.toml`, policy packages in `policies/<name>/`.
    library: PathBuf,
    /// Robot to serve on: a built-in name or a URDF path (default arm7; a unit's own
    /// robot on the wire). Simulated unless `--port` or `--unit`.
    #[arg(long, conflicts_with = "unit")]
    robot: Option<String>,
    #[command(flatten)]
    live: PacingArgs,
    /// Seed of the simulator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs `embody serve`.
pub fn run(args: &ServeArgs) -> Result {
    if args.live.net.join.is_none() {
        return Err(CliError::Usage(
            "a unit serves its library to operators on the network: give --join ENDPOINT".into(),
        ));
    }
    let library = Library::load(&args.library)?;
    let backend = match args.live.wire.load()? {
        Some(wire) => Backend::Wire(wire),
        None => Backend::simulator(),
    };
    let session = Session {
        robot: args.robot.clone(),
        seed: args.seed,
        stop_after_s: Some(MAX_TASK_S),
        pacing: Pacing::Realtime(RtConfig {
            priority: args.live.priority,
            cpu: args.live.cpu,
            ..RtConfig::default()
        }),
        ..Session::new(backend, Drive::Hold)
    };
    let Some(config) = (args.live.net).link(&args.live.wire, &session.robot_name())? else {
        return Err(CliError::Usage("give --join ENDPOINT".into()));
    };
    // Ctrl-C ends the process as it ends `embody run`, a run under way included (on the
    // wire the bridge's watchdog then damps the motors).
    serve(
        &session,
        &library,
        &config,
        &|| false,
        &mut Printer { live: true },
    )?;
    Ok(())
}
