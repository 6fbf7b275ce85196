//! The real-time half of the one loop driver: [`RealtimeLoop`] runs the loop on its own
//! thread on the system clock (SCHED_FIFO, CPU pinning and locked memory where asked
//! and granted), with a live recorder following its snapshots when recording; and
//! [`run`] polls a session's driver every 10 ms on a tokio interval until it is done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use embody_control::{
    ControlConfig, Event, EventKind, Lifecycle, LoopClient, LoopCore, LoopHandle, Request,
    RtConfig, RtStatus, StateSnapshot, TimingReport, spawn,
};
use embody_hal::{Clock as _, Robot, SystemClock};
use embody_model::Model;
use embody_viz::{Clock, LiveRecorder, LiveStats, Recorder, VizConfig};

use crate::backend::{Opened, sensors};
use crate::drive::{Note, Poll, Scene, poll_driver};
use crate::error::RuntimeError;
use crate::report::{Report, UnitReport, describe_events, joint_names};
use crate::robot::AnyRobot;
use crate::session::{Observer, Session};
use crate::sinks::viz_config;
use crate::uplink::Directive;

/// A loop running on its own thread. See the module docs.
pub struct RealtimeLoop<R> {
    handle: LoopHandle<R>,
    /// The loop's client.
    pub client: LoopClient,
    /// The system clock's time (ns) when the loop started: loop time counts from here.
    pub origin_ns: u64,
    live: Option<LiveRecorder>,
}

impl<R: Robot + 'static> RealtimeLoop<R> {
    /// Starts the loop under `config` for `model` on `robot` with the real-time
    /// settings `rt`, armed and started when `arm`, recorded live to `viz` when given
    /// (from its first tick).
    pub fn start(
        model: &Arc<Model>,
        robot: R,
        config: ControlConfig,
        rt: RtConfig,
        arm: bool,
        viz: Option<VizConfig>,
    ) -> Result<RealtimeLoop<R>, RuntimeError> {
        let period_ns = (1e9 / config.rate_hz).round() as u64;
        let (core, client) = LoopCore::new(model.clone(), robot.capabilities(), config)?;
        if arm {
            arm_and_start(&client);
        }
        let origin_ns = SystemClock.now().as_nanos();
        let live = match viz {
            Some(viz) => {
                let recorder = Recorder::new(viz, model)?;
                Some(
                    LiveRecorder::spawn(recorder, client.clone(), period_ns, origin_ns).map_err(
                        |source| RuntimeError::Io {
                            path: "the recorder's thread".into(),
                            source,
                        },
                    )?,
                )
            }
            None => None,
        };
        let handle = spawn(core, robot, SystemClock, rt)?;
        Ok(RealtimeLoop {
            handle,
            client,
            origin_ns,
            live,
        })
    }

    /// Records `cameras`' images in the live recording, if any, at their capture times
    /// less `offset_ns` (the loop's origin on their clock).
    pub(crate) fn record_cameras(
        &self,
        cameras: Vec<(embody_hal::CameraInfo, embody_hal::ImagePool)>,
        offset_ns: u64,
    ) {
        if let Some(live) = &self.live
            && !cameras.is_empty()
        {
            live.cameras(cameras, offset_ns);
        }
    }

    /// What the OS granted of the real-time settings.
    pub fn rt_status(&self) -> &RtStatus {
        self.handle.rt_status()
    }

    /// Loop time (s) of a snapshot.
    pub fn loop_time_s(&self, snapshot: &StateSnapshot) -> f64 {
        snapshot.stamp_ns.saturating_sub(self.origin_ns) as f64 * 1e-9
    }

    /// Logs an event in the live recording, if any.
    pub fn record_event(&self, t_s: f64, text: String, warning: bool) {
        if let Some(live) = &self.live {
            live.event(t_s, text, warning);
        }
    }

    /// Logs the scene's object poses at `t_s` in the live recording, if any.
    pub(crate) fn record_scene(&self, t_s: f64, poses: &[[f64; 7]]) {
        if let Some(live) = &self.live {
            live.scene(t_s, poses.to_vec());
        }
    }

    /// Logs what a driver says at `t_s` in the live recording, if any.
    pub(crate) fn record(&self, t_s: f64, note: Note) {
        match note {
            Note::Event(text, failed) => self.record_event(t_s, text, failed),
            Note::Series(s) => {
                if let Some(live) = &self.live {
                    live.series(s.t_s, s.path, s.values);
                }
            }
            Note::Sighting(t_s, s) => {
                if let Some(live) = &self.live {
                    live.sighting(t_s, s);
                }
            }
        }
    }

    /// Stops the loop after its current tick; the core, the robot and what the live
    /// recorder saw.
    pub fn stop(self) -> Result<(LoopCore, R, Option<LiveStats>), RuntimeError> {
        let (core, robot) = self.handle.stop()?;
        let live = self.live.map(LiveRecorder::finish).transpose()?;
        Ok((core, robot, live))
    }
}

