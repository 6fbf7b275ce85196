//! AprilTag 36h11: finding tags in a colour image and their 6-DoF pose. Detection and
//! decoding are `kornia-apriltag`'s; the pose is ours: the four corners, undistorted
//! through the camera's lens, give a plane-to-image homography whose decomposition
//! starts a Gauss–Newton fit of the corners' reprojection through the full lens model.
//! Also the printed pattern of each tag, for drawing them in the simulator.
//!
//! A tag's frame is OpenCV's (ArUco's): origin at the tag's centre, x to the right and
//! y up as printed, z out of the printed face; its size is the side of its black
//! square. Corners are listed as OpenCV lists them: top-left, top-right, bottom-right,
//! bottom-left as printed. Not for the loop thread: it reads a whole image.

use embody_hal::{Image, Intrinsics, Timestamp};
use embody_model::spatial::{Mat3, Transform, Vec3};
use kornia_apriltag::family::{TagFamily, TagFamilyKind};
use kornia_apriltag::{AprilTagDecoder, DecodeTagsConfig};
use kornia_image::ImageSize;
use kornia_image::allocator::CpuAllocator;
use nalgebra::{SMatrix, SVector, UnitQuaternion};

/// The number of tags in the 36h11 family (ids `0..587`).
pub const TAG36H11_COUNT: u16 = 587;

/// Cells across a printed tag: 6 data bits, a black border and a white ring each side.
pub const TAG_CELLS: usize = 10;

/// The cells across the black square (the tag's size).
pub const TAG_BLACK_CELLS: usize = 8;

/// Where each corner sits in the tag's own coordinates (x right, y down as printed,
/// the black square spanning −1..1), in OpenCV's order.
const CORNERS_TAG: [[f64; 2]; 4] = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]];

/// Why tags cannot be looked for.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// The detector could not be set up for this image size.
    #[error("a {width}×{height} image: {reason}")]
    Size {
        /// Image width (px).
        width: u32,
        /// Image height (px).
        height: u32,
        /// Why.
        reason: String,
    },
    /// A tag size that is no size.
    #[error("a tag size of {0} m: it must be positive and finite")]
    TagSize(f64),
}

/// A tag found in an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TagDetection {
    /// Its id in the 36h11 family.
    pub id: u16,
    /// Its black square's corners in the image (px), top-left, top-right,
    /// bottom-right, bottom-left as printed.
    pub corners: [[f64; 2]; 4],
    /// The tag in the camera's frame (OpenCV's axes).
    pub camera_from_tag: Transform,
    /// The tag in the world.
    pub world_from_tag: Transform,
    /// When the image was captured.
    pub captured: Timestamp,
    /// RMS distance between the corners and the pose's reprojection of them (px).
    pub reprojection_px: f64,
    /// Bits that had to be corrected to decode it.
    pub hamming: u8,
    /// How much to trust it, 0–1: the decoder's margin between its bits' brightness and
    /// the black/white threshold, as a share of the full grey range.
    pub confidence: f64,
}

/// The printed pattern of 36h11 tag `id`: `TAG_CELLS` rows from the top as printed,
/// each `TAG_CELLS` cells from the left, `true` where black; `None` for an id the
/// family does not have.
pub fn tag36h11_cells(id: u16) -> Option<[[bool; TAG_CELLS]; TAG_CELLS]> {
    let family = TagFamily::tag36_h11();
    let code = *family.code_data.get(usize::from(id))?;
    let mut cells = [[false; TAG_CELLS]; TAG_CELLS];
    // The black square: cells 1..=8 of the 10, its data bits white where set.
    for row in cells.iter_mut().take(9).skip(1) {
        for cell in row.iter_mut().take(9).skip(1) {
            *cell = true;
        }
    }
    for i in 0..family.nbits {
        let (x, y) = (family.bit_x[i], family.bit_y[i]);
        let white = code >> (family.nbits - 1 - i) & 1 == 1;
        // Bit coordinates count from the black square's corner; the ring adds one.
        cells[(y + 1) as usize][(x + 1) as usize] = !white;
    }
    Some(cells)
}

