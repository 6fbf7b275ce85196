//! A CPU rasterizer for simulated cameras: triangle meshes with flat colours, lit by one
//! directional light and an ambient term, drawn into an RGB image and a depth buffer
//! through an ideal pinhole.
//!
//! Why the CPU: the scenes are a robot's primitives and meshes, a table and a few
//! objects — thousands of triangles — and one core fills 640×480 with them in a few
//! milliseconds (`embody bench camera`), deterministic to the bit, with no GPU, driver or
//! window; a GPU API on Mesa's software Vulkan would rasterize on the same CPU behind a
//! driver. How: each triangle is moved into the camera frame (OpenCV's axes), clipped at
//! the near plane, projected, and scanned over its bounding box with edge functions;
//! `1/z` is interpolated linearly in the image, which makes depth exact for planar
//! triangles. Pixel `(u, v)`'s centre is at image coordinates `(u, v)`, as OpenCV's.
//! Distortion is not drawn: a distorted camera's renderer sees its ideal pinhole.

use std::sync::Arc;

use embody_hal::{Image, Intrinsics};
use embody_model::spatial::{Transform, Vec3};
use parry3d_f64::shape::{Ball, Capsule, ConvexPolyhedron, Cuboid, Cylinder};

/// A triangle mesh in its own frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriMesh {
    /// Corners (m).
    pub vertices: Vec<Vec3>,
    /// Triangles, as indices into `vertices`.
    pub triangles: Vec<[u32; 3]>,
}

/// Facets around a round shape.
const ROUND: u32 = 24;

impl TriMesh {
    /// parry's triangulation, its long axis (y) turned onto z as ours is when `y_to_z`.
    fn of_parry(parts: (Vec<parry3d_f64::math::Vector>, Vec<[u32; 3]>), y_to_z: bool) -> TriMesh {
        let (points, triangles) = parts;
        let vertices = (points.iter())
            .map(|p| match y_to_z {
                true => Vec3::new(p.x, -p.z, p.y),
                false => Vec3::new(p.x, p.y, p.z),
            })
            .collect();
        TriMesh {
            vertices,
            triangles,
        }
    }

    /// A box of full sides `size`, centred.
    pub fn cuboid(size: [f64; 3]) -> TriMesh {
        let half = parry3d_f64::math::Vector::new(size[0] / 2.0, size[1] / 2.0, size[2] / 2.0);
        TriMesh::of_parry(Cuboid::new(half).to_trimesh(), false)
    }

    /// A sphere of `radius`, centred.
    pub fn sphere(radius: f64) -> TriMesh {
        TriMesh::of_parry(Ball::new(radius).to_trimesh(ROUND, ROUND / 2), false)
    }

    /// A capsule: caps of `radius` whose centres are `length` apart along z.
    pub fn capsule(radius: f64, length: f64) -> TriMesh {
        let capsule = Capsule::new_y(length / 2.0, radius);
        TriMesh::of_parry(capsule.to_trimesh(ROUND, ROUND / 2), true)
    }

    /// A cylinder of `radius` and `length` along z, centred, with its caps.
    pub fn cylinder(radius: f64, length: f64) -> TriMesh {
        TriMesh::of_parry(Cylinder::new(length / 2.0, radius).to_trimesh(ROUND), true)
    }

    /// A convex hull's surface.
    pub fn hull(hull: &ConvexPolyhedron) -> TriMesh {
        let (points, triangles) = hull.to_trimesh();
        TriMesh {
            vertices: points.iter().map(|p| Vec3::new(p.x, p.y, p.z)).collect(),
            triangles,
        }
    }

    /// A flat rectangle of `tiles × tiles` tiles of `tile` (m) each, in the z = 0 plane
    /// facing +z, centred; every other tile in `odd` (a checkerboard as two meshes).
    pub fn checkerboard(tiles: usize, tile: f64) -> (TriMesh, TriMesh) {
        TriMesh::grid(tiles, tile, |i, j| (i + j) % 2 == 0)
    }

