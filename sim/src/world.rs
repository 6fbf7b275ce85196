//! The physical world of one robot: its state, the actuators driving it, the passive
//! joint forces and the contacts, advanced by a fixed step with the chosen integrator on
//! the model's forward dynamics (ABA with armature and external forces). Real-time safe:
//! `step` never allocates.

use std::sync::Arc;

use nalgebra::DVector;

use embody_hal::JointCommand;
use embody_model::{
    Data, External, Model, aba_external, forward_kinematics_velocity, integrate, normalize,
    spatial::Force,
};

use crate::actuator::{Actuator, JointTorque, PassiveJoint, stuck_brake};
use crate::config::{Integrator, SimConfig};
use crate::contact::{Contacts, Environment};

/// One actuated joint: where its coordinates are and what drives it.
#[derive(Clone, Copy, Debug)]
struct Slot {
    iq: usize,
    iv: usize,
    actuator: Actuator,
    passive: PassiveJoint,
    effort: f64,
}

/// Per-joint faults the world itself obeys.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JointFault {
    /// The drive is disabled: no torque.
    pub disabled: bool,
    /// The gearbox is stuck at this position.
    pub stuck_at: Option<f64>,
}

/// Limit springs stiff enough for an implicit step would blow an explicit one up on a
/// light joint. For RK4 each limit becomes a critically damped spring–damper with a time
/// constant of ten steps on the joint's inertia (the mass-matrix diagonal at the neutral
/// configuration, armature included), as MuJoCo scales its constraint softness.
fn soften_limits_for_explicit(model: &Model, slots: &mut [Slot], armature: &[f64], dt: f64) {
    let mut data = Data::new(model);
    let q = model.neutral_configuration();
    let mass = embody_model::crba(model, &mut data, q.as_slice());
    let tau = 10.0 * dt;
    for slot in slots {
        let inertia = mass[(slot.iv, slot.iv)] + armature[slot.iv];
        slot.passive.limit_stiffness = inertia / (tau * tau);
        slot.passive.limit_damping = 2.0 * inertia / tau;
    }
}

/// Scratch for one RK4 step: the stage state and each stage's derivatives.
#[derive(Default)]
struct Rk4Scratch {
    q: DVector<f64>,
    v: DVector<f64>,
    dq: [DVector<f64>; 4],
    dv: [DVector<f64>; 4],
}

const RK4_WEIGHTS: [f64; 4] = [1.0, 2.0, 2.0, 1.0];

/// A robot in its environment. See the module docs.
pub struct World {
    model: Arc<Model>,
    data: Data,
    config: SimConfig,
    q: DVector<f64>,
    v: DVector<f64>,
    steps: u64,
    slots: Vec<Slot>,
    commands: Vec<JointCommand>,
    faults: Vec<JointFault>,
    /// Torque each motor produced over the last step (N·m).
    motor: Vec<f64>,
    /// Current-loop blend per step, `1 − exp(−dt/T)`.
    lag_blend: f64,
    contacts: Contacts,
    objects: crate::objects::Objects,
    // Scratch, sized once.
    tau: DVector<f64>,
    armature: Vec<f64>,
    base_armature: Vec<f64>,
    forces: Vec<Force>,
    explicit: Vec<f64>,
    implicit: Vec<f64>,
    step_v: DVector<f64>,
    q_next: DVector<f64>,
    rk4: Rk4Scratch,
    environment: Environment,
}

/// How `config`'s objects touch, at its step.
fn object_contact(config: &SimConfig) -> crate::objects::ObjectContact {
    crate::objects::ObjectContact {
        dt_s: config.dt_s,
        ..config.contact.objects()
    }
}