/// Finds 36h11 tags in images of one size, reusing its buffers.
pub struct TagDetector {
    decoder: AprilTagDecoder,
    width: u32,
    height: u32,
}

impl TagDetector {
    /// A detector for `width`×`height` images.
    pub fn new(width: u32, height: u32) -> Result<TagDetector, TagError> {
        let size_error = |reason: String| TagError::Size {
            width,
            height,
            reason,
        };
        if width < 16 || height < 16 {
            return Err(size_error("too small to hold a tag".into()));
        }
        let mut config = DecodeTagsConfig::new(vec![TagFamilyKind::Tag36H11]);
        // Full resolution: the corners are what the pose is made of.
        config.downscale_factor = 1;
        let size = ImageSize {
            width: width as usize,
            height: height as usize,
        };
        let decoder = AprilTagDecoder::new(config, size).map_err(|e| size_error(e.to_string()))?;
        Ok(TagDetector {
            decoder,
            width,
            height,
        })
    }

    /// The tags in `image` seen through `lens` from `world_from_camera` (OpenCV's
    /// camera axes), each `size_m(id)` across its black square: tags it gives no size
    /// are left out, the best of any id seen twice is kept. With a depth image, of a
    /// tag's two poses the one whose face lies nearer the plane of the depth points inside
    /// it is taken, turned onto that plane and placed where the depth puts the tag's
    /// centre (the corners then give only its turn in the plane); without depth, the
    /// better reprojecting.
    /// An image of another size than the detector's finds nothing.
    pub fn detect(
        &mut self,
        image: &Image,
        lens: &Intrinsics,
        world_from_camera: &Transform,
        size_m: &dyn Fn(u16) -> Option<f64>,
    ) -> Result<Vec<TagDetection>, TagError> {
        if image.width != self.width
            || image.height != self.height
            || image.rgb.len() != 3 * image.width as usize * image.height as usize
        {
            return Ok(Vec::new());
        }
        let gray: Vec<u8> = image
            .rgb
            .chunks_exact(3)
            .map(|p| {
                let luma =
                    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
                luma.round().clamp(0.0, 255.0) as u8
            })
            .collect();
        let size = ImageSize {
            width: self.width as usize,
            height: self.height as usize,
        };
        let gray = kornia_image::Image::<u8, 1, CpuAllocator>::new(size, gray, CpuAllocator)
            .map_err(|e| TagError::Size {
                width: self.width,
                height: self.height,
                reason: e.to_string(),
            })?;
        self.decoder.clear();
        let found = self.decoder.decode(&gray).unwrap_or_default();
        let mut tags: Vec<TagDetection> = Vec::new();
        for d in found {
            let Some(size_m) = size_m(d.id) else {
                continue;
            };
            if !(size_m.is_finite() && size_m > 0.0) {
                return Err(TagError::TagSize(size_m));
            }
            let corners = CORNERS_TAG.map(|[x, y]| {
                let p = d.quad.homography_project(x as f32, y as f32);
                [f64::from(p.x), f64::from(p.y)]
            });
            let poses = tag_poses(&corners, lens, size_m);
            // With depth: the pose whose face lies as the depth image's does, at the
            // depth the image measures where the tag's centre is.
            let plane = depth_plane(image, lens, &corners);
            let by_depth = plane.and_then(|(n, on)| {
                let best = poses.iter().max_by(|a, b| {
                    let along = |p: &Transform| p.rotation.column(2).dot(&n);
                    along(&a.0).total_cmp(&along(&b.0))
                })?;
                let centre = d.quad.homography_project(0.0, 0.0);
                let ray = Vec3::from(lens.ray([f64::from(centre.x), f64::from(centre.y)]));
                let along = n.dot(&on) / n.dot(&ray);
                let at = (along.is_finite() && along > 0.0).then(|| ray * along)?;
                // Its face turned onto the measured plane; its turn in the plane the
                // corners'.
                let face = best.0.rotation.column(2).into_owned();
                let onto = UnitQuaternion::rotation_between(&face, &n)?;
                let rotation = onto.to_rotation_matrix().matrix() * best.0.rotation;
                Some((Transform::new(rotation, at), best.1))
            });
            let Some((camera_from_tag, reprojection_px)) = by_depth.or(poses.first().copied())
            else {
                continue;
            };
            let detection = TagDetection {
                id: d.id,
                corners,
                camera_from_tag,
                world_from_tag: world_from_camera.mul(&camera_from_tag),
                captured: image.captured,
                reprojection_px,
                hamming: d.hamming,
                confidence: (f64::from(d.decision_margin) / 255.0).clamp(0.0, 1.0),
            };
            match tags.iter_mut().find(|t| t.id == d.id) {
                Some(t) if t.confidence < detection.confidence => *t = detection,
                Some(_) => {}
                None => tags.push(detection),
            }
        }
        tags.sort_by_key(|t| t.id);
        Ok(tags)
    }
}

