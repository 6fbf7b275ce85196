//! The controllers the loop runs, each a plain struct with its own preallocated model
//! workspace: [`JointPd`] (actuator-side PD with RNEA feed-forward), [`ComputedTorque`]
//! and [`CartesianImpedance`]. All three follow the same joint reference from the
//! trajectory follower, so switching between them never jumps the target; the loop blends
//! their torques over a transfer time (see [`equivalent_torque`]). Every `update` is
//! real-time safe: no allocation.

mod cartesian;
mod computed_torque;
mod joint_pd;

pub use cartesian::{CartesianConfig, CartesianImpedance};
pub use computed_torque::{ComputedTorque, ComputedTorqueConfig};
pub use joint_pd::{JointPd, JointPdConfig, PRISMATIC_SCALE, gain_scale};

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use embody_hal::JointCommand;
use embody_model::Model;
use embody_perception::StateEstimate;

use crate::trajectory::JointPoint;

/// Which controller is active.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ControllerKind {
    /// Joint PD with inverse-dynamics feed-forward, run as MIT impedance on the actuators.
    #[default]
    JointPd = 0,
    /// Computed torque: `τ = M(q)(q̈ᵣ + Kp·e + Kd·ė) + C(q, q̇)q̇ + g(q)`.
    ComputedTorque = 1,
    /// Cartesian impedance of one frame with a null-space posture.
    CartesianImpedance = 2,
    /// A driver's own targets ([`crate::targets`]): a learned policy's impedance targets
    /// for the joints it drives, joint PD holding the others.
    Targets = 3,
}

impl ControllerKind {
    /// The kind a snapshot's `controller` byte names.
    pub fn from_u8(v: u8) -> Option<ControllerKind> {
        [
            ControllerKind::JointPd,
            ControllerKind::ComputedTorque,
            ControllerKind::CartesianImpedance,
            ControllerKind::Targets,
        ]
        .into_iter()
        .find(|k| *k as u8 == v)
    }
}

impl std::fmt::Display for ControllerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ControllerKind::JointPd => "joint PD",
            ControllerKind::ComputedTorque => "computed torque",
            ControllerKind::CartesianImpedance => "Cartesian impedance",
            ControllerKind::Targets => "driver targets",
        })
    }
}

/// What a controller sees each tick.
#[derive(Clone, Copy, Debug)]
pub struct ControlInput<'a> {
    /// The robot model.
    pub model: &'a Model,
    /// The estimated state in model coordinates.
    pub estimate: &'a StateEstimate,
    /// The joint reference (first `n` entries).
    pub reference: &'a JointPoint,
    /// Number of actuated joints.
    pub n: usize,
}

impl ControlInput<'_> {
    /// Offsets of the actuated joints in `q` and `v` (7 and 6 behind a free-flyer).
    pub fn offsets(&self) -> (usize, usize) {
        if self.model.free_flyer().is_some() {
            (7, 6)
        } else {
            (0, 0)
        }
    }

    /// Writes the full-model velocity `[base from the estimate; dq_ref]` and acceleration
    /// `[0; ddq_ref]` of the reference into `v` and `a` (nv each).
    pub fn reference_motion(&self, v: &mut DVector<f64>, a: &mut DVector<f64>) {
        let (_, ov) = self.offsets();
        v.copy_from(&self.estimate.v);
        a.fill(0.0);
        for k in 0..self.n {
            v[ov + k] = self.reference.dq[k];
            a[ov + k] = self.reference.ddq[k];
        }
    }
}

/// The joints' own viscous damping and Coulomb friction from the model (URDF
/// `<dynamics>`), which RNEA leaves out: fed forward along the reference velocity so a
/// light joint with a sticky gearbox tracks as well as a heavy one.
#[derive(Clone, Debug)]
pub struct JointFriction {
    damping: Vec<f64>,
    coulomb: Vec<f64>,
}

/// Below this speed Coulomb friction fades smoothly to zero (rad/s).
const COULOMB_SMOOTHING_RADPS: f64 = 0.05;

impl JointFriction {
    /// The friction of `model`'s actuated joints.
    pub fn new(model: &Model) -> JointFriction {
        let joints: Vec<_> = model
            .actuated_joints()
            .map(|j| &model.joints[j.0])
            .collect();
        JointFriction {
            damping: joints.iter().map(|j| j.damping).collect(),
            coulomb: joints.iter().map(|j| j.friction).collect(),
        }
    }

    /// Torque that cancels joint `k`'s friction at velocity `dq`.
    pub fn torque(&self, k: usize, dq: f64) -> f64 {
        self.damping[k] * dq + self.coulomb[k] * (dq / COULOMB_SMOOTHING_RADPS).tanh()
    }
}

/// The torque a command makes the actuator apply at measured `(q, dq)`: what blending
/// between controllers and the torque-rate limit act on.
pub fn equivalent_torque(command: &JointCommand, q: f64, dq: f64) -> f64 {
    match *command {
        JointCommand::Off | JointCommand::Position { .. } | JointCommand::Velocity { .. } => 0.0,
        JointCommand::Torque { tau } => tau,
        JointCommand::Impedance {
            q: q_ref,
            dq: dq_ref,
            kp,
            kd,
            tau_ff,
        } => kp * (q_ref - q) + kd * (dq_ref - dq) + tau_ff,
    }
}

