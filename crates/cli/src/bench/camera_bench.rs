//! `embody bench camera`: how many RGB-D frames a second the simulated camera renders
//! (`embody_runtime::bench::camera`).

use clap::Args;
use embody_runtime::bench::camera::{self, CameraBench};

use crate::error::Result;
use crate::numbers::count;

/// Arguments of `embody bench camera`.
#[derive(Args, Debug)]
pub struct CameraArgs {
    /// Image width (px).
    #[arg(long, default_value_t = 640, value_parser = count::<u32>(16..=8192))]
    width: u32,
    /// Image height (px).
    #[arg(long, default_value_t = 480, value_parser = count::<u32>(16..=8192))]
    height: u32,
    /// Frames per timed batch.
    #[arg(long, default_value_t = 60, value_parser = count::<usize>(1..=100_000))]
    frames: usize,
    /// Timed batches; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = count::<usize>(1..=1000))]
    batches: usize,
    /// Write the last frame's colour to this file (binary PPM).
    #[arg(long, value_name = "FILE.ppm")]
    save: Option<std::path::PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench camera`.
pub fn run(args: &CameraArgs) -> Result {
    let f = camera::run(&CameraBench {
        width: args.width,
        height: args.height,
        frames: args.frames,
        batches: args.batches,
        save: args.save.clone(),
    })?;
    if args.json {
        println!("{}", serde_json::json!(f));
        return Ok(());
    }
    println!(
        "simulated RGB-D camera, arm7 over the table with a box, {}×{}: {:.1} frames/s on one thread ({:.2} ms a frame), median of {} × {} frames",
        f.width, f.height, f.fps, f.ms_per_frame, f.batches, f.frames
    );
    println!(
        "{} triangles in the scene, {} drawn; {:.0} % of the image sees something",
        f.triangles,
        f.triangles_drawn,
        100.0 * f.coverage
    );
    Ok(())
}
