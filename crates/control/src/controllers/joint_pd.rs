//! Joint PD with inverse-dynamics feed-forward: the actuators run
//! `τ = kp·(qᵣ − q) + kd·(q̇ᵣ − q̇) + τ_ff` at their own rate (MIT impedance), with
//! `τ_ff = RNEA(q, q̇ᵣ, q̈ᵣ)` so gravity and the reference's own dynamics need no error to
//! be produced, plus the joints' own friction. Gains scale with each joint's effort
//! limit, so one setting suits a 160 N·m hip and an 8 N·m wrist. A prismatic joint's gains are per metre where a revolute
//! joint's are per radian, and [`PRISMATIC_SCALE`] times stiffer: a gripper finger
//! travels centimetres, and must press on what it holds with most of its force a few
//! millimetres past touching it. Its damping is scaled alike.

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use embody_hal::JointCommand;
use embody_model::{Data, JointKind, Model, rnea};

use super::{ControlInput, JointFriction};

/// How much stiffer a prismatic joint is per N of effort limit (1/m) than a revolute
/// one per N·m (1/rad): with the default gains, full effort 2 cm off target where a
/// revolute joint is 0.2 rad off.
pub const PRISMATIC_SCALE: f64 = 10.0;

/// How much a joint's gains per unit of effort limit are scaled: [`PRISMATIC_SCALE`]
/// for a prismatic joint, 1 for the rest.
pub fn gain_scale(kind: &JointKind) -> f64 {
    match kind {
        JointKind::Prismatic(_) => PRISMATIC_SCALE,
        _ => 1.0,
    }
}

/// Gains of [`JointPd`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JointPdConfig {
    /// Stiffness per N·m of effort limit (1/rad): `kp = kp_per_effort · effort`. Default 5.
    pub kp_per_effort: f64,
    /// Damping per N·m of effort limit (s/rad). Default 0.3.
    pub kd_per_effort: f64,
    /// Feed the reference's inverse dynamics forward (else gravity only). Default true.
    pub inverse_dynamics: bool,
}

impl Default for JointPdConfig {
    fn default() -> Self {
        JointPdConfig {
            kp_per_effort: 5.0,
            kd_per_effort: 0.3,
            inverse_dynamics: true,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct JointPd {
    config: JointPdConfig,
    kp: Vec<f64>,
    kd: Vec<f64>,
    friction: JointFriction,
    data: Data,
    v: DVector<f64>,
    a: DVector<f64>,
}

impl JointPd {
    /// A controller for `model`.
    pub fn new(model: &Model, config: JointPdConfig) -> JointPd {
        // Effort limit, and the gains' scale for a prismatic joint (see the module docs).
        let (effort, scale): (Vec<f64>, Vec<f64>) = model
            .actuated_joints()
            .map(|j| {
                let joint = &model.joints[j.0];
                (joint.limits.effort.min(1e4), gain_scale(&joint.kind))
            })
            .unzip();
        JointPd {
            config,
            kp: (effort.iter().zip(&scale))
                .map(|(e, s)| config.kp_per_effort * e * s)
                .collect(),
            kd: (effort.iter().zip(&scale))
                .map(|(e, s)| config.kd_per_effort * e * s)
                .collect(),
            friction: JointFriction::new(model),
            data: Data::new(model),
            v: DVector::zeros(model.nv),
            a: DVector::zeros(model.nv),
        }
    }

    /// Per-joint stiffness (N·m/rad) and damping (N·m·s/rad).
    pub fn gains(&self) -> (&[f64], &[f64]) {
        (&self.kp, &self.kd)
    }

    /// One tick: one impedance command per joint.
    pub fn update(&mut self, input: &ControlInput<'_>, out: &mut [JointCommand]) {
        let (_, ov) = input.offsets();
        input.reference_motion(&mut self.v, &mut self.a);
        if !self.config.inverse_dynamics {
            self.v.fill(0.0);
            self.a.fill(0.0);
        }
        let tau_ff = rnea(
            input.model,
            &mut self.data,
            input.estimate.q.as_slice(),
            self.v.as_slice(),
            self.a.as_slice(),
        );
        let r = input.reference;
        for (k, cmd) in out.iter_mut().enumerate().take(input.n) {
            *cmd = JointCommand::Impedance {
                q: r.q[k],
                dq: r.dq[k],
                kp: self.kp[k],
                kd: self.kd[k],
                tau_ff: tau_ff[ov + k] + self.friction.torque(k, r.dq[k]),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::simulate;
    use super::*;
    use crate::trajectory::JointPoint;
    use embody_model::robots;

    #[test]
    fn holds_an_arm_against_gravity_with_no_steady_state_error() {
        let model = robots::load("arm7", None).expect("arm7");
        let target = [0.3, 0.8, -0.4, -1.2, 0.5, 0.9, 0.2, 0.02];
        let reference = JointPoint::at_rest(&target);
        let run = |inverse_dynamics: bool| {
            let config = JointPdConfig {
                inverse_dynamics,
                ..JointPdConfig::default()
            };
            let mut pd = JointPd::new(&model, config);
            let mut gravity_free = JointPd::new(&model, config);
            let start = model.neutral_configuration();
            simulate(&model, start.as_slice(), 3.0, |est, _, out| {
                let input = ControlInput {
                    model: &model,
                    estimate: est,
                    reference: &reference,
                    n: model.nv,
                };
                if inverse_dynamics {
                    pd.update(&input, out);
                } else {
                    // Strip the feed-forward entirely: plain PD.
                    gravity_free.update(&input, out);
                    for c in out.iter_mut() {
                        if let JointCommand::Impedance { tau_ff, .. } = c {
                            *tau_ff = 0.0;
                        }
                    }
                }
            })
            .0
        };
        let with = run(true);
        let without = run(false);
        let error = |q: &DVector<f64>| {
            (0..model.nv)
                .map(|k| (q[k] - target[k]).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            error(&with) < 1e-4,
            "with RNEA feed-forward: {:.2e} rad",
            error(&with)
        );
        // Plain PD sags under gravity: the test can tell the difference.
        assert!(
            error(&without) > 10.0 * error(&with),
            "plain PD error {:.2e}",
            error(&without)
        );
    }
}
