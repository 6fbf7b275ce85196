//! Replaying a recorded episode: [`load`] reads episode K's `action` frames from a
//! dataset (and the task embody recorded it from, `meta/embody_task.toml`), and
//! [`session`] makes the session that drives the robot through them — a glide to the
//! first action, then one segment per frame to the next, each `1 / fps` long, then a
//! short hold. In the simulator the scene is the recorded task's, its objects placed by
//! the episode's seed, so a recorded pick picks the same box again; on the wire the
//! loop's limits and safety apply to every segment as to any plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use embody_control::{Interpolation, JointPoint, MAX_JOINTS, Segment};
use embody_dataset::{RecordedEpisode, read_episode};
use embody_model::Model;

use crate::backend::Backend;
use crate::drive::{Drive, DriveStatus, Driver, DriverFactory, Poll};
use crate::error::RuntimeError;
use crate::session::Session;
use crate::task::Task;

/// Where embody keeps the task a dataset was recorded from.
pub const TASK_FILE: &str = "meta/embody_task.toml";

/// The glide from wherever the robot is to the first action (s).
const GLIDE_S: f64 = 2.0;
/// The hold after the last action (s).
const HOLD_S: f64 = 0.5;
/// Frames queued ahead of the loop.
const AHEAD: usize = 3;

/// An episode to replay.
#[derive(Clone, Debug)]
pub struct Replay {
    /// The episode as recorded.
    pub episode: RecordedEpisode,
    /// The task it was recorded from (its scene), when the dataset keeps it.
    pub task: Option<Task>,
}

impl Replay {
    /// Its seed (0 when the dataset does not say).
    pub fn seed(&self) -> u64 {
        self.episode.info.seed.unwrap_or(0)
    }

    /// How long it runs (s of loop time): the glide, the frames and the hold.
    pub fn seconds(&self) -> f64 {
        let frames = self.episode.info.length as f64;
        GLIDE_S + frames / f64::from(self.episode.fps.max(1)) + HOLD_S
    }
}

/// Episode `episode` of the dataset in `dir`, ready to replay.
pub fn load(dir: &Path, episode: u64) -> Result<Replay, RuntimeError> {
    let episode = read_episode(dir, episode, &["action"])?;
    if let Some((_, names, frames)) = episode.features.first() {
        for (k, frame) in frames.iter().enumerate() {
            if frame.len() != names.len() || frame.iter().any(|v| !v.is_finite()) {
                return Err(RuntimeError::Invalid(format!(
                    "{}: episode {} frame {k}: the action is not {} finite numbers: nothing is replayed",
                    dir.display(),
                    episode.info.index,
                    names.len()
                )));
            }
        }
    }
    let task_file = dir.join(TASK_FILE);
    let task = match std::fs::read_to_string(&task_file) {
        Ok(text) => Some(Task::parse(embody_planner::Source::new(task_file, text))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(RuntimeError::Io {
                path: task_file,
                source,
            });
        }
    };
    Ok(Replay { episode, task })
}

/// The session that replays `replay` on `backend` (a simulator takes the recorded task's
/// scene, placed by the episode's seed).
pub fn session(replay: &Replay, mut backend: Backend) -> Result<Session, RuntimeError> {
    if let (Backend::Simulator(sim), Some(task)) = (&mut backend, &replay.task) {
        if let Some(environment) = &task.environment {
            sim.environment = environment.clone();
        }
        sim.cameras.extend(task.cameras.iter().cloned());
    }
    let (names, frames) = replay
        .episode
        .feature("action")
        .ok_or_else(|| RuntimeError::Invalid("the episode has no action".into()))?;
    let names = names.to_vec();
    let frames = Arc::new(frames.to_vec());
    let fps = f64::from(replay.episode.fps.max(1));
    let factory = DriverFactory(Arc::new(move |model: &Arc<Model>, _| {
        Box::new(ReplayDriver::new(model, &names, frames.clone(), fps)) as Box<dyn Driver>
    }));
    Ok(Session {
        robot: replay.episode.robot_type.clone(),
        seed: replay.seed(),
        stop_after_s: Some(replay.seconds() + 1.0),
        ..Session::new(backend, Drive::Custom(factory))
    })
}