/// The corners of a tag `size_m` across in its own frame (m), in OpenCV's order.
pub fn tag_corners(size_m: f64) -> [Vec3; 4] {
    CORNERS_TAG.map(|[x, y]| Vec3::new(x * size_m / 2.0, -y * size_m / 2.0, 0.0))
}

/// The pose of a tag `size_m` across whose corners (OpenCV's order) are at `corners`
/// in the image seen through `lens`, and the RMS reprojection error (px); `None` when
/// the corners do not make a tag in front of the camera. The better reprojecting of
/// its two poses ([`tag_poses`]).
pub fn tag_pose(
    corners: &[[f64; 2]; 4],
    lens: &Intrinsics,
    size_m: f64,
) -> Option<(Transform, f64)> {
    tag_poses(corners, lens, size_m).into_iter().next()
}

/// Both poses of a tag that fit its corners, the better reprojecting first. A small
/// square seen nearly face on has two poses that reproject almost alike, its face
/// tilted either way about the line of sight; which is right the corners alone may
/// not tell (a depth image does: [`TagDetector::detect`]).
pub fn tag_poses(corners: &[[f64; 2]; 4], lens: &Intrinsics, size_m: f64) -> Vec<(Transform, f64)> {
    let object = tag_corners(size_m);
    let rays = corners.map(|c| lens.ray(c));
    let Some(start) = planar_pose(&object, &rays) else {
        return Vec::new();
    };
    let mut poses: Vec<(Transform, f64)> = [Some(start), mirrored(&start)]
        .into_iter()
        .flatten()
        .filter_map(|start| {
            let pose = refine(start, &object, corners, lens)?;
            Some((pose, reprojection_rms(&pose, &object, corners, lens)?))
        })
        .collect();
    poses.sort_by(|a, b| a.1.total_cmp(&b.1));
    // The same minimum reached from both starts is one pose.
    if poses.len() == 2 && turned_deg(&poses[0].0, &poses[1].0) < 1.0 {
        poses.pop();
    }
    poses
}

/// The angle between two poses' rotations (degrees).
fn turned_deg(a: &Transform, b: &Transform) -> f64 {
    let cos = ((a.rotation.transpose() * b.rotation).trace() - 1.0) / 2.0;
    cos.clamp(-1.0, 1.0).acos().to_degrees()
}

