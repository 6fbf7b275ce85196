//! The simulated actuator and the joint's passive forces as torque laws linearised at the
//! current state, so the integrator can take their stiffness and damping implicitly.
//! An actuator accepts every HAL command mode: position and velocity through its own
//! inner loops, torque directly, MIT impedance as `kp·(q* − q) + kd·(dq* − dq) + τ_ff`;
//! its output is saturated by a torque–speed curve. Real-time safe: no allocation.

use embody_hal::JointCommand;
use embody_model::Joint;

use crate::config::ActuatorConfig;

/// A torque law linearised at the current state:
/// `τ(q + δq, v + δv) ≈ torque − stiffness·δq − damping·δv`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JointTorque {
    /// Torque at the current state (N·m).
    pub torque: f64,
    /// `−∂τ/∂q` (N·m/rad), ≥ 0.
    pub stiffness: f64,
    /// `−∂τ/∂v` (N·m·s/rad), ≥ 0.
    pub damping: f64,
}

impl JointTorque {
    const ZERO: JointTorque = JointTorque {
        torque: 0.0,
        stiffness: 0.0,
        damping: 0.0,
    };

    fn add(self, other: JointTorque) -> JointTorque {
        JointTorque {
            torque: self.torque + other.torque,
            stiffness: self.stiffness + other.stiffness,
            damping: self.damping + other.damping,
        }
    }
}

/// One actuator's parameters, derived from its joint's URDF limits and the config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Actuator {
    /// Peak torque (N·m).
    pub peak_torque_nm: f64,
    /// Speed up to which the peak torque is available (rad/s).
    pub knee_speed_radps: f64,
    /// Speed at which no driving torque is left (rad/s).
    pub no_load_speed_radps: f64,
    /// Reflected rotor inertia (kg·m²).
    pub armature: f64,
    position_kp: f64,
    position_kd: f64,
    velocity_kd: f64,
}

/// The largest effort (N·m) assumed where a URDF leaves the limit unbounded.
const UNBOUNDED_EFFORT_NM: f64 = 1e4;

impl Actuator {
    /// The actuator driving `joint`.
    pub fn for_joint(joint: &Joint, config: &ActuatorConfig) -> Actuator {
        let effort = joint.limits.effort.min(UNBOUNDED_EFFORT_NM);
        let speed = joint.limits.velocity;
        Actuator {
            peak_torque_nm: effort * config.peak_torque_scale,
            knee_speed_radps: speed * config.knee_speed_scale,
            no_load_speed_radps: speed * config.no_load_speed_scale,
            armature: effort * config.armature_per_nm,
            position_kp: effort * config.position_kp_per_nm,
            position_kd: effort * config.position_kd_per_nm,
            velocity_kd: effort * config.velocity_kd_per_nm,
        }
    }

    /// The largest torque the motor can produce in the direction of `torque` at speed
    /// `dq`: the peak when braking or below the knee, falling linearly to zero at the
    /// no-load speed.
    pub fn torque_limit(&self, dq: f64, torque: f64) -> f64 {
        let speed = dq.abs();
        if torque * dq <= 0.0 || speed <= self.knee_speed_radps {
            return self.peak_torque_nm;
        }
        if speed >= self.no_load_speed_radps {
            return 0.0;
        }
        self.peak_torque_nm * (self.no_load_speed_radps - speed)
            / (self.no_load_speed_radps - self.knee_speed_radps)
    }

    /// The torque set-point for `command` at joint position `q` and speed `dq`,
    /// saturated by the torque–speed curve (a saturated output has no stiffness or
    /// damping). A command with a non-finite field drives nothing, as a real drive
    /// refuses it.
    pub fn setpoint(&self, command: &JointCommand, q: f64, dq: f64) -> JointTorque {
        if !command.is_finite() {
            return JointTorque::ZERO;
        }
        let law = match *command {
            JointCommand::Off => return JointTorque::ZERO,
            JointCommand::Position { q: target } => JointTorque {
                torque: self.position_kp * (target - q) - self.position_kd * dq,
                stiffness: self.position_kp,
                damping: self.position_kd,
            },
            JointCommand::Velocity { dq: target } => JointTorque {
                torque: self.velocity_kd * (target - dq),
                stiffness: 0.0,
                damping: self.velocity_kd,
            },
            JointCommand::Torque { tau } => JointTorque {
                torque: tau,
                stiffness: 0.0,
                damping: 0.0,
            },
            JointCommand::Impedance {
                q: target,
                dq: target_dq,
                kp,
                kd,
                tau_ff,
            } => JointTorque {
                torque: kp * (target - q) + kd * (target_dq - dq) + tau_ff,
                stiffness: kp.max(0.0),
                damping: kd.max(0.0),
            },
        };
        let limit = self.torque_limit(dq, law.torque);
        if law.torque.abs() > limit {
            JointTorque {
                torque: limit.copysign(law.torque),
                stiffness: 0.0,
                damping: 0.0,
            }
        } else {
            law
        }
    }
}

