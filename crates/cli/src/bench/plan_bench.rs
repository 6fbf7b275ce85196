//! `embody bench plan`: how long planning takes (`embody_runtime::bench::plan`).

use clap::Args;
use embody_runtime::bench::plan;

use crate::error::Result;

/// Arguments of `embody bench plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `embody bench plan`.
pub fn run(args: &PlanArgs) -> Result {
    let f = plan::run()?;
    if args.json {
        println!("{}", serde_json::json!(f));
        return Ok(());
    }
    println!(
        "7-joint jerk-limited point-to-point move: {:.2} µs (median)",
        f.joint_move_7_us
    );
    let line = &f.cartesian_line;
    println!(
        "{:.2} m Cartesian line of arm7's tool, IK every 1 mm ({} samples): {:.2} ms (median)",
        line.length_m, line.ik_samples, line.ms
    );
    Ok(())
}
