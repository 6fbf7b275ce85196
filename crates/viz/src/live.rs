//! Recording a running loop from its own thread: wakes every 20 ms, follows the loop's
//! snapshot ring from where it left off (every tick, while it keeps within the ring's
//! 64), hands each snapshot to a [`Recorder`], and counts the ticks the ring overwrote
//! before it got to them. The loop thread never knows it is watched: the ring is
//! lock-free and readers never block the writer. Events (task steps, transitions), a
//! driver's series (a policy's actions), the scene's object poses and what the cameras
//! saw come in over a channel from whoever has them. The cameras' newest images are
//! logged once each by a thread of their own in `SCHED_IDLE` ([`log_cameras`]): encoding
//! two 640×480 images 30 times a second is most of a recording's work, and it must take
//! the CPU only when nothing else wants it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use embody_control::{Cursor, LoopClient, Next, StateSnapshot};
use embody_hal::{CameraInfo, Clock as _, ImagePool, SystemClock};

use crate::cameras::CameraLog;
use crate::recorder::{LoopStats, Recorder, VizError};

/// What a live recording saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Snapshots recorded.
    pub recorded: u64,
    /// Loop ticks skipped because the recorder was behind.
    pub dropped: u64,
}

enum Message {
    Event {
        t_s: f64,
        text: String,
        warning: bool,
    },
    Series {
        t_s: f64,
        path: String,
        values: Vec<f64>,
    },
    Scene {
        t_s: f64,
        poses: Vec<[f64; 7]>,
    },
    Sighting {
        t_s: f64,
        sighting: crate::Sighting,
    },
    Cameras {
        cameras: Vec<(CameraInfo, ImagePool)>,
        offset_ns: u64,
    },
}

/// A recorder on its own thread, following a running loop. See the module docs.
pub struct LiveRecorder {
    stop: Arc<AtomicBool>,
    events: Sender<Message>,
    thread: Option<JoinHandle<Result<LiveStats, VizError>>>,
}

impl LiveRecorder {
    /// Starts recording the loop behind `client` (from its next snapshot), which ticks
    /// every `period_ns`; loop time counts from `origin_ns` on the loop's clock.
    pub fn spawn(
        recorder: Recorder,
        client: LoopClient,
        period_ns: u64,
        origin_ns: u64,
    ) -> std::io::Result<LiveRecorder> {
        let stop = Arc::new(AtomicBool::new(false));
        let (events, inbox) = channel();
        let cursor = client.snapshots().cursor();
        let thread = std::thread::Builder::new().name("viz".into()).spawn({
            let stop = stop.clone();
            move || {
                follow(
                    recorder,
                    &client,
                    cursor,
                    (period_ns, origin_ns),
                    &stop,
                    &inbox,
                )
            }
        })?;
        Ok(LiveRecorder {
            stop,
            events,
            thread: Some(thread),
        })
    }

    /// Logs an event at `t_s` of loop time.
    pub fn event(&self, t_s: f64, text: impl Into<String>, warning: bool) {
        let _ = self.events.send(Message::Event {
            t_s,
            text: text.into(),
            warning,
        });
    }

    /// Logs a driver's values at `t_s` of loop time (see [`Recorder::series`]).
    pub fn series(&self, t_s: f64, path: impl Into<String>, values: Vec<f64>) {
        let _ = self.events.send(Message::Series {
            t_s,
            path: path.into(),
            values,
        });
    }

    /// Logs the scene's moving objects' poses at `t_s` of loop time (see
    /// [`Recorder::scene_state`]).
    pub fn scene(&self, t_s: f64, poses: Vec<[f64; 7]>) {
        let _ = self.events.send(Message::Scene { t_s, poses });
    }

    /// Logs what a camera's image showed at `t_s` (see [`Recorder::sighting`]).
    pub fn sighting(&self, t_s: f64, sighting: crate::Sighting) {
        let _ = self.events.send(Message::Sighting { t_s, sighting });
    }

    /// Records these cameras' images from now on, each new one once, at its capture
    /// time less `offset_ns` (the loop's origin on the cameras' clock) — encoded on a
    /// thread of their own, in `SCHED_IDLE`.
    pub fn cameras(&self, cameras: Vec<(CameraInfo, ImagePool)>, offset_ns: u64) {
        let _ = self.events.send(Message::Cameras { cameras, offset_ns });
    }

    /// Stops following, flushes the recording and closes the sink.
    pub fn finish(mut self) -> Result<LiveStats, VizError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(VizError::Rerun("the viz thread panicked".into())),
            None => Ok(LiveStats::default()),
        }
    }
}

