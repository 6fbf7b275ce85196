//! embody-camera: frames from real cameras. [`convert`] turns what a UVC camera sends
//! (YUYV 4:2:2 and MJPEG) into the RGB of an [`embody_hal::Image`]; [`V4l2Camera`]
//! captures from a webcam through Linux's V4L2 on its own thread (Linux only);
//! [`ImageSequence`] replays a folder of image files as a camera, on its own thread, at a
//! rate. The conversions and the sequence are tested against OpenCV's decodes of the same
//! frames (`tests/decode.rs`); no camera was at hand to record from, so the frames are the
//! simulated camera's, encoded as a camera would, and V4L2 capture is untested on
//! hardware (its module says what is tested).

pub mod convert;
mod sequence;
#[cfg(target_os = "linux")]
mod v4l2;

pub use convert::ConvertError;
pub use sequence::{ImageSequence, SequenceError};
#[cfg(target_os = "linux")]
pub use v4l2::{PixelFormat, V4l2Camera, V4l2Config, V4l2Error};