/// The command whose torque at `(q, dq)` is `(1 − s)` of `old`'s plus `s` of `new`'s,
/// kept an impedance: the stiffness and damping of both stay in the actuator's own
/// loop, which runs them at its rate without the bus's delay. (Blended as a torque
/// computed here, a stiff light joint — a finger — would ring through that delay.)
pub fn blend(old: &JointCommand, new: &JointCommand, s: f64, q: f64, dq: f64) -> JointCommand {
    // (kp, kd, kp·q_ref, kd·dq_ref, tau_ff) of a command; only torque for the rest.
    let terms = |c: &JointCommand| match *c {
        JointCommand::Impedance {
            q: q_ref,
            dq: dq_ref,
            kp,
            kd,
            tau_ff,
        } => [kp, kd, kp * q_ref, kd * dq_ref, tau_ff],
        _ => [0.0, 0.0, 0.0, 0.0, equivalent_torque(c, q, dq)],
    };
    let (a, b) = (terms(old), terms(new));
    let [kp, kd, kp_q, kd_dq, tau_ff] = std::array::from_fn(|i| (1.0 - s) * a[i] + s * b[i]);
    JointCommand::Impedance {
        q: if kp > 0.0 { kp_q / kp } else { q },
        dq: if kd > 0.0 { kd_dq / kd } else { dq },
        kp,
        kd,
        tau_ff,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Closed-loop simulation of a fixed-base robot for controller tests: the model's own
    //! forward dynamics (ABA) integrated at 10 kHz (as an actuator's current loop runs)
    //! under commands updated at 1 kHz.
    use super::*;
    use embody_hal::Timestamp;
    use embody_model::{Data, aba};
    use embody_perception::HealthReport;
    use nalgebra::UnitQuaternion;

    pub fn estimate_of(model: &Model, q: &DVector<f64>, v: &DVector<f64>) -> StateEstimate {
        StateEstimate {
            stamp: Timestamp::ZERO,
            q: q.clone(),
            v: v.clone(),
            joint_tau: vec![0.0; model.nv],
            joint_faults: embody_hal::FaultBits::NONE,
            contacts: Vec::new(),
            health: HealthReport::default(),
            world_from_base: UnitQuaternion::identity(),
        }
    }

    /// Runs `control` for `seconds` from `(q, 0)`; returns the final state.
    pub fn simulate(
        model: &Model,
        q0: &[f64],
        seconds: f64,
        mut control: impl FnMut(&StateEstimate, f64, &mut [JointCommand]),
    ) -> (DVector<f64>, DVector<f64>) {
        let mut data = Data::new(model);
        let mut q = DVector::from_column_slice(q0);
        let mut v = DVector::zeros(model.nv);
        let mut tau = DVector::zeros(model.nv);
        let mut commands = vec![JointCommand::Off; model.nv];
        let (dt, substeps) = (1e-3, 10);
        let h = dt / substeps as f64;
        for k in 0..(seconds / dt) as usize {
            let est = estimate_of(model, &q, &v);
            control(&est, k as f64 * dt, &mut commands);
            for _ in 0..substeps {
                for j in 0..model.nv {
                    tau[j] = equivalent_torque(&commands[j], q[j], v[j]);
                }
                let ddq = aba(model, &mut data, q.as_slice(), v.as_slice(), tau.as_slice()).clone();
                v += ddq * h;
                q += &v * h;
            }
        }
        (q, v)
    }
}

#[cfg(test)]
mod blend_tests {
    use super::*;

    #[test]
    fn a_blend_is_an_impedance_with_the_blended_torque_and_gains() {
        let old = JointCommand::Impedance {
            q: 0.3,
            dq: 0.1,
            kp: 200.0,
            kd: 12.0,
            tau_ff: 1.5,
        };
        let new = JointCommand::Torque { tau: -4.0 };
        for (s, q, dq) in [(0.0, 0.2, 0.0), (0.25, 0.31, -0.4), (0.9, -1.0, 2.0)] {
            let mixed = blend(&old, &new, s, q, dq);
            let want =
                (1.0 - s) * equivalent_torque(&old, q, dq) + s * equivalent_torque(&new, q, dq);
            assert!((equivalent_torque(&mixed, q, dq) - want).abs() < 1e-12);
            // The stiffness and damping stay in the actuator, scaled by what is left.
            let JointCommand::Impedance { kp, kd, .. } = mixed else {
                panic!("not an impedance: {mixed:?}");
            };
            assert!((kp - (1.0 - s) * 200.0).abs() < 1e-12);
            assert!((kd - (1.0 - s) * 12.0).abs() < 1e-12);
        }
        // Two torques blend to a torque: no gains.
        let mixed = blend(&new, &JointCommand::Torque { tau: 2.0 }, 0.5, 0.0, 0.0);
        assert_eq!(equivalent_torque(&mixed, 0.7, -0.3), -1.0);
    }
}
