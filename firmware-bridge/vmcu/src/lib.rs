//! embody-vmcu: the virtual MCU. The bridge firmware core of `embody-firmware-bridge`,
//! compiled for the host, behind a pseudo-terminal, driving simulated CAN buses whose
//! simulated motors (`embody-sim` physics) answer in the MIT protocol — so the whole
//! wire path runs in CI without hardware. It can also present itself as a plain SLCAN
//! USB-CAN adapter with the simulated motors — or simulated CiA 402 drives ([`drives`]) —
//! behind it, or as a serial bus of simulated Dynamixel or Feetech servos ([`servos`]).
//! As a bridge it may master such servos on its servo UART ([`servo_line`]) instead of
//! CAN devices. Its flash ([`flash`]) is a file with NOR semantics, for the firmware's A/B updates. [`VmcuThread`] runs one on a
//! thread of the calling process. Its link ([`link`]) and its flash file are its own
//! while it runs: a second virtual MCU on either is refused.

pub mod bus;
pub mod drives;
mod fault;
pub mod flash;
pub mod link;
pub mod motors;
pub mod pty;
mod runner;
pub mod servo_line;
pub mod servos;
mod thread;

pub use bus::{CanDevices, SimBus};
pub use drives::Drives;
pub use fault::{DeviceFault, ScheduledFault};
pub use motors::{Mounting, as_built};
pub use runner::{Control, LAYOUT, VmcuConfig, VmcuError, run};
pub use servo_line::SimServoLine;
pub use servos::{ServoFamily, Servos};
pub use thread::VmcuThread;
