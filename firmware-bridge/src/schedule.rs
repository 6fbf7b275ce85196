//! The bus budget: what one control cycle costs on a CAN bus — every actuator's command
//! and its reply, at worst-case bit stuffing — so a configuration that cannot fit in the
//! control period is refused before a single frame is sent.

use embody_protocol::{CanFrame, CanId, MitVariant, messages::ActuatorSetup};

/// Worst-case bus time (µs) of one actuator's command and reply at `bitrate`.
pub fn actuator_cycle_us(setup: &ActuatorSetup, bitrate: u32) -> u32 {
    variant_cycle_us(setup.codec.variant, bitrate)
}

/// Worst-case bus time (µs) of a command and reply in protocol `variant` at `bitrate`.
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

/// Worst-case cycle (µs) of the actuators on one bus.
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

#[cfg(test)]
mod tests {
    use super::*;
    use embody_protocol::{MitCodec, MitRanges};

    fn setup(variant: MitVariant) -> ActuatorSetup {
        ActuatorSetup {
            joint: 0,
            bus: 0,
            codec: MitCodec {
                variant,
                ranges: MitRanges::CLASSIC,
                motor_id: 1,
                master_id: 0,
            },
            direction: 1,
            offset_rad: 0.0,
            damping_kd: 1.0,
            position_kp: 10.0,
            position_kd: 1.0,
            velocity_kd: 1.0,
        }
    }

    #[test]
    fn a_classic_actuator_costs_a_command_and_a_six_byte_reply() {
        // 135 µs + 115 µs at 1 Mbit/s: four per bus at 1 kHz.
        assert_eq!(
            actuator_cycle_us(&setup(MitVariant::Classic), 1_000_000),
            250
        );
        assert_eq!(
            actuator_cycle_us(&setup(MitVariant::DaMiao), 1_000_000),
            270
        );
        assert_eq!(
            actuator_cycle_us(&setup(MitVariant::Robstride), 1_000_000),
            320
        );
    }
}
