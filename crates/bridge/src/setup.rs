//! What a bridge is configured with: the bridge-wide setup (buses, control period,
//! watchdog) and one actuator setup per joint: an MIT motor (bus, codec, gains), or a
//! CiA 402 drive on a drive bus the bridge masters (node, counts), or a serial servo on
//! the servo bus the bridge masters (id, travel per turn). The host never makes
//! one up: it comes from the unit's configuration (`embody-fleet`), or from the
//! generated default map a run without a unit names.

use embody_protocol::MitVariant;
use embody_protocol::budget::bus_cycle_us;
use embody_protocol::canopen::cia402::Mode;
use embody_protocol::messages::{
    ActuatorSetup, ActuatorVariant, BridgeSetup, DriveActuatorSetup, DriveBusSetup,
    ServoActuatorSetup, ServoBusSetup,
};

/// A bridge's whole configuration, as sent at every connection.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitSetup {
    /// Buses, period, watchdog and damping.
    pub bridge: BridgeSetup,
    /// One per joint that has an MIT motor, in joint order.
    pub actuators: Vec<ActuatorSetup>,
    /// The buses of CiA 402 drives (none: every bus carries MIT motors).
    pub drive_buses: Vec<DriveBusSetup>,
    /// One per joint that has a drive, in joint order.
    pub drives: Vec<DriveActuatorSetup>,
    /// The bridge's servo bus, if its joints have servos.
    pub servo_bus: Option<ServoBusSetup>,
    /// One per joint that has a servo, in joint order.
    pub servos: Vec<ServoActuatorSetup>,
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
    /// MIT motors through an SLCAN adapter: the setup's drives or servos are its
    /// bridge's.
    #[error(
        "this setup's CiA 402 drives or servos are mastered by its bridge, not driven as MIT motors through an SLCAN adapter"
    )]
    DevicesOnBridge,
}

impl UnitSetup {
    /// The control rate the setup is laid out for (Hz).
    pub fn rate_hz(&self) -> f64 {
        1e6 / f64::from(self.bridge.period_us.max(1))
    }

    /// Checks that the setup drives `joints` joints, one actuator each.
    pub fn check_joints(&self, joints: usize) -> Result<(), SetupError> {
        let actuators = self.actuators.len() + self.drives.len() + self.servos.len();
        if actuators != joints || usize::from(self.bridge.joints) != joints {
            return Err(SetupError::JointCount { joints, actuators });
        }
        Ok(())
    }

    /// The joints on drives or servos the bridge masters, in joint order.
    pub fn device_joints(&self) -> Vec<u8> {
        let mut joints: Vec<u8> = (self.drives.iter().map(|d| d.joint))
            .chain(self.servos.iter().map(|s| s.joint))
            .collect();
        joints.sort_unstable();
        joints
    }

    /// One line per bus: its bit rate, its actuators' variants and CAN ids (or drives'
    /// nodes, or servos' ids), and the share of the control period its cycle takes.
    pub fn describe(&self) -> Vec<String> {
        if let Some(bus) = &self.servo_bus {
            let ids: Vec<String> = self.servos.iter().map(|s| s.id.to_string()).collect();
            let cycle = bus.family.tick_us(ids.len(), bus.baud).ceil();
            return vec![format!(
                "servo bus at {} baud: {} servos, ids {} ({cycle} of {} µs)",
                bus.baud,
                bus.family.name(),
                ids.join(", "),
                self.bridge.period_us
            )];
        }
        self.bridge
            .buses
            .iter()
            .enumerate()
            .map(|(b, bus)| {
                let drive_bus = self.drive_buses.iter().find(|d| usize::from(d.bus) == b);
                if let Some(d) = drive_bus {
                    return self.describe_drives(d, bus.bitrate);
                }
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

    /// The line of drive bus `d` at `bitrate`.
    fn describe_drives(&self, d: &DriveBusSetup, bitrate: u32) -> String {
        let nodes: Vec<String> = (self.drives.iter())
            .filter(|a| a.bus == d.bus)
            .map(|a| a.node.to_string())
            .collect();
        let cycle =
            embody_protocol::budget::drive_cycle_us(d.mode, d.layout, nodes.len() as u32, bitrate);
        let mode = match d.mode {
            Mode::CyclicVelocity => "CSV",
            Mode::CyclicTorque => "CST",
            _ => "CSP",
        };
        format!(
            "bus {} at {} kbit/s: CiA 402 drives, nodes {} ({mode}, {} PDO layout; {cycle} of {} µs)",
            d.bus,
            bitrate / 1000,
            nodes.join(", "),
            d.layout.name(),
            self.bridge.period_us
        )
    }
}

/// A recorded actuator's variant as unit files spell it.
pub fn actuator_variant_name(variant: ActuatorVariant) -> &'static str {
    match variant {
        ActuatorVariant::Mit(v) => variant_name(v),
        ActuatorVariant::Cia402 => "cia402",
        ActuatorVariant::Servo(family) => family.name(),
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