/// Fills in what the unit says of itself where it knows more: its bridge's firmware
/// version and its configuration's digest (a unit on the wire).
fn describe(info: &mut embody_net::UnitInfo, backend: &crate::Backend, robot: &AnyRobot) {
    if let (None, AnyRobot::Bridge(bridge)) = (&info.firmware, robot) {
        let [major, minor, patch] = bridge.bridge_info().firmware;
        info.firmware = Some(format!("{major}.{minor}.{patch}"));
    }
    if let (
        None,
        crate::Backend::Wire(crate::Wire {
            unit: Some(unit), ..
        }),
    ) = (&info.config_digest, backend)
    {
        info.config_digest = embody_fleet::record::config_digest(&unit.config)
            .ok()
            .map(|digest| embody_fleet::hex(&digest));
    }
}

/// Arms and starts the loop behind `client`.
pub fn arm_and_start(client: &LoopClient) {
    // Fresh queues have room for both.
    let _ = client.request(Request::Arm);
    let _ = client.request(Request::Start);
}

/// How long a real-time run waits for the loop's first snapshot.
const FIRST_SNAPSHOT_S: f64 = 3.0;

/// How long a real-time run waits for its loop to run.
const ARM_WITHIN_S: f64 = 3.0;

/// How soon a request the loop refused is made again (s).
const ARM_AGAIN_S: f64 = 0.05;

/// Gets the loop running before the driver starts. The loop refuses to arm on a tick
/// whose sensors are not healthy, and its first tick may come before the robot's first
/// state (a bridge that answers late, a machine under load): its sensors are stale then.
/// A task streamed to a loop left idle would never move the robot, so a refused arm is
/// asked again until the loop runs, or fails the run after a while with the refusal.
struct Arming {
    started: Instant,
    asked: Instant,
    within_s: f64,
}

impl Arming {
    /// Waits up to `within_s` for a loop asked to arm just now.
    fn new(within_s: f64) -> Arming {
        let now = Instant::now();
        Arming {
            started: now,
            asked: now,
            within_s,
        }
    }

    /// Whether the loop, as `snapshot` shows it, is past arming: running, or faulted
    /// (which the driver reports). Asks again while it is idle or armed; gives up with
    /// the last refusal among `events`.
    fn past(
        &mut self,
        snapshot: &StateSnapshot,
        client: &LoopClient,
        events: &[Event],
    ) -> Result<bool, RuntimeError> {
        if !matches!(snapshot.lifecycle, Lifecycle::Idle | Lifecycle::Armed) {
            return Ok(true);
        }
        if self.started.elapsed().as_secs_f64() > self.within_s {
            let refused = events.iter().rev().find_map(|e| match e.kind {
                EventKind::Refused { cause, .. } => Some(cause.to_string()),
                _ => None,
            });
            return Err(RuntimeError::NotArmed {
                seconds: self.within_s,
                refused: refused.unwrap_or_else(|| "no refusal heard".into()),
            });
        }
        if self.asked.elapsed().as_secs_f64() >= ARM_AGAIN_S {
            self.asked = Instant::now();
            if snapshot.lifecycle == Lifecycle::Idle {
                let _ = client.request(Request::Arm);
            }
            let _ = client.request(Request::Start);
        }
        Ok(false)
    }
}

