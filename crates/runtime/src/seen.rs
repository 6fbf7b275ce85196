//! What a task's cameras see: each `[[seen]]` object is looked for in its camera's
//! newest image — by the AprilTag printed on it, or by its colour in RGB-D — and where
//! it was last found is what the task's steps act on (`relative_to = "object:<name>"`,
//! `wait_until = { seen = "<name>" }`). Runs on the task's thread when it polls, never
//! on the loop's; an image already looked at is not looked at again.
//!
//! ```toml
//! [[seen]]
//! name = "box"
//! camera = "overhead"
//! tag = { id = 3, size_m = 0.04 }   # or: color = [0.1, 0.2, 0.9]
//! ```

use std::sync::Arc;

use embody_hal::{CameraInfo, Image, ImagePool, Mount, Timestamp};
use embody_model::spatial::Transform;
use embody_planner::SeenObject;
use embody_vision::{ColorTarget, TagDetector, find_by_color};
use embody_viz::Sighting;
use serde::Deserialize;

/// Sightings kept for recording at most, between two drains.
const MAX_UNRECORDED: usize = 256;

/// A tag sighting whose corners the pose reprojects worse than this (px) is not used.
const MAX_REPROJECTION_PX: f64 = 2.0;

/// An object a task looks for, as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenConfig {
    /// The name steps call it by.
    pub name: String,
    /// The camera that looks for it.
    pub camera: String,
    /// The AprilTag 36h11 printed on it: its pose is the tag's.
    #[serde(default)]
    pub tag: Option<SeenTag>,
    /// Or its colour (RGB 0–1, linear, as the scene gives it): its position is the
    /// centre of its visible surface, its axes the world's.
    #[serde(default)]
    pub color: Option<[f64; 3]>,
    /// Fewer matching pixels than this is no sighting by colour. Default 30.
    #[serde(default)]
    pub min_pixels: Option<usize>,
}

/// A tag to look for.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenTag {
    /// Its 36h11 id.
    pub id: u16,
    /// The side of its black square (m).
    pub size_m: f64,
}

impl SeenConfig {
    /// Checks it against the cameras there are; `(key, reason)` when it makes no sense.
    pub fn check(&self, cameras: &[String]) -> Result<(), (String, String)> {
        let fail = |key: &str, reason: String| Err((key.to_owned(), reason));
        if self.name.is_empty() {
            return fail("name", "a seen object needs a name".into());
        }
        if !cameras.contains(&self.camera) {
            return fail(
                "camera",
                if cameras.is_empty() {
                    format!("no camera '{}': there are no [[cameras]]", self.camera)
                } else {
                    format!(
                        "no camera '{}' (cameras: {})",
                        self.camera,
                        cameras.join(", ")
                    )
                },
            );
        }
        match (&self.tag, &self.color) {
            (Some(tag), None) => {
                if tag.id >= embody_vision::tags::TAG36H11_COUNT {
                    return fail("tag", format!("id {} is not in 36h11 (0–586)", tag.id));
                }
                if !(tag.size_m.is_finite() && tag.size_m > 0.0 && tag.size_m <= 10.0) {
                    return fail("tag", format!("size_m {} must be in (0, 10] m", tag.size_m));
                }
            }
            (None, Some(c)) => {
                if !c.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)) {
                    return fail("color", "each channel must be in [0, 1]".into());
                }
            }
            _ => return fail("tag", "give a tag or a color, one of them".into()),
        }
        Ok(())
    }
}

/// A camera as the task reads it.
struct Eye {
    info: CameraInfo,
    images: ImagePool,
    /// The newest image looked at.
    last: Option<u64>,
    tags: Option<TagDetector>,
}

/// The task's seen objects and where they were last found. See the module docs.
pub struct Seeing {
    objects: Vec<(SeenConfig, usize)>,
    eyes: Vec<Eye>,
    found: Vec<Option<SeenObject>>,
    /// Sightings not yet handed on to be recorded, at their images' capture times.
    new: Vec<(f64, Sighting)>,
}

impl Seeing {
    /// Looks for `objects` through `cameras` (each object's camera is among them:
    /// [`SeenConfig::check`]; one whose camera is missing is never seen).
    pub fn new(objects: &[SeenConfig], cameras: &[(CameraInfo, ImagePool)]) -> Seeing {
        let eyes: Vec<Eye> = (cameras.iter())
            .map(|(info, images)| Eye {
                info: info.clone(),
                images: images.clone(),
                last: None,
                tags: None,
            })
            .collect();
        let objects = (objects.iter())
            .map(|o| {
                let k = eyes.iter().position(|e| e.info.name == o.camera);
                (o.clone(), k.unwrap_or(usize::MAX))
            })
            .collect::<Vec<_>>();
        Seeing {
            found: vec![None; objects.len()],
            objects,
            eyes,
            new: Vec::new(),
        }
    }

