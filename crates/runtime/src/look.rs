//! One frame from a scenario's camera at the scenario's start: rendered, its AprilTags
//! found, and the truth beside them — the tags printed on the scene's objects, where
//! they are. For checking a camera's placement by eye, and embody's detector against
//! another (`scripts/test_tags.sh` hands the image to OpenCV).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use embody_hal::{Image, Intrinsics};
use embody_model::spatial::Transform;
use embody_sim::LoadedScenario;
use embody_sim::render::Rasterizer;
use embody_sim::view::SceneView;
use embody_vision::TagDetector;
use serde::Serialize;

use crate::error::RuntimeError;

/// A tag embody's detector found.
#[derive(Clone, Debug, Serialize)]
pub struct SeenTag {
    /// Its 36h11 id.
    pub id: u16,
    /// Its black square's corners (px): top-left, top-right, bottom-right, bottom-left
    /// as printed.
    pub corners: [[f64; 2]; 4],
    /// Its pose in the camera's frame, `x y z qx qy qz qw`.
    pub camera_from_tag: [f64; 7],
    /// Its pose in the world, the same way.
    pub world_from_tag: [f64; 7],
    /// RMS reprojection error of its corners (px).
    pub reprojection_px: f64,
    /// The decoder's confidence, 0–1.
    pub confidence: f64,
}

/// A tag printed on one of the scene's objects, where the scenario puts it.
#[derive(Clone, Debug, Serialize)]
pub struct PrintedTag {
    /// The object it is printed on.
    pub object: String,
    /// Its 36h11 id.
    pub id: u16,
    /// Its black square's side (m).
    pub size_m: f64,
    /// Its pose in the world, `x y z qx qy qz qw`.
    pub world_from_tag: [f64; 7],
}

/// What the camera saw.
#[derive(Clone, Debug, Serialize)]
pub struct Look {
    /// The camera.
    pub camera: String,
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
    /// Its lens.
    pub intrinsics: Intrinsics,
    /// Its pose in the world (OpenCV's axes), `x y z qx qy qz qw`.
    pub world_from_camera: [f64; 7],
    /// Where the colour image was written (PNG), if asked.
    pub image: Option<PathBuf>,
    /// The tags found (of the sizes printed in the scene).
    pub tags: Vec<SeenTag>,
    /// The tags printed in the scene.
    pub printed: Vec<PrintedTag>,
}

/// Renders camera `camera` (the scenario's first when `None`) of `scenario` at its
/// start, finds the tags in the image and writes it to `save` (PNG) if given.
pub fn look(
    scenario: &LoadedScenario,
    camera: Option<&str>,
    save: Option<&Path>,
) -> Result<Look, RuntimeError> {
    let cameras = &scenario.scenario.cameras;
    let config = match camera {
        Some(name) => cameras.iter().find(|c| c.name == name).ok_or_else(|| {
            let names: Vec<&str> = cameras.iter().map(|c| c.name.as_str()).collect();
            RuntimeError::Invalid(if names.is_empty() {
                format!("no camera '{name}': the scenario has no [[cameras]]")
            } else {
                format!(
                    "no camera '{name}' (the scenario has: {})",
                    names.join(", ")
                )
            })
        })?,
        None => cameras.first().ok_or_else(|| {
            RuntimeError::Invalid("the scenario has no [[cameras]] to look through".into())
        })?,
    };
    let model = Arc::new(scenario.model.clone());
    let info = (config.info(&model)).map_err(|(key, why)| {
        RuntimeError::Invalid(format!("cameras '{}': {key}: {why}", config.name))
    })?;
    let environment = &scenario
        .scenario
        .environment
        .placed(scenario.scenario.sim.seed);
    let starts: Vec<Transform> = (environment.objects.iter())
        .map(|o| Transform::from_xyz_rpy(o.position_m, o.rpy_rad))
        .collect();
    let poses: Vec<[f64; 7]> = starts.iter().map(Transform::to_pose).collect();
    let mut view = SceneView::new(model, environment);
    view.place(scenario.initial_configuration().as_slice(), &poses);
    let eye = view.camera_pose(&info.mount).ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "camera '{}': its frame is not on the robot",
            info.name
        ))
    })?;
    let mut image = Image::blank(&info);
    Rasterizer::new(
        info.width,
        info.height,
        info.intrinsics,
        environment.light.lighting(),
    )
    .render(&eye, view.drawables(), &mut image);
    let printed: Vec<PrintedTag> = (environment.objects.iter().zip(&starts))
        .filter_map(|(o, start)| {
            let tag = o.tag?;
            let top = o.size.map_or(0.0, |s| s[2] / 2.0);
            let on_face = Transform::from_xyz_rpy([0.0, 0.0, top], [0.0; 3]);
            Some(PrintedTag {
                object: o.name.clone(),
                id: tag.id,
                size_m: tag.size_m,
                world_from_tag: start.mul(&on_face).to_pose(),
            })
        })
        .collect();
    let size_of = |id: u16| printed.iter().find(|p| p.id == id).map(|p| p.size_m);
    let mut detector = TagDetector::new(info.width, info.height)
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let tags = (detector.detect(&image, &info.intrinsics, &eye, &size_of))
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?
        .into_iter()
        .map(|t| SeenTag {
            id: t.id,
            corners: t.corners,
            camera_from_tag: t.camera_from_tag.to_pose(),
            world_from_tag: t.world_from_tag.to_pose(),
            reprojection_px: t.reprojection_px,
            confidence: t.confidence,
        })
        .collect();
    if let Some(path) = save {
        let io = |e: image::ImageError| RuntimeError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        };
        image::RgbImage::from_raw(info.width, info.height, image.rgb.clone())
            .ok_or_else(|| RuntimeError::Invalid("the image has the wrong size".into()))?
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(io)?;
    }
    Ok(Look {
        camera: info.name.clone(),
        width: info.width,
        height: info.height,
        intrinsics: info.intrinsics,
        world_from_camera: eye.to_pose(),
        image: save.map(Path::to_path_buf),
        tags,
        printed,
    })
}