/// Runs `session` in real time on the one robot `opened` holds.
pub(crate) fn run(
    session: &Session,
    opened: Opened,
    config: ControlConfig,
    rt: RtConfig,
    observer: &mut dyn Observer,
) -> Result<Report, RuntimeError> {
    let Opened {
        model,
        mut robots,
        notes,
        cameras,
    } = opened;
    let robot = robots
        .pop()
        .ok_or_else(|| RuntimeError::Invalid("no robot".into()))?;
    let net = (session.net.as_ref()).map(|config| {
        let mut config = config.clone();
        describe(&mut config.info, &session.backend, &robot);
        config
    });
    if let Some(shared) = &session.link {
        let mut info = shared.info.clone();
        describe(&mut info, &session.backend, &robot);
        shared.link.describe(info);
    }
    // Hardware's recordings are on wall time; simulated and mocked robots' on loop time.
    let clock = match robot {
        AnyRobot::Bridge(_) | AnyRobot::Slcan(_) | AnyRobot::Servos(_) | AnyRobot::Cia402(_) => {
            Clock::Wall
        }
        AnyRobot::Sim(_) | AnyRobot::Mock(_) => Clock::Sim,
    };
    let viz = (session.rerun.as_ref())
        .map(|base| viz_config(base, &model, &robot, &config, clock, (0, 1)));
    let mut driver = session
        .drive
        .driver(&model, sensors(&robot), session.seed)?;
    let (mut scene, view) = Scene::of(&robot);
    // The unit's own cameras (kept streaming until the session ends).
    scene.cameras.extend(cameras.iter().map(|c| {
        use embody_hal::Camera;
        (c.info().clone(), c.images().clone())
    }));
    let rate_hz = config.rate_hz;
    let running = RealtimeLoop::start(&model, robot, config, rt, driver.arms(), viz)?;
    // In real time every robot's images are stamped on the system clock, where the
    // loop's time counts from its origin.
    running.record_cameras(scene.cameras.clone(), running.origin_ns);
    let dataset = match &session.dataset {
        Some(sink) => Some(crate::dataset::LiveDataset::spawn(
            sink,
            model.clone(),
            running.client.clone(),
            running.origin_ns,
            rate_hz,
            &scene,
            view.clone(),
        )?),
        None => None,
    };
    let mut uplink = match (&session.link, net) {
        (Some(shared), _) => Some(crate::uplink::Uplink::on(shared, &session.drive)),
        (None, Some(config)) => Some(crate::uplink::Uplink::start(
            &config,
            &session.drive,
            &model,
        )?),
        (None, None) => None,
    };
    let rt_status = running.rt_status().clone();
    let client = running.client.clone();
    // Wall time counts from the loop's origin, as its ticks do (this thread may be
    // descheduled a while after starting it).
    let since_origin_ns = SystemClock
        .now()
        .as_nanos()
        .saturating_sub(running.origin_ns);
    let now = Instant::now();
    let wall = now
        .checked_sub(Duration::from_nanos(since_origin_ns))
        .unwrap_or(now);
    let mut events = Vec::new();
    let mut arming = driver.arms().then(|| Arming::new(ARM_WITHIN_S));
    let mut snapshot = StateSnapshot::new(0);
    let mut baseline: Option<TimingReport> = None;
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|source| RuntimeError::Io {
            path: "the tokio runtime".into(),
            source,
        })
        .and_then(|tokio| {
            tokio.block_on(async {
                let mut interval = tokio::time::interval(Duration::from_secs_f64(
                    driver.poll_period_s().clamp(1e-3, 1.0),
                ));
                let mut settle_until: Option<f64> = None;
                loop {
                    interval.tick().await;
                    let fresh = client.drain_events();
                    for event in &fresh {
                        let t_s = event.stamp_ns.saturating_sub(running.origin_ns) as f64 * 1e-9;
                        running.record_event(t_s, event.kind.to_string(), event.is_fault());
                    }
                    if let Some(uplink) = &mut uplink {
                        uplink.forward(&fresh);
                    }
                    events.extend(fresh);
                    if !client.snapshots().read(&mut snapshot) {
                        if wall.elapsed().as_secs_f64() > FIRST_SNAPSHOT_S {
                            return Err(RuntimeError::Silent {
                                seconds: FIRST_SNAPSHOT_S,
                                events: describe_events(&events),
                            });
                        }
                        continue; // the loop has not ticked yet
                    }
                    if let Some(waiting) = &mut arming {
                        if !waiting.past(&snapshot, &client, &events)? {
                            continue;
                        }
                        arming = None;
                    }
                    let now_s = running.loop_time_s(&snapshot);
                    if baseline.is_none() && now_s >= session.measure_after_s {
                        baseline = Some(start_measuring(&client));
                    }
                    if let Some(view) = &view {
                        view.read(&mut scene.poses);
                        running.record_scene(now_s, &scene.poses);
                    }
                    let mut driver_s = now_s;
                    if let Some(uplink) = &mut uplink {
                        match uplink.poll(&snapshot, now_s, driver.as_ref(), &client) {
                            Directive::Drive => driver_s = uplink.driver_time(now_s),
                            Directive::Hold => continue,
                            Directive::End(why) => {
                                observer.note(&why);
                                return Ok(now_s);
                            }
                        }
                    }
                    poll_driver(
                        driver.as_mut(),
                        &Poll {
                            now_s: driver_s,
                            snapshot: &snapshot,
                            events: &events,
                            client: &client,
                            scene: &scene,
                        },
                        0,
                        &mut settle_until,
                        observer,
                        &mut |note| {
                            running.record(now_s, note);
                            Ok(())
                        },
                    )?;
                    let settled = settle_until.is_some_and(|t| driver_s >= t);
                    if settled || session.stop_after_s.is_some_and(|s| now_s >= s) {
                        return Ok(now_s);
                    }
                }
            })
        });
    let timing = baseline.map(|b| since(&b, &client.timing()));
    // The last frames before the loop stops.
    if let Some(dataset) = dataset {
        dataset.finish();
    }
    let origin_ns = running.origin_ns;
    let stopped = running.stop();
    if let Some(uplink) = uplink {
        let why = match &result {
            Ok(_) => "its driver is done".to_owned(),
            Err(e) => e.to_string(),
        };
        uplink.finish(&why);
    }
    let loop_s = result?;
    let (_, robot, recording) = stopped?;
    events.extend(client.drain_events());
    Ok(Report {
        units: vec![UnitReport {
            name: model.name.clone(),
            joints: joint_names(&model),
            task: driver.outcome(),
            policy: driver.policy_outcome(),
            snapshot,
            events,
            loop_s,
            base_pose: robot.base_pose(),
            contacts: robot.sim().map(|s| s.world().contacts().active().len()),
            origin_ns,
            objects: crate::report::object_poses(&robot),
            cameras: crate::report::camera_counts(&robot),
        }],
        wall_s: wall.elapsed().as_secs_f64(),
        timing,
        rt: Some(rt_status),
        recording,
        notes,
    })
}

