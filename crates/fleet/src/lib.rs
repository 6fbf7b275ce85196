//! embody-fleet: what an integrator needs to bring up many units: their configuration
//! in layers, checked against the robot with every problem located ([`config`],
//! [`check`]), the record it becomes on the unit's bridge ([`record`]), the calibration
//! procedure that finds joint zeros and directions ([`calibrate`]), and the firmware
//! signing keys ([`keys`]). Signed images themselves are
//! `embody-fwimage`'s.

pub mod calibrate;
pub mod check;
pub mod config;
pub mod keys;
pub mod record;

/// `bytes` in lower-case hex (digests, key ids, build ids).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