impl World {
    /// `model` at its neutral configuration, at rest, every actuator off.
    pub fn new(model: Arc<Model>, environment: &Environment, config: SimConfig) -> World {
        let slots: Vec<Slot> = model
            .actuated_joints()
            .map(|j| {
                let joint = &model.joints[j.0];
                Slot {
                    iq: joint.idx_q,
                    iv: joint.idx_v,
                    actuator: Actuator::for_joint(joint, &config.actuator),
                    passive: PassiveJoint::for_joint(joint),
                    effort: joint.limits.effort,
                }
            })
            .collect();
        let mut base_armature = vec![0.0; model.nv];
        for slot in &slots {
            base_armature[slot.iv] = slot.actuator.armature;
        }
        let mut slots = slots;
        if config.integrator == Integrator::Rk4 {
            soften_limits_for_explicit(&model, &mut slots, &base_armature, config.dt_s);
        }
        let n = slots.len();
        let (nq, nv) = (model.nq, model.nv);
        let lag_s = config.actuator.current_lag_ms * 1e-3;
        let lag_blend = if lag_s > 0.0 {
            1.0 - (-config.dt_s / lag_s).exp()
        } else {
            1.0
        };
        World {
            environment: environment.clone(),
            data: Data::new(&model),
            contacts: Contacts::new(&model, environment, &config.contact),
            // Checked by whoever made the environment (SimRobot::new, scenarios); an
            // unchecked bad object leaves the set empty rather than failing here.
            objects: crate::objects::Objects::new(
                environment,
                object_contact(&config),
                &model,
                &config.contact.disabled_pairs,
            )
            .unwrap_or_else(|_| crate::objects::Objects::none(model.gravity)),
            q: model.neutral_configuration(),
            v: DVector::zeros(nv),
            steps: 0,
            commands: vec![JointCommand::Off; n],
            faults: vec![JointFault::default(); n],
            motor: vec![0.0; n],
            lag_blend,
            tau: DVector::zeros(nv),
            armature: base_armature.clone(),
            base_armature,
            forces: vec![Force::ZERO; model.njoints()],
            explicit: vec![0.0; n],
            implicit: vec![0.0; n],
            step_v: DVector::zeros(nv),
            q_next: DVector::zeros(nq),
            rk4: Rk4Scratch {
                q: DVector::zeros(nq),
                v: DVector::zeros(nv),
                dq: std::array::from_fn(|_| DVector::zeros(nv)),
                dv: std::array::from_fn(|_| DVector::zeros(nv)),
            },
            slots,
            config,
            model,
        }
    }

    /// The robot model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Configuration (nq).
    pub fn q(&self) -> &DVector<f64> {
        &self.q
    }

    /// Velocity (nv; free-flyer part in the base frame, as the model's convention).
    pub fn v(&self) -> &DVector<f64> {
        &self.v
    }

    /// Sets the state (sizes nq and nv; quaternions are normalised). Stiction anchors
    /// are kept: set the state before the first step.
    pub fn set_state(&mut self, q: &[f64], v: &[f64]) {
        self.q.copy_from_slice(q);
        self.v.copy_from_slice(v);
        normalize(&self.model, self.q.as_mut_slice());
    }

    /// Number of actuated joints.
    pub fn joint_count(&self) -> usize {
        self.slots.len()
    }

    /// Position and velocity of actuated joint `k`.
    pub fn joint(&self, k: usize) -> (f64, f64) {
        let slot = &self.slots[k];
        (self.q[slot.iq], self.v[slot.iv])
    }

    /// Sets the commands the actuators follow from the next step (one per joint).
    pub fn set_commands(&mut self, commands: &[JointCommand]) {
        let n = self.commands.len().min(commands.len());
        self.commands[..n].copy_from_slice(&commands[..n]);
    }

    /// Sets the command actuator `k` follows (ignored for an unknown joint).
    pub fn set_command(&mut self, k: usize, command: JointCommand) {
        if let Some(c) = self.commands.get_mut(k) {
            *c = command;
        }
    }

    /// Sets a joint's faults (ignored for an unknown joint).
    pub fn set_fault(&mut self, k: usize, fault: JointFault) {
        if let Some(f) = self.faults.get_mut(k) {
            *f = fault;
        }
    }