    /// A flat square of `tiles × tiles` tiles of `tile` (m) each, in the z = 0 plane
    /// facing +z, centred: the tiles `pick(i, j)` takes (`i` along x, `j` along y, from
    /// the −x −y corner) in the first mesh, the others in the second.
    pub fn grid(
        tiles: usize,
        tile: f64,
        pick: impl Fn(usize, usize) -> bool,
    ) -> (TriMesh, TriMesh) {
        let mut picked = TriMesh::default();
        let mut others = TriMesh::default();
        let origin = -(tiles as f64) * tile / 2.0;
        for i in 0..tiles {
            for j in 0..tiles {
                let mesh = if pick(i, j) { &mut picked } else { &mut others };
                let base = mesh.vertices.len() as u32;
                let (x, y) = (origin + i as f64 * tile, origin + j as f64 * tile);
                for (dx, dy) in [(0.0, 0.0), (tile, 0.0), (tile, tile), (0.0, tile)] {
                    mesh.vertices.push(Vec3::new(x + dx, y + dy, 0.0));
                }
                mesh.triangles.push([base, base + 1, base + 2]);
                mesh.triangles.push([base, base + 2, base + 3]);
            }
        }
        (picked, others)
    }
}

/// Something to draw: a mesh, where it is (world from mesh) and its colour (linear,
/// 0–1).
#[derive(Clone, Debug)]
pub struct Drawable {
    /// The mesh.
    pub mesh: Arc<TriMesh>,
    /// World from mesh.
    pub pose: Transform,
    /// Its colour.
    pub color: [f32; 3],
}

/// How a scene is lit and what is behind it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lighting {
    /// Direction the light travels (world), any length.
    pub direction: Vec3,
    /// Share of a colour seen without direct light.
    pub ambient: f32,
    /// Colour where nothing is (0–1).
    pub background: [f32; 3],
}

/// The light a scene's cameras see it in, as a scene file gives it (`[environment.light]`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Light {
    /// Direction the light travels (world), any length. Default `[0.3, 0.2, -1]`.
    pub direction: [f64; 3],
    /// Share of a colour seen without direct light, 0–1. Default 0.35.
    pub ambient: f64,
    /// Drawn afresh for each run's seed ([`crate::Environment::placed`]). Default none.
    pub random: Option<RandomLight>,
}

/// How a light varies from seed to seed, each drawn uniformly within its range: its
/// direction turned about the vertical by `yaw_rad`, its ambient share taken from
/// `ambient`. A range left out is no change.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomLight {
    /// Turn of the direction about the vertical (rad).
    pub yaw_rad: Option<[f64; 2]>,
    /// The ambient share.
    pub ambient: Option<[f64; 2]>,
}

impl Default for Light {
    fn default() -> Self {
        let lighting = Lighting::default();
        Light {
            direction: [
                lighting.direction.x,
                lighting.direction.y,
                lighting.direction.z,
            ],
            ambient: f64::from(lighting.ambient),
            random: None,
        }
    }
}

impl Light {
    /// Problems with its numbers: the key below `light` and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        let length = Vec3::from(self.direction).norm();
        if !(length.is_finite() && length > 1e-9) {
            return Err((
                "direction".into(),
                "must be a finite, non-zero vector".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.ambient) {
            return Err(("ambient".into(), format!("{} is outside 0–1", self.ambient)));
        }
        let random = self.random.unwrap_or_default();
        for (key, range, lo_max, hi_max) in [
            (
                "random.yaw_rad",
                random.yaw_rad,
                -std::f64::consts::PI,
                std::f64::consts::PI,
            ),
            ("random.ambient", random.ambient, 0.0, 1.0),
        ] {
            if let Some([lo, hi]) = range
                && !(lo.is_finite() && hi.is_finite() && lo <= hi && lo >= lo_max && hi <= hi_max)
            {
                return Err((
                    key.into(),
                    format!("[{lo}, {hi}]: a range from low to high within [{lo_max}, {hi_max}]"),
                ));
            }
        }
        Ok(())
    }

    /// This light with its `random` ranges drawn by `draw` (low, high → a value).
    pub fn drawn(&self, draw: &mut dyn FnMut([f64; 2]) -> f64) -> Light {
        let Some(random) = self.random else {
            return *self;
        };
        let mut light = *self;
        if let Some(range) = random.yaw_rad {
            let (s, c) = draw(range).sin_cos();
            let [x, y, z] = self.direction;
            light.direction = [c * x - s * y, s * x + c * y, z];
        }
        if let Some(range) = random.ambient {
            light.ambient = draw(range);
        }
        light
    }

    /// The renderer's lighting.
    pub fn lighting(&self) -> Lighting {
        Lighting {
            direction: Vec3::from(self.direction),
            ambient: self.ambient as f32,
            ..Lighting::default()
        }
    }
}

impl Default for Lighting {
    fn default() -> Self {
        Lighting {
            direction: Vec3::new(0.3, 0.2, -1.0),
            ambient: 0.35,
            background: [0.62, 0.72, 0.84],
        }
    }
}

/// Surfaces nearer than this to the camera are cut away (m).
const NEAR_M: f64 = 0.01;

/// Draws scenes into images of one size through one lens. Holds its own depth buffer,
/// sized once.
#[derive(Clone, Debug)]
pub struct Rasterizer {
    width: u32,
    height: u32,
    lens: Intrinsics,
    lighting: Lighting,
    zbuffer: Vec<f32>,
}

impl Rasterizer {
    /// A rasterizer for `width × height` images through `lens` (its distortion is not
    /// drawn).
    pub fn new(width: u32, height: u32, lens: Intrinsics, lighting: Lighting) -> Rasterizer {
        Rasterizer {
            width,
            height,
            lens,
            lighting,
            zbuffer: vec![0.0; width as usize * height as usize],
        }
    }

