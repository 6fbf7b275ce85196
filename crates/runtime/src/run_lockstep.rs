//! A session in lockstep: every unit's loop ticks on simulated time, its driver is
//! polled every 10 ms of it, and its recorders run between ticks (this driver is not a
//! loop thread, so they may). Units end on their own: when their driver is done and
//! settled, or at the session's length.

use std::time::Instant;

use embody_control::{ControlConfig, StateSnapshot};
use embody_viz::{Clock, LoopStats, Recorder, RecordingStream};

use crate::backend::{Opened, sensors};
use crate::drive::{Driver, Note, Poll, Scene, poll_driver};
use crate::error::RuntimeError;
use crate::lockstep::Lockstep;
use crate::realtime::arm_and_start;
use crate::report::{Report, UnitReport, joint_names};
use crate::robot::AnyRobot;
use crate::session::{Observer, Session};
use crate::sinks::{self, true_state};
use embody_sim::ObjectView;

/// One unit of the run.
struct UnitRun {
    rig: Lockstep<AnyRobot>,
    driver: Box<dyn Driver>,
    recorder: Option<Recorder>,
    /// What the recorder is shown (the loop's view, or the simulator's truth).
    view: StateSnapshot,
    stats: LoopStats,
    settle_until: Option<f64>,
    done: bool,
    /// Its driver is polled every this many ticks.
    poll_every: u64,
    /// The simulator's objects as its driver sees them, and where they are read from.
    scene: (Scene, Option<ObjectView>),
    /// Takes its frames into a dataset (the first unit).
    dataset: Option<crate::dataset::FrameSampler>,
}

/// What the units share: when runs end, whether the recordings show the simulator's
/// truth.
struct Schedule {
    stop_tick: Option<u64>,
    show_truth: bool,
}

impl UnitRun {
    /// Runs one tick, and the unit's recorder and driver after it.
    fn step(
        &mut self,
        k: usize,
        schedule: &Schedule,
        observer: &mut dyn Observer,
    ) -> Result<(), RuntimeError> {
        let fresh = self.rig.step();
        let tick = self.rig.tick;
        let now_s = self.rig.loop_time_s();
        let poll = tick.is_multiple_of(self.poll_every);
        let sample = self.dataset.as_ref().is_some_and(|d| d.due(now_s));
        if self.recorder.is_some() || poll || sample {
            self.rig.read_snapshot();
        }
        if let Some(dataset) = self.dataset.as_mut().filter(|_| sample) {
            dataset.take(&self.rig.model, &self.rig.robot, &self.rig.snapshot);
        }
        if let Some(recorder) = self.recorder.as_mut() {
            self.view.clone_from(&self.rig.snapshot);
            if schedule.show_truth {
                true_state(&self.rig.robot, &mut self.view);
            }
            if tick.is_multiple_of(50) {
                // The loop's medians so far, refreshed every 50 ticks.
                self.stats = LoopStats::of(&self.rig.client.timing());
            }
            recorder.record(now_s, &self.view, self.stats)?;
            sinks::record_scene(recorder, &self.rig.robot, now_s)?;
            sinks::record_cameras(recorder, &self.rig.robot)?;
            for event in &self.rig.events[fresh..] {
                recorder.event(now_s, &event.kind.to_string(), event.is_fault())?;
            }
        }
        if poll {
            let recorder = &mut self.recorder;
            let (scene, view) = &mut self.scene;
            if let Some(view) = view {
                view.read(&mut scene.poses);
            }
            poll_driver(
                self.driver.as_mut(),
                &Poll {
                    now_s,
                    snapshot: &self.rig.snapshot,
                    events: &self.rig.events,
                    client: &self.rig.client,
                    scene,
                },
                k,
                &mut self.settle_until,
                observer,
                &mut |note| match (recorder.as_mut(), note) {
                    (Some(recorder), Note::Event(text, failed)) => {
                        Ok(recorder.event(now_s, &text, failed)?)
                    }
                    (Some(recorder), Note::Series(s)) => {
                        Ok(recorder.series(s.t_s, &s.path, &s.values)?)
                    }
                    (Some(recorder), Note::Sighting(t_s, s)) => Ok(recorder.sighting(t_s, &s)?),
                    (None, _) => Ok(()),
                },
            )?;
        }
        let settled = self.settle_until.is_some_and(|t| now_s >= t);
        if settled || schedule.stop_tick.is_some_and(|t| tick >= t) {
            self.done = true;
            self.rig.read_snapshot();
            if let Some(recorder) = self.recorder.take() {
                recorder.finish()?;
            }
        }
        Ok(())
    }

