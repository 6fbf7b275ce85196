//! `embody run <task.toml>`: the product's main command. It checks the task against the
//! robot (every error located in the file before anything moves), puts the robot in the
//! simulator — the built-in default robot unless `--robot` says otherwise; a floating-base
//! robot standing on the ground — and runs the task under the real control loop,
//! lockstep by default (as fast as the CPU allows, bit-identical for a seed) or in real
//! time with `--realtime` (the loop on its own thread, the executor on a tokio interval).
//! It prints each step's timing and result and the final tracking error; it exits
//! non-zero when the task fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use embody_control::{
    ControlConfig, Event, EventKind, Lifecycle, LoopClient, LoopCore, Request, RtConfig,
    StateSnapshot, spawn,
};
use embody_hal::{Robot, SystemClock, Timestamp};
use embody_model::{Model, robots};
use embody_planner::{
    Executor, Observation, Outcome, Progress, RobotInfo, Source, Status, StepReport, check,
};
use embody_sim::{Environment, SensorMounts, SimConfig, SimRobot, lowest_point};
use serde_json::json;

/// Arguments of `embody run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The task file (TOML).
    task: PathBuf,
    /// Robot to run on: a built-in name or a URDF path (default: the task's, else arm7).
    #[arg(long)]
    robot: Option<String>,
    /// Pace the run by the wall clock instead of lockstep.
    #[arg(long)]
    realtime: bool,
    /// Seed of the simulator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Show the run in Rerun: spawn, connect[=URL], save=PATH or serve.
    #[arg(long)]
    rerun: Option<embody_viz::Sink>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Longest task (s of task time) before it is stopped as hung.
const MAX_TASK_S: f64 = 600.0;

fn loop_config(model: &Model) -> ControlConfig {
    let mut config = ControlConfig::default();
    if model.free_flyer().is_some() {
        // Stiff enough to hold a humanoid up as an inverted pendulum on its ankles.
        config.joint_pd.kp_per_effort = 20.0;
        config.joint_pd.kd_per_effort = 0.6;
    }
    config
}

fn fault_cause(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e.kind {
        EventKind::Transition {
            to: Lifecycle::Fault,
            cause,
            ..
        } => Some(format!("{cause:?}")),
        _ => None,
    })
}

struct Outcomes {
    /// Final base pose `[x y z qx qy qz qw]` of a floating-base robot.
    base: Option<[f64; 7]>,
    status: Status,
    reports: Vec<StepReport>,
    snapshot: StateSnapshot,
    sim_s: f64,
    wall_s: f64,
}

