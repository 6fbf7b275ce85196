//! Cameras beside the robot: what a camera is ([`CameraInfo`]: image size, rate,
//! pinhole [`Intrinsics`] with Brown–Conrady distortion, and where it is mounted), the
//! images it gives ([`Image`]: colour, depth, capture time on the loop's clock, a
//! counter), and the [`ImagePool`] they come from.
//!
//! A camera's thread (capture, decoding, rendering) fills a free image of the pool —
//! preallocated, so nothing is allocated per frame — and publishes it as the latest;
//! the loop and the planner take the latest without ever waiting ([`ImagePool::latest`]
//! returns the last one it saw while a publish is under way). When every image is still
//! being read the camera's frame is dropped and counted, never queued.
//!
//! Camera frame: OpenCV's — x right, y down, z forward (the optical axis), origin at the
//! centre of projection. Depth is the z of the surface point in that frame (m), as
//! depth cameras and Rerun's depth images give it; `0` where nothing was seen.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Pinhole intrinsics (pixels) with Brown–Conrady distortion, OpenCV's model: a point
/// `(x, y, z)` in the camera frame projects to `u = fx·x″ + cx`, `v = fy·y″ + cy`,
/// where `(x″, y″)` is `(x/z, y/z)` distorted by `k1, k2, k3` (radial) and `p1, p2`
/// (tangential).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intrinsics {
    /// Focal length along x (px).
    pub fx: f64,
    /// Focal length along y (px).
    pub fy: f64,
    /// Principal point x (px).
    pub cx: f64,
    /// Principal point y (px).
    pub cy: f64,
    /// `[k1, k2, p1, p2, k3]`, OpenCV's order. Default none.
    #[serde(default)]
    pub distortion: [f64; 5],
}

impl Intrinsics {
    /// An ideal pinhole of `width × height` pixels seeing `horizontal_fov_rad` across,
    /// square pixels, centred, no distortion.
    pub fn from_fov(width: u32, height: u32, horizontal_fov_rad: f64) -> Intrinsics {
        let f = f64::from(width) / 2.0 / (horizontal_fov_rad / 2.0).tan();
        Intrinsics {
            fx: f,
            fy: f,
            cx: f64::from(width) / 2.0,
            cy: f64::from(height) / 2.0,
            distortion: [0.0; 5],
        }
    }

    /// Whether it has distortion at all.
    pub fn is_distorted(&self) -> bool {
        self.distortion.iter().any(|&d| d != 0.0)
    }

    /// Where normalised coordinates `(x, y)` (`x/z`, `y/z`) land once distorted.
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        let [k1, k2, p1, p2, k3] = self.distortion;
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        (
            x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
            y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
        )
    }

    /// The pixel `[u, v]` a camera-frame point projects to; `None` behind the camera
    /// (`z ≤ 0`).
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        if p[2].is_nan() || p[2] <= 0.0 {
            return None;
        }
        let (x, y) = self.distort(p[0] / p[2], p[1] / p[2]);
        Some([self.fx * x + self.cx, self.fy * y + self.cy])
    }

    /// The ray through pixel `[u, v]`: the camera-frame direction with `z = 1`, the
    /// distortion undone by Newton's method (exact to 1e-12 where the lens model is
    /// invertible).
    pub fn ray(&self, pixel: [f64; 2]) -> [f64; 3] {
        let (xd, yd) = (
            (pixel[0] - self.cx) / self.fx,
            (pixel[1] - self.cy) / self.fy,
        );
        let (mut x, mut y) = (xd, yd);
        if self.is_distorted() {
            const H: f64 = 1e-7;
            for _ in 0..30 {
                let (fx, fy) = self.distort(x, y);
                let (ex, ey) = (fx - xd, fy - yd);
                if ex.abs().max(ey.abs()) < 1e-14 {
                    break;
                }
                // The Jacobian by central differences, then one Newton step.
                let (ax, ay) = self.distort(x + H, y);
                let (bx, by) = self.distort(x - H, y);
                let (cx, cy) = self.distort(x, y + H);
                let (dx, dy) = self.distort(x, y - H);
                let (j11, j21) = ((ax - bx) / (2.0 * H), (ay - by) / (2.0 * H));
                let (j12, j22) = ((cx - dx) / (2.0 * H), (cy - dy) / (2.0 * H));
                let det = j11 * j22 - j12 * j21;
                if det.abs() < 1e-12 {
                    break;
                }
                x -= (j22 * ex - j12 * ey) / det;
                y -= (j11 * ey - j21 * ex) / det;
            }
        }
        [x, y, 1.0]
    }

    /// Checks the numbers: positive finite focal lengths, finite centre and distortion.
    pub fn check(&self) -> Result<(), String> {
        let finite = [self.cx, self.cy]
            .iter()
            .chain(&self.distortion)
            .all(|v| v.is_finite());
        if !(self.fx.is_finite() && self.fx > 0.0 && self.fy.is_finite() && self.fy > 0.0) {
            return Err(format!(
                "focal lengths must be positive pixels, not fx {} fy {}",
                self.fx, self.fy
            ));
        }
        if !finite {
            return Err("the principal point and distortion must be finite".into());
        }
        Ok(())
    }
}

