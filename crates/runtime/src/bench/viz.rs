//! What a live Rerun recording costs the loop: alternating rounds run the loop against
//! the mock robot (the benchmark motion streamed at 100 Hz) without and with a live
//! recorder saving to a file — full-rate joint series in 50 ms columns, 3D poses at
//! 60 Hz — and compare the loop's tick time (median of the rounds' medians), its
//! overruns, and the recording's size per second.

use embody_control::RtConfig;
use embody_viz::{Sink, VizConfig};
use serde::Serialize;

use super::loop_timing::{self, LoopBench, LoopFigures};
use super::{Scratch, median};
use crate::error::RuntimeError;
use crate::session::Quiet;

/// One kind of round's figures.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RoundFigures {
    /// Tick time, median of the rounds' medians (µs).
    pub tick_p50_us: f64,
    /// Tick time, median of the rounds' 99th percentiles (µs).
    pub tick_p99_us: f64,
    /// The stages' compute, median of medians (µs).
    pub compute_p50_us: f64,
    /// Overruns, all rounds.
    pub overruns: u64,
    /// Ticks, all rounds.
    pub ticks: u64,
}

/// The comparison.
#[derive(Clone, Debug, Serialize)]
pub struct VizFigures {
    /// The robot.
    pub robot: String,
    /// Length of each round (s).
    pub seconds: f64,
    /// Rounds of each kind.
    pub rounds: usize,
    /// Without a recorder.
    pub without: RoundFigures,
    /// With a live recorder.
    pub with: RoundFigures,
    /// Tick time with over without, minus one.
    pub tick_overhead: f64,
    /// Size of the recording per second of loop time, median (bytes/s).
    pub recording_bytes_per_s: f64,
    /// Snapshots recorded, all rounds.
    pub recorded: u64,
    /// Ticks skipped while the recorder was behind, all rounds.
    pub dropped: u64,
}

fn summary(rounds: &[LoopFigures]) -> RoundFigures {
    let us = |f: &dyn Fn(&LoopFigures) -> u64| {
        median(rounds.iter().map(|r| f(r) as f64 * 1e-3).collect())
    };
    RoundFigures {
        tick_p50_us: us(&|r| r.timing.compute.p50_ns),
        tick_p99_us: us(&|r| r.timing.compute.p99_ns),
        compute_p50_us: us(&|r| r.timing.stages.p50_ns),
        overruns: rounds.iter().map(|r| r.timing.overruns).sum(),
        ticks: rounds.iter().map(|r| r.timing.ticks).sum(),
    }
}

/// Runs `rounds` rounds of `seconds` each way on `robot`; `progress` hears each round
/// start.
pub fn run(
    robot: &str,
    seconds: f64,
    rounds: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<VizFigures, RuntimeError> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) || rounds == 0 {
        return Err(RuntimeError::Invalid(
            "a round lasts (0, 3600] s and there is at least one".into(),
        ));
    }
    let dir = Scratch::new("viz").map_err(|source| RuntimeError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let bench = |rerun| LoopBench {
        robot: robot.to_owned(),
        rate_hz: 1000.0,
        seconds,
        rt: RtConfig::default(),
        load: false,
        wire: None,
        rerun,
        cameras: None,
        dataset: None,
    };
    let fault = |f: &LoopFigures| {
        let faults: Vec<String> = f.faults.iter().map(ToString::to_string).collect();
        RuntimeError::Invalid(format!("the loop faulted: {}", faults.join("; ")))
    };
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let (mut bytes_per_s, mut dropped, mut recorded) = (Vec::new(), 0u64, 0u64);
    for k in 0..rounds {
        progress(k);
        let without = loop_timing::run(&bench(None), &mut Quiet)?;
        if !without.faults.is_empty() {
            return Err(fault(&without));
        }
        off.push(without);
        let path = dir.0.join(format!("round{k}.rrd"));
        let viz = VizConfig::new(Sink::Save(path.clone()), robot);
        let with = loop_timing::run(&bench(Some(viz)), &mut Quiet)?;
        if !with.faults.is_empty() {
            return Err(fault(&with));
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if let Some(v) = with.viz {
            // Bytes per second of loop time: the recorder saw every tick it did not skip.
            bytes_per_s.push(size as f64 / ((v.recorded + v.dropped) as f64 * 1e-3));
            dropped += v.dropped;
            recorded += v.recorded;
        }
        on.push(with);
    }
    let (without, with) = (summary(&off), summary(&on));
    Ok(VizFigures {
        robot: robot.to_owned(),
        seconds,
        rounds,
        without,
        with,
        tick_overhead: with.tick_p50_us / without.tick_p50_us - 1.0,
        recording_bytes_per_s: median(bytes_per_s),
        recorded,
        dropped,
    })
}
