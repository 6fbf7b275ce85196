//! `embody sim run <scenario.toml>`: loads and checks a scenario, puts its robot in its
//! environment at its initial state, and runs the control loop holding that posture
//! (joint PD with gravity feed-forward, stiff enough to keep a humanoid standing) for the
//! scenario's duration, injecting its faults on time. Lockstep by default (as fast as
//! the CPU allows, bit-identical for a seed); `--realtime` paces ticks by the wall clock.
//! `--record` writes the states as JSON Lines; `--rerun` shows the simulator's true state
//! (joints, base, the loop's references and events) in Rerun on `sim_time`; the summary
//! lists every safety event.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use embody_control::{ControlConfig, EventKind, Lifecycle, LoopCore, Request, StateSnapshot};
use embody_hal::{Clock, Robot, SensorFrame, SystemClock, Timestamp};
use embody_sim::{Recorder, Scenario, SensorMounts, SimRobot};
use serde_json::json;

/// Arguments of `embody sim run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Write the state at every tick to this file (JSON Lines).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Pace ticks by the wall clock instead of running as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's duration (s).
    #[arg(long)]
    duration: Option<f64>,
    /// What drives the robot: the loop holding the initial posture, or nothing (drives
    /// off: the passive dynamics, e.g. to compare with another simulator).
    #[arg(long, value_enum, default_value_t = Controller::Hold)]
    controller: Controller,
    #[command(flatten)]
    viz: crate::rerun_args::RerunArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What drives the simulated robot.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Controller {
    /// The control loop with joint PD holding the initial posture.
    Hold,
    /// Nothing: every drive off.
    None,
}

/// The loop settings of the hold controller.
fn hold_config() -> ControlConfig {
    let mut config = ControlConfig::default();
    // Stiff enough to hold a humanoid up as an inverted pendulum on its ankles.
    config.joint_pd.kp_per_effort = 20.0;
    config.joint_pd.kd_per_effort = 0.6;
    // Holding is the plan: no planner to fall silent.
    config.safety.planner_timeout_ms = 0.0;
    config
}

pub fn run(args: &RunArgs) -> Result<(), String> {
    execute(args)?;
    args.viz.linger();
    Ok(())
}

