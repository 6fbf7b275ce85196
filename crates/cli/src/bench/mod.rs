//! `embody bench ...`: benchmarks of the runtime as a whole (the model's own algorithms
//! are timed by `embody model bench`).

use clap::Subcommand;

mod loop_bench;

/// The `bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Run the full control loop (estimation, RNEA-compensated control, safety) at a fixed
    /// rate against an in-process mock robot, and print per-tick compute time and wake-up
    /// jitter percentiles.
    Loop(loop_bench::LoopArgs),
}

/// Runs a `bench` subcommand.
pub fn run(command: BenchCommand) -> Result<(), String> {
    match command {
        BenchCommand::Loop(args) => loop_bench::run(&args),
    }
}
