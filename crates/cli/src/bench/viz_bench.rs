//! `embody bench viz`: what a live Rerun recording costs the loop. Alternating rounds run
//! the loop against the mock robot (a 100 Hz planner streaming a motion) without and with
//! a live recorder saving to a file — full-rate joint series in 50 ms columns, 3D poses at
//! 60 Hz — and compare the loop's tick time (median of the rounds' medians), its overruns,
//! and the recording's size per second.

use clap::Args;
use embody_hal::Robot as _;
use serde_json::json;

use super::loop_bench::{LoopArgs, Session, mock_rig, session};

/// Arguments of `embody bench viz`.
#[derive(Args, Debug)]
pub struct VizArgs {
    /// Built-in robot (arm7, humanoid) or a fixed-base URDF.
    #[arg(long, default_value = "humanoid")]
    robot: String,
    /// Length of each round (s).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Rounds of each kind.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

struct Round {
    tick_us: f64,
    tick_p99_us: f64,
    stages_us: f64,
    overruns: u64,
    ticks: u64,
}

fn round(args: &VizArgs, viz: Option<embody_viz::VizConfig>) -> Result<(Round, Session), String> {
    let (model, robot) = mock_rig(&args.robot)?;
    let viz = viz.map(|mut viz| {
        let sensors = &robot.capabilities().force_torque;
        viz.force_frames = sensors.iter().map(|f| f.frame.clone()).collect();
        viz
    });
    let s = session(
        &LoopArgs::quiet(&args.robot, args.seconds),
        model,
        robot,
        viz,
    )?;
    if s.faults > 0 {
        return Err(format!("the loop faulted: {:?}", s.events));
    }
    let r = &s.report;
    Ok((
        Round {
            tick_us: r.compute.p50_ns as f64 * 1e-3,
            tick_p99_us: r.compute.p99_ns as f64 * 1e-3,
            stages_us: r.stages.p50_ns as f64 * 1e-3,
            overruns: r.overruns,
            ticks: r.ticks,
        },
        s,
    ))
}

pub fn run(args: &VizArgs) -> Result<(), String> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) || args.rounds == 0 {
        return Err("--seconds must be positive and --rounds at least 1".into());
    }
    let dir = std::env::temp_dir().join(format!("embody-bench-viz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let (mut bytes_per_s, mut dropped, mut recorded) = (Vec::new(), 0u64, 0u64);
    for k in 0..args.rounds {
        if !args.json {
            eprintln!(
                "round {}/{}: without, then with the recorder",
                k + 1,
                args.rounds
            );
        }
        off.push(round(args, None)?.0);
        let path = dir.join(format!("round{k}.rrd"));
        let sink = embody_viz::Sink::Save(path.clone());
        let (r, s) = round(args, Some(embody_viz::VizConfig::new(sink, &args.robot)))?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if let Some(v) = s.viz {
            // Bytes per second of loop time: the recorder saw every tick it did not skip.
            bytes_per_s.push(size as f64 / ((v.recorded + v.dropped) as f64 * 1e-3));
            dropped += v.dropped;
            recorded += v.recorded;
        }
        on.push(r);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let summary = |rounds: &[Round]| {
        (
            median(rounds.iter().map(|r| r.tick_us).collect()),
            median(rounds.iter().map(|r| r.tick_p99_us).collect()),
            median(rounds.iter().map(|r| r.stages_us).collect()),
            rounds.iter().map(|r| r.overruns).sum::<u64>(),
            rounds.iter().map(|r| r.ticks).sum::<u64>(),
        )
    };
    let (off_tick, off_p99, off_stages, off_overruns, off_ticks) = summary(&off);
    let (on_tick, on_p99, on_stages, on_overruns, on_ticks) = summary(&on);
    let overhead = on_tick / off_tick - 1.0;
    let rate = median(bytes_per_s);
    if args.json {
        let out = json!({
            "robot": args.robot, "seconds": args.seconds, "rounds": args.rounds,
            "without": {"tick_p50_us": off_tick, "tick_p99_us": off_p99, "compute_p50_us": off_stages, "overruns": off_overruns, "ticks": off_ticks},
            "with": {"tick_p50_us": on_tick, "tick_p99_us": on_p99, "compute_p50_us": on_stages, "overruns": on_overruns, "ticks": on_ticks},
            "tick_overhead": overhead,
            "recording_bytes_per_s": rate,
            "recorded": recorded, "dropped": dropped,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "loop on {} at 1 kHz, {} rounds of {} s each way (medians of the rounds' medians)",
        args.robot, args.rounds, args.seconds
    );
    println!(
        "{:<22} {:>12} {:>12} {:>14} {:>10}",
        "", "tick p50 µs", "tick p99 µs", "compute p50 µs", "overruns"
    );
    println!(
        "{:<22} {off_tick:>12.2} {off_p99:>12.2} {off_stages:>14.2} {off_overruns:>10}",
        "without a recorder"
    );
    println!(
        "{:<22} {on_tick:>12.2} {on_p99:>12.2} {on_stages:>14.2} {on_overruns:>10}",
        "with a live recorder"
    );
    println!(
        "tick time with/without: {:.3} ({:+.1} %, target ≤ +2 %); recording {:.0} kB/s; \
         {recorded} snapshots recorded, {dropped} skipped while behind",
        on_tick / off_tick,
        overhead * 100.0,
        rate / 1e3
    );
    Ok(())
}
