//! embody-fleet: what an integrator needs to bring up many units. So far: the firmware
//! signing keys ([`keys`]). Signed images themselves are `embody-fwimage`'s.

pub mod keys;
