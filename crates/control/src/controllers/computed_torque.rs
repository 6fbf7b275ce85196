//! Computed-torque control: the desired acceleration `q̈ᵣ + Kp·e + Kd·ė` is turned into
//! torque through the full inverse dynamics, `τ = RNEA(q, q̇, a_des)`, which equals
//! `M(q)·a_des + C(q, q̇)q̇ + g(q)` in one O(n) pass (no mass matrix). The tracking error
//! then obeys `ë + Kd·ė + Kp·e = 0` for every joint, with `Kp = ω²`, `Kd = 2ζω`. The
//! joints' own friction, which RNEA leaves out, is fed forward along the reference.

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use embody_hal::JointCommand;
use embody_model::{Data, Model, rnea};

use super::{ControlInput, JointFriction};

/// Gains of [`ComputedTorque`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComputedTorqueConfig {
    /// Closed-loop natural frequency of the error (Hz). Default 8.
    pub bandwidth_hz: f64,
    /// Closed-loop damping ratio. Default 1.
    pub damping_ratio: f64,
}

impl Default for ComputedTorqueConfig {
    fn default() -> Self {
        ComputedTorqueConfig {
            bandwidth_hz: 8.0,
            damping_ratio: 1.0,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct ComputedTorque {
    kp: f64,
    kd: f64,
    friction: JointFriction,
    data: Data,
    a: DVector<f64>,
}

impl ComputedTorque {
    /// A controller for `model`.
    pub fn new(model: &Model, config: ComputedTorqueConfig) -> ComputedTorque {
        let omega = 2.0 * std::f64::consts::PI * config.bandwidth_hz;
        ComputedTorque {
            kp: omega * omega,
            kd: 2.0 * config.damping_ratio * omega,
            friction: JointFriction::new(model),
            data: Data::new(model),
            a: DVector::zeros(model.nv),
        }
    }

    /// One tick: one torque command per joint.
    pub fn update(&mut self, input: &ControlInput<'_>, out: &mut [JointCommand]) {
        let (oq, ov) = input.offsets();
        let (est, r) = (input.estimate, input.reference);
        self.a.fill(0.0);
        for k in 0..input.n {
            let e = r.q[k] - est.q[oq + k];
            let de = r.dq[k] - est.v[ov + k];
            self.a[ov + k] = r.ddq[k] + self.kp * e + self.kd * de;
        }
        let tau = rnea(
            input.model,
            &mut self.data,
            est.q.as_slice(),
            est.v.as_slice(),
            self.a.as_slice(),
        );
        for (k, cmd) in out.iter_mut().enumerate().take(input.n) {
            let friction = self.friction.torque(k, input.reference.dq[k]);
            *cmd = JointCommand::Torque {
                tau: tau[ov + k] + friction,
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
    fn the_error_decays_as_the_designed_second_order_system() {
        // With exact dynamics every joint's error obeys ë + 2ζωė + ω²e = 0. Critically
        // damped from e0 at rest: e(t) = e0·(1 + ωt)·exp(−ωt).
        let model = robots::load("arm7", None).expect("arm7");
        let config = ComputedTorqueConfig::default();
        let mut ct = ComputedTorque::new(&model, config);
        let target = [0.3, 0.8, -0.4, -1.2, 0.5, 0.9, 0.2, 0.02];
        let reference = JointPoint::at_rest(&target);
        let start = model.neutral_configuration();
        let t_end = 0.1;
        let (q, _) = simulate(&model, start.as_slice(), t_end, |est, _, out| {
            let input = ControlInput {
                model: &model,
                estimate: est,
                reference: &reference,
                n: model.nv,
            };
            ct.update(&input, out);
        });
        let w = 2.0 * std::f64::consts::PI * config.bandwidth_hz;
        let decay = (1.0 + w * t_end) * (-w * t_end).exp();
        for k in 0..model.nv {
            let e0 = target[k] - start[k];
            let expected = target[k] - e0 * decay;
            // Commands held for 1 ms against the continuous analytic solution.
            assert!(
                (q[k] - expected).abs() < 0.02 * e0.abs() + 1e-9,
                "joint {k}: {} vs analytic {expected}",
                q[k]
            );
        }
    }
}