    /// A joint's faults.
    pub fn fault(&self, k: usize) -> JointFault {
        self.faults.get(k).copied().unwrap_or_default()
    }

    /// Torque each motor produced over the last step (N·m), in joint order.
    pub fn motor_torques(&self) -> &[f64] {
        &self.motor
    }

    /// The contact model (active contacts of the last step).
    pub fn contacts(&self) -> &Contacts {
        &self.contacts
    }

    /// Workspace of the last dynamics evaluation (placements, velocities, `ddq`).
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Simulated time (s).
    pub fn time_s(&self) -> f64 {
        self.steps as f64 * self.config.dt_s
    }

    /// Total mechanical energy (J): kinetic `½vᵀMv` plus gravitational potential.
    pub fn energy(&mut self) -> f64 {
        let model = &self.model;
        let mass = embody_model::crba(model, &mut self.data, self.q.as_slice());
        let kinetic = 0.5 * self.v.dot(&(mass * &self.v));
        let com = embody_model::center_of_mass(model, &mut self.data, self.q.as_slice());
        kinetic - model.total_mass() * model.gravity.dot(&com)
    }

    /// What the robot is in: the ground, static boxes, the objects as they started.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The dynamic objects: their names, poses and contact forces.
    pub fn objects(&self) -> &crate::objects::Objects {
        &self.objects
    }

    /// Advances the world by one step of `dt_s`.
    pub fn step(&mut self) {
        match self.config.integrator {
            Integrator::SemiImplicitEuler => self.step_semi_implicit(),
            Integrator::Rk4 => self.step_rk4(),
        }
        if self.config.integrator == Integrator::Rk4 {
            // RK4 is for smooth motion studies: objects move on their own there.
            self.objects.step(self.config.dt_s);
        }
        normalize(&self.model, self.q.as_mut_slice());
        self.steps += 1;
    }

    /// The torque law of joint `k` at its current state: actuator set-point plus passive
    /// forces (or the brake of a stuck gearbox).
    fn joint_laws(&self, k: usize, q: f64, dq: f64) -> (JointTorque, JointTorque) {
        let slot = &self.slots[k];
        let fault = self.faults[k];
        let drive = if fault.disabled {
            JointTorque::default()
        } else {
            slot.actuator.setpoint(&self.commands[k], q, dq)
        };
        let mut passive = slot.passive.torque(q, dq);
        if let Some(position) = fault.stuck_at {
            let brake = stuck_brake(position, q, dq, slot.effort);
            passive.torque += brake.torque;
            passive.stiffness += brake.stiffness;
            passive.damping += brake.damping;
        }
        (drive, passive)
    }

    fn clear_forces(&mut self) {
        self.forces.iter_mut().for_each(|f| *f = Force::ZERO);
    }

    /// Semi-implicit Euler with joint-local stiffness `K` and damping `B` taken at the
    /// end of the step: `(M + A + dt·B + dt²·K)·a = τ(q, v) − dt·K·v + Jᵀf − h`.
    /// The motor torque follows its set-point through the current-loop lag, linearised
    /// the same way.
    fn step_semi_implicit(&mut self) {
        let dt = self.config.dt_s;
        self.clear_forces();
        self.contacts.compute(
            &self.model,
            &mut self.data,
            self.q.as_slice(),
            self.v.as_slice(),
            &mut self.forces,
            true,
        );
        if self.objects.any_pairs() {
            if self.contacts.probe_count() == 0 {
                forward_kinematics_velocity(
                    &self.model,
                    &mut self.data,
                    self.q.as_slice(),
                    self.v.as_slice(),
                );
            }
            // Objects first: their reactions on the links join the robot's forces.
            self.objects
                .step_with_robot(dt, &self.data, &mut self.forces);
        }
        self.armature.copy_from_slice(&self.base_armature);
        self.tau.fill(0.0);
        let blend = self.lag_blend;
        for k in 0..self.slots.len() {
            let (iq, iv) = (self.slots[k].iq, self.slots[k].iv);
            let (q, dq) = (self.q[iq], self.v[iv]);
            let (drive, passive) = self.joint_laws(k, q, dq);
            let motor = self.motor[k];
            self.explicit[k] = motor + blend * (drive.torque - drive.stiffness * dt * dq - motor);
            self.implicit[k] = blend * (drive.stiffness * dt * dt + drive.damping * dt);
            self.tau[iv] = self.explicit[k] + passive.torque - passive.stiffness * dt * dq;
            self.armature[iv] +=
                self.implicit[k] + passive.stiffness * dt * dt + passive.damping * dt;
        }
        let ddq = aba_external(
            &self.model,
            &mut self.data,
            self.q.as_slice(),
            self.v.as_slice(),
            self.tau.as_slice(),
            Some(&External {
                armature: &self.armature,
                forces: &self.forces,
            }),
        );
        for k in 0..self.slots.len() {
            self.motor[k] = self.explicit[k] - self.implicit[k] * ddq[self.slots[k].iv];
        }
        self.v.axpy(dt, ddq, 1.0);
        self.step_v.copy_from(&self.v);
        self.step_v *= dt;
        self.move_by_step_v();
    }

