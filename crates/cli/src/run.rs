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
use embody_bridge::{BridgeRobot, SlcanRobot};
use embody_control::{
    ControlConfig, Event, EventKind, Lifecycle, LoopClient, LoopCore, Request, RtConfig,
    StateSnapshot, spawn,
};
use embody_hal::{Clock as _, Robot, SystemClock, Timestamp};
use embody_model::{Model, robots};
use embody_planner::{
    Executor, Observation, Outcome, Progress, RawTask, RobotInfo, Source, Status, StepReport, check,
};
use embody_sim::{Environment, SensorMounts, SimConfig, SimRobot, lowest_point};
use embody_viz::{Clock, LiveRecorder, LoopStats, VizConfig};

use crate::rerun_args::RerunArgs;
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
    /// Run on the wire: a bridge (or `embody vmcu`) on this serial port, in real time.
    #[arg(long)]
    port: Option<PathBuf>,
    /// The port is an SLCAN adapter with MIT motors (the host runs the bus).
    #[arg(long, requires = "port")]
    slcan: bool,
    /// Run the loop thread under SCHED_FIFO at this priority (1–99) in a real-time run;
    /// when the OS refuses, it warns and runs without.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    priority: Option<i32>,
    /// Seed of the simulator's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    viz: RerunArgs,
    /// Write the simulator's state every tick as JSON Lines (lockstep only).
    #[arg(long, conflicts_with_all = ["realtime", "port"])]
    record: Option<PathBuf>,
    /// Run this many simulated units of the robot side by side (lockstep; seeds
    /// `--seed`, `--seed`+1, ...), recorded as a fleet in one Rerun recording under
    /// `robot/<unit>-<k>`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64),
          conflicts_with_all = ["realtime", "port", "record"])]
    units: u32,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Longest task (s of task time) before it is stopped as hung.
const MAX_TASK_S: f64 = 600.0;
/// How long a real-time run waits for the loop's first snapshot.
const FIRST_SNAPSHOT_S: f64 = 3.0;

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

/// Why the loop last refused a segment: the motion is then not what was planned.
fn rejection(events: &[Event]) -> Option<String> {
    events.iter().rev().find_map(|e| match e.kind {
        EventKind::SegmentRejected { reason } => Some(reason.to_string()),
        _ => None,
    })
}

/// A task step's start or end as a line of text, with its time and whether it failed.
fn progress_line(progress: &Progress) -> (f64, String, bool) {
    match progress {
        Progress::Started { name, at_s } => (*at_s, format!("started {name}"), false),
        Progress::Ended(r) => {
            let (word, failed) = match &r.outcome {
                Outcome::Done => ("finished".to_owned(), false),
                Outcome::Skipped => ("skipped".to_owned(), false),
                Outcome::Failed(why) => (format!("FAILED ({why}):"), true),
            };
            (
                r.started_s + r.duration_s,
                format!("{word} {} ({:.2} s)", r.name, r.duration_s),
                failed,
            )
        }
    }
}

struct Outcomes {
    status: Status,
    reports: Vec<StepReport>,
    snapshot: StateSnapshot,
    sim_s: f64,
    wall_s: f64,
}

/// Checks the task against the robot standing at `start` and readies its executor.
fn prepare(
    source: &Source,
    raw: &RawTask,
    model: &Model,
    sensors: Vec<String>,
    start: &[f64],
) -> Result<(Executor, String), String> {
    let info = RobotInfo::new(model.clone(), sensors);
    let plan = check(source, raw, &info, start).map_err(|e| e.to_string())?;
    let name = plan.name.clone();
    Ok((Executor::new(plan, info), name))
}

fn viz_config(
    args: &RunArgs,
    model: &Model,
    config: &ControlConfig,
    clock: Clock,
    caps: Option<&embody_hal::Capabilities>,
) -> Result<Option<VizConfig>, String> {
    let Some(mut viz) = args.viz.config(&model.name)? else {
        return Ok(None);
    };
    viz.clock = clock;
    if let Some(caps) = caps {
        viz.force_frames = caps.force_torque.iter().map(|f| f.frame.clone()).collect();
    }
    if model.free_flyer().is_some() {
        viz.feet = config.estimator.base.feet.clone();
    }
    Ok(Some(viz))
}

