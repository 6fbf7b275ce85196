//! embody-firmware-bridge: the core of the bridge firmware between the host's control
//! loop and the CAN actuators, `#![no_std]` and allocation-free. It owns the bus cycle:
//! the host sends one batch of joint commands per tick over a serial link, the bridge
//! turns it into MIT frames on one or more CAN buses within the bus budget, collects the
//! replies and answers with one batch of joint states. A watchdog makes the motors safe
//! when commands stop. Hardware is reached only through `embedded_can::nb::Can` and
//! `embedded_io::Write`; tests and the virtual MCU drive it tick by tick on the host.
//! [`update`] installs signed firmware images in A/B slots on the flash
//! (`embedded_storage::nor_flash`), safe against power loss; [`unit`] answers the host's
//! flashing messages and keeps the unit record (calibration) in the config area.
//! [`drive_master`] is the CANopen master of a bus of CiA 402 drives, and [`drive_bus`]
//! such a bus as the bridge runs it; [`servo_bus`] is the bridge's serial servo bus
//! (Dynamixel or Feetech), its UART reached through `embedded_io`.

#![no_std]

mod bridge;
pub mod can_frame;
pub mod drive_bus;
pub mod drive_master;
pub mod servo_bus;
pub mod unit;
pub mod update;

pub use bridge::{Bridge, FirmwareInfo, REPLY_TIMEOUT_TICKS};
