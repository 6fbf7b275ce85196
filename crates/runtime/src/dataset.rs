//! Demonstrations recorded as a LeRobotDataset v3.0 (`embody-dataset`): [`record`] runs
//! a session once per episode, each with the next seed (so a task's `random` objects land
//! somewhere new), and while it runs a [`FrameSampler`] takes, at the dataset's rate on
//! the loop's clock, the loop's joint positions (`observation.state`), its joint
//! reference (`action`), the simulator's objects' poses `x y z qx qy qz qw` each
//! (`observation.environment_state`, when the scene has objects: what a policy's
//! `object_pose` terms observe), where the task's places are for the episode
//! (`observation.goal`, `x y z` each, when it has `[places]`: a goal drawn per seed) and
//! each camera's newest image. In lockstep the sampler
//! runs between ticks and simulated time waits for it, so no frame is ever late. In real
//! time (and on the wire) a [`LiveDataset`] thread follows the loop's snapshots: frame k
//! is the first snapshot at or after k / fps, and a frame whose snapshot came more than
//! 1.5 loop periods after its time is counted late (`embody_late_frames`), never moved.
//! Neither runs on the loop's thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use embody_control::{Cursor, LoopClient, Next};
use embody_dataset::{CameraSpec, DatasetSpec, DatasetSummary, DatasetWriter, EpisodeEnd};
use embody_hal::Camera as _;
use embody_model::Model;

use crate::error::RuntimeError;
use crate::robot::AnyRobot;
use crate::session::{Observer, Session};

/// The feature of the objects' poses.
const ENVIRONMENT_STATE: &str = "observation.environment_state";
/// The feature of the task's places (`[places]`): where each is in the episode.
const GOAL: &str = "observation.goal";
/// An object pose's elements, in order.
const POSE_NAMES: [&str; 7] = ["x", "y", "z", "qx", "qy", "qz", "qw"];

/// What to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Episodes {
    /// The dataset's directory (new).
    pub dir: PathBuf,
    /// Episodes to run (seeds `session.seed`, `+1`, …).
    pub episodes: u32,
    /// Frames per second.
    pub fps: u32,
    /// Also save every tenth frame of each camera in the first episode as PNG here (to
    /// check the video against what was rendered).
    pub reference_frames: Option<PathBuf>,
}

/// One episode as it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeReport {
    /// Its seed.
    pub seed: u64,
    /// Its frames.
    pub frames: u64,
    /// Those taken more than 1.5 loop periods after their time (real time only).
    pub late_frames: u64,
    /// Whether its task succeeded.
    pub success: bool,
}

/// A recorded dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The dataset.
    pub summary: DatasetSummary,
    /// Each episode.
    pub episodes: Vec<EpisodeReport>,
}

/// The dataset being written, shared by the episodes' sessions.
#[derive(Clone)]
pub struct DatasetSink {
    inner: Arc<Mutex<SinkState>>,
}

impl std::fmt::Debug for DatasetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatasetSink")
    }
}

struct SinkState {
    episodes: Episodes,
    /// Opened at the first frame, when the robot and its cameras are known.
    writer: Option<DatasetWriter>,
    /// The task's text.
    task: String,
    /// The episode recording now (frames in it), if any.
    episode: Option<u64>,
    /// Episodes begun.
    begun: u64,
    /// Frames of the episode recording now that came late.
    late: u64,
    /// Where the task's places are in the episode recording now (`observation.goal`).
    goal: Vec<(String, [f64; 3])>,
    error: Option<RuntimeError>,
}

impl DatasetSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A sampler for a session's first unit, starting a new episode.
    pub(crate) fn sampler(&self, rate_hz: f64) -> FrameSampler {
        FrameSampler {
            sink: self.clone(),
            fps: f64::from(self.lock().episodes.fps),
            next: 0,
            period_s: 1.0 / rate_hz,
            state: Vec::new(),
            action: Vec::new(),
        }
    }
}

/// Takes a session's frames at the dataset's rate; see the module docs.
pub(crate) struct FrameSampler {
    sink: DatasetSink,
    fps: f64,
    /// The next frame's index in the episode.
    next: u64,
    period_s: f64,
    state: Vec<f32>,
    action: Vec<f32>,
}

impl FrameSampler {
    /// Whether a frame is due at loop time `now_s` (the tick's start).
    pub(crate) fn due(&self, now_s: f64) -> bool {
        // Frame k is taken at the first tick at or after k / fps (a hair early is on time:
        // tick times are sums of periods).
        now_s >= self.next as f64 / self.fps - 1e-3 * self.period_s
    }

