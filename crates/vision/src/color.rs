//! Finding an object in an RGB-D image by its colour: the pixels whose chromaticity
//! (colour with brightness divided out, so shading does not matter) is near the
//! object's and that have a depth are back-projected through the camera's lens into the
//! world, and their centroid is the object's position — the centre of its visible
//! surface. Not for the loop thread: it reads a whole image.

use embody_hal::{Image, Intrinsics, Timestamp};
use embody_model::spatial::{Transform, Vec3};

/// What to look for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorTarget {
    /// The object's colour (any brightness: only its chromaticity counts).
    pub rgb: [u8; 3],
    /// How far a pixel's chromaticity may be from it (each of `r, g, b / (r + g + b)`;
    /// 0.08 suits flat-shaded saturated colours).
    pub tolerance: f64,
    /// Fewer matching pixels than this is no detection.
    pub min_pixels: usize,
}

/// An object found in an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// The centroid of its visible surface (world, m).
    pub position: Vec3,
    /// When the image was captured.
    pub captured: Timestamp,
    /// Matching pixels with a depth.
    pub pixels: usize,
    /// Its bounding box in the image: `[u_min, v_min, u_max, v_max]` (px).
    pub bbox: [u32; 4],
    /// How much to trust it, 0–1: the share of its pixels whose depth agrees with the
    /// others' (within 5 cm of their median).
    pub confidence: f64,
}

/// `rgb`'s chromaticity; `None` for pixels too dark to have one.
fn chromaticity(rgb: [u8; 3]) -> Option<[f64; 3]> {
    let sum: f64 = rgb.iter().map(|&c| f64::from(c)).sum();
    (sum >= 30.0).then(|| rgb.map(|c| f64::from(c) / sum))
}

/// Finds `target` in `image` (which needs depth), seen through `lens` from
/// `world_from_camera` (OpenCV's camera axes); `None` when too few pixels match.
pub fn find_by_color(
    image: &Image,
    lens: &Intrinsics,
    world_from_camera: &Transform,
    target: &ColorTarget,
) -> Option<Detection> {
    let want = chromaticity(target.rgb)?;
    let width = image.width as usize;
    let mut points = Vec::new();
    let mut bbox = [u32::MAX, u32::MAX, 0, 0];
    for (i, (px, &depth)) in image.rgb.chunks_exact(3).zip(&image.depth).enumerate() {
        if depth.is_nan() || depth <= 0.0 {
            continue;
        }
        let Some(c) = chromaticity([px[0], px[1], px[2]]) else {
            continue;
        };
        if (0..3).any(|k| (c[k] - want[k]).abs() > target.tolerance) {
            continue;
        }
        let (u, v) = ((i % width) as u32, (i / width) as u32);
        let ray = lens.ray([f64::from(u), f64::from(v)]);
        points.push(Vec3::from(ray) * f64::from(depth));
        bbox = [
            bbox[0].min(u),
            bbox[1].min(v),
            bbox[2].max(u),
            bbox[3].max(v),
        ];
    }
    if points.len() < target.min_pixels.max(1) {
        return None;
    }
    let mut depths: Vec<f64> = points.iter().map(|p| p.z).collect();
    depths.sort_by(f64::total_cmp);
    let median = depths[depths.len() / 2];
    let agreeing = depths.iter().filter(|d| (*d - median).abs() < 0.05).count();
    let centroid = points.iter().sum::<Vec3>() / points.len() as f64;
    Some(Detection {
        position: world_from_camera.transform_point(&centroid),
        captured: image.captured,
        pixels: points.len(),
        bbox,
        confidence: agreeing as f64 / points.len() as f64,
    })
}
