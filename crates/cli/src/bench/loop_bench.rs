//! `embody bench loop`: the real loop thread at a fixed rate against the mock robot, or
//! a robot on the wire (`--port`, `--unit`), measured by `embody_runtime::bench::
//! loop_timing`: per tick the stages' compute, the whole tick with the robot's I/O, and
//! the wake-up jitter.

use clap::Args;
use embody_control::{Percentiles, RtConfig};
use embody_runtime::bench::loop_timing::{self, LoopBench};

use crate::error::{CliError, Result};
use crate::numbers::{count, float};
use crate::unit_args::WireArgs;

/// Arguments of `embody bench loop`.
#[derive(Args, Debug)]
pub struct LoopArgs {
    /// Built-in robot (arm7, humanoid, so101) or a fixed-base URDF.
    #[arg(long, default_value = "humanoid", conflicts_with = "unit")]
    robot: String,
    /// Loop rate (Hz), 100–10000 (a unit's is its own).
    #[arg(long, default_value_t = 1000.0, value_parser = float(100.0..=10_000.0, " Hz"))]
    rate: f64,
    /// How long to measure (s), after a warm-up.
    #[arg(long, default_value_t = 10.0, value_parser = float(0.001..=3600.0, " s"))]
    seconds: f64,
    /// Run the loop thread under SCHED_FIFO at this priority (falls back when refused).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=99))]
    priority: Option<i32>,
    /// Pin the loop thread to this CPU.
    #[arg(long, value_parser = count::<usize>(0..=1023))]
    cpu: Option<usize>,
    /// Lock all memory (mlockall) before starting.
    #[arg(long)]
    lock_memory: bool,
    /// Keep every other core busy with a spinning thread while measuring.
    #[arg(long)]
    load: bool,
    /// Measure what simulated cameras cost the loop: the robot in the simulator
    /// without cameras, then with this many (640×480 RGB-D at 30 Hz each).
    #[arg(long, conflicts_with_all = ["port", "unit"], value_parser = clap::value_parser!(u32).range(1..=8))]
    cameras: Option<u32>,
    /// With `--cameras`: also record each run with them as a LeRobotDataset (30 fps,
    /// state, action and the cameras' video) in `DIR/round-K`, and count its late frames.
    #[arg(long, requires = "cameras")]
    dataset: Option<std::path::PathBuf>,
    /// With `--cameras`: rounds, each without and then with them; the median is
    /// reported.
    #[arg(long, default_value_t = 3, requires = "cameras", value_parser = count::<usize>(1..=100))]
    rounds: usize,
    #[command(flatten)]
    wire: WireArgs,
    #[command(flatten)]
    viz: crate::rerun_args::RerunArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn row(name: &str, p: &Percentiles) -> String {
    let us = |ns: u64| ns as f64 * 1e-3;
    format!(
        "{name:<34} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        us(p.p50_ns),
        us(p.p99_ns),
        us(p.p999_ns),
        us(p.max_ns)
    )
}

/// Runs `embody bench loop`.
pub fn run(args: &LoopArgs) -> Result {
    let wire = args.wire.load()?;
    let unit = wire.as_ref().and_then(|w| w.unit.as_ref());
    let robot = unit.map_or(args.robot.clone(), |u| u.config.robot.clone());
    let io = match &wire {
        None => "tick incl. mock robot physics",
        Some(w) if w.slcan => "tick incl. SLCAN bus I/O",
        Some(w) if w.servos.is_some() => "tick incl. servo bus I/O",
        Some(_) => "tick incl. bridge link I/O",
    };
    let bench = LoopBench {
        robot: robot.clone(),
        rate_hz: unit.map_or(args.rate, |u| u.config.control.rate_hz),
        seconds: args.seconds,
        rt: RtConfig {
            priority: args.priority,
            cpu: args.cpu,
            lock_memory: args.lock_memory,
        },
        load: args.load,
        wire,
        rerun: args.viz.config(&robot)?,
        cameras: None,
        dataset: args.dataset.clone(),
    };
    if let Some(cameras) = args.cameras {
        return camera_cost(&bench, cameras, args.rounds, args.json);
    }
    if !args.json {
        eprintln!(
            "measuring {} s at {} Hz on {robot} after a warm-up...",
            args.seconds, bench.rate_hz
        );
    }
    let f = loop_timing::run(&bench, &mut crate::Notes)?;
    if args.json {
        println!("{:#}", serde_json::json!(f));
    } else {
        let t = &f.timing;
        println!(
            "loop on {} ({} joints) at {} Hz for {} s{}: {} ticks, {} overruns, {} missed deadlines, final state {}",
            f.robot,
            f.joints,
            f.rate_hz,
            f.seconds,
            if f.load {
                " with every other core busy"
            } else {
                ""
            },
            t.ticks,
            t.overruns,
            t.missed_deadlines,
            f.lifecycle
        );
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9}",
            "per tick (µs)", "p50", "p99", "p99.9", "max"
        );
        println!("{}", row("compute: estimate+control+safety", &t.stages));
        println!("{}", row(io, &t.compute));
        println!("{}", row("wake-up jitter", &t.jitter));
        let status = |s: &Option<std::result::Result<(), String>>| match s {
            None => "not requested".to_owned(),
            Some(Ok(())) => "granted".to_owned(),
            Some(Err(e)) => format!("refused ({e})"),
        };
        let rt = &f.realtime;
        println!(
            "real time: SCHED_FIFO {}, CPU pinning {}, mlockall {}",
            status(&rt.priority),
            status(&rt.cpu),
            status(&rt.lock_memory)
        );
        if let Some(v) = f.viz {
            println!(
                "rerun: recorded {} snapshots, skipped {} while behind",
                v.recorded, v.dropped
            );
        }
    }
    args.viz.linger();
    if !f.faults.is_empty() {
        let faults: Vec<String> = f.faults.iter().map(ToString::to_string).collect();
        return Err(CliError::Failed(format!(
            "the loop faulted {} times during the run: {}",
            faults.len(),
            faults.join("; ")
        )));
    }
    Ok(())
}

