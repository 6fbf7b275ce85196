//! What the loop sends to the actuators: one [`JointCommand`] per joint in one of the
//! modes real actuators offer, batched in a [`CommandFrame`] per tick.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// A command to one joint. Units are SI: rad (m for prismatic joints), rad/s, N·m.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum JointCommand {
    /// Torque off: the motor is disabled and the joint is free (or braked).
    #[default]
    Off,
    /// Track a position with the actuator's own position loop.
    Position {
        /// Target position.
        q: f64,
    },
    /// Track a velocity with the actuator's own velocity loop.
    Velocity {
        /// Target velocity.
        dq: f64,
    },
    /// Apply a torque.
    Torque {
        /// Torque.
        tau: f64,
    },
    /// MIT-style impedance: `τ = kp·(q − q_meas) + kd·(dq − dq_meas) + tau_ff`, run by the
    /// actuator at its own rate. `kp = 0, dq = 0, tau_ff = 0` is pure damping.
    Impedance {
        /// Target position.
        q: f64,
        /// Target velocity.
        dq: f64,
        /// Stiffness (N·m/rad).
        kp: f64,
        /// Damping (N·m·s/rad).
        kd: f64,
        /// Feed-forward torque.
        tau_ff: f64,
    },
}

impl JointCommand {
    /// Pure damping with gain `kd`: the safe state between running and torque off.
    pub const fn damping(kd: f64) -> JointCommand {
        JointCommand::Impedance {
            q: 0.0,
            dq: 0.0,
            kp: 0.0,
            kd,
            tau_ff: 0.0,
        }
    }

    /// The mode of this command.
    pub const fn mode(&self) -> CommandMode {
        match self {
            JointCommand::Off => CommandMode::Off,
            JointCommand::Position { .. } => CommandMode::Position,
            JointCommand::Velocity { .. } => CommandMode::Velocity,
            JointCommand::Torque { .. } => CommandMode::Torque,
            JointCommand::Impedance { .. } => CommandMode::Impedance,
        }
    }

    /// True if every number in the command is finite.
    pub fn is_finite(&self) -> bool {
        match *self {
            JointCommand::Off => true,
            JointCommand::Position { q } => q.is_finite(),
            JointCommand::Velocity { dq } => dq.is_finite(),
            JointCommand::Torque { tau } => tau.is_finite(),
            JointCommand::Impedance {
                q,
                dq,
                kp,
                kd,
                tau_ff,
            } => [q, dq, kp, kd, tau_ff].iter().all(|x| x.is_finite()),
        }
    }
}

/// The modes a [`JointCommand`] can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandMode {
    /// Torque off.
    Off,
    /// Position.
    Position,
    /// Velocity.
    Velocity,
    /// Torque.
    Torque,
    /// MIT impedance.
    Impedance,
}

impl CommandMode {
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`CommandMode`]s (what a joint accepts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandModes(u8);

impl CommandModes {
    /// Every mode.
    pub const ALL: CommandModes = CommandModes(0b1_1111);

    /// The set holding exactly `modes`.
    pub fn of(modes: &[CommandMode]) -> CommandModes {
        CommandModes(modes.iter().fold(0, |bits, m| bits | m.bit()))
    }

    /// True if `mode` is in the set.
    pub const fn contains(self, mode: CommandMode) -> bool {
        self.0 & mode.bit() != 0
    }
}

/// All joint commands of one tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandFrame {
    /// When the loop produced the frame.
    pub stamp: Timestamp,
    /// Tick number of the loop that produced it.
    pub seq: u64,
    /// One command per joint, in the robot's joint order.
    pub joints: Vec<JointCommand>,
}

impl CommandFrame {
    /// A frame of `n` torque-off commands.
    pub fn new(n: usize) -> CommandFrame {
        CommandFrame {
            stamp: Timestamp::ZERO,
            seq: 0,
            joints: vec![JointCommand::Off; n],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_json() {
        let frame = CommandFrame {
            stamp: Timestamp::from_nanos(42),
            seq: 7,
            joints: vec![
                JointCommand::Off,
                JointCommand::Position { q: 0.5 },
                JointCommand::Velocity { dq: -1.0 },
                JointCommand::Torque { tau: 2.5 },
                JointCommand::Impedance {
                    q: 0.1,
                    dq: 0.2,
                    kp: 30.0,
                    kd: 1.5,
                    tau_ff: -0.25,
                },
            ],
        };
        let text = serde_json::to_string(&frame).expect("serializes");
        let back: CommandFrame = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, frame);
        let bad = r#"{"stamp":0,"seq":0,"joints":[{"mode":"position","q":1,"kp":3}]}"#;
        assert!(serde_json::from_str::<CommandFrame>(bad).is_err());
    }

    #[test]
    fn non_finite_numbers_are_detected_in_every_mode() {
        assert!(JointCommand::Off.is_finite());
        assert!(!JointCommand::Position { q: f64::NAN }.is_finite());
        assert!(!JointCommand::Velocity { dq: f64::INFINITY }.is_finite());
        assert!(!JointCommand::Torque { tau: f64::NAN }.is_finite());
        let mut imp = JointCommand::damping(1.0);
        assert!(imp.is_finite());
        if let JointCommand::Impedance { kd, .. } = &mut imp {
            *kd = f64::NEG_INFINITY;
        }
        assert!(!imp.is_finite());
    }

    #[test]
    fn mode_sets_hold_what_they_were_given() {
        let set = CommandModes::of(&[CommandMode::Position, CommandMode::Impedance]);
        assert!(set.contains(CommandMode::Impedance));
        assert!(!set.contains(CommandMode::Torque));
        for m in [
            CommandMode::Off,
            CommandMode::Position,
            CommandMode::Velocity,
            CommandMode::Torque,
            CommandMode::Impedance,
        ] {
            assert!(CommandModes::ALL.contains(m));
        }
    }
}
