//! embody-vision: finding objects in camera images, off the loop thread. [`tags`]
//! detects AprilTag 36h11 markers and gives each one's 6-DoF pose; [`color`] finds an
//! object by its colour in an RGB-D image and gives its position. Both give world
//! coordinates and the image's capture time.

pub mod color;
pub mod tags;

pub use color::{ColorTarget, Detection, find_by_color};
pub use tags::{
    TAG_BLACK_CELLS, TAG_CELLS, TagDetection, TagDetector, TagError, tag_pose, tag_poses,
    tag36h11_cells,
};
