//! The bus budget: what one control cycle costs on a CAN bus — every actuator's command
//! and its reply, at worst-case bit stuffing — so a configuration that cannot fit in the
//! control period is refused before a single frame is sent. The one place this formula
//! lives: the bridge firmware refuses an over-budget setup with it, the host's unit
//! configuration is checked with it, and the benchmarks report it.

use crate::can::{CanFrame, CanId};
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
}
