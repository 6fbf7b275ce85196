//! embody-protocol: the wire formats of embody, `#![no_std]` and allocation-free so the
//! bridge firmware and the host share one implementation.
//!
//! - [`can`]: classic CAN frames and their worst-case bus time.
//! - [`mit`]: the MIT actuator protocol (classic, DaMiao, Robstride).
//! - [`slcan`]: the Lawicel ASCII protocol of USB-CAN adapters.
//!
//! Every decoder of outside bytes is total: it returns an error, never panics, and is
//! property-tested over arbitrary bytes.

#![no_std]

pub mod can;
pub mod mit;
pub mod slcan;

pub use can::{CanError, CanFrame, CanId};
pub use mit::{
    MitCodec, MitCommand, MitError, MitFeedback, MitRanges, MitRequest, MitSpecial, MitVariant,
    MotorFaults,
};