/// Clears the loop's histograms and returns its counters as they stand.
fn start_measuring(client: &LoopClient) -> TimingReport {
    let histograms = client.timing_histograms();
    histograms.compute.clear();
    histograms.stages.clear();
    histograms.jitter.clear();
    client.timing()
}

/// `now`'s timing with the counters since `before`.
fn since(before: &TimingReport, now: &TimingReport) -> TimingReport {
    TimingReport {
        ticks: now.ticks - before.ticks,
        overruns: now.overruns - before.overruns,
        missed_deadlines: now.missed_deadlines - before.missed_deadlines,
        ..*now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embody_hal::MockRobot;
    use embody_model::robots;

    /// Gets a loop on a mock arm past arming, its link down from the start and up after
    /// `link_up_after` (never: `None`), giving up after `within_s`; what it came to, and
    /// the loop's events.
    fn arm(
        link_up_after: Option<Duration>,
        within_s: f64,
    ) -> (Result<Lifecycle, RuntimeError>, Vec<Event>) {
        let model = Arc::new(robots::load("arm7", None).expect("arm7"));
        let robot = MockRobot::new(&model);
        let faults = robot.faults();
        faults.set_link_down(true);
        let config = ControlConfig::default();
        let running = RealtimeLoop::start(&model, robot, config, RtConfig::default(), true, None)
            .expect("starts");
        let mut arming = Arming::new(within_s);
        let (mut snapshot, mut events) = (StateSnapshot::new(0), Vec::new());
        let started = Instant::now();
        let result = loop {
            std::thread::sleep(Duration::from_millis(10));
            if link_up_after.is_some_and(|t| started.elapsed() >= t) {
                faults.set_link_down(false);
            }
            events.extend(running.client.drain_events());
            if !running.client.snapshots().read(&mut snapshot) {
                continue;
            }
            match arming.past(&snapshot, &running.client, &events) {
                Ok(true) => break Ok(snapshot.lifecycle),
                Ok(false) => {}
                Err(e) => break Err(e),
            }
        };
        running.stop().expect("stops");
        (result, events)
    }

    #[test]
    fn a_loop_whose_robot_answers_late_is_armed_once_it_does() {
        let (result, events) = arm(Some(Duration::from_millis(100)), 3.0);
        assert_eq!(result.expect("armed"), Lifecycle::Running);
        // Its first ticks had no state to arm on: the request at its start was refused.
        assert!(
            events.iter().any(|e| matches!(
                e.kind,
                EventKind::Refused {
                    state: Lifecycle::Idle,
                    ..
                }
            )),
            "{}",
            crate::report::describe_events(&events)
        );
    }

    #[test]
    fn a_loop_whose_robot_never_answers_fails_the_run_with_the_refusal() {
        let (result, _) = arm(None, 0.3);
        let error = result.expect_err("never armed").to_string();
        assert!(
            error.starts_with("the loop would not arm within 0.3 s: it refused: "),
            "{error}"
        );
        assert!(!error.ends_with("no refusal heard"), "{error}");
    }
}