    /// Takes the frame due: the loop's `q` and `q_ref` from `snapshot`, the simulated
    /// `robot`'s cameras' newest images and its objects' poses.
    pub(crate) fn take(
        &mut self,
        model: &Model,
        robot: &AnyRobot,
        snapshot: &embody_control::StateSnapshot,
    ) {
        let cameras: Vec<_> = (robot.sim().map(|s| s.cameras()).unwrap_or_default().iter())
            .map(|c| (c.info().clone(), c.images().clone()))
            .collect();
        let objects = crate::report::object_poses(robot);
        self.take_from(model, &cameras, &objects, snapshot, false);
    }

    /// The time of the frame due next (s of loop time).
    fn due_s(&self) -> f64 {
        self.next as f64 / self.fps
    }

    /// Takes the frame due from `snapshot`, `cameras`' newest images and `objects`;
    /// `late` counts it late. An error is kept for the episode's end.
    fn take_from(
        &mut self,
        model: &Model,
        cameras: &[Camera],
        objects: &[(String, [f64; 7])],
        snapshot: &embody_control::StateSnapshot,
        late: bool,
    ) {
        let mut sink = self.sink.lock();
        if sink.error.is_some() {
            return; // reported once, at the end
        }
        let frame = Frame {
            model,
            cameras,
            objects,
            snapshot,
            index: self.next,
        };
        if let Err(e) = take_frame(&mut sink, &frame, &mut self.state, &mut self.action) {
            sink.error = Some(e);
        }
        sink.late += u64::from(late);
        self.next += 1;
    }
}

/// A camera: what it is, and its images.
type Camera = (embody_hal::CameraInfo, embody_hal::ImagePool);

/// What one frame is taken from.
struct Frame<'a> {
    model: &'a Model,
    cameras: &'a [Camera],
    objects: &'a [(String, [f64; 7])],
    snapshot: &'a embody_control::StateSnapshot,
    /// Its index in the episode.
    index: u64,
}

fn take_frame(
    sink: &mut SinkState,
    frame: &Frame<'_>,
    state: &mut Vec<f32>,
    action: &mut Vec<f32>,
) -> Result<(), RuntimeError> {
    let (model, cameras, objects, snapshot) =
        (frame.model, frame.cameras, frame.objects, frame.snapshot);
    if sink.writer.is_none() {
        let names = crate::report::joint_names(model);
        let mut vectors = vec![
            ("observation.state".into(), names.clone()),
            ("action".into(), names),
        ];
        if !objects.is_empty() {
            let names = (objects.iter())
                .flat_map(|(object, _)| POSE_NAMES.map(|n| format!("{object}.{n}")))
                .collect();
            vectors.push((ENVIRONMENT_STATE.into(), names));
        }
        if !sink.goal.is_empty() {
            let names = (sink.goal.iter())
                .flat_map(|(place, _)| ["x", "y", "z"].map(|n| format!("{place}.{n}")))
                .collect();
            vectors.push((GOAL.into(), names));
        }
        let spec = DatasetSpec {
            robot_type: model.name.clone(),
            fps: sink.episodes.fps,
            vectors,
            cameras: (cameras.iter())
                .map(|(info, _)| CameraSpec {
                    name: info.name.clone(),
                    width: info.width,
                    height: info.height,
                })
                .collect(),
        };
        sink.writer = Some(DatasetWriter::create(&sink.episodes.dir, spec)?);
    }
    let task = sink.task.clone();
    let reference = sink.episodes.reference_frames.clone();
    let Some(writer) = sink.writer.as_mut() else {
        return Ok(());
    };
    if sink.episode.is_none() {
        writer.begin_episode(&task)?;
        sink.episode = Some(0);
        sink.begun += 1;
    }
    let first_episode = sink.begun == 1;
    let n = writer.spec().vectors[0].1.len();
    state.clear();
    state.extend(snapshot.q.iter().take(n).map(|&v| v as f32));
    action.clear();
    action.extend(snapshot.q_ref.iter().take(n).map(|&v| v as f32));
    let images: Vec<_> = cameras.iter().map(|(_, pool)| pool.latest()).collect();
    let blank: Vec<Vec<u8>> = (writer.spec().cameras.iter())
        .map(|c| vec![0; 3 * (c.width * c.height) as usize])
        .collect();
    let rgb: Vec<&[u8]> = (images.iter().zip(&blank))
        .map(|(image, blank)| {
            image
                .as_ref()
                .map_or(blank.as_slice(), |i| i.rgb.as_slice())
        })
        .collect();
    let environment: Vec<f32> = (objects.iter())
        .flat_map(|(_, pose)| pose.map(|v| v as f32))
        .collect();
    let goal: Vec<f32> = (sink.goal.iter())
        .flat_map(|(_, at)| at.map(|v| v as f32))
        .collect();
    let mut vectors: Vec<&[f32]> = vec![state.as_slice(), action.as_slice()];
    for (name, _) in &writer.spec().vectors[2..] {
        vectors.push(if name == GOAL { &goal } else { &environment });
    }
    writer.frame(&vectors, &rgb)?;
    if let Some(dir) = reference.filter(|_| first_episode && frame.index.is_multiple_of(10)) {
        for (camera, image) in writer.spec().cameras.iter().zip(&images) {
            if let Some(image) = image {
                save_png(&dir, &camera.name, frame.index, image)?;
            }
        }
    }
    if let Some(frames) = sink.episode.as_mut() {
        *frames += 1;
    }
    Ok(())
}