impl Drop for LiveRecorder {
    /// A recorder dropped without [`LiveRecorder::finish`] (an error on the way) still
    /// stops following, closes its recording, and ends its thread.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often the follower wakes to catch up (well inside the ring's 64 ticks at 1 kHz).
const NAP: Duration = Duration::from_millis(20);

fn follow(
    mut recorder: Recorder,
    client: &LoopClient,
    mut cursor: Cursor,
    (period_ns, origin_ns): (u64, u64),
    stop: &AtomicBool,
    inbox: &Receiver<Message>,
) -> Result<LiveStats, VizError> {
    let mut snapshot = StateSnapshot::new(0);
    let mut stats = LiveStats::default();
    let mut loop_stats = LoopStats::default();
    let mut next_timing_tick = 0;
    let mut cameras: Option<CameraThread> = None;
    loop {
        // One last catch-up after the stop, so the recording ends where the loop did.
        let stopping = stop.load(Ordering::Acquire);
        while let Ok(message) = inbox.try_recv() {
            match message {
                Message::Event { t_s, text, warning } => recorder.event(t_s, &text, warning)?,
                Message::Series { t_s, path, values } => recorder.series(t_s, &path, &values)?,
                Message::Scene { t_s, poses } => recorder.scene_state(t_s, &poses, &[])?,
                Message::Sighting { t_s, sighting } => recorder.sighting(t_s, &sighting)?,
                Message::Cameras {
                    cameras: c,
                    offset_ns,
                } => {
                    if let Some(old) = cameras.take() {
                        old.finish()?;
                    }
                    let now_s = SystemClock.now().as_nanos().saturating_sub(origin_ns) as f64;
                    let log = recorder.camera_log(now_s * 1e-9);
                    cameras = Some(CameraThread::spawn(log, c, offset_ns)?);
                }
            }
        }
        while let Next::Snapshot { skipped } = client.snapshots().next(&mut cursor, &mut snapshot) {
            stats.dropped += skipped;
            recorder.note_dropped(skipped);
            if snapshot.tick >= next_timing_tick {
                // Percentiles of the loop's histograms, refreshed every 50 ms of loop time.
                loop_stats = LoopStats::of(&client.timing());
                next_timing_tick = snapshot.tick + 50_000_000 / period_ns.max(1);
            }
            let t_s = snapshot.stamp_ns.saturating_sub(origin_ns) as f64 * 1e-9;
            recorder.record(t_s, &snapshot, loop_stats)?;
            stats.recorded += 1;
        }
        if stopping {
            break;
        }
        std::thread::sleep(NAP);
    }
    if let Some(cameras) = cameras {
        cameras.finish()?;
    }
    recorder.finish()?;
    Ok(stats)
}

/// How often the cameras' thread looks for new images (cameras run at 30 Hz or less).
const CAMERA_NAP: Duration = Duration::from_millis(10);

/// The thread logging cameras' images; see [`log_cameras`].
struct CameraThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<(), VizError>>,
}

impl CameraThread {
    fn spawn(
        log: CameraLog,
        cameras: Vec<(CameraInfo, ImagePool)>,
        offset_ns: u64,
    ) -> Result<CameraThread, VizError> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("viz cameras".into())
            .spawn({
                let stop = stop.clone();
                move || log_cameras(log, &cameras, offset_ns, &stop)
            })
            .map_err(|e| VizError::Rerun(format!("the cameras' recording thread: {e}")))?;
        Ok(CameraThread { stop, thread })
    }

    /// Logs what is new once more and ends the thread.
    fn finish(self) -> Result<(), VizError> {
        self.stop.store(true, Ordering::Release);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(VizError::Rerun("the cameras' thread panicked".into())))
    }
}

/// Logs each new image of `cameras` at its capture time less `offset_ns`, in
/// `SCHED_IDLE` (encoding waits for the loop, never the loop for encoding), until `stop`.
fn log_cameras(
    mut log: CameraLog,
    cameras: &[(CameraInfo, ImagePool)],
    offset_ns: u64,
    stop: &AtomicBool,
) -> Result<(), VizError> {
    let _ = embody_hal::thread::run_when_idle(true);
    loop {
        let stopping = stop.load(Ordering::Acquire);
        for (info, images) in cameras {
            if let Some(image) = images.latest() {
                let t_s = image.captured.as_nanos().saturating_sub(offset_ns) as f64 * 1e-9;
                log.camera(t_s, info, &image)?;
            }
        }
        if stopping {
            return Ok(());
        }
        std::thread::sleep(CAMERA_NAP);
    }
}
