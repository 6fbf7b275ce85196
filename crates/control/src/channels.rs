//! The lock-free boundary of the loop. In: trajectory segments and loop commands through
//! bounded queues, and the software e-stop as an atomic flag. Out: events through a
//! bounded queue (dropped and counted when full), state snapshots through the
//! [`crate::snapshot`] buffer, timing through [`LoopTiming`]. [`LoopClient`] is the
//! planner's and operator's end; cloning it is cheap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;
use serde::Serialize;

use embody_model::spatial::Transform;

use crate::controllers::ControllerKind;
use crate::events::{Event, EventKind};
use crate::safety::Request;
use crate::snapshot::SnapshotReader;
use crate::targets::TargetFrame;
use crate::timing::{LoopTiming, TimingReport};
use crate::trajectory::Segment;

/// A command to the loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoopCommand {
    /// A lifecycle request to the safety supervisor.
    Request(Request),
    /// Switch the active controller (bumpless).
    SetController(ControllerKind),
    /// Give the Cartesian controller an explicit target (`None`: follow the reference).
    CartesianTarget(Option<Transform>),
    /// "The planner is alive" without sending a segment.
    Heartbeat,
}

/// A bounded queue was full; the item was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the loop's {0} queue is full")]
pub struct QueueFull(pub &'static str);

/// Counters of the boundary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ChannelStats {
    /// Events the loop dropped because nobody drained them.
    pub events_dropped: u64,
    /// Segments refused because the queue was full.
    pub segments_refused: u64,
    /// Segments waiting.
    pub segments_queued: usize,
}

#[derive(Debug)]
pub(crate) struct Channels {
    pub segments: ArrayQueue<Segment>,
    pub targets: ArrayQueue<TargetFrame>,
    pub commands: ArrayQueue<LoopCommand>,
    pub events: ArrayQueue<Event>,
    pub estop: AtomicBool,
    pub planner_messages: AtomicU64,
    pub events_dropped: AtomicU64,
    pub segments_refused: AtomicU64,
    pub timing: Arc<LoopTiming>,
}

impl Channels {
    pub fn new(segments: usize, commands: usize, events: usize) -> Channels {
        Channels {
            segments: ArrayQueue::new(segments.max(1)),
            targets: ArrayQueue::new(4),
            commands: ArrayQueue::new(commands.max(1)),
            events: ArrayQueue::new(events.max(1)),
            estop: AtomicBool::new(false),
            planner_messages: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
            segments_refused: AtomicU64::new(0),
            timing: Arc::new(LoopTiming::default()),
        }
    }

    /// Pushes an event, or counts it dropped. Real-time safe.
    pub fn emit(&self, tick: u64, stamp_ns: u64, kind: EventKind) {
        if self
            .events
            .push(Event {
                tick,
                stamp_ns,
                kind,
            })
            .is_err()
        {
            self.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The outside's end of the loop: send segments and commands, read snapshots, events and
/// timing. Every method is non-blocking.
#[derive(Clone, Debug)]
pub struct LoopClient {
    pub(crate) channels: Arc<Channels>,
    pub(crate) snapshots: SnapshotReader,
}

impl LoopClient {
    /// Queues a frame of driver targets (applied with [`ControllerKind::Targets`]
    /// active; see [`crate::targets`]).
    pub fn send_targets(&self, frame: TargetFrame) -> Result<(), QueueFull> {
        self.channels
            .planner_messages
            .fetch_add(1, Ordering::Relaxed);
        self.channels
            .targets
            .push(frame)
            .map_err(|_| QueueFull("targets"))
    }

    /// Queues a trajectory segment.
    pub fn send_segment(&self, segment: Segment) -> Result<(), QueueFull> {
        self.channels
            .planner_messages
            .fetch_add(1, Ordering::Relaxed);
        self.channels.segments.push(segment).map_err(|_| {
            self.channels
                .segments_refused
                .fetch_add(1, Ordering::Relaxed);
            QueueFull("segment")
        })
    }

    /// Queues a command.
    pub fn send(&self, command: LoopCommand) -> Result<(), QueueFull> {
        if matches!(command, LoopCommand::Heartbeat) {
            self.channels
                .planner_messages
                .fetch_add(1, Ordering::Relaxed);
        }
        self.channels
            .commands
            .push(command)
            .map_err(|_| QueueFull("command"))
    }

    /// Queues a lifecycle request.
    pub fn request(&self, request: Request) -> Result<(), QueueFull> {
        self.send(LoopCommand::Request(request))
    }

    /// Presses (`true`) or releases the software e-stop. Takes effect on the next tick.
    pub fn set_estop(&self, active: bool) {
        self.channels.estop.store(active, Ordering::Release);
    }

    /// Takes every event waiting.
    pub fn drain_events(&self) -> Vec<Event> {
        std::iter::from_fn(|| self.channels.events.pop()).collect()
    }

    /// The snapshot reader.
    pub fn snapshots(&self) -> &SnapshotReader {
        &self.snapshots
    }

    /// Tick timing so far.
    pub fn timing(&self) -> TimingReport {
        self.channels.timing.report()
    }

    /// The timing histograms themselves.
    pub fn timing_histograms(&self) -> &LoopTiming {
        &self.channels.timing
    }

    /// Boundary counters.
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            events_dropped: self.channels.events_dropped.load(Ordering::Relaxed),
            segments_refused: self.channels.segments_refused.load(Ordering::Relaxed),
            segments_queued: self.channels.segments.len(),
        }
    }
}