/// How long the live sampler sleeps when it has caught up with the loop.
const LIVE_NAP: std::time::Duration = std::time::Duration::from_millis(2);

/// Takes a real-time session's frames on its own thread; see the module docs.
pub(crate) struct LiveDataset {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveDataset {
    /// Starts following `client`'s snapshots (from the loop's first, loop time counted
    /// from `origin_ns`) at `rate_hz`, with `scene`'s cameras and, through `view`, its
    /// objects.
    pub(crate) fn spawn(
        sink: &DatasetSink,
        model: Arc<Model>,
        client: LoopClient,
        origin_ns: u64,
        rate_hz: f64,
        scene: &crate::drive::Scene,
        view: Option<embody_sim::ObjectView>,
    ) -> Result<LiveDataset, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut sampler = sink.sampler(rate_hz);
        let cameras = scene.cameras.clone();
        let names = scene.names.clone();
        let thread = std::thread::Builder::new()
            .name("dataset".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    // Off the loop's CPU, at a lower weight; refused, it runs as it is.
                    let _ = embody_hal::thread::run_in_background();
                    let mut cursor = Cursor::default();
                    let mut snapshot = embody_control::StateSnapshot::new(0);
                    let mut poses = Vec::new();
                    loop {
                        let stopping = stop.load(Ordering::Acquire);
                        while let Next::Snapshot { .. } =
                            client.snapshots().next(&mut cursor, &mut snapshot)
                        {
                            let now_s = snapshot.stamp_ns.saturating_sub(origin_ns) as f64 * 1e-9;
                            while sampler.due(now_s) {
                                let late = now_s - sampler.due_s() > 1.5 * sampler.period_s;
                                if let Some(view) = &view {
                                    view.read(&mut poses);
                                }
                                let objects: Vec<(String, [f64; 7])> =
                                    names.iter().cloned().zip(poses.iter().copied()).collect();
                                sampler.take_from(&model, &cameras, &objects, &snapshot, late);
                            }
                        }
                        if stopping {
                            return;
                        }
                        std::thread::sleep(LIVE_NAP);
                    }
                }
            })
            .map_err(|source| RuntimeError::Io {
                path: "the dataset's thread".into(),
                source,
            })?;
        Ok(LiveDataset {
            stop,
            thread: Some(thread),
        })
    }

    /// Takes the frames of the snapshots published so far, then stops.
    pub(crate) fn finish(self) {
        drop(self);
    }
}

