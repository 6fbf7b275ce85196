//! `embody sim bench|run|look`: the simulator from the command line.

use clap::Subcommand;

mod bench;
mod look;
mod run;

/// The `sim` subcommands.
#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Steps per second of the physics on one thread, with or without ground contact.
    Bench(bench::BenchArgs),
    /// Run a scenario file in lockstep (or real time) under the loop holding the initial
    /// posture, inject its faults, and optionally record the states.
    Run(run::RunArgs),
    /// One frame from a scenario's camera at its start: write it, find its AprilTags,
    /// and say where the scene puts them.
    Look(look::LookArgs),
}

/// Runs a `sim` subcommand.
pub fn run(command: SimCommand) -> crate::error::Result {
    match command {
        SimCommand::Bench(args) => bench::run(&args),
        SimCommand::Run(args) => run::run(&args),
        SimCommand::Look(args) => look::run(&args),
    }
}