    /// The objects' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.objects.iter().map(|(o, _)| o.name.clone()).collect()
    }

    /// The sightings since the last call, each at its image's capture time (s), to
    /// record.
    pub fn drain(&mut self) -> Vec<(f64, Sighting)> {
        std::mem::take(&mut self.new)
    }

    /// Where each object found so far was last found, by name.
    pub fn poses(&self) -> Vec<(String, [f64; 7])> {
        (self.objects.iter().zip(&self.found))
            .filter_map(|((o, _), f)| Some((o.name.clone(), f.as_ref()?.pose)))
            .collect()
    }

    /// Where each object was last found, in order.
    pub fn found(&self) -> &[Option<SeenObject>] {
        &self.found
    }

    /// Looks at each camera's newest image if it is new; `now_s` is loop time when the
    /// robot's clock read `stamp_ns`, to put the images' capture times on loop time.
    pub fn update(&mut self, now_s: f64, stamp_ns: u64) {
        for (k, eye) in self.eyes.iter_mut().enumerate() {
            let Some(image) = eye.images.latest() else {
                continue;
            };
            if eye.last == Some(image.counter) {
                continue;
            }
            eye.last = Some(image.counter);
            let Some(world_from_camera) = camera_pose(&eye.info, &image) else {
                continue;
            };
            let captured_s = now_s - seconds_between(image.captured, stamp_ns);
            for ((object, camera), found) in self.objects.iter().zip(&mut self.found) {
                if *camera != k {
                    continue;
                }
                if let Some((seen, bbox)) = look_for(object, eye, &image, &world_from_camera) {
                    *found = Some(SeenObject { captured_s, ..seen });
                    // Bounded: a driver that is never asked keeps the newest.
                    if self.new.len() >= MAX_UNRECORDED {
                        self.new.remove(0);
                    }
                    self.new.push((
                        image.captured.as_secs_f64(),
                        Sighting {
                            object: object.name.clone(),
                            camera: eye.info.name.clone(),
                            pose: seen.pose,
                            bbox,
                            confidence: seen.confidence,
                        },
                    ));
                }
            }
        }
    }
}

/// Where the camera was when it took `image`: as the image says (a simulated camera
/// knows), or its world mount; `None` for a camera on the robot whose image does not
/// say (not placed yet).
fn camera_pose(info: &CameraInfo, image: &Image) -> Option<Transform> {
    match (image.pose, &info.mount) {
        (Some(p), _) => Some(Transform::from_pose(&p)),
        (None, Mount::World { xyz, rpy }) => Some(Transform::from_xyz_rpy(*xyz, *rpy)),
        (None, Mount::Frame { .. }) => None,
    }
}

/// Seconds from `captured` to `stamp_ns` (0 when the image is newer).
fn seconds_between(captured: Timestamp, stamp_ns: u64) -> f64 {
    stamp_ns.saturating_sub(captured.as_nanos()) as f64 * 1e-9
}

/// `object` in `image`, if it is there (its capture time still to be set), and its
/// box in the image (`[u_min, v_min, u_max, v_max]`, px).
fn look_for(
    object: &SeenConfig,
    eye: &mut Eye,
    image: &Arc<Image>,
    world_from_camera: &Transform,
) -> Option<(SeenObject, [f64; 4])> {
    let lens = &eye.info.intrinsics;
    if let Some(tag) = object.tag {
        if eye.tags.is_none() {
            eye.tags = TagDetector::new(eye.info.width, eye.info.height).ok();
        }
        let detector = eye.tags.as_mut()?;
        let size = |id: u16| (id == tag.id).then_some(tag.size_m);
        let found = detector
            .detect(image, lens, world_from_camera, &size)
            .ok()?;
        // A tag partly hidden (by the gripper closing on it) can still decode, its
        // corners wrong: only clean sightings count.
        let t = (found.into_iter()).find(|t| {
            t.id == tag.id && t.hamming == 0 && t.reprojection_px < MAX_REPROJECTION_PX
        })?;
        let bbox = t
            .corners
            .iter()
            .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, c| {
                [
                    b[0].min(c[0]),
                    b[1].min(c[1]),
                    b[2].max(c[0]),
                    b[3].max(c[1]),
                ]
            });
        let seen = SeenObject {
            pose: t.world_from_tag.to_pose(),
            captured_s: 0.0,
            confidence: t.confidence,
        };
        return Some((seen, bbox));
    }
    let color = object.color?;
    let target = ColorTarget {
        // As the camera encodes it (gamma 2.2).
        rgb: color.map(|c| (c.powf(1.0 / 2.2) * 255.0).round() as u8),
        tolerance: 0.08,
        min_pixels: object.min_pixels.unwrap_or(30),
    };
    let d = find_by_color(image, lens, world_from_camera, &target)?;
    let p = d.position;
    let seen = SeenObject {
        pose: [p.x, p.y, p.z, 0.0, 0.0, 0.0, 1.0],
        captured_s: 0.0,
        confidence: d.confidence,
    };
    Some((seen, d.bbox.map(f64::from)))
}
