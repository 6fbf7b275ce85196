//! Simulated CAN buses of simulated MIT motors: every actuated joint of a simulated robot
//! is a motor with a CAN id on a bus, speaking the MIT protocol through the protocol
//! crate's motor-side codec. A command frame becomes the joint's impedance command in
//! the simulator (whose actuator model supplies the drive's behaviour), and every frame
//! is answered at once with the joint's position, velocity and torque.
//!
//! Motors can be mounted as a real unit's are ([`Mounting`]): with the encoder's zero off
//! the joint's zero, and some turning against their joint. What the bridge sees is then
//! the raw motor, `p = direction·q + zero`, until a calibration says otherwise.

use embody_hal::JointCommand;
use embody_model::{JointKind, Model};
use embody_protocol::messages::ActuatorSetup;
use embody_protocol::{CanFrame, MitCodec, MitFeedback, MitRequest, MitSpecial};
use embody_sim::World;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How a motor sits on its joint: `p = direction·q + zero`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mounting {
    /// Motor position at the joint's zero (rad).
    pub zero: f64,
    /// +1, or −1 when the motor turns against the joint.
    pub direction: f64,
}

impl Default for Mounting {
    fn default() -> Mounting {
        Mounting {
            zero: 0.0,
            direction: 1.0,
        }
    }
}

/// Mounting errors of a unit as built, drawn from `seed`: revolute joints' encoder zeros
/// within ±0.3 rad, prismatic ones' within ±2 mm, and on revolute joints whose stops
/// sit off-centre by more than 0.5 rad (where the stops show the direction) a motor
/// turned round half the time.
pub fn as_built(model: &Model, seed: u64) -> Vec<Mounting> {
    let mut rng = SmallRng::seed_from_u64(seed);
    model
        .actuated_joints()
        .map(|j| {
            let joint = &model.joints[j.0];
            let (lower, upper) = (joint.limits.lower, joint.limits.upper);
            match joint.kind {
                JointKind::Prismatic(_) => Mounting {
                    zero: rng.random_range(-0.002..0.002),
                    direction: 1.0,
                },
                _ => {
                    let off_centre = (upper + lower).abs() > 1.0 && (upper - lower).is_finite();
                    Mounting {
                        zero: rng.random_range(-0.3..0.3),
                        direction: if off_centre && rng.random_bool(0.5) {
                            -1.0
                        } else {
                            1.0
                        },
                    }
                }
            }
        })
        .collect()
}

/// The motors of one simulated robot.
pub struct Motors {
    world: World,
    motors: Vec<(u8, MitCodec)>,
    mounting: Vec<Mounting>,
    enabled: Vec<bool>,
    frames: u64,
}

impl Motors {
    /// Motors for `world`'s joints as `actuators` maps them (joint `k` is motor `k`).
    pub fn new(world: World, actuators: &[ActuatorSetup]) -> Motors {
        let n = world.joint_count();
        Motors {
            motors: actuators.iter().take(n).map(|a| (a.bus, a.codec)).collect(),
            mounting: vec![Mounting::default(); n],
            enabled: vec![false; n],
            world,
            frames: 0,
        }
    }

    /// Mounts the motors as `mounting` says (joint order; missing ones ideal).
    pub fn mount(&mut self, mounting: &[Mounting]) {
        for (slot, m) in self.mounting.iter_mut().zip(mounting) {
            *slot = *m;
        }
    }

    /// The simulated world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Whether motor `k` is in motor mode.
    pub fn enabled(&self, k: usize) -> bool {
        self.enabled.get(k).copied().unwrap_or(false)
    }

    /// Frames answered so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Advances the simulation by `seconds` (whole steps).
    pub fn advance(&mut self, seconds: f64) {
        let steps = (seconds / self.world.config().dt_s).round() as usize;
        for _ in 0..steps {
            self.world.step();
        }
    }

    /// A frame on bus `bus`: the addressed motor acts on it and answers.
    pub fn on_frame(&mut self, bus: u8, frame: &CanFrame) -> Option<CanFrame> {
        let (k, request) = self
            .motors
            .iter()
            .enumerate()
            .filter(|(_, (b, _))| *b == bus)
            .find_map(|(k, (_, codec))| codec.decode_request(frame).ok().map(|r| (k, r)))?;
        let command = match request {
            MitRequest::Special(MitSpecial::EnterMotorMode) => {
                self.enabled[k] = true;
                None
            }
            MitRequest::Special(MitSpecial::ExitMotorMode) => {
                self.enabled[k] = false;
                Some(JointCommand::Off)
            }
            MitRequest::Special(_) => None,
            MitRequest::Command(c) if self.enabled[k] => {
                let m = self.mounting[k];
                Some(JointCommand::Impedance {
                    q: m.direction * (c.p as f64 - m.zero),
                    dq: m.direction * c.v as f64,
                    kp: c.kp as f64,
                    kd: c.kd as f64,
                    tau_ff: m.direction * c.t_ff as f64,
                })
            }
            MitRequest::Command(_) => Some(JointCommand::Off),
        };
        if let Some(command) = command {
            self.world.set_command(k, command);
        }
        self.frames += 1;
        let (q, dq) = self.world.joint(k);
        let m = self.mounting[k];
        let codec = self.motors[k].1;
        codec
            .feedback_frame(&MitFeedback {
                motor_id: codec.motor_id,
                p: (m.direction * q + m.zero) as f32,
                v: (m.direction * dq) as f32,
                t: (m.direction * self.world.motor_torques()[k]) as f32,
                enabled: self.enabled[k],
                ..MitFeedback::default()
            })
            .ok()
    }
}
