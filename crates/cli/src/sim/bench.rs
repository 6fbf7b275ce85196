//! `embody sim bench`: how many physics steps per second one thread runs. Without
//! `--contacts` the robot moves freely under gravity with its drives off (a floating
//! base falls, as in a peer simulator with no ground); with `--contacts` a floating-base
//! robot stands on the ground, its drives holding the initial posture with stiff MIT
//! impedance commands. The median of several timed batches is reported.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use embody_hal::JointCommand;
use embody_model::robots;
use embody_sim::{Environment, Integrator, SimConfig, World, lowest_point};
use serde_json::json;

/// Hold gains per N·m of effort limit (as `embody sim run` uses).
const HOLD_KP_PER_NM: f64 = 20.0;
const HOLD_KD_PER_NM: f64 = 0.6;

/// Arguments of `embody sim bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Built-in robot (arm7, humanoid) or path to a URDF file.
    #[arg(long, default_value = "humanoid")]
    robot: String,
    /// Put the robot on a floating base (built-in robots use their own).
    #[arg(long)]
    floating_base: bool,
    /// Ground contact (a floating-base robot stands on the ground).
    #[arg(long)]
    contacts: bool,
    /// Steps per timed batch.
    #[arg(long, default_value_t = 20_000)]
    steps: usize,
    /// Timed batches; the median is reported.
    #[arg(long, default_value_t = 5)]
    batches: usize,
    /// Physics step (s).
    #[arg(long, default_value_t = 0.002)]
    dt: f64,
    /// Integrator.
    #[arg(long, value_enum, default_value_t = IntegratorArg::SemiImplicitEuler)]
    integrator: IntegratorArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The integrator on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum IntegratorArg {
    SemiImplicitEuler,
    Rk4,
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    if !(args.dt > 0.0 && args.dt <= 0.01) {
        return Err(format!("--dt {} is outside (0, 0.01] s", args.dt));
    }
    let model =
        robots::load(&args.robot, args.floating_base.then_some(true)).map_err(|e| e.to_string())?;
    let model = Arc::new(model);
    let floating = model.free_flyer().is_some();
    let mut config = SimConfig {
        dt_s: args.dt,
        integrator: match args.integrator {
            IntegratorArg::SemiImplicitEuler => Integrator::SemiImplicitEuler,
            IntegratorArg::Rk4 => Integrator::Rk4,
        },
        ..SimConfig::default()
    };
    config.contact.enabled = args.contacts;
    let environment = Environment {
        ground: args.contacts,
        ground_height_m: 0.0,
        boxes: Vec::new(),
    };
    let mut world = World::new(model.clone(), &environment, config);
    let mut q = model.neutral_configuration();
    if floating && let Some(lowest) = lowest_point(&model, q.as_slice()) {
        q[2] -= lowest;
    }
    let v = vec![0.0; model.nv];
    world.set_state(q.as_slice(), &v);
    // Stiff MIT impedance about the initial posture: what the loop's joint PD sends,
    // without its feed-forward.
    let hold: Vec<JointCommand> = model
        .actuated_joints()
        .enumerate()
        .map(|(k, j)| {
            let effort = model.joints[j.0].limits.effort.min(1e4);
            JointCommand::Impedance {
                q: world.joint(k).0,
                dq: 0.0,
                kp: HOLD_KP_PER_NM * effort,
                kd: HOLD_KD_PER_NM * effort,
                tau_ff: 0.0,
            }
        })
        .collect();
    if args.contacts {
        world.set_commands(&hold);
    }
    let start = world.q().clone();
    let start_height = floating.then(|| start[2]);
    let steps = args.steps.max(1);
    let mut rates = Vec::new();
    let mut contacts_total = 0usize;
    for _ in 0..args.batches.max(1) {
        world.set_state(start.as_slice(), &v);
        let began = Instant::now();
        for _ in 0..steps {
            world.step();
            contacts_total += black_box(world.contacts().active().len());
        }
        rates.push(steps as f64 / began.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let steps_per_s = rates[rates.len() / 2];
    let mean_contacts = contacts_total as f64 / (steps * rates.len()) as f64;
    if !world.q().iter().all(|x| x.is_finite()) {
        return Err("the simulation diverged (non-finite state)".into());
    }
    let realtime = steps_per_s * args.dt;
    let base_height = floating.then(|| world.q()[2]);
    if args.json {
        let out = json!({
            "robot": model.name,
            "floating_base": floating,
            "contacts": args.contacts,
            "dt_s": args.dt,
            "integrator": format!("{:?}", args.integrator),
            "nv": model.nv,
            "steps": steps,
            "batches": rates.len(),
            "steps_per_s": steps_per_s,
            "us_per_step": 1e6 / steps_per_s,
            "realtime_factor": realtime,
            "mean_active_contacts": mean_contacts,
            "probes": world.contacts().probe_count(),
            "start_base_height_m": start_height,
            "final_base_height_m": base_height,
        });
        println!("{out}");
    } else {
        println!(
            "{} (nv {}, {}{}), dt {} s, {:?}: {:.0} steps/s ({:.2} µs/step, {:.0}× real time), median of {} × {} steps; {:.1} contact points on average",
            model.name,
            model.nv,
            if floating {
                "floating base"
            } else {
                "fixed base"
            },
            if args.contacts {
                ", ground contact"
            } else {
                ", no contact"
            },
            args.dt,
            args.integrator,
            steps_per_s,
            1e6 / steps_per_s,
            realtime,
            rates.len(),
            steps,
            mean_contacts,
        );
        if let Some(z) = base_height {
            println!("base height at the end of the last batch: {z:.3} m");
        }
    }
    Ok(())
}