/// Where a camera is: on a robot frame (a URDF link or frame) at an offset, or fixed in
/// the world. The offset places the camera frame (OpenCV's axes) in that frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Mount {
    /// On the robot: frame `frame`, then `xyz` (m) and `rpy` (rad).
    Frame {
        /// A URDF link or frame name.
        frame: String,
        /// Offset (m).
        #[serde(default)]
        xyz: [f64; 3],
        /// Rotation, roll–pitch–yaw (rad).
        #[serde(default)]
        rpy: [f64; 3],
    },
    /// Fixed in the world at `xyz` (m), turned by `rpy` (rad).
    World {
        /// Position (m).
        xyz: [f64; 3],
        /// Rotation, roll–pitch–yaw (rad).
        #[serde(default)]
        rpy: [f64; 3],
    },
}

impl Mount {
    /// Fixed in the world at `pose` (world from camera).
    pub fn in_world(pose: &embody_model::spatial::Transform) -> Mount {
        let (r, p, y) = nalgebra::Rotation3::from_matrix_unchecked(pose.rotation).euler_angles();
        Mount::World {
            xyz: pose.translation.into(),
            rpy: [r, p, y],
        }
    }
}

/// What a camera is; fixed for its lifetime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    /// Its name (`wrist`, `head`, `overhead`).
    pub name: String,
    /// Image width (px).
    pub width: u32,
    /// Image height (px).
    pub height: u32,
    /// Frames per second it aims at.
    pub rate_hz: f64,
    /// Whether its images carry depth.
    pub depth: bool,
    /// Its lens.
    pub intrinsics: Intrinsics,
    /// Where it is.
    pub mount: Mount,
}

impl CameraInfo {
    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// One image: RGB (8 bits a channel, row-major, `width × height × 3`) and, for a depth
/// camera, depth (m, `width × height`; 0 where nothing was seen).
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Frames this camera has published before this one.
    pub counter: u64,
    /// When it was captured, on the loop's clock.
    pub captured: Timestamp,
    /// Width (px).
    pub width: u32,
    /// Height (px).
    pub height: u32,
    /// Colour.
    pub rgb: Vec<u8>,
    /// Depth, empty without.
    pub depth: Vec<f32>,
    /// Where the camera was when it captured the image, when it knows: world from
    /// camera, `x y z qx qy qz qw` (OpenCV's camera axes).
    pub pose: Option<[f64; 7]>,
}

impl Image {
    /// A black image of `info`'s size (with depth when it has it).
    pub fn blank(info: &CameraInfo) -> Image {
        Image {
            counter: 0,
            captured: Timestamp::from_nanos(0),
            width: info.width,
            height: info.height,
            rgb: vec![0; 3 * info.pixels()],
            depth: if info.depth {
                vec![0.0; info.pixels()]
            } else {
                Vec::new()
            },
            pose: None,
        }
    }

    /// The RGB of pixel `(u, v)`.
    pub fn rgb_at(&self, u: u32, v: u32) -> Option<[u8; 3]> {
        let i = 3 * (v as usize * self.width as usize + u as usize);
        (u < self.width).then_some(())?;
        self.rgb.get(i..i + 3).map(|p| [p[0], p[1], p[2]])
    }

    /// The depth of pixel `(u, v)` (m).
    pub fn depth_at(&self, u: u32, v: u32) -> Option<f32> {
        (u < self.width).then_some(())?;
        self.depth
            .get(v as usize * self.width as usize + u as usize)
            .copied()
    }
}

/// A camera's preallocated images: its thread fills a free one ([`ImagePool::fill`])
/// and it becomes the latest; readers take the latest ([`ImagePool::latest`]) without
/// waiting. Cheap to clone: clones share the pool.
#[derive(Clone, Debug)]
pub struct ImagePool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    images: Vec<Mutex<Arc<Image>>>,
    latest: Mutex<Option<Arc<Image>>>,
    published: std::sync::atomic::AtomicU64,
    dropped: std::sync::atomic::AtomicU64,
}