    /// Draws `items` as seen from `world_from_camera` (OpenCV's camera axes) into
    /// `image` (its size must be this rasterizer's): colour, and depth when `image` has
    /// it. Returns the triangles drawn.
    pub fn render(
        &mut self,
        world_from_camera: &Transform,
        items: &[Drawable],
        image: &mut Image,
    ) -> usize {
        let pixels = self.width as usize * self.height as usize;
        assert!(
            image.rgb.len() == 3 * pixels
                && (image.depth.is_empty() || image.depth.len() == pixels),
            "the image is {}×{}, the rasterizer {}×{}",
            image.width,
            image.height,
            self.width,
            self.height
        );
        self.zbuffer.fill(f32::INFINITY);
        let bg = self.lighting.background.map(to_byte);
        for px in image.rgb.chunks_exact_mut(3) {
            px.copy_from_slice(&bg);
        }
        let camera_from_world = world_from_camera.inverse();
        // The light's direction in the camera frame: each triangle is shaded there.
        let light = camera_from_world.rotation * -self.lighting.direction.normalize();
        let mut drawn = 0;
        for item in items {
            let camera_from_mesh = camera_from_world.mul(&item.pose);
            for t in &item.mesh.triangles {
                let corners =
                    t.map(|i| camera_from_mesh.transform_point(&item.mesh.vertices[i as usize]));
                let normal = (corners[1] - corners[0]).cross(&(corners[2] - corners[0]));
                let Some(normal) = normal.try_normalize(1e-18) else {
                    continue;
                };
                // Lit from either side (a mesh's winding is not to be trusted): the side
                // facing the camera, at the origin.
                let n = if normal.dot(&corners[0]) > 0.0 {
                    -normal
                } else {
                    normal
                };
                let shade = self.lighting.ambient
                    + (1.0 - self.lighting.ambient) * (n.dot(&light).max(0.0) as f32);
                let color = item.color.map(|c| to_byte(c * shade));
                drawn += self.clip_and_fill(corners, color, image) as usize;
            }
        }
        if !image.depth.is_empty() {
            for (d, z) in image.depth.iter_mut().zip(&self.zbuffer) {
                *d = if z.is_finite() { *z } else { 0.0 };
            }
        }
        drawn
    }

    /// Clips a camera-frame triangle at the near plane and fills what is left; whether
    /// anything was.
    fn clip_and_fill(&mut self, corners: [Vec3; 3], color: [u8; 3], image: &mut Image) -> bool {
        let behind = corners.iter().filter(|c| c.z < NEAR_M).count();
        match behind {
            0 => self.fill(corners, color, image),
            3 => false,
            _ => {
                // Sutherland–Hodgman against z = near: a triangle or a quad.
                let mut polygon: [Vec3; 4] = [Vec3::zeros(); 4];
                let mut n = 0;
                for i in 0..3 {
                    let (a, b) = (corners[i], corners[(i + 1) % 3]);
                    if a.z >= NEAR_M {
                        polygon[n] = a;
                        n += 1;
                    }
                    if (a.z >= NEAR_M) != (b.z >= NEAR_M) {
                        let s = (NEAR_M - a.z) / (b.z - a.z);
                        polygon[n] = a + (b - a) * s;
                        n += 1;
                    }
                }
                let first = self.fill([polygon[0], polygon[1], polygon[2]], color, image);
                let second =
                    n == 4 && self.fill([polygon[0], polygon[2], polygon[3]], color, image);
                first || second
            }
        }
    }

