//! The loop thread: runs [`LoopCore::tick`] at a fixed rate on absolute deadlines
//! (deadline `k` is `start + k·period`, so the loop never drifts), with optional
//! SCHED_FIFO priority, CPU pinning and locked memory, each falling back with a warning
//! when the OS refuses. A tick that runs past the next deadline is an overrun: it is
//! counted and the missed deadlines are skipped, never made up with a burst of ticks.
//! Wake-up lateness and compute time go to the histograms in [`crate::LoopTiming`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use embody_hal::{Clock, Robot};

use crate::ControlError;
use crate::core::LoopCore;
use crate::os;

/// Real-time settings of the loop thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtConfig {
    /// SCHED_FIFO priority (1–99); `None` keeps the default scheduler. Default none.
    pub priority: Option<i32>,
    /// CPU to pin the loop thread to. Default none.
    pub cpu: Option<usize>,
    /// Lock all memory (`mlockall`) before starting. Default false.
    pub lock_memory: bool,
}

/// What the OS granted of the requested [`RtConfig`]; each entry is `None` when not
/// requested, `Some(Ok)` when granted, `Some(Err(reason))` when refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RtStatus {
    /// SCHED_FIFO.
    pub priority: Option<Result<(), String>>,
    /// CPU pinning.
    pub cpu: Option<Result<(), String>>,
    /// mlockall.
    pub lock_memory: Option<Result<(), String>>,
}

fn apply<T>(
    requested: Option<T>,
    what: &str,
    f: impl FnOnce(T) -> std::io::Result<()>,
) -> Option<Result<(), String>> {
    requested.map(|value| {
        f(value).map_err(|e| {
            tracing::warn!("real-time setting refused, running without it: {what}: {e}");
            e.to_string()
        })
    })
}

/// A running loop, and the means to stop it.
pub struct LoopHandle<R> {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(LoopCore, R)>,
    rt: RtStatus,
}

impl<R> LoopHandle<R> {
    /// What the OS granted of the real-time settings.
    pub fn rt_status(&self) -> &RtStatus {
        &self.rt
    }

    /// Stops the loop after its current tick and returns the core and the robot.
    pub fn stop(self) -> Result<(LoopCore, R), ControlError> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().map_err(|_| ControlError::LoopPanicked)
    }
}

/// Starts the loop on its own thread; talk to it with the [`crate::LoopClient`] that
/// [`LoopCore::new`] returned.
pub fn spawn<R, C>(
    mut core: LoopCore,
    mut robot: R,
    clock: C,
    rt: RtConfig,
) -> Result<LoopHandle<R>, ControlError>
where
    R: Robot + 'static,
    C: Clock + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let (status_tx, status_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("embody-loop".into())
        .spawn(move || {
            let status = RtStatus {
                lock_memory: apply(rt.lock_memory.then_some(()), "mlockall", |()| {
                    os::lock_memory()
                }),
                cpu: apply(rt.cpu, "CPU pinning", os::pin_to_cpu),
                priority: apply(rt.priority, "SCHED_FIFO", os::set_fifo_priority),
            };
            // A 1 ns timer slack: wake at the deadline, not up to 50 µs after it.
            if let Err(e) = os::set_timer_slack(1) {
                tracing::warn!("could not reduce the loop thread's timer slack: {e}");
            }
            let _ = status_tx.send(status);
            run(&mut core, &mut robot, &clock, &stop_flag);
            (core, robot)
        })
        .map_err(ControlError::Spawn)?;
    let rt = status_rx.recv().unwrap_or_default();
    Ok(LoopHandle { stop, thread, rt })
}

/// The loop body. Real-time safe.
fn run(core: &mut LoopCore, robot: &mut dyn Robot, clock: &dyn Clock, stop: &AtomicBool) {
    let period = core.period_ns();
    let mut deadline = clock.now();
    while !stop.load(Ordering::Acquire) {
        clock.sleep_until(deadline);
        let now = clock.now();
        let started = Instant::now();
        core.timing()
            .jitter
            .record(now.nanos_since(deadline).max(0) as u64);
        core.tick(robot, now);
        core.timing()
            .compute
            .record(started.elapsed().as_nanos() as u64);
        core.timing().count_tick();
        deadline = embody_hal::Timestamp::from_nanos(deadline.as_nanos() + period);
        let finished = clock.now();
        if finished > deadline {
            let late = finished.nanos_since(deadline) as u64;
            let missed = late / period + 1;
            deadline = embody_hal::Timestamp::from_nanos(deadline.as_nanos() + missed * period);
            core.report_overrun(finished, missed);
        }
    }
}
