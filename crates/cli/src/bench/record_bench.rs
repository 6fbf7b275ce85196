//! `embody bench record`: how fast a dataset's cameras and rows are written
//! (`embody_runtime::bench::record`).

use clap::Args;
use embody_runtime::bench::record::{self, RecordBench};

use crate::error::Result;
use crate::numbers::{count, float};

/// Arguments of `embody bench record`.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Cameras recorded.
    #[arg(long, default_value_t = 2, value_parser = count::<u32>(1..=8))]
    cameras: u32,
    /// Seconds of recording at 30 fps.
    #[arg(long, default_value_t = 20.0, value_parser = float(0.1..=3600.0, " s"))]
    seconds: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench record`.
pub fn run(args: &RecordArgs) -> Result {
    let f = record::run(&RecordBench {
        cameras: args.cameras,
        seconds: args.seconds,
        ..RecordBench::default()
    })?;
    if args.json {
        println!("{}", serde_json::json!(f));
        return Ok(());
    }
    println!(
        "dataset recording, {} cameras {}×{} at {} fps, {} frames each: {:.1} camera frames/s on one thread, {:.2}× real time; {:.1} MB a minute",
        f.cameras,
        f.width,
        f.height,
        f.fps,
        f.frames,
        f.frames_per_s,
        f.realtime_factor,
        f.mb_per_minute
    );
    Ok(())
}
