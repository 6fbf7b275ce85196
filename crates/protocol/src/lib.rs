//! embody-protocol: the wire formats of embody, `#![no_std]` and allocation-free so the
//! bridge firmware and the host share one implementation.
//!
//! - [`can`]: classic CAN frames and their worst-case bus time.
//! - [`budget`]: what a control cycle of actuators costs on a bus.
//! - [`mit`]: the MIT actuator protocol (classic, DaMiao, Robstride).
//! - [`slcan`]: the Lawicel ASCII protocol of USB-CAN adapters.
//! - [`canopen`]: CANopen (NMT, SDO, PDO, SYNC, heartbeat, EMCY) and the CiA 402 drive
//!   profile.
//! - [`cia402_master`]: what a CiA 402 master says: a drive's configuration by SDO, its
//!   RPDO each cycle and the TPDOs it answers with.
//! - [`dynamixel`]: ROBOTIS Dynamixel protocol 2.0 on a servo bus.
//! - [`feetech`]: Feetech STS/SCS servos (Dynamixel-1.0 framing).
//! - [`link`]: COBS + CRC-32 framing of the host–bridge serial link.
//! - [`messages`]: what host and bridge say: handshake, setup, one batched exchange per
//!   tick, status.
//!
//! Every decoder of outside bytes is total: it returns an error, never panics, and is
//! property-tested over arbitrary bytes.

#![no_std]

pub mod budget;
pub mod can;
pub mod canopen;
pub mod cia402_master;
pub mod cobs;
pub mod dynamixel;
pub mod feetech;
pub mod link;
pub mod messages;
pub mod mit;
pub mod servo_master;
pub mod slcan;

pub use can::{CanError, CanFrame, CanId};
pub use link::{FrameDecoder, FrameEncoder, FrameError, FrameStats, MAX_FRAME, MAX_PAYLOAD, crc32};
pub use mit::{
    MitCodec, MitCommand, MitError, MitFeedback, MitRanges, MitRequest, MitSpecial, MitVariant,
    MotorFaults,
};