/// `--cameras N`: the loop in the simulator without cameras and with N.
fn camera_cost(bench: &LoopBench, cameras: u32, rounds: usize, json: bool) -> Result {
    if !json {
        eprintln!(
            "measuring {rounds} × ({} s without cameras, then with {cameras}) at {} Hz on {} in the simulator...",
            bench.seconds, bench.rate_hz, bench.robot
        );
    }
    let c = loop_timing::camera_cost(bench, cameras, rounds, &mut crate::Notes)?;
    if json {
        println!("{:#}", serde_json::json!(c));
        return Ok(());
    }
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "whole tick (µs)", "p50", "p99", "p99.9", "max"
    );
    println!("{}", row("without cameras", &c.without.timing.compute));
    println!(
        "{}",
        row(
            &format!("with {cameras} 640×480 RGB-D at 30 Hz"),
            &c.with.timing.compute
        )
    );
    let rounds: Vec<String> = (c.p99_ns.iter())
        .map(|(a, b)| format!("{:.1} → {:.1}", *a as f64 * 1e-3, *b as f64 * 1e-3))
        .collect();
    println!(
        "tick p99 (µs) per round, without → with: {}",
        rounds.join(", ")
    );
    println!(
        "tick p99 with cameras / without, median of {} rounds: {:.3} ({:+.1} %); last round: overruns {} → {}, the cameras drew {} frames, skipped {}",
        c.rounds,
        c.tick_p99_ratio,
        100.0 * (c.tick_p99_ratio - 1.0),
        c.without.timing.overruns,
        c.with.timing.overruns,
        c.frames,
        c.skipped
    );
    if let Some(d) = &c.with.dataset {
        println!(
            "last round's dataset: {} frames at 30 fps, {} late, {:.1} MB",
            d.frames,
            d.late_frames,
            d.bytes as f64 / 1e6
        );
    }
    Ok(())
}
