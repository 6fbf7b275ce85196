//! Demonstrations recorded as a LeRobotDataset v3.0 (`embody-dataset`): [`record`] runs
//! a session once per episode, each with the next seed (so a task's `random` objects land
//! somewhere new), and while it runs a [`FrameSampler`] takes, at the dataset's rate on
//! the loop's clock, the loop's joint positions (`observation.state`), its joint
//! reference (`action`), the simulator's objects' poses `x y z qx qy qz qw` each
//! (`observation.environment_state`, when the scene has objects: what a policy's
//! `object_pose` terms observe) and each simulated camera's newest image. Episodes run in
//! lockstep: the sampler runs between ticks, never on a loop thread, and simulated time
//! waits for it, so no frame is ever late.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use embody_dataset::{CameraSpec, DatasetSpec, DatasetSummary, DatasetWriter, EpisodeEnd};
use embody_hal::Camera as _;
use embody_model::Model;

use crate::error::RuntimeError;
use crate::robot::AnyRobot;
use crate::session::{Observer, Pacing, Session};

/// The feature of the objects' poses.
const ENVIRONMENT_STATE: &str = "observation.environment_state";
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

    /// Takes the frame due: the loop's `q` and `q_ref` from `snapshot`, `robot`'s cameras'
    /// newest images.
    pub(crate) fn take(
        &mut self,
        model: &Model,
        robot: &AnyRobot,
        snapshot: &embody_control::StateSnapshot,
    ) -> Result<(), RuntimeError> {
        let mut sink = self.sink.lock();
        if sink.error.is_some() {
            return Ok(()); // reported once, at the end
        }
        let result = take_frame(
            &mut sink,
            model,
            robot,
            snapshot,
            &mut self.state,
            &mut self.action,
            self.next,
        );
        if let Err(e) = result {
            sink.error = Some(e);
        }
        self.next += 1;
        Ok(())
    }
}

fn take_frame(
    sink: &mut SinkState,
    model: &Model,
    robot: &AnyRobot,
    snapshot: &embody_control::StateSnapshot,
    state: &mut Vec<f32>,
    action: &mut Vec<f32>,
    frame: u64,
) -> Result<(), RuntimeError> {
    let cameras = robot.sim().map(|s| s.cameras()).unwrap_or_default();
    let objects = crate::report::object_poses(robot);
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
        let spec = DatasetSpec {
            robot_type: model.name.clone(),
            fps: sink.episodes.fps,
            vectors,
            cameras: (cameras.iter())
                .map(|c| CameraSpec {
                    name: c.info().name.clone(),
                    width: c.info().width,
                    height: c.info().height,
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
    let images: Vec<_> = cameras.iter().map(|c| c.images().latest()).collect();
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
    if writer.spec().vectors.len() > 2 {
        writer.frame(&[state, action, &environment], &rgb)?;
    } else {
        writer.frame(&[state, action], &rgb)?;
    }
    if let Some(dir) = reference.filter(|_| first_episode && frame.is_multiple_of(10)) {
        for (camera, image) in writer.spec().cameras.iter().zip(&images) {
            if let Some(image) = image {
                save_png(&dir, &camera.name, frame, image)?;
            }
        }
    }
    if let Some(frames) = sink.episode.as_mut() {
        *frames += 1;
    }
    Ok(())
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
    if session.pacing != Pacing::Lockstep {
        return Err(RuntimeError::Invalid(
            "datasets are recorded in lockstep (in the simulator) for now, not in real time or on the wire".into(),
        ));
    }
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
    if episodes.dir.join("meta").exists() {
        return Err(RuntimeError::Invalid(format!(
            "{} holds a dataset already: give a new directory (nothing is overwritten)",
            episodes.dir.display()
        )));
    }
    let task = match &session.drive {
        crate::drive::Drive::Task(task) => task.raw.name.clone().unwrap_or_else(|| "task".into()),
        crate::drive::Drive::Policy(p) => format!("policy {}", p.package.display()),
        _ => "hold".into(),
    };
    let sink = DatasetSink {
        inner: Arc::new(Mutex::new(SinkState {
            episodes: episodes.clone(),
            writer: None,
            task,
            episode: None,
            begun: 0,
            error: None,
        })),
    };
    let mut reports = Vec::new();
    for k in 0..u64::from(episodes.episodes) {
        let seed = session.seed + k;
        let run = Session {
            seed,
            dataset: Some(sink.clone()),
            ..session.clone()
        };
        let report = run.run(observer)?;
        let success = report
            .units
            .first()
            .is_some_and(|u| succeeded(&session.drive, u));
        let mut state = sink.lock();
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        let frames = state.episode.take().unwrap_or(0);
        if let Some(writer) = state.writer.as_mut() {
            writer.end_episode(EpisodeEnd {
                success,
                late_frames: 0,
                seed,
            })?;
        }
        drop(state);
        observer.note(&format!(
            "episode {k} (seed {seed}): {frames} frames, {}",
            if success { "succeeded" } else { "failed" }
        ));
        reports.push(EpisodeReport {
            seed,
            frames,
            success,
        });
    }
    let writer = sink.lock().writer.take();
    let summary = match writer {
        Some(writer) => writer.finish()?,
        None => return Err(RuntimeError::Invalid("no frame was recorded".into())),
    };
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