fn execute(args: &RunArgs) -> Result<(), String> {
    let mut loaded = Scenario::load(&args.scenario).map_err(|e| e.to_string())?;
    if let Some(seed) = args.seed {
        loaded.scenario.sim.seed = seed;
    }
    if let Some(duration) = args.duration {
        if !(duration.is_finite() && duration > 0.0 && duration <= 3600.0) {
            return Err(format!("--duration {duration} is outside (0, 3600] s"));
        }
        loaded.scenario.duration_s = duration;
    }
    let scenario = &loaded.scenario;
    let model = Arc::new(loaded.model.clone());
    let mut robot = SimRobot::new(
        model.clone(),
        &scenario.environment,
        scenario.sim.clone(),
        &SensorMounts::detect(&model),
    )
    .map_err(|e| format!("{}: {e}", args.scenario.display()))?;
    let q0 = loaded.initial_configuration();
    robot
        .world_mut()
        .set_state(q0.as_slice(), &vec![0.0; model.nv]);
    let faults = robot.faults();
    let config = hold_config();
    let loop_config = config.clone();
    let period_ns = (1e9 / config.rate_hz).round() as u64;
    let (mut core, client) = LoopCore::new(model.clone(), robot.capabilities(), loop_config)
        .map_err(|e| e.to_string())?;
    let mut recorder = match &args.record {
        Some(path) => {
            let file =
                File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            Some(Recorder::new(BufWriter::new(file), robot.world()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let mut viz = match args.viz.config(&model.name)? {
        Some(mut viz) => {
            if model.free_flyer().is_some() {
                viz.feet = config.estimator.base.feet.clone();
            }
            let sensors = &robot.capabilities().force_torque;
            viz.force_frames = sensors.iter().map(|f| f.frame.clone()).collect();
            Some(embody_viz::Recorder::new(viz, &model).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let mut snapshot = StateSnapshot::new(robot.capabilities().joints.len());
    if args.controller == Controller::Hold {
        client.request(Request::Arm).map_err(|e| e.to_string())?;
        client.request(Request::Start).map_err(|e| e.to_string())?;
    }
    let ticks = (scenario.duration_s * 1e9 / period_ns as f64).round() as u64;
    let clock = SystemClock;
    let wall_start = Instant::now();
    let origin = clock.now();
    let mut events = Vec::new();
    let mut frame = SensorFrame::for_robot(robot.capabilities());
    for tick in 1..=ticks {
        let now = if args.realtime {
            let deadline = origin.saturating_add(std::time::Duration::from_nanos(tick * period_ns));
            clock.sleep_until(deadline);
            Timestamp::from_nanos(tick * period_ns)
        } else {
            Timestamp::from_nanos(tick * period_ns)
        };
        loaded.apply_faults(now.as_nanos() as f64 * 1e-9, &faults);
        match args.controller {
            Controller::Hold => {
                core.tick(&mut robot, now);
                let fresh = client.drain_events();
                if let Some(viz) = viz.as_mut() {
                    let t_s = robot.world().time_s();
                    for event in &fresh {
                        viz.event(t_s, &format!("{:?}", event.kind), event.is_fault())
                            .map_err(|e| e.to_string())?;
                    }
                }
                events.extend(fresh);
            }
            // The read advances the world; what it reports does not matter here.
            Controller::None => {
                let _ = robot.read(now, &mut frame);
            }
        }
        if let Some(recorder) = recorder.as_mut() {
            recorder
                .record(robot.world())
                .map_err(|e| format!("recording: {e}"))?;
        }
        if let Some(viz) = viz.as_mut() {
            client.snapshots().read(&mut snapshot);
            true_state(&robot, &mut snapshot);
            viz.record(
                robot.world().time_s(),
                &snapshot,
                embody_viz::LoopStats::default(),
            )
            .map_err(|e| e.to_string())?;
        }
    }
    if let Some(viz) = viz {
        viz.finish().map_err(|e| e.to_string())?;
    }
    let wall_s = wall_start.elapsed().as_secs_f64();
    if let Some(recorder) = recorder {
        recorder.finish().map_err(|e| format!("recording: {e}"))?;
    }
    client.snapshots().read(&mut snapshot);
    summarize(args, &loaded, &robot, &snapshot, &events, wall_s);
    Ok(())
}

/// Overwrites the loop's view in `snapshot` with the simulator's truth: joint positions,
/// velocities and motor torques, and the base pose (references stay the loop's).
fn true_state(robot: &SimRobot, snapshot: &mut StateSnapshot) {
    let world = robot.world();
    let model = world.model();
    let (q, v, tau) = (world.q(), world.v(), world.motor_torques());
    for (k, j) in model.actuated_joints().enumerate().take(snapshot.n) {
        let joint = &model.joints[j.0];
        snapshot.q[k] = q[joint.idx_q];
        snapshot.dq[k] = v[joint.idx_v];
        snapshot.tau_measured[k] = tau[k];
    }
    if model.free_flyer().is_some() {
        snapshot.base_pose.copy_from_slice(&q.as_slice()[..7]);
    }
}

fn summarize(
    args: &RunArgs,
    loaded: &embody_sim::LoadedScenario,
    robot: &SimRobot,
    snapshot: &StateSnapshot,
    events: &[embody_control::Event],
    wall_s: f64,
) {
    let world = robot.world();
    let q = world.q();
    let floating = loaded.model.free_flyer().is_some();
    let transitions: Vec<String> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Transition { from, to, cause } => Some(format!(
                "{:.3} s: {from:?} -> {to:?} ({cause:?})",
                e.stamp_ns as f64 * 1e-9
            )),
            EventKind::Refused { state, cause } => Some(format!(
                "{:.3} s: {state:?} refused ({cause:?})",
                e.stamp_ns as f64 * 1e-9
            )),
            _ => None,
        })
        .collect();
    let sim_s = world.time_s();
    if args.json {
        let out = json!({
            "scenario": args.scenario.display().to_string(),
            "robot": loaded.model.name,
            "simulated_s": sim_s,
            "wall_s": wall_s,
            "realtime_factor": sim_s / wall_s.max(1e-9),
            "final_state": format!("{:?}", snapshot.lifecycle),
            "base_position_m": if floating { json!([q[0], q[1], q[2]]) } else { json!(null) },
            "contacts": world.contacts().active().len(),
            "faults_injected": loaded.scenario.faults.len(),
            "events": transitions,
        });
        println!("{out}");
        return;
    }
    println!(
        "{}: {} for {:.2} s simulated in {:.2} s ({:.1}× real time), final state {:?}",
        args.scenario.display(),
        loaded.model.name,
        sim_s,
        wall_s,
        sim_s / wall_s.max(1e-9),
        snapshot.lifecycle
    );
    if floating {
        println!(
            "base at ({:.3}, {:.3}, {:.3}) m, {} contact points",
            q[0],
            q[1],
            q[2],
            world.contacts().active().len()
        );
    }
    for fault in &loaded.scenario.faults {
        let (at, duration) = fault.window();
        match duration {
            Some(d) => println!("fault {} at {at} s for {d} s", fault.kind()),
            None => println!("fault {} at {at} s", fault.kind()),
        }
    }
    for line in &transitions {
        println!("event {line}");
    }
    if snapshot.lifecycle != Lifecycle::Running {
        println!("the loop is not running at the end (see the events above)");
    }
}
