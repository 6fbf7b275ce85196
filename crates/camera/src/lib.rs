//! embody-camera: frames from real cameras. [`convert`] turns what a UVC camera sends
//! (YUYV 4:2:2 and MJPEG) into the RGB of an [`embody_hal::Image`]; [`ImageSequence`]
//! replays a folder of image files as a camera, on its own thread, at a rate. Both are
//! tested against OpenCV's decodes of the same frames (`tests/decode.rs`); no camera was
//! at hand to record from, so the frames are the simulated camera's, encoded as a camera
//! would.

pub mod convert;
mod sequence;

pub use convert::ConvertError;
pub use sequence::{ImageSequence, SequenceError};