    /// Moves `q` on its manifold by the displacement in `step_v`.
    fn move_by_step_v(&mut self) {
        self.q_next.copy_from(&self.q);
        integrate(
            &self.model,
            self.q.as_slice(),
            self.step_v.as_slice(),
            self.q_next.as_mut_slice(),
        );
        std::mem::swap(&mut self.q, &mut self.q_next);
    }

    /// Accelerations at state `(q, v)` with every force explicit (RK4 stages), into
    /// `self.data.ddq`.
    fn accelerations(&mut self, q: &[f64], v: &[f64], first_stage: bool) {
        self.clear_forces();
        self.contacts.compute(
            &self.model,
            &mut self.data,
            q,
            v,
            &mut self.forces,
            first_stage,
        );
        self.tau.fill(0.0);
        for k in 0..self.slots.len() {
            let (iq, iv) = (self.slots[k].iq, self.slots[k].iv);
            let (drive, passive) = self.joint_laws(k, q[iq], v[iv]);
            if first_stage {
                self.motor[k] = drive.torque;
            }
            self.tau[iv] = drive.torque + passive.torque;
        }
        aba_external(
            &self.model,
            &mut self.data,
            q,
            v,
            self.tau.as_slice(),
            Some(&External {
                armature: &self.base_armature,
                forces: &self.forces,
            }),
        );
    }

    /// Classic RK4; stage and final positions advance on the manifold by integrating
    /// velocities from the start of the step. Actuators are ideal here (no current-loop
    /// lag): their torque is evaluated at every stage.
    fn step_rk4(&mut self) {
        let dt = self.config.dt_s;
        let mut s = std::mem::take(&mut self.rk4);
        for stage in 0..4 {
            if stage == 0 {
                s.q.copy_from(&self.q);
                s.v.copy_from(&self.v);
            } else {
                let h = if stage == 3 { dt } else { dt / 2.0 };
                self.step_v.copy_from(&s.dq[stage - 1]);
                self.step_v *= h;
                s.q.copy_from(&self.q);
                integrate(
                    &self.model,
                    self.q.as_slice(),
                    self.step_v.as_slice(),
                    s.q.as_mut_slice(),
                );
                s.v.copy_from(&self.v);
                s.v.axpy(h, &s.dv[stage - 1], 1.0);
            }
            s.dq[stage].copy_from(&s.v);
            self.accelerations(s.q.as_slice(), s.v.as_slice(), stage == 0);
            s.dv[stage].copy_from(&self.data.ddq);
        }
        self.step_v.fill(0.0);
        for (stage, weight) in RK4_WEIGHTS.into_iter().enumerate() {
            self.step_v.axpy(weight * dt / 6.0, &s.dq[stage], 1.0);
            self.v.axpy(weight * dt / 6.0, &s.dv[stage], 1.0);
        }
        self.move_by_step_v();
        self.rk4 = s;
    }
}
