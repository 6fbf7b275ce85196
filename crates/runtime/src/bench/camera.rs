//! How fast the simulated camera renders: the arm over the table with a box on it, seen
//! by a fixed camera beside it, drawn into RGB and depth at a size, on one thread. The
//! median of several timed batches is reported.

use std::sync::Arc;
use std::time::Instant;

use embody_hal::{CameraInfo, Image, Intrinsics, Mount};
use embody_model::robots;
use embody_sim::objects::{Object, ObjectShape};
use embody_sim::render::{Lighting, Rasterizer};
use embody_sim::view::{SceneView, look_at};
use embody_sim::{Environment, StaticBox};
use serde::Serialize;

use super::median;
use crate::error::RuntimeError;

/// What to time.
#[derive(Clone, Debug)]
pub struct CameraBench {
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
    /// Frames per timed batch.
    pub frames: usize,
    /// Timed batches.
    pub batches: usize,
    /// Write the last frame's colour here (binary PPM), to see what was timed.
    pub save: Option<std::path::PathBuf>,
}

impl Default for CameraBench {
    fn default() -> Self {
        CameraBench {
            width: 640,
            height: 480,
            frames: 60,
            batches: 5,
            save: None,
        }
    }
}

/// What it measured.
#[derive(Clone, Debug, Serialize)]
pub struct CameraFigures {
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
    /// Triangles in the scene.
    pub triangles: usize,
    /// Triangles drawn in the last frame (in front of the camera, covering a pixel).
    pub triangles_drawn: usize,
    /// Share of pixels that see something other than the sky.
    pub coverage: f64,
    /// RGB-D frames per second on one thread, median of the batches.
    pub fps: f64,
    /// The same per frame (ms).
    pub ms_per_frame: f64,
    /// Frames per batch, and batches.
    pub frames: usize,
    /// Batches.
    pub batches: usize,
}

/// The arm-and-table scene: the table of the pick-and-place example with its box.
fn scene() -> Environment {
    Environment {
        boxes: vec![StaticBox {
            center: [-0.45, 0.15, 0.1],
            size: [0.4, 0.7, 0.2],
            yaw_rad: 0.0,
            rpy_rad: None,
        }],
        objects: vec![Object {
            mass_kg: Some(0.5),
            ..Object::new(
                "box",
                ObjectShape::Box { size: [0.05; 3] },
                [-0.45, 0.0, 0.225],
            )
        }],
        ..Environment::default()
    }
}

/// arm7 reaching over the scene's table, seen from a fixed camera beside it.
pub(crate) struct ArmScene {
    view: SceneView,
    raster: Rasterizer,
    eye: embody_model::spatial::Transform,
    /// The last frame drawn.
    pub(crate) image: Image,
    /// The arm's joint positions.
    pub(crate) q: nalgebra::DVector<f64>,
    poses: Vec<[f64; 7]>,
}

impl ArmScene {
    /// The scene, drawn at `width` × `height`.
    pub(crate) fn new(width: u32, height: u32) -> Result<ArmScene, RuntimeError> {
        let model = Arc::new(robots::load("arm7", None)?);
        let environment = scene();
        let view = SceneView::new(model.clone(), &environment);
        // The arm reaching over the table, as when it picks the box.
        let mut q = model.neutral_configuration();
        for (j, value) in [(1, 0.5), (3, -2.0), (5, -1.64)] {
            q[j] = value;
        }
        let poses: Vec<[f64; 7]> = (environment.objects.iter())
            .map(|o| {
                [
                    o.position_m[0],
                    o.position_m[1],
                    o.position_m[2],
                    0.0,
                    0.0,
                    0.0,
                    1.0,
                ]
            })
            .collect();
        let lens = Intrinsics::from_fov(width, height, 70f64.to_radians());
        let eye = look_at([0.5, -0.9, 1.0], [-0.3, 0.1, 0.2])
            .ok_or_else(|| RuntimeError::Invalid("the camera looks straight down".into()))?;
        let info = CameraInfo {
            name: "bench".into(),
            width,
            height,
            rate_hz: 30.0,
            depth: true,
            intrinsics: lens,
            mount: Mount::in_world(&eye),
        };
        Ok(ArmScene {
            view,
            raster: Rasterizer::new(width, height, lens, Lighting::default()),
            eye,
            image: Image::blank(&info),
            q,
            poses,
        })
    }

    /// Places the scene and draws it (as a running camera does each frame); the
    /// triangles drawn.
    pub(crate) fn render(&mut self) -> usize {
        let items = self.view.place(self.q.as_slice(), &self.poses);
        self.raster.render(&self.eye, items, &mut self.image)
    }
}

/// Renders the scene `bench.frames × bench.batches` times.
pub fn run(bench: &CameraBench) -> Result<CameraFigures, RuntimeError> {
    if !(16..=8192).contains(&bench.width) || !(16..=8192).contains(&bench.height) {
        return Err(RuntimeError::Invalid(format!(
            "a {}×{} image: each side must be 16 to 8192 px",
            bench.width, bench.height
        )));
    }
    let mut arm = ArmScene::new(bench.width, bench.height)?;
    let mut rates = Vec::new();
    let mut drawn = 0;
    for _ in 0..bench.batches.max(1) {
        let began = Instant::now();
        for _ in 0..bench.frames.max(1) {
            drawn = arm.render();
        }
        rates.push(bench.frames.max(1) as f64 / began.elapsed().as_secs_f64());
    }
    let ArmScene { image, view, .. } = arm;
    if let Some(path) = &bench.save {
        let mut ppm = format!("P6\n{} {}\n255\n", image.width, image.height).into_bytes();
        ppm.extend_from_slice(&image.rgb);
        std::fs::write(path, ppm)
            .map_err(|e| RuntimeError::Invalid(format!("cannot write {}: {e}", path.display())))?;
    }
    let seen = image.depth.iter().filter(|d| **d > 0.0).count();
    let fps = median(rates);
    Ok(CameraFigures {
        width: bench.width,
        height: bench.height,
        triangles: view.triangles(),
        triangles_drawn: drawn,
        coverage: seen as f64 / image.depth.len().max(1) as f64,
        fps,
        ms_per_frame: 1e3 / fps,
        frames: bench.frames.max(1),
        batches: bench.batches.max(1),
    })
}
