//! What a bridge is configured with: the bridge-wide setup (buses, control period,
//! watchdog) and one actuator setup per joint (bus, codec, gains). The host never makes
//! one up: it comes from the unit's configuration (`embody-fleet`), or from the
//! generated default map a run without a unit names.

use embody_protocol::MitVariant;
use embody_protocol::budget::bus_cycle_us;
use embody_protocol::messages::{ActuatorSetup, BridgeSetup};

/// A bridge's whole configuration, as sent at every connection.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitSetup {
    /// Buses, period, watchdog and damping.
    pub bridge: BridgeSetup,
    /// One per joint, in joint order.
    pub actuators: Vec<ActuatorSetup>,
}

/// Why a setup does not fit what it is asked to drive.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The setup configures another number of joints than the robot has.
    #[error("the setup drives {actuators} joints, the robot has {joints}")]
    JointCount {
        /// Actuated joints of the robot.
        joints: usize,
        /// Actuators in the setup.
        actuators: usize,
    },
    /// An SLCAN adapter has one bus.
    #[error("an SLCAN adapter has one bus; this setup uses {0}")]
    OneBus(usize),
}

impl UnitSetup {
    /// The control rate the setup is laid out for (Hz).
    pub fn rate_hz(&self) -> f64 {
        1e6 / f64::from(self.bridge.period_us.max(1))
    }

    /// Checks that the setup drives `joints` joints, one actuator each.
    pub fn check_joints(&self, joints: usize) -> Result<(), SetupError> {
        if self.actuators.len() != joints || usize::from(self.bridge.joints) != joints {
            return Err(SetupError::JointCount {
                joints,
                actuators: self.actuators.len(),
            });
        }
        Ok(())
    }

    /// One line per bus: its bit rate, its actuators' variants and CAN ids, and the
    /// share of the control period its cycle takes.
    pub fn describe(&self) -> Vec<String> {
        self.bridge
            .buses
            .iter()
            .enumerate()
            .map(|(b, bus)| {
                let on_bus: Vec<&ActuatorSetup> = self
                    .actuators
                    .iter()
                    .filter(|a| usize::from(a.bus) == b)
                    .collect();
                let ids: Vec<String> = on_bus
                    .iter()
                    .map(|a| {
                        format!(
                            "{} 0x{:02x}",
                            variant_name(a.codec.variant),
                            a.codec.motor_id
                        )
                    })
                    .collect();
                let cycle = bus_cycle_us(on_bus.iter().copied(), b as u8, bus.bitrate);
                format!(
                    "bus {b} at {} kbit/s: {} ({cycle} of {} µs)",
                    bus.bitrate / 1000,
                    ids.join(", "),
                    self.bridge.period_us
                )
            })
            .collect()
    }
}

/// The variant's name as unit files spell it.
pub fn variant_name(variant: MitVariant) -> &'static str {
    match variant {
        MitVariant::Classic => "classic",
        MitVariant::DaMiao => "damiao",
        MitVariant::Robstride => "robstride",
    }
}