pub fn run(args: &RunArgs) -> Result<(), String> {
    let source = Source::read(&args.task).map_err(|e| e.to_string())?;
    let raw = source.parse().map_err(|e| e.to_string())?;
    let name = args
        .robot
        .clone()
        .or_else(|| raw.robot.clone())
        .unwrap_or_else(|| robots::BUILTIN_ROBOTS[0].name.to_owned());
    let model = Arc::new(robots::load(&name, None).map_err(|e| format!("robot: {e}"))?);
    let config = SimConfig {
        seed: args.seed,
        ..SimConfig::default()
    };
    let mut robot = SimRobot::new(
        model.clone(),
        &Environment::default(),
        config,
        &SensorMounts::detect(&model),
    )
    .map_err(|e| e.to_string())?;
    let mut q0 = model.neutral_configuration();
    let offset = if model.free_flyer().is_some() {
        if let Some(lowest) = lowest_point(&model, q0.as_slice()) {
            q0[2] -= lowest;
        }
        7
    } else {
        0
    };
    robot
        .world_mut()
        .set_state(q0.as_slice(), &vec![0.0; model.nv]);
    let sensors: Vec<String> = robot
        .capabilities()
        .force_torque
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let info = RobotInfo::new((*model).clone(), sensors);
    let start: Vec<f64> = q0.as_slice()[offset..offset + info.joints.len()].to_vec();
    let plan = check(&source, &raw, &info, &start).map_err(|e| e.to_string())?;
    let task_name = plan.name.clone();
    let executor = Executor::new(plan, info);
    let (core, client) = LoopCore::new(model.clone(), robot.capabilities(), loop_config(&model))
        .map_err(|e| e.to_string())?;
    client.request(Request::Arm).map_err(|e| e.to_string())?;
    client.request(Request::Start).map_err(|e| e.to_string())?;
    let recorder = args
        .rerun
        .clone()
        .map(|sink| {
            embody_viz::Recorder::new(embody_viz::VizConfig::new(sink, &model.name), &model)
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    let outcomes = if args.realtime {
        if recorder.is_some() {
            return Err("--rerun with --realtime is not wired yet; use lockstep".into());
        }
        realtime(core, robot, client, executor)?
    } else {
        lockstep(core, robot, &client, executor, recorder)?
    };
    summarize(args, &task_name, &model.name, &outcomes)
}

/// Polls the executor every 10 ms of loop time and sends what it streams.
fn poll(
    executor: &mut Executor,
    client: &LoopClient,
    snapshot: &StateSnapshot,
    events: &[Event],
    now_s: f64,
) -> Status {
    let n = snapshot.n;
    let cause = fault_cause(events);
    let mut segments = Vec::new();
    let status = executor.poll(
        &Observation {
            now_s,
            q: &snapshot.q[..n],
            tau: &snapshot.tau_measured[..n],
            contacts: snapshot.contacts,
            fault: cause.as_deref(),
        },
        &mut segments,
    );
    for segment in segments {
        let _ = client.send_segment(segment);
    }
    status
}

fn lockstep(
    mut core: LoopCore,
    mut robot: SimRobot,
    client: &LoopClient,
    mut executor: Executor,
    mut recorder: Option<embody_viz::Recorder>,
) -> Result<Outcomes, String> {
    let wall = Instant::now();
    let mut snapshot = StateSnapshot::new(robot.capabilities().joints.len());
    let mut events = Vec::new();
    let mut tick = 0u64;
    let mut settle_until = None;
    let mut compute_us = 0.0;
    loop {
        tick += 1;
        let now = Timestamp::from_nanos(tick * 1_000_000);
        core.tick(&mut robot, now);
        let fresh = client.drain_events();
        let now_s = tick as f64 * 1e-3;
        if let Some(recorder) = recorder.as_mut() {
            // Lockstep: the driver records between ticks (it is not the loop thread).
            client.snapshots().read(&mut snapshot);
            if tick.is_multiple_of(50) {
                // The loop's median compute so far, refreshed every 50 ms.
                compute_us = client.timing().stages.p50_ns as f64 * 1e-3;
            }
            recorder
                .record(now_s, &snapshot, compute_us)
                .map_err(|e| e.to_string())?;
            for event in &fresh {
                let warning = matches!(
                    event.kind,
                    EventKind::Transition {
                        to: Lifecycle::Fault,
                        ..
                    }
                );
                recorder
                    .event(now_s, &format!("{:?}", event.kind), warning)
                    .map_err(|e| e.to_string())?;
            }
        }
        events.extend(fresh);
        if tick.is_multiple_of(10) {
            client.snapshots().read(&mut snapshot);
            let status = poll(&mut executor, client, &snapshot, &events, now_s);
            if status != Status::Running && settle_until.is_none() {
                // Let the last streamed segments play out.
                settle_until = Some(now_s + 0.3);
            }
        }
        if settle_until.is_some_and(|t| now_s >= t) || now_s > MAX_TASK_S {
            break;
        }
    }
    client.snapshots().read(&mut snapshot);
    if let Some(recorder) = recorder {
        recorder.finish().map_err(|e| e.to_string())?;
    }
    let q = robot.world().q();
    let base = robot.world().model().free_flyer().map(|_| {
        let mut b = [0.0; 7];
        b.copy_from_slice(&q.as_slice()[..7]);
        b
    });
    Ok(Outcomes {
        base,
        status: executor.status().clone(),
        reports: executor.reports().to_vec(),
        snapshot,
        sim_s: tick as f64 * 1e-3,
        wall_s: wall.elapsed().as_secs_f64(),
    })
}

fn realtime(
    core: LoopCore,
    robot: SimRobot,
    client: LoopClient,
    mut executor: Executor,
) -> Result<Outcomes, String> {
    let n = robot.capabilities().joints.len();
    let handle = spawn(core, robot, SystemClock, RtConfig::default()).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let wall = Instant::now();
    let (status, snapshot, events) = runtime.block_on(async {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(10));
        let mut snapshot = StateSnapshot::new(n);
        let mut events = Vec::new();
        let mut settle_until = None;
        let mut origin_ns = None;
        loop {
            interval.tick().await;
            events.extend(client.drain_events());
            if !client.snapshots().read(&mut snapshot) {
                continue; // the loop has not ticked yet
            }
            // Task time from the loop's first tick (the system clock counts from boot).
            let origin = *origin_ns.get_or_insert(snapshot.stamp_ns);
            let now_s = snapshot.stamp_ns.saturating_sub(origin) as f64 * 1e-9;
            let status = poll(&mut executor, &client, &snapshot, &events, now_s);
            for progress in executor.drain_progress() {
                match progress {
                    Progress::Started { name, at_s } => eprintln!("{at_s:7.2} s  started {name}"),
                    Progress::Ended(r) => eprintln!(
                        "{:7.2} s  {} {} ({:.2} s)",
                        r.started_s + r.duration_s,
                        match &r.outcome {
                            Outcome::Done => "finished".to_owned(),
                            Outcome::Skipped => "skipped".to_owned(),
                            Outcome::Failed(why) => format!("FAILED ({why}):"),
                        },
                        r.name,
                        r.duration_s
                    ),
                }
            }
            if status != Status::Running && settle_until.is_none() {
                settle_until = Some(wall.elapsed().as_secs_f64() + 0.3);
            }
            if settle_until.is_some_and(|t| wall.elapsed().as_secs_f64() >= t) || now_s > MAX_TASK_S
            {
                return (status, snapshot, events);
            }
        }
    });
    let _ = events;
    let (_, robot) = handle.stop().map_err(|e| e.to_string())?;
    let q = robot.world().q();
    let base = robot.world().model().free_flyer().map(|_| {
        let mut b = [0.0; 7];
        b.copy_from_slice(&q.as_slice()[..7]);
        b
    });
    Ok(Outcomes {
        base,
        status,
        reports: executor.reports().to_vec(),
        snapshot,
        sim_s: wall.elapsed().as_secs_f64(),
        wall_s: wall.elapsed().as_secs_f64(),
    })
}

fn summarize(args: &RunArgs, task: &str, robot: &str, o: &Outcomes) -> Result<(), String> {
    let s = &o.snapshot;
    let tracking = (0..s.n)
        .map(|k| (s.q[k] - s.q_ref[k]).abs())
        .fold(0.0, f64::max);
    let ok = o.status == Status::Succeeded;
    if args.json {
        let steps: Vec<_> = o
            .reports
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "skill": r.skill, "line": r.line,
                    "started_s": r.started_s, "duration_s": r.duration_s,
                    "result": match &r.outcome {
                        Outcome::Done => "done".to_owned(),
                        Outcome::Skipped => "skipped".to_owned(),
                        Outcome::Failed(why) => format!("failed: {why}"),
                    },
                })
            })
            .collect();
        let out = json!({
            "task": task,
            "robot": robot,
            "result": match &o.status { Status::Succeeded => "succeeded".to_owned(), Status::Failed(w) => format!("failed: {w}"), Status::Running => "running".to_owned() },
            "steps": steps,
            "final_q": &s.q[..s.n],
            "final_tracking_error": tracking,
            "lifecycle": format!("{:?}", s.lifecycle),
            "base_pose": o.base,
            "simulated_s": o.sim_s,
            "wall_s": o.wall_s,
            "realtime_factor": o.sim_s / o.wall_s.max(1e-9),
        });
        println!("{out}");
    } else {
        println!(
            "{task} on {robot}: {} in {:.2} s ({:.0}× real time)",
            match &o.status {
                Status::Succeeded => "succeeded".to_owned(),
                Status::Failed(w) => format!("FAILED ({w})"),
                Status::Running => "still running".to_owned(),
            },
            o.sim_s,
            o.sim_s / o.wall_s.max(1e-9)
        );
        for r in &o.reports {
            let result = match &r.outcome {
                Outcome::Done => "done".to_owned(),
                Outcome::Skipped => "skipped".to_owned(),
                Outcome::Failed(why) => format!("failed: {why}"),
            };
            println!(
                "  line {:>3}  {:<24} {:<12} at {:>6.2} s for {:>5.2} s  {result}",
                r.line, r.name, r.skill, r.started_s, r.duration_s
            );
        }
        println!(
            "final tracking error {:.4} rad, loop {:?}",
            tracking, s.lifecycle
        );
        if let Some(b) = o.base {
            println!("base at ({:.3}, {:.3}, {:.3}) m", b[0], b[1], b[2]);
        }
    }
    if ok {
        Ok(())
    } else {
        Err(format!("task failed: {:?}", o.status))
    }
}
