//! The real loop thread on the system clock, against the hal's mock robot (rigid-body
//! physics at 10 kHz; a floating-base robot with its base pinned, an IMU and foot force
//! sensors) or a robot on the wire, with the benchmark motion streamed at 100 Hz so
//! every stage does real work. After a warm-up it measures, per tick: the stages'
//! compute (estimation, control, safety, snapshot), the whole tick including the
//! robot's I/O, and the wake-up jitter against the absolute deadline — optionally with
//! every other core kept busy. [`camera_cost`] runs the robot in the simulator twice,
//! without cameras and with simulated 640×480 RGB-D cameras drawing at 30 Hz on their
//! own threads, and compares the ticks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use embody_control::{ControlConfig, Lifecycle, RtConfig, RtStatus, TimingReport};
use embody_sim::camera::CameraConfig;
use embody_viz::{LiveStats, VizConfig};
use serde::Serialize;

use crate::backend::{Backend, Simulator, Wire};
use crate::drive::Drive;
use crate::error::RuntimeError;
use crate::report::{CameraCount, FaultReport};
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
    /// The simulator instead of the mock, with this many cameras watching the robot
    /// (640×480 RGB-D at 30 Hz each); `None`: the mock.
    pub cameras: Option<u32>,
    /// Record the run as a LeRobotDataset (30 fps, the cameras' video) in this new
    /// directory while measuring.
    pub dataset: Option<std::path::PathBuf>,
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
    /// The simulated cameras' counts.
    pub cameras: Vec<CameraCount>,
    /// The dataset recorded while measuring, if asked.
    pub dataset: Option<DatasetFigures>,
}

/// What a dataset recorded while measuring holds.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetFigures {
    /// Frames.
    pub frames: u64,
    /// Frames taken more than 1.5 loop periods after their time.
    pub late_frames: u64,
    /// Its size on disk (bytes).
    pub bytes: u64,
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
    let backend = match (&bench.wire, bench.cameras) {
        (Some(wire), _) => Backend::Wire(wire.clone()),
        (None, Some(n)) => Backend::Simulator(Simulator {
            cameras: (0..n).map(watching).collect(),
            ..Simulator::default()
        }),
        (None, None) => Backend::Mock,
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
    let result = match &bench.dataset {
        Some(dir) => crate::dataset::record_run(&session, dir, observer).map(|(r, e, d)| {
            let figures = DatasetFigures {
                frames: e.frames,
                late_frames: e.late_frames,
                bytes: d.bytes,
            };
            (r, Some(figures))
        }),
        None => session.run(observer).map(|r| (r, None)),
    };
    drop(load);
    let (report, dataset) = result?;
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
        cameras: unit.cameras.clone(),
        dataset,
    })
}

/// Camera `k` of the benchmark: 640×480 RGB-D at 30 Hz, fixed 2 m from the robot's
/// base, each from another side, looking at it.
fn watching(k: u32) -> CameraConfig {
    let angle = f64::from(k) * 2.0;
    CameraConfig {
        name: format!("camera{k}"),
        width: 640,
        height: 480,
        rate_hz: 30.0,
        depth: true,
        fov_deg: Some(60.0),
        intrinsics: None,
        frame: None,
        xyz: [2.0 * angle.cos(), 2.0 * angle.sin(), 1.2],
        rpy: None,
        look_at: Some([0.0, 0.0, 0.5]),
        depth_noise_m: 0.0,
    }
}

/// The loop in the simulator without cameras and with `cameras` of them.
#[derive(Clone, Debug, Serialize)]
pub struct CameraCost {
    /// Cameras in the second run.
    pub cameras: u32,
    /// Without cameras.
    pub without: LoopFigures,
    /// With them.
    pub with: LoopFigures,
    /// Rounds measured, each without and then with cameras.
    pub rounds: usize,
    /// The whole tick's p99 in each round without cameras, and with (ns).
    pub p99_ns: Vec<(u64, u64)>,
    /// The median over the rounds of the whole tick's p99 with cameras over without.
    pub tick_p99_ratio: f64,
    /// Frames the cameras drew, and skipped because still drawing.
    pub frames: u64,
    /// Skipped.
    pub skipped: u64,
}

/// Measures the loop in the simulator as `bench` says, without cameras and then with
/// `cameras` (640×480 RGB-D at 30 Hz each, drawn on their own threads; with
/// `bench.dataset`, also recorded as a dataset in `round-K` under it), `rounds` times;
/// the figures are the last round's, the ratio the median of the rounds'.
pub fn camera_cost(
    bench: &LoopBench,
    cameras: u32,
    rounds: usize,
    observer: &mut dyn Observer,
) -> Result<CameraCost, RuntimeError> {
    if bench.wire.is_some() {
        return Err(RuntimeError::Invalid(
            "the camera cost is measured in the simulator, not on the wire".into(),
        ));
    }
    // Only the runs with cameras record (a dataset of its own per round).
    let measure = |n: u32, dataset: Option<std::path::PathBuf>, observer: &mut dyn Observer| {
        run(
            &LoopBench {
                cameras: Some(n),
                dataset,
                ..bench.clone()
            },
            observer,
        )
    };
    let mut p99_ns = Vec::new();
    let mut ratios = Vec::new();
    let mut last = None;
    for round in 0..rounds.max(1) {
        let without = measure(0, None, observer)?;
        let dataset = (bench.dataset.as_ref()).map(|d| d.join(format!("round-{round}")));
        let with = measure(cameras, dataset, observer)?;
        let (a, b) = (without.timing.compute.p99_ns, with.timing.compute.p99_ns);
        p99_ns.push((a, b));
        ratios.push(b.max(1) as f64 / a.max(1) as f64);
        last = Some((without, with));
    }
    let Some((without, with)) = last else {
        return Err(RuntimeError::Invalid("no round ran".into()));
    };
    Ok(CameraCost {
        cameras,
        rounds: p99_ns.len(),
        p99_ns,
        tick_p99_ratio: super::median(ratios),
        frames: with.cameras.iter().map(|c| c.images).sum(),
        skipped: with.cameras.iter().map(|c| c.skipped).sum(),
        without,
        with,
    })
}
