//! Conversion between the protocol crate's `CanFrame` and any HAL's
//! `embedded_can::Frame`, so the core works with whatever CAN driver the MCU has.

use embedded_can::{ExtendedId, Frame, Id, StandardId};
use embody_protocol::{CanFrame, CanId};

/// Our frame as the HAL's (`None` only if the HAL refuses a valid frame).
pub fn to_hal<F: Frame>(frame: &CanFrame) -> Option<F> {
    let id: Id = match frame.id() {
        CanId::Standard(id) => StandardId::new(id)?.into(),
        CanId::Extended(id) => ExtendedId::new(id)?.into(),
    };
    if frame.is_remote() {
        F::new_remote(id, frame.len() as usize)
    } else {
        F::new(id, frame.data())
    }
}

/// The HAL's frame as ours (`None` for a frame longer than 8 bytes).
pub fn from_hal<F: Frame>(frame: &F) -> Option<CanFrame> {
    let id = match frame.id() {
        Id::Standard(id) => CanId::Standard(id.as_raw()),
        Id::Extended(id) => CanId::Extended(id.as_raw()),
    };
    if frame.is_remote_frame() {
        CanFrame::remote(id, frame.dlc().min(8) as u8).ok()
    } else {
        CanFrame::new(id, frame.data()).ok()
    }
}
