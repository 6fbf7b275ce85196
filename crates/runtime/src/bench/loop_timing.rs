//! The real loop thread on the system clock, against the hal's mock robot (rigid-body
//! physics at 10 kHz; a floating-base robot with its base pinned, an IMU and foot force
//! sensors) or a robot on the wire, with the benchmark motion streamed at 100 Hz so
//! every stage does real work. After a warm-up it measures, per tick: the stages'
//! compute (estimation, control, safety, snapshot), the whole tick including the
//! robot's I/O, and the wake-up jitter against the absolute deadline — optionally with
//! every other core kept busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use embody_control::{ControlConfig, Lifecycle, RtConfig, RtStatus, TimingReport};
use embody_viz::{LiveStats, VizConfig};
use serde::Serialize;

use crate::backend::{Backend, Wire};
use crate::drive::Drive;
use crate::error::RuntimeError;
use crate::report::FaultReport;
use crate::session::{Observer, Pacing, Session};

/// What to measure.
#[derive(Clone, Debug)]
pub struct LoopBench {
    /// Built-in robot or URDF (ignored for a unit: its own).
    pub robot: String,
    /// Loop rate (Hz); a unit's is its own.
    pub rate_hz: f64,
    /// How long to measure (s), after a warm-up of at most 2.5 s.
    pub seconds: f64,
    /// Real-time settings of the loop thread.
    pub rt: RtConfig,
    /// Keep every other core busy with a spinning thread while measuring.
    pub load: bool,
    /// The robot on the wire instead of the mock.
    pub wire: Option<Wire>,
    /// Record live to Rerun while measuring.
    pub rerun: Option<VizConfig>,
}

/// What a measurement saw.
#[derive(Clone, Debug, Serialize)]
pub struct LoopFigures {
    /// The robot.
    pub robot: String,
    /// Its joints.
    pub joints: usize,
    /// Loop rate (Hz).
    pub rate_hz: f64,
    /// Seconds measured.
    pub seconds: f64,
    /// Whether other cores were kept busy.
    pub load: bool,
    /// The loop's state at the end.
    pub lifecycle: Lifecycle,
    /// Faults the loop raised: when, the kind, the joint and the cause.
    pub faults: Vec<FaultReport>,
    /// The loop's timing while measured.
    pub timing: TimingReport,
    /// What the OS granted of the real-time settings.
    pub realtime: RtStatus,
    /// The live recorder's counts, when recording.
    pub viz: Option<Recorded>,
}

/// What a live recording kept of the loop.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Recorded {
    /// Snapshots recorded.
    pub recorded: u64,
    /// Ticks skipped while the recorder was behind.
    pub dropped: u64,
}

impl From<LiveStats> for Recorded {
    fn from(s: LiveStats) -> Recorded {
        Recorded {
            recorded: s.recorded,
            dropped: s.dropped,
        }
    }
}

/// Spinning threads on every core but one, until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (1..cores)
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
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Measures the loop as `bench` says.
pub fn run(bench: &LoopBench, observer: &mut dyn Observer) -> Result<LoopFigures, RuntimeError> {
    if !(bench.seconds.is_finite() && bench.seconds > 0.0 && bench.seconds <= 3600.0) {
        return Err(RuntimeError::Invalid(format!(
            "the measurement must last (0, 3600] s, not {}",
            bench.seconds
        )));
    }
    let warmup_s = bench.seconds.min(2.5);
    let backend = match &bench.wire {
        Some(wire) => Backend::Wire(wire.clone()),
        None => Backend::Mock,
    };
    let session = Session {
        robot: Some(bench.robot.clone()),
        pacing: Pacing::Realtime(bench.rt),
        control: Some(ControlConfig {
            rate_hz: bench.rate_hz,
            ..ControlConfig::default()
        }),
        rerun: bench.rerun.clone(),
        stop_after_s: Some(warmup_s + bench.seconds),
        measure_after_s: warmup_s,
        ..Session::new(backend, Drive::Motion)
    };
    let load = bench.load.then(Load::start);
    let report = session.run(observer);
    drop(load);
    let report = report?;
    let unit = report
        .units
        .first()
        .ok_or_else(|| RuntimeError::Invalid("no unit ran".into()))?;
    Ok(LoopFigures {
        robot: unit.name.clone(),
        joints: unit.snapshot.n,
        rate_hz: bench.rate_hz,
        seconds: bench.seconds,
        load: bench.load,
        lifecycle: unit.snapshot.lifecycle,
        faults: unit.fault_reports(),
        timing: report.timing.unwrap_or_default(),
        realtime: report.rt.clone().unwrap_or_default(),
        viz: report.recording.map(Recorded::from),
    })
}