/// The plane through the depth image's points inside `corners` (camera frame): its
/// normal, towards the camera, and a point on it; `None` without depth there.
fn depth_plane(image: &Image, lens: &Intrinsics, corners: &[[f64; 2]; 4]) -> Option<(Vec3, Vec3)> {
    if image.depth.len() != image.rgb.len() / 3 {
        return None;
    }
    let (lo, hi) = corners
        .iter()
        .fold(([f64::MAX; 2], [f64::MIN; 2]), |(lo, hi), c| {
            (
                [lo[0].min(c[0]), lo[1].min(c[1])],
                [hi[0].max(c[0]), hi[1].max(c[1])],
            )
        });
    let inside = |u: f64, v: f64| {
        // Same side of all four edges (the quad is convex).
        let side =
            |a: [f64; 2], b: [f64; 2]| (b[0] - a[0]) * (v - a[1]) - (b[1] - a[1]) * (u - a[0]);
        let s: Vec<f64> = (0..4)
            .map(|k| side(corners[k], corners[(k + 1) % 4]))
            .collect();
        s.iter().all(|x| *x > 0.0) || s.iter().all(|x| *x < 0.0)
    };
    let mut points = Vec::new();
    for v in (lo[1].max(0.0) as u32)..=(hi[1].min(f64::from(image.height) - 1.0) as u32) {
        for u in (lo[0].max(0.0) as u32)..=(hi[0].min(f64::from(image.width) - 1.0) as u32) {
            let (fu, fv) = (f64::from(u), f64::from(v));
            let Some(d) = image.depth_at(u, v).filter(|d| d.is_finite() && *d > 0.0) else {
                continue;
            };
            if inside(fu, fv) {
                points.push(Vec3::from(lens.ray([fu, fv])) * f64::from(d));
            }
        }
    }
    if points.len() < 12 {
        return None;
    }
    let mean = points.iter().sum::<Vec3>() / points.len() as f64;
    let spread = points.iter().fold(Mat3::zeros(), |m, p| {
        m + (p - mean) * (p - mean).transpose()
    });
    let eigen = spread.symmetric_eigen();
    let k = eigen.eigenvalues.imin();
    let normal = eigen.eigenvectors.column(k).into_owned();
    // Towards the camera.
    let normal = if normal.dot(&mean) > 0.0 {
        -normal
    } else {
        normal
    };
    Some((normal, mean))
}

/// `pose` with its face tilted the other way about the line of sight to its centre:
/// where the other pose that reprojects alike lies.
fn mirrored(pose: &Transform) -> Option<Transform> {
    let sight = pose.translation.try_normalize(1e-12)?;
    let normal = pose.rotation.column(2).into_owned();
    let other = 2.0 * normal.dot(&sight) * sight - normal;
    let turn = UnitQuaternion::rotation_between(&normal, &other)?;
    Some(Transform::new(
        turn.to_rotation_matrix().matrix() * pose.rotation,
        pose.translation,
    ))
}

/// The pose from the homography taking the plane points (z = 0) to the normalised
/// image points (`z = 1` rays): its first two columns are the rotation's, scaled.
fn planar_pose(object: &[Vec3; 4], rays: &[[f64; 3]; 4]) -> Option<Transform> {
    // h33 = 1: eight unknowns, two equations a correspondence.
    let mut a = SMatrix::<f64, 8, 8>::zeros();
    let mut b = SVector::<f64, 8>::zeros();
    for (k, (p, r)) in object.iter().zip(rays).enumerate() {
        let (x, y, u, v) = (p.x, p.y, r[0] / r[2], r[1] / r[2]);
        a.row_mut(2 * k)
            .copy_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]);
        a.row_mut(2 * k + 1)
            .copy_from_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]);
        b[2 * k] = u;
        b[2 * k + 1] = v;
    }
    let h = a.lu().solve(&b)?;
    let h1 = Vec3::new(h[0], h[3], h[6]);
    let h2 = Vec3::new(h[1], h[4], h[7]);
    let h3 = Vec3::new(h[2], h[5], 1.0);
    let mut scale = 2.0 / (h1.norm() + h2.norm());
    if !scale.is_finite() {
        return None;
    }
    // The tag is in front of the camera.
    if h3.z * scale < 0.0 {
        scale = -scale;
    }
    let (r1, r2) = (h1 * scale, h2 * scale);
    let approx = Mat3::from_columns(&[r1, r2, r1.cross(&r2)]);
    // The nearest rotation.
    let svd = approx.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let mut rotation = u * v_t;
    if rotation.determinant() < 0.0 {
        let mut u = u;
        u.column_mut(2).neg_mut();
        rotation = u * v_t;
    }
    Some(Transform::new(rotation, h3 * scale))
}

/// The corners' reprojection residuals (px) for `pose`.
fn residuals(
    pose: &Transform,
    object: &[Vec3; 4],
    corners: &[[f64; 2]; 4],
    lens: &Intrinsics,
) -> Option<SVector<f64, 8>> {
    let mut r = SVector::<f64, 8>::zeros();
    for (k, (p, c)) in object.iter().zip(corners).enumerate() {
        let q = pose.transform_point(p);
        let [u, v] = lens.project([q.x, q.y, q.z])?;
        r[2 * k] = u - c[0];
        r[2 * k + 1] = v - c[1];
    }
    Some(r)
}