/// Coulomb friction is regularised below this speed (rad/s), as a gearbox's stiction
/// blends into sliding.
const COULOMB_SMOOTHING_RADPS: f64 = 0.05;

/// Passive forces of one joint: URDF damping and Coulomb friction, and the joint limits
/// as stiff one-sided spring–dampers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PassiveJoint {
    /// Viscous damping (N·m·s/rad).
    pub damping: f64,
    /// Coulomb friction (N·m).
    pub friction: f64,
    /// Lower and upper position limits (rad or m).
    pub lower: f64,
    /// Upper position limit.
    pub upper: f64,
    /// Stiffness of the limit spring (N·m/rad).
    pub limit_stiffness: f64,
    /// Damping of the limit spring (N·m·s/rad).
    pub limit_damping: f64,
}

/// Limit spring stiffness per N·m of effort limit: a joint pushed at full effort sinks
/// about 1 mrad into its stop.
const LIMIT_STIFFNESS_PER_NM: f64 = 1000.0;
/// Limit damping per N·m of effort limit.
const LIMIT_DAMPING_PER_NM: f64 = 2.0;

impl PassiveJoint {
    /// The passive forces of `joint`.
    pub fn for_joint(joint: &Joint) -> PassiveJoint {
        let effort = joint.limits.effort.min(UNBOUNDED_EFFORT_NM);
        PassiveJoint {
            damping: joint.damping,
            friction: joint.friction,
            lower: joint.limits.lower,
            upper: joint.limits.upper,
            limit_stiffness: LIMIT_STIFFNESS_PER_NM * effort,
            limit_damping: LIMIT_DAMPING_PER_NM * effort,
        }
    }

    /// The passive torque law at `q`, `dq`.
    pub fn torque(&self, q: f64, dq: f64) -> JointTorque {
        let x = dq / COULOMB_SMOOTHING_RADPS;
        let sech = 1.0 / x.cosh();
        let friction = JointTorque {
            torque: -self.damping * dq - self.friction * x.tanh(),
            stiffness: 0.0,
            damping: self.damping + self.friction / COULOMB_SMOOTHING_RADPS * sech * sech,
        };
        let penetration = if q > self.upper {
            q - self.upper
        } else if q < self.lower {
            q - self.lower
        } else {
            return friction;
        };
        friction.add(JointTorque {
            torque: -self.limit_stiffness * penetration - self.limit_damping * dq,
            stiffness: self.limit_stiffness,
            damping: self.limit_damping,
        })
    }
}

/// A joint locked by a stuck gearbox: a very stiff brake about `position`.
pub fn stuck_brake(position: f64, q: f64, dq: f64, effort: f64) -> JointTorque {
    let effort = effort.min(UNBOUNDED_EFFORT_NM);
    let stiffness = 1e4 * effort;
    let damping = 1e2 * effort;
    JointTorque {
        torque: -stiffness * (q - position) - damping * dq,
        stiffness,
        damping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actuator() -> Actuator {
        Actuator {
            peak_torque_nm: 10.0,
            knee_speed_radps: 2.0,
            no_load_speed_radps: 4.0,
            armature: 0.0,
            position_kp: 40.0,
            position_kd: 1.0,
            velocity_kd: 5.0,
        }
    }

    #[test]
    fn torque_falls_linearly_past_the_knee_and_braking_stays_at_peak() {
        let a = actuator();
        assert_eq!(a.torque_limit(1.0, 1.0), 10.0);
        assert!((a.torque_limit(3.0, 1.0) - 5.0).abs() < 1e-12);
        assert_eq!(a.torque_limit(5.0, 1.0), 0.0);
        assert_eq!(a.torque_limit(5.0, -1.0), 10.0);
    }

    #[test]
    fn modes_give_their_laws_and_saturate() {
        let a = actuator();
        let p = a.setpoint(&JointCommand::Position { q: 0.1 }, 0.0, 0.0);
        assert!((p.torque - 4.0).abs() < 1e-12);
        assert_eq!((p.stiffness, p.damping), (40.0, 1.0));
        let v = a.setpoint(&JointCommand::Velocity { dq: 1.0 }, 0.0, 0.5);
        assert!((v.torque - 2.5).abs() < 1e-12);
        let sat = a.setpoint(&JointCommand::Position { q: 10.0 }, 0.0, 0.0);
        assert_eq!((sat.torque, sat.stiffness), (10.0, 0.0));
        let nan = a.setpoint(&JointCommand::Torque { tau: f64::NAN }, 0.0, 0.0);
        assert_eq!(nan, JointTorque::ZERO);
    }

    #[test]
    fn limits_push_back_only_past_the_stop() {
        let joint = PassiveJoint {
            damping: 0.0,
            friction: 0.0,
            lower: -1.0,
            upper: 1.0,
            limit_stiffness: 100.0,
            limit_damping: 0.0,
        };
        assert_eq!(joint.torque(0.5, 0.0).torque, 0.0);
        assert!((joint.torque(1.01, 0.0).torque + 1.0).abs() < 1e-9);
        assert!((joint.torque(-1.02, 0.0).torque - 2.0).abs() < 1e-9);
    }
}