/// Streams the frames as segments; see the module docs.
struct ReplayDriver {
    /// For each of the loop's joints, its element in an action (`None`: held where it is).
    columns: Vec<Option<usize>>,
    frames: Arc<Vec<Vec<f64>>>,
    period_s: f64,
    /// Loop time the first frame is reached.
    start_s: Option<f64>,
    /// Frames sent.
    sent: usize,
    /// Joints the action does not name, where they were at the start.
    held: Vec<f64>,
    /// A problem found at the start (a joint named twice, …), raised at the first poll.
    error: Option<String>,
}

impl ReplayDriver {
    fn new(model: &Model, names: &[String], frames: Arc<Vec<Vec<f64>>>, fps: f64) -> Self {
        let joints = crate::report::joint_names(model);
        let columns: Vec<Option<usize>> = (joints.iter())
            .map(|j| names.iter().position(|n| n == j))
            .collect();
        let error = if joints.len() > MAX_JOINTS {
            Some(format!(
                "{} joints, the loop takes {MAX_JOINTS}",
                joints.len()
            ))
        } else if columns.iter().all(Option::is_none) {
            Some(format!(
                "the episode's actions name none of {}'s joints ({} …)",
                model.name,
                names.first().map_or("", String::as_str)
            ))
        } else {
            None
        };
        ReplayDriver {
            columns,
            frames,
            period_s: 1.0 / fps,
            start_s: None,
            sent: 0,
            held: Vec::new(),
            error,
        }
    }

    /// Frame `k`'s point (velocities by central differences).
    fn point(&self, k: usize) -> JointPoint {
        let last = self.frames.len() - 1;
        let at = |k: usize, c: usize| self.frames[k.min(last)].get(c).copied();
        let mut p = JointPoint::ZERO;
        for (j, column) in self.columns.iter().enumerate() {
            match column {
                Some(c) => {
                    let q = at(k, *c).unwrap_or(f64::NAN);
                    p.q[j] = q;
                    if k > 0 && k < last {
                        let span = 2.0 * self.period_s;
                        p.dq[j] = (at(k + 1, *c).unwrap_or(q) - at(k - 1, *c).unwrap_or(q)) / span;
                    }
                }
                None => p.q[j] = self.held.get(j).copied().unwrap_or(0.0),
            }
        }
        p
    }
}

impl Driver for ReplayDriver {
    fn poll(&mut self, poll: &Poll<'_>) -> Result<DriveStatus, RuntimeError> {
        if let Some(why) = self.error.take() {
            return Err(RuntimeError::Invalid(format!("replay: {why}")));
        }
        if self.frames.is_empty() {
            return Ok(DriveStatus::Done);
        }
        let start_s = match self.start_s {
            Some(s) => s,
            None => {
                self.held = poll.snapshot.q.to_vec();
                let glide = Segment {
                    duration_s: GLIDE_S,
                    end: self.point(0),
                    interpolation: Interpolation::Quintic,
                };
                poll.client.send_segment(glide).map_err(|_| {
                    RuntimeError::Invalid("replay: the loop's queue is full".into())
                })?;
                self.sent = 1;
                *self.start_s.insert(poll.now_s + GLIDE_S)
            }
        };
        // Keep a few frames queued ahead of the loop's time.
        let due = ((poll.now_s - start_s) / self.period_s).max(0.0) as usize + AHEAD;
        while self.sent < due.min(self.frames.len()) {
            let segment = Segment {
                duration_s: self.period_s,
                end: self.point(self.sent),
                interpolation: Interpolation::Cubic,
            };
            if poll.client.send_segment(segment).is_err() {
                break; // full: the rest next poll
            }
            self.sent += 1;
        }
        let end_s = start_s + (self.frames.len() - 1) as f64 * self.period_s + HOLD_S;
        Ok(if self.sent >= self.frames.len() && poll.now_s >= end_s {
            DriveStatus::Done
        } else {
            DriveStatus::Running
        })
    }
}

/// The dataset directory's task file, for the recorder.
pub(crate) fn task_file(dir: &Path) -> PathBuf {
    dir.join(TASK_FILE)
}