    /// Scans one triangle in front of the near plane; whether it covered a pixel.
    fn fill(&mut self, corners: [Vec3; 3], color: [u8; 3], image: &mut Image) -> bool {
        let k = &self.lens;
        let screen = corners.map(|c| (k.fx * c.x / c.z + k.cx, k.fy * c.y / c.z + k.cy, 1.0 / c.z));
        let [(x0, y0, w0), (x1, y1, w1), (x2, y2, w2)] = screen;
        let area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
        if area.abs() < 1e-12 {
            return false;
        }
        let (w, h) = (self.width as f64, self.height as f64);
        let min_x = x0.min(x1).min(x2).ceil().max(0.0);
        let max_x = x0.max(x1).max(x2).floor().min(w - 1.0);
        let min_y = y0.min(y1).min(y2).ceil().max(0.0);
        let max_y = y0.max(y1).max(y2).floor().min(h - 1.0);
        if min_x > max_x || min_y > max_y {
            return false;
        }
        let inverse_area = 1.0 / area;
        // Edge functions, each the barycentric weight of the opposite corner times the
        // area; stepped along a row by their x coefficient.
        let edge = |ax: f64, ay: f64, bx: f64, by: f64, px: f64, py: f64| {
            (bx - ax) * (py - ay) - (px - ax) * (by - ay)
        };
        let mut covered = false;
        let row = self.width as usize;
        for y in min_y as usize..=max_y as usize {
            let py = y as f64;
            let mut e0 = edge(x1, y1, x2, y2, min_x, py);
            let mut e1 = edge(x2, y2, x0, y0, min_x, py);
            let mut e2 = edge(x0, y0, x1, y1, min_x, py);
            let (d0, d1, d2) = (-(y2 - y1), -(y0 - y2), -(y1 - y0));
            for x in min_x as usize..=max_x as usize {
                let (b0, b1, b2) = (e0 * inverse_area, e1 * inverse_area, e2 * inverse_area);
                if b0 >= 0.0 && b1 >= 0.0 && b2 >= 0.0 {
                    let z = (1.0 / (b0 * w0 + b1 * w1 + b2 * w2)) as f32;
                    let i = y * row + x;
                    if z < self.zbuffer[i] {
                        self.zbuffer[i] = z;
                        image.rgb[3 * i..3 * i + 3].copy_from_slice(&color);
                        covered = true;
                    }
                }
                e0 += d0;
                e1 += d1;
                e2 += d2;
            }
        }
        covered
    }
}

/// A 0–1 colour channel as a byte (gamma 2.2).
fn to_byte(c: f32) -> u8 {
    (c.clamp(0.0, 1.0).powf(1.0 / 2.2) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mesh's extent along each axis.
    fn extent(mesh: &TriMesh) -> [f64; 3] {
        [0, 1, 2].map(|i| {
            let values = mesh.vertices.iter().map(|v| v[i]);
            values.clone().fold(f64::MIN, f64::max) - values.fold(f64::MAX, f64::min)
        })
    }

    #[test]
    fn shapes_have_their_sizes_along_our_axes() {
        let close = |a: [f64; 3], b: [f64; 3]| (0..3).all(|i| (a[i] - b[i]).abs() < 1e-3);
        let e = extent(&TriMesh::cuboid([0.1, 0.2, 0.3]));
        assert!(close(e, [0.1, 0.2, 0.3]), "{e:?}");
        let e = extent(&TriMesh::cylinder(0.05, 0.4));
        assert!(
            close(e, [0.1, 0.1, 0.4]),
            "the cylinder lies along z: {e:?}"
        );
        let e = extent(&TriMesh::capsule(0.05, 0.2));
        assert!(close(e, [0.1, 0.1, 0.3]), "the capsule lies along z: {e:?}");
        let e = extent(&TriMesh::sphere(0.05));
        assert!(close(e, [0.1, 0.1, 0.1]), "{e:?}");
    }
}
