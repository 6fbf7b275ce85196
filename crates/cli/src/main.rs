//! The `embody` command: one binary for integrators, developers and operators. Each
//! subcommand is an adapter in its own module — it parses its arguments, calls a
//! library (`embody-runtime`, `embody-fleet`, …) and prints; this file dispatches and
//! reports any error once, with a non-zero exit code.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod bench;
mod calibrate;
mod config;
mod dataset;
mod dataset_args;
mod dataset_replay;
mod error;
mod flash;
mod fleet_certs;
mod fleet_net;
mod fleet_rerun;
mod fleet_view;
mod fw;
mod model;
mod numbers;
mod policy;
mod rerun_args;
mod run;
mod serve;
mod signals;
mod sim;
mod unit_args;
mod vmcu;

/// Prints what a session says as it starts (the map it drives the motors with, …).
pub struct Notes;

impl embody_runtime::Observer for Notes {
    fn note(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// embody: robot control runtime.
#[derive(Parser, Debug)]
#[command(name = "embody", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a task file: in simulation on the built-in default robot unless `--robot`
    /// (lockstep unless `--realtime`), or on the wire (`--port`, `--unit`).
    Run(Box<run::RunArgs>),
    /// Inspect robot models and evaluate or benchmark their kinematics and dynamics.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Benchmark the runtime: `embody bench loop|wire|plan|viz|flash`.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Simulate: `embody sim bench`, `embody sim run <scenario.toml>`.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Demonstration datasets (LeRobotDataset v3.0): `embody dataset info|check|replay|view`.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Learned policies: `embody policy info|check <package>`.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Run the virtual MCU: the bridge firmware behind a pseudo-terminal with simulated
    /// CAN motors (`--slcan`: a plain SLCAN adapter).
    Vmcu(vmcu::VmcuArgs),
    /// Unit configuration: `embody config check|show|diff|apply <unit>`, `embody config
    /// init --robot R`.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Signed firmware images: `embody fw keygen|sign|inspect|verify`.
    #[command(subcommand)]
    Fw(fw::FwCommand),
    /// Install a signed firmware image on units over their links (A/B, confirmed after
    /// a self-test; units already running it are skipped).
    Flash(flash::FlashArgs),
    /// The fleet across machines, over zenoh: `embody fleet router|simulate|status|watch|send|rerun|certs`.
    #[command(subcommand)]
    Fleet(fleet_net::FleetCommand),
    /// Find a unit's joint zeros and directions (each joint driven into both stops),
    /// write its calibration file and store it on the unit's bridge.
    Calibrate(calibrate::CalibrateArgs),
    /// Serve a library of tasks and policies to the site's operators (`--join`): the
    /// unit waits, drives off, and runs what `embody fleet send UNIT task|policy NAME`
    /// names, in real time (simulated unless `--port` or `--unit`).
    Serve(Box<serve::ServeArgs>),
}

/// The command line, where a negative number after an option is its value (`--dt -1`
/// is refused for its value rather than taken for an unknown option).
fn command() -> clap::Command {
    numbers::negative_values(Cli::command())
}

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("warn,zenoh=error")),
        )
        .init();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Model(command) => model::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Sim(command) => sim::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Dataset(command) => dataset::run(command),
        Command::Vmcu(args) => vmcu::run(&args),
        Command::Fw(command) => fw::run(command),
        Command::Config(command) => config::run(command),
        Command::Fleet(command) => fleet_net::run(command),
        Command::Flash(args) => flash::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
