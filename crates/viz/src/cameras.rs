//! Camera images in a recording: each camera at `robot/<unit>/cameras/<name>` — its pose
//! (`Transform3D`, when the image carries one) and lens (`Pinhole`, OpenCV's axes), so
//! its frustum sits in the 3D view — with its colour as a JPEG (`EncodedImage`) at
//! `…/<name>/rgb` and its depth (`DepthImage`, 16-bit millimetres as depth cameras give
//! it) at `…/<name>/depth`, each at the time the image was captured. An image already
//! logged is not logged again. A [`CameraLog`] does this from a thread of its own.
//!
//! What a camera's image showed ([`Sighting`]): a 2D box over the image at
//! `…/<name>/detections/<object>`, labelled with the object and its confidence, and the
//! object's pose at `robot/<unit>/seen/<object>` (a transform drawn with its axes).

use embody_hal::{CameraInfo, Image};
use rerun::RecordingStream;

use crate::recorder::{Timeline, VizError};

/// An object found in a camera's image, to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Sighting {
    /// The object's name.
    pub object: String,
    /// The camera that saw it.
    pub camera: String,
    /// Its pose in the world, `x y z qx qy qz qw`.
    pub pose: [f64; 7],
    /// Where it is in the image: `[u_min, v_min, u_max, v_max]` (px).
    pub bbox: [f64; 4],
    /// How much to trust it, 0–1.
    pub confidence: f64,
}

/// Length of a seen object's drawn axes (m).
const AXIS_M: f32 = 0.05;

/// Logs `sighting` under `root`, the robot's `origin` added to its pose; the caller has
/// set the time.
pub(crate) fn log_sighting(
    stream: &RecordingStream,
    root: &str,
    origin: [f64; 3],
    sighting: &Sighting,
) -> Result<(), VizError> {
    let err = |e: rerun::RecordingStreamError| VizError::Rerun(e.to_string());
    let b = sighting.bbox;
    let label = format!("{} {:.2}", sighting.object, sighting.confidence);
    stream
        .log(
            format!(
                "{root}/cameras/{}/detections/{}",
                sighting.camera, sighting.object
            ),
            &rerun::Boxes2D::from_mins_and_sizes(
                [[b[0] as f32, b[1] as f32]],
                [[(b[2] - b[0]) as f32, (b[3] - b[1]) as f32]],
            )
            .with_labels([label]),
        )
        .map_err(err)?;
    let p = sighting.pose;
    let path = format!("{root}/seen/{}", sighting.object);
    stream
        .log(
            path.as_str(),
            &rerun::Transform3D::from_translation_rotation(
                [0, 1, 2].map(|i| (p[i] + origin[i]) as f32),
                rerun::Quaternion::from_xyzw([3, 4, 5, 6].map(|i| p[i] as f32)),
            ),
        )
        .map_err(err)?;
    stream
        .log(path.as_str(), &rerun::TransformAxes3D::new(AXIS_M))
        .map_err(err)
}

/// How far the 3D view draws a camera's image plane from it (m).
const FRUSTUM_M: f32 = 0.1;

/// JPEG quality of the colour images.
const JPEG_QUALITY: u8 = 85;

/// The last image logged of each camera, by name.
#[derive(Debug, Default)]
pub(crate) struct Logged(Vec<(String, u64)>);

impl Logged {
    /// Whether `image` of `camera` is newer than the one logged last (and note it).
    pub(crate) fn take(&mut self, camera: &str, image: &Image) -> bool {
        match self.0.iter_mut().find(|(name, _)| name == camera) {
            Some((_, last)) if *last > image.counter => false,
            Some((_, last)) => {
                *last = image.counter + 1;
                true
            }
            None => {
                self.0.push((camera.to_owned(), image.counter + 1));
                true
            }
        }
    }
}

/// Logs `image` of `camera` under `root` (`robot/<unit>`), the robot's `origin` added to
/// its pose; the caller has set the time and checked it is new ([`Logged::take`]).
pub(crate) fn log(
    stream: &RecordingStream,
    root: &str,
    origin: [f64; 3],
    camera: &CameraInfo,
    image: &Image,
) -> Result<(), VizError> {
    let err = |e: rerun::RecordingStreamError| VizError::Rerun(e.to_string());
    let path = format!("{root}/cameras/{}", camera.name);
    if let Some(p) = image.pose {
        let placed = rerun::Transform3D::from_translation_rotation(
            [0, 1, 2].map(|i| (p[i] + origin[i]) as f32),
            rerun::Quaternion::from_xyzw([3, 4, 5, 6].map(|i| p[i] as f32)),
        );
        stream.log(path.as_str(), &placed).map_err(err)?;
    }
    let k = &camera.intrinsics;
    let pinhole = rerun::Pinhole::from_focal_length_and_resolution(
        [k.fx as f32, k.fy as f32],
        [image.width as f32, image.height as f32],
    )
    .with_principal_point([k.cx as f32, k.cy as f32])
    .with_camera_xyz(rerun::components::ViewCoordinates::RDF)
    // A frustum of robot size in the 3D view.
    .with_image_plane_distance(FRUSTUM_M);
    stream.log(path.as_str(), &pinhole).map_err(err)?;
    let mut jpeg = Vec::new();
    let size = |n: u32| {
        u16::try_from(n).map_err(|_| {
            VizError::Rerun(format!(
                "camera {}: {n} px is too large for JPEG",
                camera.name
            ))
        })
    };
    jpeg_encoder::Encoder::new(&mut jpeg, JPEG_QUALITY)
        .encode(
            &image.rgb,
            size(image.width)?,
            size(image.height)?,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| VizError::Rerun(format!("camera {}: JPEG: {e}", camera.name)))?;
    let encoded =
        rerun::EncodedImage::from_file_contents(jpeg).with_media_type(rerun::MediaType::JPEG);
    stream.log(format!("{path}/rgb"), &encoded).map_err(err)?;
    if !image.depth.is_empty() {
        // Millimetres, rounded; beyond 65.5 m saturates (nothing is drawn that far).
        let mut bytes = Vec::with_capacity(2 * image.depth.len());
        for d in &image.depth {
            bytes.extend_from_slice(&((d * 1000.0 + 0.5) as u16).to_le_bytes());
        }
        let depth = rerun::DepthImage::new(
            bytes,
            rerun::ImageFormat::depth([image.width, image.height], rerun::ChannelDatatype::U16),
        )
        .with_meter(1000.0);
        stream.log(format!("{path}/depth"), &depth).map_err(err)?;
    }
    Ok(())
}

/// Logs cameras' images into a recording from any thread (Rerun's time is per thread):
/// made by [`crate::Recorder::camera_log`].
pub struct CameraLog {
    pub(crate) stream: RecordingStream,
    pub(crate) root: String,
    pub(crate) origin: [f64; 3],
    pub(crate) timeline: Timeline,
    pub(crate) logged: Logged,
}

impl CameraLog {
    /// Logs `image` of `camera` at `t_s` (loop time), unless it was logged already.
    pub fn camera(&mut self, t_s: f64, camera: &CameraInfo, image: &Image) -> Result<(), VizError> {
        if !self.logged.take(&camera.name, image) {
            return Ok(());
        }
        self.timeline.set(&self.stream, t_s);
        log(&self.stream, &self.root, self.origin, camera, image)
    }
}