pub fn run(args: &RunArgs) -> Result<(), String> {
    execute(args)?;
    args.viz.linger();
    Ok(())
}

fn execute(args: &RunArgs) -> Result<(), String> {
    if args.priority.is_some() && !args.realtime && args.port.is_none() {
        return Err("--priority applies to a real-time run: add --realtime or --port".into());
    }
    let source = Source::read(&args.task).map_err(|e| e.to_string())?;
    let raw = source.parse().map_err(|e| e.to_string())?;
    let name = args
        .robot
        .clone()
        .or_else(|| raw.robot.clone())
        .unwrap_or_else(|| robots::BUILTIN_ROBOTS[0].name.to_owned());
    if let Some(port) = &args.port {
        return on_the_wire(args, &source, &raw, &name, port);
    }
    let model = Arc::new(robots::load(&name, None).map_err(|e| format!("robot: {e}"))?);
    let config = loop_config(&model);
    if args.realtime {
        let (robot, _, sensors) = simulated(&model, args.seed)?;
        let viz = viz_config(
            args,
            &model,
            &config,
            Clock::Sim,
            Some(robot.capabilities()),
        )?;
        let prepare = |start: &[f64]| prepare(&source, &raw, &model, sensors.clone(), start);
        let (outcomes, robot, task) = realtime(&model, robot, &config, rt(args), prepare, viz)?;
        return summarize(args, &task, &model.name, &outcomes, base_pose(&robot));
    }
    let mut units = Vec::new();
    let mut stream: Option<embody_viz::RecordingStream> = None;
    for k in 0..args.units {
        let (robot, start, sensors) = simulated(&model, args.seed + u64::from(k))?;
        let (executor, task) = prepare(&source, &raw, &model, sensors, &start)?;
        let (core, client) = LoopCore::new(model.clone(), robot.capabilities(), config.clone())
            .map_err(|e| e.to_string())?;
        let caps = Some(robot.capabilities());
        let recorder = match viz_config(args, &model, &config, Clock::Sim, caps)? {
            Some(mut viz) if args.units > 1 => {
                viz.unit = format!("{}-{k}", viz.unit);
                viz.origin = [0.0, 1.5 * f64::from(k), 0.0];
                let recorder = match &stream {
                    None => embody_viz::Recorder::new(viz, &model),
                    Some(stream) => embody_viz::Recorder::on(stream.clone(), viz, &model),
                }
                .map_err(|e| e.to_string())?;
                stream.get_or_insert_with(|| recorder.stream().clone());
                Some(recorder)
            }
            Some(viz) => Some(embody_viz::Recorder::new(viz, &model).map_err(|e| e.to_string())?),
            None => None,
        };
        units.push(Unit::new(core, robot, client, executor, task, recorder));
    }
    let finished = lockstep(units, args.record.as_deref())?;
    let mut failed = Vec::new();
    for (k, unit) in finished.iter().enumerate() {
        let name = if args.units > 1 {
            format!("{}-{k}", model.name)
        } else {
            model.name.clone()
        };
        if let Err(e) = summarize(
            args,
            &unit.task,
            &name,
            &unit.outcomes,
            base_pose(&unit.robot),
        ) {
            failed.push(format!("{name}: {e}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// A simulated robot standing at the model's neutral posture (a floating base on the
/// ground), with its joints' start and its force-torque sensors' names.
fn simulated(model: &Arc<Model>, seed: u64) -> Result<(SimRobot, Vec<f64>, Vec<String>), String> {
    let config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut robot = SimRobot::new(
        model.clone(),
        &Environment::default(),
        config,
        &SensorMounts::detect(model),
    )
    .map_err(|e| e.to_string())?;
    let mut q0 = model.neutral_configuration();
    let offset = if model.free_flyer().is_some() {
        if let Some(lowest) = lowest_point(model, q0.as_slice()) {
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
    let n = robot.capabilities().joints.len();
    let start = q0.as_slice()[offset..offset + n].to_vec();
    Ok((robot, start, sensors))
}

/// The simulator's base pose `[x y z qx qy qz qw]` of a floating-base robot.
fn base_pose(robot: &SimRobot) -> Option<[f64; 7]> {
    let q = robot.world().q();
    robot.world().model().free_flyer().map(|_| {
        let mut b = [0.0; 7];
        b.copy_from_slice(&q.as_slice()[..7]);
        b
    })
}

/// Runs the task on a robot on the wire, in real time. A floating-base robot stands
/// pinned on its stand there (the bridge carries no IMU), so its model is the fixed one.
fn on_the_wire(
    args: &RunArgs,
    source: &Source,
    raw: &RawTask,
    name: &str,
    port: &std::path::Path,
) -> Result<(), String> {
    let model = Arc::new(robots::load(name, Some(false)).map_err(|e| format!("robot: {e}"))?);
    let config = loop_config(&model);
    let prepare = |start: &[f64]| prepare(source, raw, &model, Vec::new(), start);
    // The bridge carries no force-torque sensors.
    let viz = viz_config(args, &model, &config, Clock::Wall, None)?;
    let (outcomes, task) = if args.slcan {
        let robot = SlcanRobot::connect(port, &model, config.rate_hz).map_err(|e| e.to_string())?;
        let (outcomes, _, task) = realtime(&model, robot, &config, rt(args), prepare, viz)?;
        (outcomes, task)
    } else {
        let robot =
            BridgeRobot::connect(port, &model, config.rate_hz).map_err(|e| e.to_string())?;
        let (outcomes, _, task) = realtime(&model, robot, &config, rt(args), prepare, viz)?;
        (outcomes, task)
    };
    summarize(args, &task, &model.name, &outcomes, None)
}

/// Polls the executor and sends what it streams.
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
    if let Some(why) = rejection(events) {
        executor.cancel(&format!("the loop refused a segment: {why}"), &mut segments);
    }
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

/// One simulated robot of a lockstep run, with its loop, task and recorder.
struct Unit {
    core: LoopCore,
    robot: SimRobot,
    client: LoopClient,
    executor: Executor,
    task: String,
    recorder: Option<embody_viz::Recorder>,
    snapshot: StateSnapshot,
    events: Vec<Event>,
    stats: LoopStats,
    settle_until: Option<f64>,
    /// Ticks run and the outcome once the task has ended and settled.
    outcomes: Outcomes,
    done: bool,
}

impl Unit {
    fn new(
        core: LoopCore,
        robot: SimRobot,
        client: LoopClient,
        executor: Executor,
        task: String,
        recorder: Option<embody_viz::Recorder>,
    ) -> Unit {
        let n = robot.capabilities().joints.len();
        Unit {
            core,
            robot,
            client,
            executor,
            task,
            recorder,
            snapshot: StateSnapshot::new(n),
            events: Vec::new(),
            stats: LoopStats::default(),
            settle_until: None,
            outcomes: Outcomes {
                status: Status::Running,
                reports: Vec::new(),
                snapshot: StateSnapshot::new(n),
                sim_s: 0.0,
                wall_s: 0.0,
            },
            done: false,
        }
    }

    /// Runs tick `tick` (from 1): the loop, the recorder, and every 10 ms the executor.
    fn step(&mut self, tick: u64) -> Result<(), String> {
        self.core
            .tick(&mut self.robot, Timestamp::from_nanos(tick * 1_000_000));
        let fresh = self.client.drain_events();
        // Loop time from the first tick: the simulator's own clock (it starts there).
        let now_s = (tick - 1) as f64 * 1e-3;
        if let Some(recorder) = self.recorder.as_mut() {
            self.client.snapshots().read(&mut self.snapshot);
            if tick.is_multiple_of(50) {
                // The loop's medians so far, refreshed every 50 ms.
                self.stats = LoopStats::of(&self.client.timing());
            }
            recorder
                .record(now_s, &self.snapshot, self.stats)
                .map_err(|e| e.to_string())?;
            for event in &fresh {
                recorder
                    .event(now_s, &format!("{:?}", event.kind), event.is_fault())
                    .map_err(|e| e.to_string())?;
            }
        }
        self.events.extend(fresh);
        if tick.is_multiple_of(10) {
            self.client.snapshots().read(&mut self.snapshot);
            let status = poll(
                &mut self.executor,
                &self.client,
                &self.snapshot,
                &self.events,
                now_s,
            );
            for progress in self.executor.drain_progress() {
                if let Some(recorder) = self.recorder.as_mut() {
                    // Logged at loop time (the step's own times count from the task's start).
                    let (_, text, failed) = progress_line(&progress);
                    recorder
                        .event(now_s, &text, failed)
                        .map_err(|e| e.to_string())?;
                }
            }
            if status != Status::Running && self.settle_until.is_none() {
                // Let the last streamed segments play out.
                self.settle_until = Some(now_s + 0.3);
            }
        }
        if self.settle_until.is_some_and(|t| now_s >= t) || now_s > MAX_TASK_S {
            self.done = true;
            self.client.snapshots().read(&mut self.snapshot);
            self.outcomes.status = self.executor.status().clone();
            self.outcomes.reports = self.executor.reports().to_vec();
            self.outcomes.snapshot = self.snapshot.clone();
            self.outcomes.sim_s = tick as f64 * 1e-3;
            if let Some(recorder) = self.recorder.take() {
                recorder.finish().map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Lockstep: every unit's loop ticks on simulated time, its executor is polled every
/// 10 ms of it, and the recorders run between ticks (this driver is not a loop thread).
/// `record` writes the first unit's simulator state every tick.
fn lockstep(mut units: Vec<Unit>, record: Option<&std::path::Path>) -> Result<Vec<Unit>, String> {
    let wall = Instant::now();
    let mut states = match (record, units.first()) {
        (Some(path), Some(unit)) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            Some(
                embody_sim::Recorder::new(std::io::BufWriter::new(file), unit.robot.world())
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
        _ => None,
    };
    for unit in &units {
        unit.client
            .request(Request::Arm)
            .map_err(|e| e.to_string())?;
        unit.client
            .request(Request::Start)
            .map_err(|e| e.to_string())?;
    }
    let mut tick = 0u64;
    while units.iter().any(|u| !u.done) {
        tick += 1;
        for (k, unit) in units.iter_mut().enumerate() {
            if unit.done {
                continue;
            }
            unit.step(tick)?;
            if k == 0
                && let Some(states) = states.as_mut()
            {
                states
                    .record(unit.robot.world())
                    .map_err(|e| format!("recording: {e}"))?;
            }
        }
    }
    if let Some(states) = states {
        states.finish().map_err(|e| format!("recording: {e}"))?;
    }
    let wall_s = wall.elapsed().as_secs_f64();
    for unit in &mut units {
        unit.outcomes.wall_s = wall_s;
    }
    Ok(units)
}

/// The loop thread's real-time settings asked for on the command line.
fn rt(args: &RunArgs) -> RtConfig {
    RtConfig {
        priority: args.priority,
        ..RtConfig::default()
    }
}

/// Real time: the loop on its own thread on the system clock, the executor on a 100 Hz
/// tokio interval reading the loop's snapshots, and the recorder (if any) on a thread of
/// its own. The task is checked against the robot's first measured state, before
/// anything moves (the loop only holds position until the executor streams).
fn realtime<R: Robot + 'static>(
    model: &Arc<Model>,
    robot: R,
    config: &ControlConfig,
    rt: RtConfig,
    prepare: impl Fn(&[f64]) -> Result<(Executor, String), String>,
    viz: Option<VizConfig>,
) -> Result<(Outcomes, R, String), String> {
    let (core, client) = LoopCore::new(model.clone(), robot.capabilities(), config.clone())
        .map_err(|e| e.to_string())?;
    let n = robot.capabilities().joints.len();
    let period_ns = (1e9 / config.rate_hz).round() as u64;
    client.request(Request::Arm).map_err(|e| e.to_string())?;
    client.request(Request::Start).map_err(|e| e.to_string())?;
    let origin_ns = SystemClock.now().as_nanos();
    // The recorder follows from the loop's first snapshot on.
    let live = match viz {
        Some(viz) => {
            let recorder = embody_viz::Recorder::new(viz, model).map_err(|e| e.to_string())?;
            Some(
                LiveRecorder::spawn(recorder, client.clone(), period_ns, origin_ns)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let handle = spawn(core, robot, SystemClock, rt).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let wall = Instant::now();
    let loop_time = |s: &StateSnapshot| s.stamp_ns.saturating_sub(origin_ns) as f64 * 1e-9;
    let mut ready = None;
    let result = runtime.block_on(async {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(10));
        let mut snapshot = StateSnapshot::new(n);
        let mut events = Vec::new();
        let mut settle_until = None;
        loop {
            interval.tick().await;
            let fresh = client.drain_events();
            if let Some(live) = &live {
                for event in &fresh {
                    let t_s = event.stamp_ns.saturating_sub(origin_ns) as f64 * 1e-9;
                    live.event(t_s, format!("{:?}", event.kind), event.is_fault());
                }
            }
            events.extend(fresh);
            if !client.snapshots().read(&mut snapshot) {
                if wall.elapsed().as_secs_f64() > FIRST_SNAPSHOT_S {
                    return Err(format!(
                        "the loop published nothing in {FIRST_SNAPSHOT_S} s: {events:?}"
                    ));
                }
                continue; // the loop has not ticked yet
            }
            let now_s = loop_time(&snapshot);
            let (executor, _) = match &mut ready {
                Some(e) => e,
                None => ready.insert(prepare(&snapshot.q[..snapshot.n])?),
            };
            let status = poll(executor, &client, &snapshot, &events, now_s);
            for progress in executor.drain_progress() {
                let (at_s, text, failed) = progress_line(&progress);
                eprintln!("{at_s:7.2} s  {text}");
                if let Some(live) = &live {
                    live.event(now_s, text, failed);
                }
            }
            if status != Status::Running && settle_until.is_none() {
                settle_until = Some(wall.elapsed().as_secs_f64() + 0.3);
            }
            if settle_until.is_some_and(|t| wall.elapsed().as_secs_f64() >= t) || now_s > MAX_TASK_S
            {
                break Ok((status, snapshot));
            }
        }
    });
    let (_, robot) = handle.stop().map_err(|e| e.to_string())?;
    if let Some(live) = live {
        let stats = live.finish().map_err(|e| e.to_string())?;
        if stats.dropped > 0 {
            eprintln!(
                "rerun: recorded {} loop ticks, skipped {} while behind",
                stats.recorded, stats.dropped
            );
        }
    }
    let (status, snapshot) = result?;
    let (executor, task) = ready.ok_or("the task never started")?;
    let outcomes = Outcomes {
        status,
        reports: executor.reports().to_vec(),
        snapshot,
        sim_s: wall.elapsed().as_secs_f64(),
        wall_s: wall.elapsed().as_secs_f64(),
    };
    Ok((outcomes, robot, task))
}

fn summarize(
    args: &RunArgs,
    task: &str,
    robot: &str,
    o: &Outcomes,
    base: Option<[f64; 7]>,
) -> Result<(), String> {
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
            "base_pose": base,
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
        if let Some(b) = base {
            println!("base at ({:.3}, {:.3}, {:.3}) m", b[0], b[1], b[2]);
        }
    }
    if ok {
        Ok(())
    } else {
        Err(format!("task failed: {:?}", o.status))
    }
}