fn reprojection_rms(
    pose: &Transform,
    object: &[Vec3; 4],
    corners: &[[f64; 2]; 4],
    lens: &Intrinsics,
) -> Option<f64> {
    Some((residuals(pose, object, corners, lens)?.norm_squared() / 4.0).sqrt())
}

/// `pose` moved by `delta`: a rotation vector (applied in the camera frame) and a
/// translation.
fn nudge(pose: &Transform, delta: &SVector<f64, 6>) -> Transform {
    let turn = UnitQuaternion::from_scaled_axis(Vec3::new(delta[0], delta[1], delta[2]));
    Transform::new(
        turn.to_rotation_matrix().matrix() * pose.rotation,
        pose.translation + Vec3::new(delta[3], delta[4], delta[5]),
    )
}

/// Gauss–Newton (lightly damped) on the corners' reprojection through the full lens.
fn refine(
    mut pose: Transform,
    object: &[Vec3; 4],
    corners: &[[f64; 2]; 4],
    lens: &Intrinsics,
) -> Option<Transform> {
    const STEP: f64 = 1e-7;
    let mut r = residuals(&pose, object, corners, lens)?;
    for _ in 0..20 {
        let mut jacobian = SMatrix::<f64, 8, 6>::zeros();
        for j in 0..6 {
            let mut d = SVector::<f64, 6>::zeros();
            d[j] = STEP;
            let rj = residuals(&nudge(&pose, &d), object, corners, lens)?;
            jacobian.set_column(j, &((rj - r) / STEP));
        }
        let normal = jacobian.transpose() * jacobian + SMatrix::<f64, 6, 6>::identity() * 1e-9;
        let step = -normal.cholesky()?.solve(&(jacobian.transpose() * r));
        let next = nudge(&pose, &step);
        let Some(rn) = residuals(&next, object, corners, lens) else {
            break;
        };
        if rn.norm_squared() >= r.norm_squared() {
            break;
        }
        let done = r.norm_squared() - rn.norm_squared() < 1e-16;
        pose = next;
        r = rn;
        if done {
            break;
        }
    }
    Some(pose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_have_a_black_square_in_a_white_ring() {
        let cells = tag36h11_cells(0).expect("tag 0");
        let at = |row: usize, column: usize| cells[row][column];
        for i in 0..TAG_CELLS {
            for edge in [0, TAG_CELLS - 1] {
                assert!(!at(i, edge) && !at(edge, i), "white ring at {i}");
            }
            if (1..9).contains(&i) {
                for edge in [1, 8] {
                    assert!(at(i, edge) && at(edge, i), "black border at {i}");
                }
            }
        }
        assert!(tag36h11_cells(TAG36H11_COUNT).is_none());
        assert_ne!(tag36h11_cells(1), tag36h11_cells(2));
    }

    #[test]
    fn a_pose_is_recovered_from_its_exact_corners() {
        let lens = Intrinsics {
            distortion: [-0.1, 0.02, 0.001, 0.0, 0.0],
            ..Intrinsics::from_fov(640, 480, 1.1)
        };
        let truth = Transform::new(
            *UnitQuaternion::from_euler_angles(2.7, 0.3, -0.4)
                .to_rotation_matrix()
                .matrix(),
            Vec3::new(0.05, -0.03, 0.5),
        );
        let corners = tag_corners(0.06).map(|p| {
            let q = truth.transform_point(&p);
            lens.project([q.x, q.y, q.z]).expect("in front")
        });
        let (pose, error) = tag_pose(&corners, &lens, 0.06).expect("a pose");
        assert!(error < 1e-6, "reprojection {error}");
        assert!((pose.translation - truth.translation).norm() < 1e-6);
        let turn = (pose.rotation.transpose() * truth.rotation).trace();
        assert!(turn > 3.0 - 1e-9, "rotations differ: trace {turn}");
    }
}
