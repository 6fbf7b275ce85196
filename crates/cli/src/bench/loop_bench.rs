//! `embody bench loop`: the real loop thread on the system clock, against the hal's
//! MockRobot (rigid-body physics at 10 kHz; a floating-base robot with its base pinned,
//! an IMU and foot force sensors), with a 100 Hz planner thread streaming a motion so
//! every stage does real work. Reports, per tick: the stages' compute (estimation,
//! control, safety, snapshot), the whole tick including the mock robot's physics, and
//! the wake-up jitter against the absolute deadline. With `--port` the robot is on the
//! wire instead (a bridge, or `embody vmcu`; `--slcan` for an SLCAN adapter).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use embody_bridge::{BridgeRobot, SlcanRobot};
use embody_control::{
    ControlConfig, Interpolation, JointPoint, LoopClient, LoopCore, Percentiles, Request, RtConfig,
    Segment, TimingReport, spawn,
};
use embody_hal::{Clock as _, MockRobot, Robot, SystemClock};
use embody_model::{Model, robots};

/// Arguments of `embody bench loop`.
#[derive(Args, Debug)]
pub struct LoopArgs {
    /// Built-in robot (arm7, humanoid) or a fixed-base URDF.
    #[arg(long, default_value = "humanoid")]
    robot: String,
    /// Loop rate (Hz), 100–10000.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// How long to run (s).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Run the loop thread under SCHED_FIFO at this priority (falls back when refused).
    #[arg(long)]
    priority: Option<i32>,
    /// Pin the loop thread to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
    /// Lock all memory (mlockall) before starting.
    #[arg(long)]
    lock_memory: bool,
    /// Keep every other core busy with a spinning thread while measuring.
    #[arg(long)]
    load: bool,
    /// Drive the robot on the wire: a bridge (or `embody vmcu`) on this serial port.
    #[arg(long)]
    port: Option<std::path::PathBuf>,
    /// The port is an SLCAN adapter with MIT motors (the host runs the bus).
    #[arg(long, requires = "port")]
    slcan: bool,
    #[command(flatten)]
    viz: crate::rerun_args::RerunArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl LoopArgs {
    /// Defaults for a run of `seconds` on `robot` against the mock, quietly.
    pub(super) fn quiet(robot: &str, seconds: f64) -> LoopArgs {
        LoopArgs {
            robot: robot.to_owned(),
            rate: 1000.0,
            seconds,
            priority: None,
            cpu: None,
            lock_memory: false,
            load: false,
            port: None,
            slcan: false,
            viz: crate::rerun_args::RerunArgs {
                rerun: None,
                unit: None,
                rerun_pose_hz: 60.0,
                rerun_series_hz: None,
            },
            json: true,
        }
    }
}

/// A robot for the benchmark: the model the loop controls and the mock it drives.
pub(super) fn mock_rig(name: &str) -> Result<(Arc<Model>, MockRobot), String> {
    let floating = robots::builtin(name).is_some_and(|r| r.floating_base);
    let model = robots::load(name, None).map_err(|e| e.to_string())?;
    if !floating {
        let robot = MockRobot::new(&model);
        return Ok((Arc::new(model), robot));
    }
    let pinned = robots::load(name, Some(false)).map_err(|e| e.to_string())?;
    let robot = MockRobot::new(&pinned)
        .with_imu("imu_link")
        .with_stance_sensors(&["left_sole", "right_sole"], 9.81 * model.total_mass());
    Ok((Arc::new(model), robot))
}

/// A gentle motion about the middle of every joint's range, at most 0.2 rad.
fn motion(model: &Model, t: f64) -> JointPoint {
    let mut p = JointPoint::ZERO;
    for (k, j) in model.actuated_joints().enumerate() {
        let l = model.joints[j.0].limits;
        let (mid, half) = if l.lower.is_finite() && l.upper.is_finite() {
            (0.5 * (l.lower + l.upper), 0.5 * (l.upper - l.lower))
        } else {
            (0.0, 1.0)
        };
        let a = (0.2f64).min(0.2 * half);
        let w = 2.0 * std::f64::consts::PI * 0.5;
        let phase = k as f64 * 0.3;
        p.q[k] = mid + a * (w * t + phase).sin();
        p.dq[k] = a * w * (w * t + phase).cos();
        p.ddq[k] = -a * w * w * (w * t + phase).sin();
    }
    p
}

fn planner(model: Arc<Model>, client: LoopClient, stop: Arc<AtomicBool>) {
    // Glide to the motion's start, then stream 10 ms segments, three ahead.
    let start = motion(&model, 0.0);
    let send = |duration_s, end| {
        let _ = client.send_segment(Segment {
            duration_s,
            end,
            interpolation: Interpolation::Quintic,
        });
    };
    send(2.0, start);
    std::thread::sleep(Duration::from_millis(1950));
    for k in 1..=3 {
        send(0.01, motion(&model, k as f64 * 0.01));
    }
    let t0 = Instant::now();
    let mut sent = 3u64;
    while !stop.load(Ordering::Acquire) {
        let due = (t0.elapsed().as_secs_f64() / 0.01) as u64 + 3;
        while sent < due {
            sent += 1;
            send(0.01, motion(&model, sent as f64 * 0.01));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 * 1e-3
}

fn row(name: &str, p: &Percentiles) -> String {
    format!(
        "{name:<34} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        us(p.p50_ns),
        us(p.p99_ns),
        us(p.p999_ns),
        us(p.max_ns)
    )
}

pub fn run(args: &LoopArgs) -> Result<(), String> {
    execute(args)?;
    args.viz.linger();
    Ok(())
}

fn execute(args: &LoopArgs) -> Result<(), String> {
    if args.seconds.is_nan() || args.seconds <= 0.0 {
        return Err(format!("--seconds must be positive, got {}", args.seconds));
    }
    match &args.port {
        None => {
            let (model, robot) = mock_rig(&args.robot)?;
            measure(args, model, robot, "tick incl. mock robot physics")
        }
        Some(port) => {
            // Over the wire the robot stands pinned on its stand (the virtual MCU's view).
            let model =
                Arc::new(robots::load(&args.robot, Some(false)).map_err(|e| e.to_string())?);
            if args.slcan {
                let robot =
                    SlcanRobot::connect(port, &model, args.rate).map_err(|e| e.to_string())?;
                measure(args, model, robot, "tick incl. SLCAN bus I/O")
            } else {
                let robot =
                    BridgeRobot::connect(port, &model, args.rate).map_err(|e| e.to_string())?;
                measure(args, model, robot, "tick incl. bridge link I/O")
            }
        }
    }
}

/// What one measuring session saw.
pub(super) struct Session {
    pub report: TimingReport,
    pub rt_status: embody_control::RtStatus,
    pub lifecycle: embody_control::Lifecycle,
    pub faults: usize,
    pub events: Vec<embody_control::Event>,
    /// The live recorder's counts, when recording.
    pub viz: Option<embody_viz::LiveStats>,
}

/// Runs the loop on `robot` with a planner streaming a motion (and a live recorder when
/// `viz` is given), lets it warm up, and measures it for `args.seconds`.
pub(super) fn session<R: Robot + 'static>(
    args: &LoopArgs,
    model: Arc<Model>,
    robot: R,
    viz: Option<embody_viz::VizConfig>,
) -> Result<Session, String> {
    let config = ControlConfig {
        rate_hz: args.rate,
        ..ControlConfig::default()
    };
    let period_ns = (1e9 / config.rate_hz).round() as u64;
    let (core, client) =
        LoopCore::new(model.clone(), robot.capabilities(), config).map_err(|e| e.to_string())?;
    let joints = robot.capabilities().joints.len();
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = if args.load {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        (1..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    client.request(Request::Arm).map_err(|e| e.to_string())?;
    client.request(Request::Start).map_err(|e| e.to_string())?;
    let rt = RtConfig {
        priority: args.priority,
        cpu: args.cpu,
        lock_memory: args.lock_memory,
    };
    let recorder = viz
        .map(|viz| embody_viz::Recorder::new(viz, &model))
        .transpose()
        .map_err(|e| e.to_string())?;
    let origin_ns = SystemClock.now().as_nanos();
    let live = recorder
        .map(|r| embody_viz::LiveRecorder::spawn(r, client.clone(), period_ns, origin_ns))
        .transpose()
        .map_err(|e| e.to_string())?;
    let handle = spawn(core, robot, SystemClock, rt).map_err(|e| e.to_string())?;
    let rt_status = handle.rt_status().clone();
    let planner_thread = {
        let (model, client, stop) = (model.clone(), client.clone(), stop.clone());
        std::thread::spawn(move || planner(model, client, stop))
    };
    // Let the motion start, then measure from a clean slate.
    let warmup = Duration::from_secs_f64(args.seconds.min(2.5));
    std::thread::sleep(warmup);
    let histograms = client.timing_histograms();
    histograms.compute.clear();
    histograms.stages.clear();
    histograms.jitter.clear();
    let before = client.timing();
    if !args.json {
        eprintln!(
            "measuring {} s at {} Hz on {} ({} joints)...",
            args.seconds, args.rate, model.name, joints
        );
    }
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    let report = client.timing();
    stop.store(true, Ordering::Release);
    let (core, _) = handle.stop().map_err(|e| e.to_string())?;
    let _ = planner_thread.join();
    for t in load {
        let _ = t.join();
    }
    let viz = live
        .map(|live| live.finish())
        .transpose()
        .map_err(|e| e.to_string())?;
    let events = client.drain_events();
    let faults = events.iter().filter(|e| e.is_fault()).count();
    Ok(Session {
        report: TimingReport {
            ticks: report.ticks - before.ticks,
            overruns: report.overruns - before.overruns,
            missed_deadlines: report.missed_deadlines - before.missed_deadlines,
            ..report
        },
        rt_status,
        lifecycle: core.lifecycle(),
        faults,
        events,
        viz,
    })
}

fn measure<R: Robot + 'static>(
    args: &LoopArgs,
    model: Arc<Model>,
    robot: R,
    io_label: &str,
) -> Result<(), String> {
    let joints = robot.capabilities().joints.len();
    let clock = if args.port.is_some() {
        embody_viz::Clock::Wall
    } else {
        embody_viz::Clock::Sim
    };
    let force_frames: Vec<String> = (robot.capabilities().force_torque.iter())
        .map(|f| f.frame.clone())
        .collect();
    let viz = args.viz.config(&model.name)?.map(|mut viz| {
        viz.clock = clock;
        viz.force_frames = force_frames;
        viz
    });
    let Session {
        report: measured,
        rt_status,
        lifecycle,
        faults,
        events,
        viz,
    } = session(args, model.clone(), robot, viz)?;
    let status = |s: &Option<Result<(), String>>| match s {
        None => "not requested".to_owned(),
        Some(Ok(())) => "granted".to_owned(),
        Some(Err(e)) => format!("refused ({e})"),
    };
    if args.json {
        let out = json!({
            "robot": model.name,
            "joints": joints,
            "rate_hz": args.rate,
            "seconds": args.seconds,
            "load": args.load,
            "lifecycle": lifecycle,
            "faults": faults,
            "timing": measured,
            "realtime": rt_status,
            "viz": viz.map(|v| json!({"recorded": v.recorded, "dropped": v.dropped})),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "loop on {} ({joints} joints) at {} Hz for {} s{}: {} ticks, {} overruns, {} missed deadlines, final state {:?}",
            model.name,
            args.rate,
            args.seconds,
            if args.load {
                " with every other core busy"
            } else {
                ""
            },
            measured.ticks,
            measured.overruns,
            measured.missed_deadlines,
            lifecycle
        );
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9}",
            "per tick (µs)", "p50", "p99", "p99.9", "max"
        );
        println!(
            "{}",
            row("compute: estimate+control+safety", &measured.stages)
        );
        println!("{}", row(io_label, &measured.compute));
        println!("{}", row("wake-up jitter", &measured.jitter));
        println!(
            "real time: SCHED_FIFO {}, CPU pinning {}, mlockall {}",
            status(&rt_status.priority),
            status(&rt_status.cpu),
            status(&rt_status.lock_memory)
        );
        if let Some(v) = viz {
            println!(
                "rerun: recorded {} snapshots, skipped {} while behind",
                v.recorded, v.dropped
            );
        }
    }
    if faults > 0 {
        return Err(format!(
            "the loop faulted {faults} times during the run: {events:?}"
        ));
    }
    Ok(())
}
