//! `embody bench ...`: benchmarks of the runtime as a whole (the model's own algorithms
//! are timed by `embody model bench`).

use clap::Subcommand;

mod camera_bench;
mod flash_bench;
mod fleet_bench;
mod loop_bench;
mod plan_bench;
mod record_bench;
mod viz_bench;
mod wire_bench;

/// The `bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Run the full control loop (estimation, RNEA-compensated control, safety) at a fixed
    /// rate against an in-process mock robot, and print per-tick compute time and wake-up
    /// jitter percentiles.
    Loop(Box<loop_bench::LoopArgs>),
    /// Time the wire: frame codec for a 30-joint tick, bus scheduler capacity, and the
    /// host → bridge → host round trip (to `--port`, or to a virtual MCU it starts).
    Wire(wire_bench::WireArgs),
    /// Time planning: a 7-joint jerk-limited move and a 0.5 m Cartesian line through IK.
    Plan(plan_bench::PlanArgs),
    /// Time what recording to Rerun costs the loop: rounds with and without a live
    /// recorder (saving to a file), alternating, on the mock robot at 1 kHz.
    Viz(viz_bench::VizArgs),
    /// Render the simulated RGB-D camera (arm7 over a table with a box) on one thread,
    /// and print its frames per second.
    Camera(camera_bench::CameraArgs),
    /// Write a dataset's cameras (H.264) and rows on one thread, and print frames per
    /// second against real time and the size per minute.
    Record(record_bench::RecordArgs),
    /// Flash many virtual units at once on links paced at a baud rate: total time and
    /// each unit's throughput as a share of its link.
    Flash(flash_bench::FlashBenchArgs),
    /// A fleet on the network: N simulated units (default 1,000 at 50 Hz; in this
    /// process, or with the router in child processes: --processes) through a router to
    /// an operator's live view — state lost, out of order and how far behind; an e-stop
    /// to all and its acknowledgements; the router killed and restarted.
    Fleet(fleet_bench::FleetBenchArgs),
}

/// Runs a `bench` subcommand.
pub fn run(command: BenchCommand) -> crate::error::Result {
    // The wire, viz and flash benchmarks keep virtual units' files in a scratch
    // directory: Ctrl-C must not leave it behind.
    crate::signals::exit_on_termination(embody_runtime::bench::remove_scratch);
    match command {
        BenchCommand::Loop(args) => loop_bench::run(&args),
        BenchCommand::Wire(args) => wire_bench::run(&args),
        BenchCommand::Plan(args) => plan_bench::run(&args),
        BenchCommand::Viz(args) => viz_bench::run(&args),
        BenchCommand::Flash(args) => flash_bench::run(&args),
        BenchCommand::Camera(args) => camera_bench::run(&args),
        BenchCommand::Record(args) => record_bench::run(&args),
        BenchCommand::Fleet(args) => fleet_bench::run(&args),
    }
}
