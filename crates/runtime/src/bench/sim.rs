//! How many physics steps per second one thread runs. Without contacts the robot moves
//! freely under gravity with its drives off (a floating base falls, as in a peer
//! simulator with no ground); with them a floating-base robot stands on the ground, its
//! drives holding the initial posture with stiff MIT impedance commands. A scenario's
//! scene is timed as it is written — its robot holding its initial posture among its
//! static boxes and objects (a stack, a box beside the arm, a box held between fingers
//! set to close past it) — to compare with a peer simulator's same scene; it runs on
//! from batch to batch. The median of several timed batches is reported.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use embody_control::gain_scale;
use embody_hal::JointCommand;
use embody_model::Model;
use embody_sim::{Environment, Integrator, LoadedScenario, SimConfig, World, lowest_point};
use serde::Serialize;

use super::median;
use crate::error::RuntimeError;

/// Hold gains per N·m of effort limit (as a session holding a posture uses; a prismatic
/// joint's per N, scaled as the loop's joint PD scales it: `gain_scale`).
const HOLD_KP_PER_NM: f64 = 20.0;
const HOLD_KD_PER_NM: f64 = 0.6;

/// What to time.
#[derive(Clone, Debug)]
pub struct SimBench {
    /// A scenario's robot, scene and initial posture instead of the robot alone (with
    /// contacts).
    pub scenario: Option<LoadedScenario>,
    /// Ground contact (a floating-base robot stands on the ground).
    pub contacts: bool,
    /// Steps per timed batch.
    pub steps: usize,
    /// Timed batches.
    pub batches: usize,
    /// Physics step (s), (0, 0.01].
    pub dt_s: f64,
    /// Integrator.
    pub integrator: Integrator,
}

/// What it ran.
#[derive(Clone, Debug, Serialize)]
pub struct SimFigures {
    /// The robot.
    pub robot: String,
    /// Whether it has a floating base.
    pub floating_base: bool,
    /// Whether the ground was there.
    pub contacts: bool,
    /// Physics step (s).
    pub dt_s: f64,
    /// Integrator.
    pub integrator: String,
    /// Velocity dimension.
    pub nv: usize,
    /// Steps per batch.
    pub steps: usize,
    /// Batches.
    pub batches: usize,
    /// Steps per second, median of the batches.
    pub steps_per_s: f64,
    /// The same per step (µs).
    pub us_per_step: f64,
    /// Simulated seconds per wall second.
    pub realtime_factor: f64,
    /// Active contact points per step, on average.
    pub mean_active_contacts: f64,
    /// Contact probes.
    pub probes: usize,
    /// Free objects in the scene.
    pub objects: usize,
    /// Their touching points per step, on average.
    pub mean_object_contacts: f64,
    /// Base height at the start (m, floating base).
    pub start_base_height_m: Option<f64>,
    /// Base height at the end of the last batch (m, floating base).
    pub final_base_height_m: Option<f64>,
    /// Where each object ended (m): whether the scene stayed the scene it was.
    pub final_object_positions_m: Vec<[f64; 3]>,
}

/// Times `model`'s physics as `bench` says.
pub fn run(model: Arc<Model>, bench: &SimBench) -> Result<SimFigures, RuntimeError> {
    if !(bench.dt_s > 0.0 && bench.dt_s <= 0.01) {
        return Err(RuntimeError::Invalid(format!(
            "a physics step of {} s is outside (0, 0.01] s",
            bench.dt_s
        )));
    }
    let (model, contacts) = match &bench.scenario {
        Some(s) => (Arc::new(s.model.clone()), true),
        None => (model, bench.contacts),
    };
    let floating = model.free_flyer().is_some();
    let mut config = SimConfig {
        dt_s: bench.dt_s,
        integrator: bench.integrator,
        ..SimConfig::default()
    };
    config.contact.enabled = contacts;
    let (environment, q) = match &bench.scenario {
        Some(s) => {
            config.contact = s.scenario.sim.contact.clone();
            (s.scenario.environment.clone(), s.initial_configuration())
        }
        None => {
            let environment = Environment {
                ground: contacts,
                ..Environment::default()
            };
            let mut q = model.neutral_configuration();
            if floating && let Some(lowest) = lowest_point(&model, q.as_slice()) {
                q[2] -= lowest;
            }
            (environment, q)
        }
    };
    let mut world = World::new(model.clone(), &environment, config);
    let v = vec![0.0; model.nv];
    world.set_state(q.as_slice(), &v);
    if contacts {
        // Stiff MIT impedance about the initial posture: what the loop's joint PD sends,
        // without its feed-forward.
        let hold: Vec<JointCommand> = model
            .actuated_joints()
            .enumerate()
            .map(|(k, j)| {
                let joint = &model.joints[j.0];
                let effort = joint.limits.effort.min(1e4) * gain_scale(&joint.kind);
                JointCommand::Impedance {
                    q: world.joint(k).0,
                    dq: 0.0,
                    kp: HOLD_KP_PER_NM * effort,
                    kd: HOLD_KD_PER_NM * effort,
                    tau_ff: 0.0,
                }
            })
            .collect();
        world.set_commands(&hold);
    }
    let start = world.q().clone();
    let steps = bench.steps.max(1);
    let mut rates = Vec::new();
    let mut contacts_total = 0usize;
    let mut touching_total = 0usize;
    for _ in 0..bench.batches.max(1) {
        // The robot alone starts afresh (a floating base would fall away); a scene goes
        // on from where it is.
        if bench.scenario.is_none() {
            world.set_state(start.as_slice(), &v);
        }
        let began = Instant::now();
        for _ in 0..steps {
            world.step();
            contacts_total += black_box(world.contacts().active().len());
            touching_total += world.objects().touching();
        }
        rates.push(steps as f64 / began.elapsed().as_secs_f64());
    }
    if !world.q().iter().all(|x| x.is_finite()) {
        return Err(RuntimeError::Invalid(
            "the simulation diverged (non-finite state)".into(),
        ));
    }
    let batches = rates.len();
    let steps_per_s = median(rates);
    Ok(SimFigures {
        robot: model.name.clone(),
        floating_base: floating,
        contacts,
        dt_s: bench.dt_s,
        integrator: format!("{:?}", bench.integrator),
        nv: model.nv,
        steps,
        batches,
        steps_per_s,
        us_per_step: 1e6 / steps_per_s,
        realtime_factor: steps_per_s * bench.dt_s,
        mean_active_contacts: contacts_total as f64 / (steps * batches) as f64,
        probes: world.contacts().probe_count(),
        objects: world.objects().len(),
        mean_object_contacts: touching_total as f64 / (steps * batches) as f64,
        start_base_height_m: floating.then(|| start[2]),
        final_base_height_m: floating.then(|| world.q()[2]),
        final_object_positions_m: (0..world.objects().len())
            .filter_map(|k| world.objects().pose(k))
            .map(|p| [p[0], p[1], p[2]])
            .collect(),
    })
}
