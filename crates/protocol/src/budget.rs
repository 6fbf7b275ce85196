//! The bus budget: what one control cycle costs on a CAN bus — every actuator's command
//! and its reply, at worst-case bit stuffing (for CiA 402 drives: their RPDOs, the SYNC
//! and their TPDOs) — so a configuration that cannot fit in the control period is
//! refused before a single frame is sent. The one place this formula
//! lives: the bridge firmware refuses an over-budget setup with it, the host's unit
//! configuration is checked with it, and the benchmarks report it.

use crate::can::{CanFrame, CanId};
use crate::canopen::{self, cia402::Mode};
use crate::cia402_master::PdoLayout;
use crate::messages::ActuatorSetup;
use crate::mit::MitVariant;

/// Worst-case bus time (µs) of a command and its reply in protocol `variant` at
/// `bitrate` (bit/s).
pub fn variant_cycle_us(variant: MitVariant, bitrate: u32) -> u32 {
    let (id, reply_len) = match variant {
        MitVariant::Classic => (CanId::Standard(0), 6),
        MitVariant::DaMiao => (CanId::Standard(0), 8),
        MitVariant::Robstride => (CanId::Extended(0), 8),
    };
    let command = CanFrame::fixed(id, [0u8; 8]);
    let reply = match reply_len {
        6 => CanFrame::fixed(id, [0u8; 6]),
        _ => CanFrame::fixed(id, [0u8; 8]),
    };
    let bits = (command.worst_case_bits() + reply.worst_case_bits()) as u64;
    (bits * 1_000_000).div_ceil(bitrate.max(1) as u64) as u32
}

/// Worst-case bus time (µs) of one configured actuator's command and reply.
pub fn actuator_cycle_us(setup: &ActuatorSetup, bitrate: u32) -> u32 {
    variant_cycle_us(setup.codec.variant, bitrate)
}

/// Worst-case cycle (µs) of the actuators on bus `bus`.
pub fn bus_cycle_us<'a>(
    actuators: impl Iterator<Item = &'a ActuatorSetup>,
    bus: u8,
    bitrate: u32,
) -> u32 {
    actuators
        .filter(|a| a.bus == bus)
        .map(|a| actuator_cycle_us(a, bitrate))
        .sum()
}

/// How many actuators of `variant` fit on one bus at `bitrate` within `period_us`.
pub fn actuators_per_bus(variant: MitVariant, bitrate: u32, period_us: u32) -> u32 {
    period_us / variant_cycle_us(variant, bitrate).max(1)
}

/// Worst-case bus time (µs) of one cycle of `drives` CiA 402 drives in `mode` with
/// TPDOs of `layout` at `bitrate`: each drive's RPDO (controlword and target), one SYNC,
/// and each drive's TPDOs.
pub fn drive_cycle_us(mode: Mode, layout: PdoLayout, drives: u32, bitrate: u32) -> u32 {
    let bits = |bytes: usize| {
        let frame = canopen::frame_to(0x200, 1, &[0u8; 8][..bytes]);
        u64::from(frame.worst_case_bits())
    };
    let target = if mode == Mode::CyclicTorque { 2 } else { 4 };
    let per_drive = bits(2 + target)
        + match layout {
            PdoLayout::Full => bits(8) + bits(6),
            PdoLayout::Compact => bits(6),
        };
    let total = bits(0) + per_drive * u64::from(drives);
    (total * 1_000_000).div_ceil(u64::from(bitrate.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_and_its_reply_cost_what_their_frames_do() {
        // 135 µs + 115 µs at 1 Mbit/s (PROTOCOLS.md): four classic motors per bus at 1 kHz.
        assert_eq!(variant_cycle_us(MitVariant::Classic, 1_000_000), 250);
        assert_eq!(variant_cycle_us(MitVariant::DaMiao, 1_000_000), 270);
        assert_eq!(variant_cycle_us(MitVariant::Robstride, 1_000_000), 320);
        assert_eq!(actuators_per_bus(MitVariant::Classic, 1_000_000, 1000), 4);
        // Half the bit rate, twice the time.
        assert_eq!(variant_cycle_us(MitVariant::Classic, 500_000), 500);
    }

    #[test]
    fn a_drive_cycle_costs_its_pdos_and_one_sync() {
        // At 1 Mbit/s, worst-case stuffing (PROTOCOLS.md): a SYNC (no data) 55 µs,
        // 6 bytes 115, 8 bytes 135. Eight compact drives: 1,895 µs, a 500 Hz bus.
        let csp = |layout, n| drive_cycle_us(Mode::CyclicPosition, layout, n, 1_000_000);
        assert_eq!(csp(PdoLayout::Compact, 0), 55);
        assert_eq!(csp(PdoLayout::Compact, 8), 55 + 8 * (115 + 115));
        assert_eq!(csp(PdoLayout::Full, 4), 55 + 4 * (115 + 135 + 115));
        // Half the bit rate, twice the time.
        let slow = drive_cycle_us(Mode::CyclicPosition, PdoLayout::Full, 4, 500_000);
        assert_eq!(slow, 2 * csp(PdoLayout::Full, 4));
        // CST's target is two bytes shorter.
        let cst = drive_cycle_us(Mode::CyclicTorque, PdoLayout::Compact, 1, 1_000_000);
        assert!(cst < csp(PdoLayout::Compact, 1));
    }
}
