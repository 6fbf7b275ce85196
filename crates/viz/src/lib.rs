//! embody-viz: operators watch robots in Rerun. A [`Recorder`] turns the loop's state
//! snapshots into a recording — the model posed from the measured joints, joint series,
//! events and timing — batched so logging never costs the loop anything, into any
//! [`Sink`]. The only crate (with the CLI) that depends on Rerun.

mod cameras;
mod live;
mod recorder;
mod sink;

pub use cameras::{CameraLog, Sighting};
pub use live::{LiveRecorder, LiveStats};
pub use recorder::{Clock, LoopStats, Recorder, SceneItem, VizConfig, VizError, open};
pub use rerun::RecordingStream;
pub use sink::{Sink, SinkError};