    fn report(self, name: String) -> UnitReport {
        let period_s = self.rig.period_ns() as f64 * 1e-9;
        UnitReport {
            name,
            joints: joint_names(&self.rig.model),
            task: self.driver.outcome(),
            policy: self.driver.policy_outcome(),
            snapshot: self.rig.snapshot,
            events: self.rig.events,
            loop_s: self.rig.tick as f64 * period_s,
            base_pose: self.rig.robot.base_pose(),
            contacts: (self.rig.robot.sim()).map(|s| s.world().contacts().active().len()),
            origin_ns: 0,
            objects: crate::report::object_poses(&self.rig.robot),
            cameras: crate::report::camera_counts(&self.rig.robot),
        }
    }
}

/// Ticks between polls of a driver that wants one every `period_s`: a whole number of
/// loop periods, or every tick (the driver keeps its own time) when the period is not.
fn poll_every(period_s: f64, rate_hz: f64) -> u64 {
    let ticks = period_s * rate_hz;
    if (ticks - ticks.round()).abs() < 1e-6 && ticks >= 1.0 {
        ticks.round() as u64
    } else {
        1
    }
}

/// Runs `session` in lockstep on the robots `opened` holds.
pub(crate) fn run(
    session: &Session,
    opened: Opened,
    config: ControlConfig,
    observer: &mut dyn Observer,
) -> Result<Report, RuntimeError> {
    let Opened {
        model,
        robots,
        notes,
        // Real cameras come with a unit on the wire, which runs in real time.
        cameras: _,
    } = opened;
    let count = robots.len();
    let mut stream: Option<RecordingStream> = None;
    let mut units = Vec::with_capacity(count);
    for (k, mut robot) in robots.into_iter().enumerate() {
        // Simulated time stands still while a camera draws: every frame is drawn.
        if let Some(sim) = robot.sim_mut() {
            sim.cameras_wait_for_frames(true);
        }
        let seed = session.seed.wrapping_add(k as u64);
        let driver = session.drive.driver(&model, sensors(&robot), seed)?;
        let recorder = match &session.rerun {
            Some(base) => {
                let viz = sinks::viz_config(base, &model, &robot, &config, Clock::Sim, (k, count));
                Some(sinks::recorder(viz, &model, &mut stream)?)
            }
            None => None,
        };
        let scene = Scene::of(&robot);
        let rig = Lockstep::new(model.clone(), robot, config.clone())?;
        if driver.arms() {
            arm_and_start(&rig.client);
        }
        units.push(UnitRun {
            poll_every: poll_every(driver.poll_period_s(), config.rate_hz),
            view: rig.snapshot.clone(),
            rig,
            driver,
            recorder,
            stats: LoopStats::default(),
            settle_until: None,
            done: false,
            scene,
            dataset: (session.dataset.as_ref())
                .filter(|_| k == 0)
                .map(|d| d.sampler(config.rate_hz)),
        });
    }
    let mut states = match (&session.record, units.first()) {
        (Some(path), Some(unit)) => Some((path, sinks::state_recorder(path, &unit.rig.robot)?)),
        _ => None,
    };
    let show_truth = matches!(
        &session.backend,
        crate::Backend::Simulator(s) if s.show_truth
    );
    let schedule = Schedule {
        stop_tick: session
            .stop_after_s
            .map(|s| (s * config.rate_hz).round() as u64),
        show_truth,
    };
    let wall = Instant::now();
    while units.iter().any(|u| !u.done) {
        for (k, unit) in units.iter_mut().enumerate() {
            if unit.done {
                continue;
            }
            unit.step(k, &schedule, observer)?;
            if k == 0
                && let (Some((path, states)), Some(sim)) = (states.as_mut(), unit.rig.robot.sim())
            {
                states
                    .record(sim.world())
                    .map_err(|source| RuntimeError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
            }
        }
    }
    if let Some((path, states)) = states {
        states.finish().map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let wall_s = wall.elapsed().as_secs_f64();
    let units = units
        .into_iter()
        .enumerate()
        .map(|(k, unit)| {
            let name = if count > 1 {
                format!("{}-{k}", model.name)
            } else {
                model.name.clone()
            };
            unit.report(name)
        })
        .collect();
    Ok(Report {
        units,
        wall_s,
        timing: None,
        rt: None,
        recording: None,
        notes,
    })
}
