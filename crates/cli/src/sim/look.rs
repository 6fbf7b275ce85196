//! `embody sim look`: one frame from a scenario's camera at its start, the AprilTags
//! found in it and where the scene puts them (`embody_runtime::look`).

use std::path::PathBuf;

use clap::Args;
use embody_sim::Scenario;

use crate::error::Result;

/// Arguments of `embody sim look`.
#[derive(Args, Debug)]
pub struct LookArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// The camera to look through (default: the scenario's first).
    #[arg(long)]
    camera: Option<String>,
    /// Write the colour image here (PNG).
    #[arg(long, value_name = "FILE.png")]
    save: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `embody sim look`.
pub fn run(args: &LookArgs) -> Result {
    let loaded = Scenario::load(&args.scenario)?;
    let look = embody_runtime::look::look(&loaded, args.camera.as_deref(), args.save.as_deref())?;
    if args.json {
        println!("{}", serde_json::json!(look));
        return Ok(());
    }
    let p = look.world_from_camera;
    println!(
        "camera '{}', {}×{}, at [{:.3}, {:.3}, {:.3}] m",
        look.camera, look.width, look.height, p[0], p[1], p[2]
    );
    if let Some(path) = &look.image {
        println!("image: {}", path.display());
    }
    for tag in &look.tags {
        let w = tag.world_from_tag;
        let truth = look.printed.iter().find(|t| t.id == tag.id);
        let off = truth.map(|t| {
            let d = (0..3)
                .map(|k| (w[k] - t.world_from_tag[k]).powi(2))
                .sum::<f64>();
            format!(
                ", {:.1} mm from where '{}' has it",
                d.sqrt() * 1e3,
                t.object
            )
        });
        println!(
            "tag {} at [{:.4}, {:.4}, {:.4}] m, {:.2} m from the camera, reprojection {:.2} px{}",
            tag.id,
            w[0],
            w[1],
            w[2],
            tag.camera_from_tag[..3]
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt(),
            tag.reprojection_px,
            off.unwrap_or_default()
        );
    }
    for missed in look
        .printed
        .iter()
        .filter(|t| !look.tags.iter().any(|s| s.id == t.id))
    {
        println!("tag {} on '{}': not seen", missed.id, missed.object);
    }
    Ok(())
}