impl ImagePool {
    /// `count` images of `info`'s size (at least 3: one being filled, the latest, one
    /// being read).
    pub fn new(info: &CameraInfo, count: usize) -> ImagePool {
        let images = (0..count.max(3))
            .map(|_| Mutex::new(Arc::new(Image::blank(info))))
            .collect();
        ImagePool {
            inner: Arc::new(PoolInner {
                images,
                latest: Mutex::new(None),
                published: 0.into(),
                dropped: 0.into(),
            }),
        }
    }

    /// Fills a free image with `fill` (it is given the image to overwrite) and publishes
    /// it as the latest, captured at `captured`; `false` (and the frame counted as
    /// dropped) when every image is still held by a reader. For the camera's thread.
    pub fn fill(&self, captured: Timestamp, fill: impl FnOnce(&mut Image)) -> bool {
        use std::sync::atomic::Ordering;
        for slot in &self.inner.images {
            let Ok(mut held) = slot.try_lock() else {
                continue;
            };
            // Free when only the pool holds it (not the latest, nor a reader's).
            let Some(image) = Arc::get_mut(&mut held) else {
                continue;
            };
            image.counter = self.inner.published.load(Ordering::Relaxed);
            image.captured = captured;
            fill(image);
            let done = Arc::clone(&held);
            drop(held);
            if let Ok(mut latest) = self.inner.latest.lock() {
                *latest = Some(done);
            }
            self.inner.published.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// The latest image, without waiting: `None` before the first, or while the camera
    /// is publishing (the caller keeps the one it has).
    pub fn latest(&self) -> Option<Arc<Image>> {
        self.inner.latest.try_lock().ok()?.clone()
    }

    /// Images published so far.
    pub fn published(&self) -> u64 {
        self.inner
            .published
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Frames dropped because every image was held.
    pub fn dropped(&self) -> u64 {
        self.inner
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A camera as the session sees it: what it is, and its images.
pub trait Camera: Send {
    /// What it is.
    fn info(&self) -> &CameraInfo;

    /// Its images (the latest without waiting).
    fn images(&self) -> &ImagePool;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> CameraInfo {
        CameraInfo {
            name: "test".into(),
            width: 64,
            height: 48,
            rate_hz: 30.0,
            depth: true,
            intrinsics: Intrinsics::from_fov(64, 48, 1.0),
            mount: Mount::World {
                xyz: [0.0; 3],
                rpy: [0.0; 3],
            },
        }
    }

    #[test]
    fn a_pixel_s_ray_projects_back_onto_it_with_distortion() {
        let mut k = Intrinsics::from_fov(640, 480, 1.2);
        k.distortion = [-0.28, 0.07, 0.001, -0.0005, -0.01];
        for (u, v) in [(0.0, 0.0), (320.0, 240.0), (639.0, 479.0), (100.0, 400.0)] {
            let r = k.ray([u, v]);
            let back = k.project([2.0 * r[0], 2.0 * r[1], 2.0]).expect("in front");
            assert!(
                (back[0] - u).abs() < 1e-6 && (back[1] - v).abs() < 1e-6,
                "({u}, {v}) → {r:?} → {back:?}"
            );
        }
        assert_eq!(k.project([0.0, 0.0, -1.0]), None);
    }

    #[test]
    fn the_pool_gives_the_latest_and_never_overwrites_what_is_read() {
        let pool = ImagePool::new(&info(), 3);
        assert!(pool.latest().is_none());
        let fill = |k: u8| pool.fill(Timestamp::from_nanos(u64::from(k)), |im| im.rgb[0] = k);
        assert!(fill(1));
        let a = pool.latest().expect("latest");
        assert!(fill(2));
        let b = pool.latest().expect("latest");
        assert!(fill(3));
        // Three images: two held by readers, one the latest — none free, so the
        // frame is dropped and nothing a reader holds is written.
        assert!(!fill(4));
        assert_eq!(pool.dropped(), 1);
        assert_eq!((a.counter, a.rgb[0], b.counter, b.rgb[0]), (0, 1, 1, 2));
        let latest = pool.latest().expect("latest");
        assert_eq!(
            (latest.counter, latest.rgb[0], latest.captured),
            (2, 3, Timestamp::from_nanos(3))
        );
        drop((a, latest));
        // A reader let go: its image takes the next frame.
        assert!(fill(5));
        let latest = pool.latest().expect("latest");
        assert_eq!((latest.counter, latest.rgb[0]), (3, 5));
        assert_eq!(b.rgb[0], 2);
    }
}