impl Drop for LiveDataset {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Saves `image` as `dir/<camera>-<frame>.png`.
fn save_png(
    dir: &std::path::Path,
    camera: &str,
    frame: u64,
    image: &embody_hal::Image,
) -> Result<(), RuntimeError> {
    std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(format!("{camera}-{frame:06}.png"));
    image::save_buffer(
        &path,
        &image.rgb,
        image.width,
        image.height,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| RuntimeError::Invalid(format!("{}: {e}", path.display())))
}

/// Whether an episode succeeded: its task did, or its policy ran without a fault and
/// met its package's success test (if it has one).
fn succeeded(drive: &crate::drive::Drive, unit: &crate::report::UnitReport) -> bool {
    match drive {
        crate::drive::Drive::Policy(run) => {
            let outcome = unit.policy.clone().unwrap_or_default();
            let test = embody_policy::package::read_manifest(&run.package)
                .ok()
                .and_then(|m| m.episode)
                .map(|e| crate::policy_eval::succeeded(&e.success, unit, &outcome).0);
            unit.fault_reports().is_empty() && test.unwrap_or(true)
        }
        _ => unit
            .task
            .as_ref()
            .is_some_and(|t| t.status == embody_planner::Status::Succeeded),
    }
}

/// Runs `session` once per episode into a new dataset; see the module docs. `observer`
/// hears each episode's end.
pub fn record(
    session: &Session,
    episodes: &Episodes,
    observer: &mut dyn Observer,
) -> Result<Recorded, RuntimeError> {
    if session.units > 1 {
        return Err(RuntimeError::Invalid(
            "record a dataset with one unit (its episodes run one after another)".into(),
        ));
    }
    if episodes.episodes == 0 || episodes.fps == 0 {
        return Err(RuntimeError::Invalid(
            "a dataset needs at least one episode and 1 fps".into(),
        ));
    }
    if session.rerun.is_some() && episodes.episodes > 1 {
        return Err(RuntimeError::Invalid(
            "--rerun records one session: record one episode with it".into(),
        ));
    }
    if session.record.is_some() && episodes.episodes > 1 {
        return Err(RuntimeError::Invalid(
            "--record writes one episode's states: record one episode with it".into(),
        ));
    }
    let sink = DatasetSink::new(session, episodes)?;
    let mut reports = Vec::new();
    for k in 0..u64::from(episodes.episodes) {
        let run = Session {
            seed: session.seed + k,
            ..session.clone()
        };
        let (_, episode) = sink.episode(&run, observer)?;
        let late = match episode.late_frames {
            0 => String::new(),
            n => format!(", {n} late"),
        };
        observer.note(&format!(
            "episode {k} (seed {}): {} frames{late}, {}",
            episode.seed,
            episode.frames,
            if episode.success {
                "succeeded"
            } else {
                "failed"
            }
        ));
        reports.push(episode);
    }
    let summary = sink.finish()?;
    // The task, for `dataset replay` to set its scene again.
    if let crate::drive::Drive::Task(task) = &session.drive {
        let path = crate::replay::task_file(&episodes.dir);
        std::fs::write(&path, task.source.text())
            .map_err(|source| RuntimeError::Io { path, source })?;
    }
    Ok(Recorded {
        summary,
        episodes: reports,
    })
}

/// Runs `session` once, recorded as a one-episode dataset in the new directory `dir` at
/// 30 fps: its report, the episode and the dataset (for benchmarks).
pub(crate) fn record_run(
    session: &Session,
    dir: &std::path::Path,
    observer: &mut dyn Observer,
) -> Result<(crate::report::Report, EpisodeReport, DatasetSummary), RuntimeError> {
    let episodes = Episodes {
        dir: dir.to_owned(),
        episodes: 1,
        fps: 30,
        reference_frames: None,
    };
    let sink = DatasetSink::new(session, &episodes)?;
    let (report, episode) = sink.episode(session, observer)?;
    Ok((report, episode, sink.finish()?))
}

impl DatasetSink {
    /// A sink for a new dataset in `episodes.dir`, with `session`'s task as its text.
    fn new(session: &Session, episodes: &Episodes) -> Result<DatasetSink, RuntimeError> {
        if episodes.dir.join("meta").exists() {
            return Err(RuntimeError::Invalid(format!(
                "{} holds a dataset already: give a new directory (nothing is overwritten)",
                episodes.dir.display()
            )));
        }
        let task = match &session.drive {
            crate::drive::Drive::Task(task) => {
                task.raw.name.clone().unwrap_or_else(|| "task".into())
            }
            crate::drive::Drive::Policy(p) => format!("policy {}", p.package.display()),
            _ => "hold".into(),
        };
        Ok(DatasetSink {
            inner: Arc::new(Mutex::new(SinkState {
                episodes: episodes.clone(),
                writer: None,
                task,
                episode: None,
                begun: 0,
                late: 0,
                goal: Vec::new(),
                error: None,
            })),
        })
    }

    /// Runs `session` (with its seed) as the next episode.
    fn episode(
        &self,
        session: &Session,
        observer: &mut dyn Observer,
    ) -> Result<(crate::report::Report, EpisodeReport), RuntimeError> {
        let run = Session {
            dataset: Some(self.clone()),
            ..session.clone()
        };
        self.lock().goal = match &session.drive {
            crate::drive::Drive::Task(task) => task.places(session.seed).into_iter().collect(),
            _ => Vec::new(),
        };
        let report = run.run(observer)?;
        let success = (report.units.first()).is_some_and(|u| succeeded(&session.drive, u));
        let mut state = self.lock();
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        let frames = state.episode.take().unwrap_or(0);
        let late_frames = std::mem::take(&mut state.late);
        if let Some(writer) = state.writer.as_mut() {
            writer.end_episode(EpisodeEnd {
                success,
                late_frames,
                seed: session.seed,
            })?;
        }
        let episode = EpisodeReport {
            seed: session.seed,
            frames,
            late_frames,
            success,
        };
        Ok((report, episode))
    }

    /// Writes the dataset's tables and metadata.
    fn finish(&self) -> Result<DatasetSummary, RuntimeError> {
        let writer = self.lock().writer.take();
        match writer {
            Some(writer) => Ok(writer.finish()?),
            None => Err(RuntimeError::Invalid("no frame was recorded".into())),
        }
    }
}
